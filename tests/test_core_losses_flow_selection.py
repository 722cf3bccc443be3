"""Flow sampler (spec 2.1), critic target/losses (2.4) and action selection (2.5)."""

from __future__ import annotations

import pytest
import torch

from vgf_rllib.core.flow import flow_matching_loss, sample_flow
from vgf_rllib.core.losses import aggregate_particles, td_target, twin_critic_loss, vgf_losses
from vgf_rllib.core.networks import TwinCritic, VelocityField, polyak_update
from vgf_rllib.core.policy import ParticlePolicySettings, act
from vgf_rllib.core.selection import select_action
from vgf_rllib.core.transport import TransportSettings


class ConstantVelocity(VelocityField):
    def __init__(self, value: torch.Tensor):
        super().__init__(obs_dim=1, action_dim=value.shape[0], hidden=[4])
        self.value = value

    def forward(self, obs, x, t):
        return self.value.expand_as(x)


def test_flow_matching_loss_matches_formula():
    torch.manual_seed(0)
    velocity = VelocityField(obs_dim=2, action_dim=3, hidden=[8])
    obs, actions = torch.randn(5, 2), torch.rand(5, 3) * 2 - 1
    noise, times = torch.randn(5, 3), torch.rand(5)
    x_t = (1 - times[:, None]) * noise + times[:, None] * actions
    manual = (velocity(obs, x_t, times) - (actions - noise)).pow(2).sum(-1).mean()
    loss = flow_matching_loss(velocity, obs, actions, noise=noise, times=times)
    assert torch.allclose(loss, manual)


def test_sample_flow_integrates_velocity_with_euler_steps_and_clips():
    velocity = ConstantVelocity(torch.tensor([0.3, 5.0]))
    noise = torch.zeros(2, 4, 2)
    samples = sample_flow(velocity, torch.zeros(2, 1), 4, euler_steps=5, noise=noise)
    assert samples.shape == (2, 4, 2)
    assert torch.allclose(samples[..., 0], torch.full((2, 4), 0.3))
    assert torch.all(samples[..., 1] == 1.0)  # 5.0 clipped to the action bound


def test_flow_matching_learns_a_shifted_distribution():
    torch.manual_seed(0)
    velocity = VelocityField(obs_dim=1, action_dim=1, hidden=[64, 64])
    optimizer = torch.optim.Adam(velocity.parameters(), lr=5e-3)
    for _ in range(300):
        obs = torch.rand(256, 1) * 2 - 1
        actions = (0.5 * obs + 0.05 * torch.randn(256, 1)).clamp(-1, 1)
        loss = flow_matching_loss(velocity, obs, actions)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    obs = torch.tensor([[-0.8], [0.0], [0.8]])
    samples = sample_flow(velocity, obs, 200, euler_steps=10)
    assert torch.allclose(samples.mean(1).squeeze(-1), 0.5 * obs.squeeze(-1), atol=0.08)
    assert samples.std(1).max() < 0.15


def test_td_target_aggregations_and_masks():
    q = torch.tensor([[[1.0, 3.0], [5.0, 2.0]]])  # one state, two particles, twin values
    reward, mask = torch.tensor([0.5]), torch.tensor([1.0])
    cases = {("min", "mean"): 1.5, ("mean", "mean"): 2.75, ("min", "max"): 2.0, ("mean", "max"): 3.5}
    for (twin, particle), value in cases.items():
        y = td_target(reward, mask, q, gamma=0.9, target_twin_agg=twin, particle_agg=particle)
        assert y.item() == pytest.approx(0.5 + 0.9 * value)
    done = td_target(reward, torch.tensor([0.0]), q, gamma=0.9, target_twin_agg="min", particle_agg="mean")
    assert done.item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="particle aggregation"):
        aggregate_particles(q[..., 0], "median")


def test_twin_critic_loss_sums_both_heads():
    q = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    y = torch.tensor([1.0, 1.0])
    assert twin_critic_loss(q, y).item() == pytest.approx(((0 + 1) + (1 + 1)) / 2)


def test_vgf_losses_only_reach_their_own_networks():
    torch.manual_seed(0)
    critic, target = TwinCritic(3, 2, [16]), TwinCritic(3, 2, [16])
    velocity = VelocityField(3, 2, [16])
    batch = {
        "observations": torch.randn(8, 3),
        "actions": torch.rand(8, 2) * 2 - 1,
        "rewards": torch.randn(8),
        "next_observations": torch.randn(8, 3),
        "masks": torch.ones(8),
    }
    settings = ParticlePolicySettings(4, 3, TransportSettings(steps=2, step_size=0.1))
    losses = vgf_losses(velocity, critic, target, batch, settings, gamma=0.99,
                        target_twin_agg="min", particle_agg="mean")
    losses["critic_loss"].backward()
    assert all(p.grad is not None for p in critic.parameters())
    assert all(p.grad is None for p in velocity.parameters())
    assert all(p.grad is None for p in target.parameters())
    losses["flow_loss"].backward()
    assert all(p.grad is not None for p in velocity.parameters())


def test_select_action_methods():
    particles = torch.tensor([[[0.0], [1.0], [2.0]], [[3.0], [4.0], [5.0]]])
    scores = torch.tensor([[0.0, 9.0, 1.0], [7.0, 0.0, 1.0]])
    assert select_action(particles, scores, "argmax").squeeze(-1).tolist() == [1.0, 3.0]
    generator = torch.Generator().manual_seed(0)
    cold = select_action(particles, scores, "softmax", temperature=1e-3, generator=generator)
    assert cold.squeeze(-1).tolist() == [1.0, 3.0]
    picks = torch.stack([
        select_action(particles[:1], scores[:1], "random", generator=generator) for _ in range(300)
    ]).flatten()
    counts = torch.bincount(picks.long(), minlength=3).float() / 300
    assert counts.min() > 0.2
    hot = torch.stack([
        select_action(particles[:1], scores[:1], "softmax", temperature=100.0, generator=generator)
        for _ in range(300)
    ]).flatten()
    assert len(hot.unique()) == 3
    with pytest.raises(ValueError, match="action selection"):
        select_action(particles, scores, "best")


def test_act_returns_in_bound_actions_and_needs_no_param_grads():
    torch.manual_seed(0)
    critic, velocity = TwinCritic(3, 2, [16]), VelocityField(3, 2, [16])
    settings = ParticlePolicySettings(5, 2, TransportSettings(steps=3, step_size=0.1))
    with torch.no_grad():
        actions = act(velocity, critic, torch.randn(7, 3), settings, score_twin_agg="min")
    assert actions.shape == (7, 2) and actions.abs().max() <= 1.0
    assert all(p.grad is None for p in critic.parameters())
    with pytest.raises(ValueError, match="num_particles"):
        ParticlePolicySettings(0, 2, TransportSettings(steps=1, step_size=0.1))


def test_polyak_update_moves_target_by_tau():
    torch.manual_seed(0)
    main, target = TwinCritic(3, 2, [8]), TwinCritic(3, 2, [8])
    before = [p.detach().clone() for p in target.parameters()]
    polyak_update(main, target, 0.1)
    for b, m, t in zip(before, main.parameters(), target.parameters()):
        assert torch.allclose(t, 0.9 * b + 0.1 * m, atol=1e-7)
