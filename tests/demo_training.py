"""Training VGF on the built-in demo task, shared by the learning tests."""

from __future__ import annotations

import math
from typing import Any

from vgf_rllib import VGFConfig
from vgf_rllib.demo import DATASET_SPEC, ENV_SPEC


def train_demo_module(
    *, seed: int, updates_per_iteration: int, iterations: int = 3, **training: Any
) -> Any:
    """Train small networks on ``demo:offset-bandit`` (``training``: more VGFConfig.training
    settings); return a CPU copy of the module."""
    config = (
        VGFConfig()
        .environment(ENV_SPEC)
        .offline_dataset(dataset=DATASET_SPEC)
        .training(
            critic_hidden_layers=[64, 64],
            sampler_hidden_layers=[64, 64],
            updates_per_iteration=updates_per_iteration,
            train_batch_size_per_learner=128,
            sampler_euler_steps=5,
            **training,
        )
        .debugging(seed=seed)
    )
    module, result = train_and_take_module(config, iterations)
    assert result["num_gradient_updates_lifetime"] == iterations * updates_per_iteration
    return module


def train_and_take_module(config: VGFConfig, iterations: int) -> tuple[Any, dict[str, Any]]:
    """Build ``config``'s algorithm, call ``train()`` ``iterations`` times and stop it; return a
    CPU copy of the module and the last result."""
    algo = config.build_algo()
    for _ in range(iterations):
        result = algo.train()
    module = algo.get_policy_module()
    algo.stop()
    return module, result


def gap_and_noise(better: Any, worse: Any) -> tuple[float, float]:
    """Mean return difference of two budget results and 4 standard errors of that difference."""
    def mean_and_se(result: Any) -> tuple[float, float]:
        return result.return_mean, result.return_std / math.sqrt(result.episodes)

    (b_mean, b_se), (w_mean, w_se) = mean_and_se(better), mean_and_se(worse)
    return b_mean - w_mean, 4 * math.hypot(b_se, w_se)
