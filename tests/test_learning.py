"""Learning tests a broken VGF cannot pass (docs/algorithm.md, "Transport" and "Critic target").

- Transport control (demo bandit): with uniform-random selection among the particles (argmax
  cannot help) and a small alpha, L_test = 2 must beat L_test = 0 by a wide margin; zeroing the
  value gradient must remove the gain and flipping it must turn it into a loss.
- Bootstrapping (``vgf_rllib.demo_chain``, reward only after the 4th step, masks 1 before):
  VGF must beat behavior cloning (N = 1, L = 0) by a margin that learners which do not
  propagate value through correct TD targets (gamma = 0, no Polyak step) do not reach.
- Several training seeds on the demo bandit keep the order VGF > best-of-N > BC.
- Accuracy guard of ``precision="bf16"``: on both tasks bf16 reaches fp32's returns within seed
  noise.

Margins exceed both a fixed amount and 4 standard errors of the episodes' mean difference.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import pytest

from demo_training import gap_and_noise, train_and_take_module, train_demo_module
from vgf_rllib import VGFConfig, demo_chain
from vgf_rllib.demo import ENV_SPEC
from vgf_rllib.evaluation import evaluate_budgets

pytestmark = pytest.mark.usefixtures("ray_session")

#: the module itself (``vgf_rllib.core.transport`` as an attribute is the function)
transport_module = importlib.import_module("vgf_rllib.core.transport")


@contextmanager
def random_selection(module, alpha: float) -> Iterator[None]:
    """Act by a uniformly random particle with temperature ``alpha`` (restored afterwards)."""
    saved = module.action_selection, module.acting
    module.action_selection = "random"
    module.acting = replace(module.acting, transport=replace(module.acting.transport, alpha=alpha))
    try:
        yield
    finally:
        module.action_selection, module.acting = saved


@contextmanager
def value_gradient_scaled(monkeypatch: pytest.MonkeyPatch, factor: float) -> Iterator[None]:
    """A deliberately broken transport: the critic's action gradient times ``factor``."""
    original = transport_module.value_gradient
    with monkeypatch.context() as patch:
        patch.setattr(
            transport_module,
            "value_gradient",
            lambda q_fn, particles, agg: factor * original(q_fn, particles, agg),
        )
        yield


TRANSPORT_EPISODES = 400
TRANSPORT_MARGIN = 0.15


def transport_gain(module) -> tuple[float, float]:
    """(L_test = 2 minus L_test = 0 return, 4 SE) under random selection with alpha = 0.1."""
    with random_selection(module, alpha=0.1):
        moved, unmoved = evaluate_budgets(module, ENV_SPEC, [2, 0], TRANSPORT_EPISODES, seed=11)
    return gap_and_noise(moved, unmoved)


def test_transport_moves_particles_toward_value(trained_demo_module):
    gain, noise = transport_gain(trained_demo_module)
    print(f"transport gain under random selection: {gain:.3f} (4 SE {noise:.3f})")
    assert gain > max(TRANSPORT_MARGIN, noise)


def test_transport_without_value_gradient_gains_nothing(trained_demo_module, monkeypatch):
    with value_gradient_scaled(monkeypatch, 0.0):
        gain, noise = transport_gain(trained_demo_module)
    print(f"transport gain with the value gradient zeroed: {gain:.3f} (4 SE {noise:.3f})")
    assert gain < TRANSPORT_MARGIN


def test_transport_against_the_value_gradient_loses(trained_demo_module, monkeypatch):
    with value_gradient_scaled(monkeypatch, -1.0):
        gain, noise = transport_gain(trained_demo_module)
    print(f"transport gain with the value gradient flipped: {gain:.3f} (4 SE {noise:.3f})")
    assert gain < -max(TRANSPORT_MARGIN, noise)


CHAIN_EPISODES = 300
#: VGF must beat BC by this much on the chain; measured: VGF L3 0.90, BC 0.45; a learner with
#: gamma = 0 reaches 0.52 and one whose target critics never move 0.61 (docs/algorithm.md)
CHAIN_MARGIN = 0.3


def train_chain_module(**training):
    settings = dict(
        critic_hidden_layers=[64, 64],
        sampler_hidden_layers=[64, 64],
        updates_per_iteration=500,
        train_batch_size_per_learner=128,
        sampler_euler_steps=5,
    )
    settings.update(training)
    config = (
        VGFConfig()
        .environment(demo_chain.ENV_SPEC)
        .offline_dataset(dataset=f"demo:{demo_chain.DATASET_NAME}")
        .training(**settings)
        .debugging(seed=0)
    )
    module, _ = train_and_take_module(config, iterations=3)
    return module


