"""A-VGF (docs/algorithm.md, "Variants"): the learned gradient field f(s, a) as transport direction.

- The field regresses onto the stop-gradient action gradient of the MEAN of the online twins at
  dataset actions (hand-computed on a linear twin critic).
- Transport follows f: a hand-built field moves particles where the field points (and the
  critic's gradient, pointing elsewhere, does not matter); a step's direction is clipped to
  global norm 1, over the whole particle tensor for the critic target (the authors' batched
  update) and per state when acting (the authors act one state at a time), so that a batch of
  states acts as each state alone.
- The learner gives the field its own optimizer and clips each optimizer's gradients to 1.0.
- Trained from the config on the demo bandit, A-VGF's transport raises the return, it reloads
  from a checkpoint, and the field's loss falls.
"""

from __future__ import annotations

import pytest
import torch

from vgf_rllib import VGFConfig
from vgf_rllib.core.directions import KernelField, LearnedField, get_variant
from vgf_rllib.core.losses import vgf_losses
from vgf_rllib.core.networks import VelocityField
from vgf_rllib.core.policy import ParticlePolicySettings, propose_particles
from vgf_rllib.core.transport import ParticleStepper, TransportSettings, move_particles
from vgf_rllib.demo import DATASET_SPEC, ENV_SPEC
from vgf_rllib.evaluation import evaluate_budgets


class LinearTwin(torch.nn.Module):
    """Q_k(s, a) = a . w_k (grad_a Q1 = w1, grad_a Q2 = w2 everywhere)."""

    def __init__(self, w1, w2):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([w1, w2], dtype=torch.float32))

    def forward(self, obs, actions):
        return actions @ self.w.T


