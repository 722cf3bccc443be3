"""VGFConfig: defaults (docs/algorithm.md, "Defaults"), setters and validation messages."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vgf_rllib import VGFConfig

SPEC_DEFAULTS = {
    "critic_hidden_layers": [512, 512, 512, 512],
    "sampler_hidden_layers": [512, 512, 512, 512],
    "critic_lr": 3e-4,
    "sampler_lr": 3e-4,
    "train_batch_size_per_learner": 256,
    "tau": 0.005,
    "gamma": 0.99,
    "num_particles": 10,
    "sampler_euler_steps": 10,
    "train_flow_steps": 1,
    "step_size": 0.1,
    "alpha": 1.0,
    "particle_optimizer": "adam",
    "score_twin_agg": "mean",
    "target_twin_agg": "min",
    "particle_agg": "mean",
    "action_selection": "argmax",
    "test_flow_steps": [0, 1, 2, 3],
    "eval_episodes": 50,
    "kernel_bandwidth_gradient": False,
    "target_update": "post-step",
}


def valid_config() -> VGFConfig:
    return VGFConfig().offline_dataset(dataset="demo:offset-bandit")


def test_defaults_follow_spec_section_3():
    config = VGFConfig()
    for name, value in SPEC_DEFAULTS.items():
        assert getattr(config, name) == value, name
    assert config.lr is None
    valid_config().validate()


def test_setters_return_self_and_set_fields():
    config = VGFConfig()
    assert config.training(num_particles=5, step_size=0.05, gamma=0.995) is config
    assert (config.num_particles, config.step_size, config.gamma) == (5, 0.05, 0.995)
    assert config.test_time(test_flow_steps=(0, 2), eval_interval=3) is config
    assert config.test_flow_steps == [0, 2] and config.eval_interval == 3
    assert config.offline_dataset(dataset="x.npz", normalize_observations=True) is config
    assert config.dataset == "x.npz" and config.normalize_observations
    assert config.resolved_inference_flow_steps == config.train_flow_steps
    config.test_time(inference_flow_steps=3)
    assert config.model_config["inference_flow_steps"] == 3
    assert config.model_config["num_particles"] == 5
    config.training(kernel_bandwidth_gradient=True, target_update="pre-step")
    assert config.model_config["kernel_bandwidth_gradient"] and config.target_update == "pre-step"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"num_particles": 0}, "num_particles must be an int >= 1"),
        ({"step_size": 0.0}, "step_size must be a finite number > 0"),
        ({"step_size": -0.1}, "step_size must be a finite number > 0"),
        ({"alpha": 0}, "alpha must be a finite number > 0"),
        ({"train_flow_steps": -1}, "train_flow_steps must be an int >= 0"),
        ({"sampler_euler_steps": 0}, "sampler_euler_steps must be an int >= 1"),
        ({"target_twin_agg": "max"}, "target_twin_agg must be one of"),
        ({"score_twin_agg": "median"}, "score_twin_agg must be one of"),
        ({"particle_agg": "min"}, "particle_agg must be one of"),
        ({"particle_optimizer": "rmsprop"}, "particle_optimizer must be one of"),
        ({"action_selection": "best"}, "action_selection must be one of"),
        ({"tau": 0.0}, "tau must be a number in"),
        ({"gamma": 1.5}, "gamma must be a number in"),
        ({"test_flow_steps": []}, "test_flow_steps must be a non-empty list"),
        ({"test_flow_steps": [0, -1]}, "test_flow_steps must be a non-empty list"),
        ({"critic_hidden_layers": [64, 0]}, "critic_hidden_layers must be"),
        ({"lr": 1e-3}, "`lr` must be None"),
        ({"target_update": "before"}, "target_update must be one of"),
        ({"kernel_bandwidth_gradient": "yes"}, "kernel_bandwidth_gradient must be true or false"),
        ({"kernel_bandwidth_gradient": True, "variant": "a-vgf"}, "applies to variant='vgf' only"),
        ({"dataset": None}, "VGF needs data: config.offline_data"),
        ({"eval_interval": 2}, "needs an evaluation env"),
    ],
)
def test_validate_rejects_impossible_values(overrides, message):
    config = valid_config().apply_overrides(overrides)
    with pytest.raises(ValueError, match=message):
        config.validate()


def test_apply_overrides_rejects_unknown_fields():
    expected = r"unknown VGF config field\(s\) 'num_particle' \(did you mean 'num_particles'"
    with pytest.raises(ValueError, match=expected):
        VGFConfig().apply_overrides({"num_particle": 3})


def test_unknown_fields_from_other_libraries_suggest_vgfs_own():
    """`learning_rate` is closest in spelling to RLlib's `learning_starts`; it means VGF's two
    learning rates."""
    with pytest.raises(ValueError) as error:
        VGFConfig().apply_overrides({"learning_rate": 1e-3, "batch_size": 64})
    message = str(error.value)
    assert "'learning_rate' (did you mean 'critic_lr', 'sampler_lr'?)" in message
    assert "'batch_size' (did you mean 'train_batch_size_per_learner'?)" in message
    assert "learning_starts" not in message


def test_every_alias_names_existing_fields():
    from vgf_rllib.algorithm.field_hints import ALIASES

    fields = VGFConfig().field_names()
    assert not set(ALIASES) & set(fields)  # an alias must not shadow a real field
    assert {target for targets in ALIASES.values() for target in targets} <= set(fields)


def test_train_help_documents_every_vgf_field(capsys):
    from vgf_rllib.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    fields = [*SPEC_DEFAULTS, "inference_flow_steps", "eval_num_particles", "eval_step_size",
              "normalize_observations", "rescale_actions", "selection_temperature"]
    missing = [name for name in fields if name not in text]
    assert not missing
    for option in ("--dataset", "--env", "--iterations", "--updates-per-iteration", "--set", "--output"):
        assert option in text


RAY_FREE_SCRIPT = """
import sys
sys.modules["ray"] = None  # as on a machine without Ray
import torch
from vgf_rllib.core import ParticlePolicySettings, TransportSettings, TwinCritic, VelocityField, vgf_losses
from vgf_rllib.demo import make_demo_arrays
arrays = make_demo_arrays(64)
batch = {k: torch.as_tensor(v) for k, v in arrays.items() if k != "terminals"}
critic, target, velocity = TwinCritic(3, 2, [8]), TwinCritic(3, 2, [8]), VelocityField(3, 2, [8])
settings = ParticlePolicySettings(3, 2, TransportSettings(1, 0.1))
losses = vgf_losses(velocity, critic, target, batch, settings, gamma=0.99, target_twin_agg="min", particle_agg="mean")
print("critic_loss", float(losses["critic_loss"]))
from vgf_rllib import VGFConfig
"""


def test_torch_only_parts_import_without_ray_and_the_algorithm_says_ray_is_missing():
    """A GPU machine without Ray runs the benchmarks' bare loops (benchmarks/throughput.py
    --no-rllib): the core and demo data import without Ray; VGFConfig names what is missing."""
    result = subprocess.run([sys.executable, "-c", RAY_FREE_SCRIPT], capture_output=True, text=True)
    assert "critic_loss" in result.stdout, result.stderr
    assert result.returncode == 1
    assert "ImportError: vgf_rllib.VGFConfig needs Ray RLlib" in result.stderr