def chain_gap_over_bc(module) -> tuple[float, float, float]:
    """(VGF at L_test = 3 minus BC, 4 SE, VGF's return) on the same seeded episodes."""
    (vgf,) = evaluate_budgets(module, demo_chain.ENV_SPEC, [3], CHAIN_EPISODES, seed=5)
    (bc,) = evaluate_budgets(
        module, demo_chain.ENV_SPEC, [0], CHAIN_EPISODES, num_particles=1, seed=5
    )
    gap, noise = gap_and_noise(vgf, bc)
    print(f"chain: VGF L3 {vgf.return_mean:.3f}  BC {bc.return_mean:.3f}")
    return gap, noise, vgf.return_mean


@pytest.fixture(scope="module")
def chain_module():
    return train_chain_module()


def test_bootstrapped_values_beat_behavior_cloning_on_a_delayed_reward(chain_module):
    gap, noise, _ = chain_gap_over_bc(chain_module)
    assert gap > max(CHAIN_MARGIN, noise)


def test_chain_needs_bootstrapping_to_pass():
    """Control: the same learner with gamma = 0 (no value propagated from s') misses the margin,
    so the test above measures bootstrapping, not one-step reward fitting."""
    gap, _, _ = chain_gap_over_bc(train_chain_module(gamma=0.0))
    assert gap < CHAIN_MARGIN


SEEDS = (1, 2, 3)


def test_ordering_holds_for_every_training_seed():
    scores = []
    for seed in SEEDS:
        module = train_demo_module(seed=seed, updates_per_iteration=300)
        vgf, best_of_n = evaluate_budgets(module, ENV_SPEC, [2, 0], 300, seed=seed)
        (bc,) = evaluate_budgets(module, ENV_SPEC, [0], 300, num_particles=1, seed=seed)
        scores.append((vgf.return_mean, best_of_n.return_mean, bc.return_mean))
    vgf, best_of_n, bc = np.array(scores).T
    print(f"VGF L=2 {vgf}, best-of-N {best_of_n}, BC {bc}")
    # Every seed keeps the order, and the gaps exceed 3 seed-to-seed standard deviations.
    assert (vgf > best_of_n).all() and (best_of_n > bc).all()
    assert (vgf - best_of_n).mean() > 3 * (vgf - best_of_n).std()
    assert (best_of_n - bc).mean() > 3 * (best_of_n - bc).std()



#: largest |bf16 - fp32| return difference the guard accepts: seed-to-seed std of these returns is
#: 0.01-0.02 (docs/results.md, "Adaptive test-time budget and A-VGF"), episode noise 0.01
BF16_TOLERANCE = 0.05


def test_bf16_autocast_learns_as_fp32(chain_module):
    """bf16 autocast of the loss forwards (docs/algorithm.md, "Precision") on the bootstrapping
    chain and the demo bandit: the same outcome as fp32 within seed noise."""
    _, _, fp32_chain = chain_gap_over_bc(chain_module)
    gap, noise, bf16_chain = chain_gap_over_bc(train_chain_module(precision="bf16"))
    assert gap > max(CHAIN_MARGIN, noise)
    assert abs(bf16_chain - fp32_chain) < BF16_TOLERANCE, (bf16_chain, fp32_chain)
    returns = {}
    for precision in ("fp32", "bf16"):
        module = train_demo_module(seed=1, updates_per_iteration=300, precision=precision)
        (result,) = evaluate_budgets(module, ENV_SPEC, [2], 300, seed=1)
        returns[precision] = result.return_mean
    assert abs(returns["bf16"] - returns["fp32"]) < BF16_TOLERANCE, returns


@pytest.mark.slow  # about 3 minutes on 2 CPU cores: `bash scripts/test.sh -m slow`
def test_quickstart_pendulum_beats_behavior_cloning_by_far():
    """The README's main job (random:Pendulum-v1, 8,000 steps of 2x64 networks): VGF at its best
    L_test beats behavior cloning of the random torques by far more than the episodes' noise,
    and a transport step beats best-of-N on the same episodes."""
    config = (
        VGFConfig()
        .environment("Pendulum-v1")
        .offline_dataset(dataset="random:Pendulum-v1")
        .training(
            critic_hidden_layers=[64, 64], sampler_hidden_layers=[64, 64], sampler_euler_steps=5,
            train_batch_size_per_learner=128, updates_per_iteration=1000,
        )
        .debugging(seed=0)
    )
    module, _ = train_and_take_module(config, iterations=8)
    best_of_n, vgf = evaluate_budgets(module, "Pendulum-v1", [0, 2], 30, seed=10_000)
    (bc,) = evaluate_budgets(module, "Pendulum-v1", [0], 30, num_particles=1, seed=10_000)
    print(f"Pendulum: VGF L2 {vgf.return_mean:.0f}  L0 {best_of_n.return_mean:.0f}  BC {bc.return_mean:.0f}")
    gap, noise = gap_and_noise(vgf, bc)
    assert gap > max(500.0, noise)  # measured: about 1,000
    gains = np.subtract(vgf.episode_returns, best_of_n.episode_returns)
    assert gains.mean() > 2 * gains.std() / np.sqrt(len(gains))  # measured: +40 +- 8