class ConstantNet(torch.nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value = torch.tensor(value, dtype=torch.float32)

    def forward(self, obs, actions):
        return self.value.expand_as(actions)


class ConstantField(LearnedField):
    """A learned field whose network always answers ``value`` (a hand-built f(s, a))."""

    def __init__(self, value):
        super().__init__(1, len(value), [4])
        self.field = ConstantNet(value)


def test_field_regresses_onto_the_mean_twin_gradient_at_dataset_actions():
    torch.manual_seed(0)
    field = LearnedField(3, 2, [16])
    critic = LinearTwin((-2.0, 1.0), (0.0, 3.0))  # mean gradient (-1, 2); min would give another
    obs, actions = torch.randn(8, 3), torch.rand(8, 2) * 2 - 1
    (loss,) = field.losses(critic, obs, actions).values()
    expected = (field.field(obs, actions) - torch.tensor([-1.0, 2.0])).pow(2).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert all(p.grad is not None for p in field.parameters())
    assert all(p.grad is None for p in critic.parameters())  # the target is stop-gradient


def test_field_regression_converges_to_the_critic_gradient():
    torch.manual_seed(0)
    field = LearnedField(2, 2, [16])
    critic = LinearTwin((1.0, -0.5), (0.0, 0.5))
    optimizer = torch.optim.Adam(field.parameters(), lr=1e-2)
    for _ in range(150):
        obs, actions = torch.randn(32, 2), torch.rand(32, 2) * 2 - 1
        optimizer.zero_grad()
        field.losses(critic, obs, actions)["field_loss"].backward()
        optimizer.step()
    probe = field.field(torch.randn(16, 2), torch.rand(16, 2) * 2 - 1)
    assert (probe - torch.tensor([0.5, 0.0])).abs().mean() < 0.05


class ConstantVelocity(VelocityField):
    """A flow whose every sample lands on the clipped corner sign(value)."""

    def __init__(self, value):
        super().__init__(obs_dim=1, action_dim=len(value), hidden=[4])
        self.value = torch.tensor(value, dtype=torch.float32)

    def forward(self, obs, x, t):
        return self.value.expand_as(x)


def test_transport_follows_the_learned_field_not_the_critic_gradient():
    velocity = ConstantVelocity([5.0, -5.0])  # every sample at (1, -1)
    critic = LinearTwin((0.0, 1.0), (0.0, 1.0))  # its gradient points along +y
    field = ConstantField([-0.3, 0.0])  # the field points along -x
    settings = ParticlePolicySettings(3, 1, TransportSettings(2, 0.1, optimizer="sgd"))
    moved = propose_particles(velocity, critic, torch.zeros(2, 1), settings, field)
    # sgd: a <- a + eps * f, twice; the critic's +y gradient plays no part
    assert torch.allclose(moved, torch.tensor([0.94, -1.0]).expand(2, 3, 2), atol=1e-6)
    kernel = propose_particles(velocity, critic, torch.zeros(2, 1), settings, KernelField())
    assert kernel[..., 1].min() > -1.0 and torch.allclose(kernel[..., 0], torch.ones(2, 3))


def test_td_target_transports_next_particles_along_the_field():
    """Critic target: next-state particles move along f (a hand-built field), valued by the
    target critics: with f = (-0.5, 0) and sgd eps 1 the particle at (1, -1) lands at (0.5, -1)."""
    velocity = ConstantVelocity([5.0, -5.0])
    field = ConstantField([-0.5, 0.0])
    critic = LinearTwin((0.0, 9.0), (0.0, 9.0))  # gradient along +y: ignored by A-VGF
    target = LinearTwin((2.0, 0.0), (4.0, 0.0))
    batch = {
        "observations": torch.zeros(1, 1),
        "actions": torch.zeros(1, 2),
        "rewards": torch.zeros(1),
        "next_observations": torch.zeros(1, 1),
        "masks": torch.ones(1),
    }
    settings = ParticlePolicySettings(2, 1, TransportSettings(1, 1.0, optimizer="sgd"))
    losses = vgf_losses(velocity, critic, target, batch, settings, gamma=1.0,
                        target_twin_agg="min", particle_agg="mean", field=field)
    assert losses["target_mean"].item() == pytest.approx(min(2.0 * 0.5, 4.0 * 0.5), abs=1e-6)
    assert "field_loss" in losses


def test_particle_step_is_clipped_to_global_norm_one_over_the_whole_tensor():
    """phi is scaled to norm 1 over ALL states and particles (not per state) before the step."""
    phi = torch.tensor([[[3.0, 4.0]], [[0.0, 0.6]]])  # norms 5 and 0.6; whole tensor 5.036
    total = phi.norm()
    start = torch.zeros(2, 1, 2)
    clipped = TransportSettings(1, 0.1, optimizer="sgd", max_direction_norm=1.0)
    moved = move_particles(lambda p: phi, start, clipped)
    assert torch.allclose(moved, 0.1 * phi / total)  # the small state is scaled down too
    small = phi / 10  # norm 0.5 < 1: untouched
    assert torch.allclose(move_particles(lambda p: small, start, clipped), 0.1 * small)
    # Adam is fed the clipped direction: its first moment after one step is -(1 - beta1) phi / |phi|
    stepper = ParticleStepper(TransportSettings(2, 0.1, max_direction_norm=1.0), start)
    stepper.step(start, phi)
    assert torch.allclose(stepper.first_moment, -0.1 * phi / total)


def test_acting_clip_takes_each_states_norm():
    """``clip_per_state``: each state's (N, d) direction is scaled to norm 1 on its own."""
    phi = torch.tensor([[[3.0, 4.0]], [[0.0, 0.6]]])  # norms 5 and 0.6
    per_state = TransportSettings(1, 0.1, optimizer="sgd", max_direction_norm=1.0, clip_per_state=True)
    moved = move_particles(lambda p: phi, torch.zeros(2, 1, 2), per_state)
    assert torch.allclose(moved, 0.1 * torch.tensor([[[0.6, 0.8]], [[0.0, 0.6]]]))


@pytest.mark.usefixtures("ray_session")
def test_avgf_acts_on_a_batch_as_on_each_state_alone_and_trains_with_the_batch_clip():
    """The module acts with the per-state clip (a batch of states gives each state's own action)
    and the learner's critic target with the clip over the whole batch, as the authors."""
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    import gymnasium as gym

    from vgf_rllib.algorithm.rl_module import VGFTorchRLModule
    from vgf_rllib.demo import ENV_ID

    env = gym.make(ENV_ID)
    config = small_avgf_config(critic_hidden_layers=[16], sampler_hidden_layers=[16])
    torch.manual_seed(0)
    module = RLModuleSpec(
        module_class=VGFTorchRLModule, observation_space=env.observation_space,
        action_space=env.action_space, model_config=config._model_config_auto_includes,
    ).build().eval()
    module.set_test_time_budget(flow_steps=3)
    obs = torch.randn(4, *env.observation_space.shape)
    noise = torch.randn(4, module.acting.num_particles, 2)
    together = module.compute_actions(obs, noise=noise)
    alone = torch.cat([module.compute_actions(obs[i : i + 1], noise=noise[i : i + 1]) for i in range(4)])
    assert torch.allclose(together, alone, atol=1e-6)
    assert module.acting.transport.clip_per_state
    algo = config.build_algo()
    training = algo.learner_group._learner.training_policy_settings("default_policy")
    algo.stop()
    assert not training.transport.clip_per_state and training.transport.max_direction_norm == 1.0


def test_variants_name_their_field_and_clips():
    assert get_variant("vgf").max_direction_norm is None and get_variant("vgf").grad_clip is None
    avgf = get_variant("a-vgf")
    assert (avgf.max_direction_norm, avgf.grad_clip, avgf.learned_field) == (1.0, 1.0, True)
    with pytest.raises(ValueError, match="variant must be one of"):
        get_variant("avgf")
    with pytest.raises(ValueError, match="variant"):
        VGFConfig().offline_dataset(dataset=DATASET_SPEC).training(variant="svgd").validate()


def small_avgf_config(**training):
    settings = dict(
        variant="a-vgf",
        critic_hidden_layers=[64, 64],
        sampler_hidden_layers=[64, 64],
        updates_per_iteration=250,
        train_batch_size_per_learner=128,
        sampler_euler_steps=5,
        num_particles=5,
    )
    settings.update(training)
    return (
        VGFConfig()
        .environment(ENV_SPEC)
        .offline_dataset(dataset=DATASET_SPEC)
        .training(**settings)
        .debugging(seed=0)
    )


@pytest.mark.usefixtures("ray_session")
def test_avgf_learner_has_a_field_optimizer_and_clips_every_optimizer(monkeypatch):
    from vgf_rllib.algorithm import learner as learner_module

    algo = small_avgf_config(updates_per_iteration=2).build_algo()
    learner = algo.learner_group._learner
    names = [name for name, _ in learner.get_optimizers_for_module("default_policy")]
    assert names == ["critic", "sampler", "field"]
    norms = []
    original = learner_module.clip_gradients

    def recording(grads, **kwargs):
        norm = original(grads, **kwargs)
        after = torch.sqrt(sum(g.pow(2).sum() for g in grads.values()))
        norms.append((kwargs, float(norm), float(after)))
        return norm

    monkeypatch.setattr(learner_module, "clip_gradients", recording)
    result = algo.train()
    algo.stop()
    assert len(norms) == 3 * 2  # three optimizers, two gradient steps
    assert all(kw == {"grad_clip": 1.0, "grad_clip_by": "global_norm"} for kw, _, _ in norms)
    assert all(after <= 1.0 + 1e-4 for _, _, after in norms)
    assert any(before > 1.0 for _, before, _ in norms)  # the clip did act
    assert "field_loss" in result["learners"]["default_policy"]


@pytest.mark.usefixtures("ray_session")
def test_avgf_trains_from_the_config_transports_toward_value_and_reloads(tmp_path):
    """On the demo bandit (best actions beside the data's mode), A-VGF's transport along its
    learned field must beat best-of-N by a margin, the field's loss must fall, and a checkpoint
    must reload the field."""
    from vgf_rllib.policy import load_policy

    algo = small_avgf_config().build_algo()
    first = algo.train()["learners"]["default_policy"]["field_loss"]
    for _ in range(2):
        last = algo.train()["learners"]["default_policy"]["field_loss"]
    algo.save_to_path(str(tmp_path / "ckpt"))
    module = algo.get_policy_module()
    algo.stop()
    assert last < first
    moved, unmoved = evaluate_budgets(module, ENV_SPEC, [3, 0], 200, seed=3)
    print(f"A-VGF L3 {moved.return_mean:.3f}  L0 {unmoved.return_mean:.3f}")
    assert moved.return_mean - unmoved.return_mean > 0.05
    reloaded = load_policy(tmp_path / "ckpt")
    assert type(reloaded.transport_field).__name__ == "LearnedField"
    obs = torch.rand(4, 3) * 2 - 1
    torch.manual_seed(1)
    expected = module.compute_actions(obs)
    torch.manual_seed(1)
    assert torch.equal(reloaded.compute_actions(obs), expected)
