"""The compiled update step equals the eager one (docs/algorithm.md, "Compiled update step")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch._dynamo.utils import counters

from vgf_rllib import VGFConfig
from vgf_rllib.demo import DATASET_SPEC

UPDATES = 20


@pytest.fixture
def dynamo_enabled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test session runs with TorchDynamo off (conftest.py); these tests compile for real
    (the local learner lives in this process)."""
    monkeypatch.delenv("TORCHDYNAMO_DISABLE", raising=False)
    with torch._dynamo.config.patch(disable=False):
        torch._dynamo.reset()
        counters.clear()
        yield


def train(compile_learner: bool, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``UPDATES`` gradient steps of small networks with the training ``options``; the metrics
    and the weights after them."""
    config = (
        VGFConfig()
        .offline_dataset(dataset=f"{DATASET_SPEC}-2000")
        .training(
            critic_hidden_layers=[32, 32],
            sampler_hidden_layers=[32, 32],
            train_batch_size_per_learner=64,
            num_particles=4,
            sampler_euler_steps=3,
            train_flow_steps=2,
            updates_per_iteration=UPDATES,
            compile_learner=compile_learner,
            **options,
        )
        .debugging(seed=3)
    )
    algo = config.build_algo()
    metrics = algo.train()["learners"]["default_policy"]
    weights = {name: value.detach().clone() for name, value in algo.get_policy_module().state_dict().items()}
    algo.stop()
    return metrics, weights


@pytest.mark.parametrize(
    "options",
    [
        {"variant": "vgf"},
        {"variant": "a-vgf"},
        {"variant": "vgf", "kernel_bandwidth_gradient": True, "target_update": "pre-step"},
    ],
    ids=["vgf", "a-vgf", "vgf-authors-parity"],
)
def test_compiled_update_gives_the_eager_losses_and_weights(ray_session, dynamo_enabled, options):
    eager_metrics, eager_weights = train(False, options)
    assert counters["stats"]["unique_graphs"] == 0
    compiled_metrics, compiled_weights = train(True, options)
    assert counters["stats"]["unique_graphs"] >= 1  # the losses really ran as a compiled graph
    assert not counters["graph_break"], dict(counters["graph_break"])  # as one graph
    for name in ("critic_loss", "flow_loss", "q_mean", "target_mean"):
        assert compiled_metrics[name] == pytest.approx(eager_metrics[name], rel=1e-4, abs=1e-5), name
    assert eager_weights.keys() == compiled_weights.keys()
    worst = max((eager_weights[k] - compiled_weights[k]).abs().max().item() for k in eager_weights)
    print(f"largest weight difference after {UPDATES} updates: {worst:.2e}")
    assert worst < 1e-4


def test_compiled_acting_gives_the_eager_actions(ray_session, dynamo_enabled):
    """``compile_acting=True``: the module's actions equal eager acting's for the same seed, at
    the first batch size (a static graph) and another (a dynamic batch dim), with the random
    draws taken outside the compiled graph. Small graphs: compilation dominates this test."""
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    import gymnasium as gym

    from vgf_rllib.algorithm.rl_module import VGFTorchRLModule
    from vgf_rllib.demo import ENV_ID

    env = gym.make(ENV_ID)
    modules = {}
    for compiled in (False, True):
        config = VGFConfig().training(
            critic_hidden_layers=[8], sampler_hidden_layers=[8], num_particles=4,
            sampler_euler_steps=1, compile_acting=compiled, action_selection="softmax",
        )
        modules[compiled] = RLModuleSpec(
            module_class=VGFTorchRLModule, observation_space=env.observation_space,
            action_space=env.action_space, model_config=config._model_config_auto_includes,
        ).build().eval()
    modules[True].load_state_dict(modules[False].state_dict())
    for batch, flow_steps in ((1, 1), (5, 1)):
        obs = torch.randn(batch, *env.observation_space.shape)
        actions = {}
        for compiled, module in modules.items():
            module.set_test_time_budget(flow_steps=flow_steps)
            torch.manual_seed(batch)
            actions[compiled] = module.compute_actions(obs)
        assert torch.allclose(actions[True], actions[False], atol=1e-5), (batch, flow_steps)
    assert counters["stats"]["unique_graphs"] >= 1
