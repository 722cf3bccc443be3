"""Flow sampler, critic target/losses and action selection.

See docs/algorithm.md, "Reference sampler", "Critic target" and "Acting and the test-time
budget".
"""

from __future__ import annotations

import pytest
import torch

from vgf_rllib.core.flow import flow_matching_loss, sample_flow
from vgf_rllib.core.losses import aggregate_particles, td_target, twin_critic_loss, vgf_losses
from vgf_rllib.core.networks import TwinCritic, VelocityField, polyak_update
from vgf_rllib.core.policy import ParticlePolicySettings, act_with_steps
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
    manual = (velocity(obs, x_t, times) - (actions - noise)).pow(2).mean()
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


def test_selection_draws_can_be_passed_in():
    """softmax/random invert the CDF at the given U[0, 1) draw (the export's seam)."""
    particles = torch.tensor([[[0.0], [1.0], [2.0]]]).expand(4, 3, 1)
    scores = torch.log(torch.tensor([0.2, 0.5, 0.3])).expand(4, 3)
    uniform = torch.tensor([0.0, 0.19, 0.21, 0.99])
    picks = select_action(particles, scores, "softmax", uniform=uniform).squeeze(-1)
    assert picks.tolist() == [0.0, 0.0, 1.0, 2.0]
    picks = select_action(particles, scores, "random", uniform=torch.tensor([0.0, 0.34, 0.67, 1.0]))
    assert picks.squeeze(-1).tolist() == [0.0, 1.0, 2.0, 2.0]
    # a particle whose probability underflows to 0 is never picked, even at u = 0
    cold = torch.tensor([-1e4, 0.0, 0.0]).expand(4, 3)
    picks = select_action(particles, cold, "softmax", temperature=1e-3, uniform=torch.zeros(4))
    assert picks.squeeze(-1).tolist() == [1.0] * 4


def test_act_uses_the_noise_it_is_given():
    torch.manual_seed(0)
    critic, velocity = TwinCritic(3, 2, [16]), VelocityField(3, 2, [16])
    settings = ParticlePolicySettings(5, 2, TransportSettings(steps=2, step_size=0.1))
    obs, noise = torch.randn(4, 3), torch.randn(4, 5, 2)
    first = act_with_steps(velocity, critic, obs, settings, score_twin_agg="min", noise=noise)[0]
    second = act_with_steps(velocity, critic, obs, settings, score_twin_agg="min", noise=noise.clone())[0]
    assert torch.equal(first, second)
    assert not torch.equal(first, act_with_steps(velocity, critic, obs, settings, score_twin_agg="min")[0])
    with pytest.raises(ValueError, match=r"sampler noise must have shape .*\(4, 5, 2\)"):
        act_with_steps(velocity, critic, obs, settings, score_twin_agg="min", noise=noise[:, :3])[0]


def test_act_returns_in_bound_actions_and_needs_no_param_grads():
    torch.manual_seed(0)
    critic, velocity = TwinCritic(3, 2, [16]), VelocityField(3, 2, [16])
    settings = ParticlePolicySettings(5, 2, TransportSettings(steps=3, step_size=0.1))
    with torch.no_grad():
        actions = act_with_steps(velocity, critic, torch.randn(7, 3), settings, score_twin_agg="min")[0]
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


class LinearTwin(torch.nn.Module):
    """Twin critic Q_k(s, a) = a . w_k + c_k, with fixed weights (a hand-computable critic)."""

    def __init__(self, w1, w2, c1=0.0, c2=0.0):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([w1, w2], dtype=torch.float32))
        self.c = torch.nn.Parameter(torch.tensor([c1, c2], dtype=torch.float32))

    def forward(self, obs, actions):
        return actions @ self.w.T + self.c


@pytest.mark.parametrize(
    "optimizer, gamma, mask, twin_agg, expected_target",
    [
        # sgd: a' = a + eps * mean_grad(online) / alpha = (1, -1) + 0.1 * (-1, 2) / 0.5
        # = (0.8, -0.6); target twins there: 0.8 - 0.6 + 0.5 = 0.7 and 1.6 + 0.6 = 2.2
        ("sgd", 0.9, 1.0, "min", 0.3 + 0.9 * 0.7),
        ("sgd", 0.9, 1.0, "mean", 0.3 + 0.9 * (0.7 + 2.2) / 2),
        ("sgd", 0.9, 0.0, "min", 0.3),
        ("sgd", 0.5, 1.0, "min", 0.3 + 0.5 * 0.7),
        # fresh Adam: the first step moves each coordinate by eps * sign(phi): a' = (0.9, -0.9),
        # target twins there: 0.5 and 2.7
        ("adam", 0.9, 1.0, "min", 0.3 + 0.9 * 0.5),
    ],
)
def test_td_target_by_hand_with_particles_moved_by_the_online_critics(
    optimizer, gamma, mask, twin_agg, expected_target
):
    """Every flow sample lands on (1, -1) (a huge constant velocity, clipped). The ONLINE twins
    have mean gradient (-1, 2), the TARGET twins (1.5, 0): transporting with the target critic
    would leave the particle at (1, -1) (clipped) and give another target."""
    velocity = ConstantVelocity(torch.tensor([5.0, -5.0]))
    critic = LinearTwin((-2.0, 1.0), (0.0, 3.0))
    target = LinearTwin((1.0, 1.0), (2.0, -1.0), c1=0.5)
    batch = {
        "observations": torch.zeros(1, 1),
        "actions": torch.tensor([[0.5, 0.25]]),
        "rewards": torch.tensor([0.3]),
        "next_observations": torch.zeros(1, 1),
        "masks": torch.tensor([mask]),
    }
    settings = ParticlePolicySettings(
        2, 3, TransportSettings(steps=1, step_size=0.1, alpha=0.5, optimizer=optimizer)
    )
    losses = vgf_losses(velocity, critic, target, batch, settings, gamma=gamma,
                        target_twin_agg=twin_agg, particle_agg="mean")
    assert losses["target_mean"].item() == pytest.approx(expected_target, abs=1e-5)
    q1, q2 = -2 * 0.5 + 0.25, 3 * 0.25  # online twins at the dataset action
    expected_loss = (expected_target - q1) ** 2 + (expected_target - q2) ** 2
    assert losses["critic_loss"].item() == pytest.approx(expected_loss, abs=1e-5)

