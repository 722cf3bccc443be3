"""Exported acting path (docs/algorithm.md, "Exporting the acting path"): a torch-only process
gives the module's actions for the same random draws; bad input fails clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from vgf_rllib import VGFConfig, export
from vgf_rllib.algorithm.rl_module import VGFTorchRLModule
from vgf_rllib.cli import main
from vgf_rllib.core.losses import vgf_losses
from vgf_rllib.demo import ACTION_DIM, OBS_DIM, make_demo_arrays
from vgf_rllib.data.spaces import unsquash_actions
from vgf_rllib.policy import load_policy

#: the exported budget differs from the trained one (N=4, K=3, L=1) in every field
EXPORT_ARGS = ["--num-particles", "5", "--test-flow-steps", "2", "--euler-steps", "2"]
BUDGET = dict(num_particles=5, flow_steps=2, euler_steps=2)
LOW, HIGH = np.array([0.0, -2.0], np.float32), np.array([4.0, 2.0], np.float32)

#: runs in a fresh interpreter that imports torch only; argv: artifact, inputs, output
TORCH_ONLY = """
import json, sys, torch
extra = {"vgf_policy.json": ""}
policy = torch.export.load(sys.argv[1], extra_files=extra).module()
obs, noise, uniforms = torch.load(sys.argv[2])
with torch.no_grad():
    actions = [policy(obs, noise, u) for u in uniforms]
try:
    policy(obs[:, :-1], noise, uniforms[0])
    error = None
except Exception as exc:
    error = str(exc)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("vgf_rllib", "ray"))
torch.save({"actions": actions, "error": error, "loaded": loaded,
            "metadata": json.loads(extra["vgf_policy.json"])}, sys.argv[3])
"""


def small_trained_module() -> VGFTorchRLModule:
    """2x32 networks after 20 VGF gradient steps on the demo data, with softmax selection,
    observation statistics and action bounds other than [-1, 1]."""
    torch.manual_seed(0)
    config = VGFConfig().training(
        critic_hidden_layers=[32, 32], sampler_hidden_layers=[32, 32], num_particles=4,
        sampler_euler_steps=3, action_selection="softmax", selection_temperature=0.3,
    )
    module = RLModuleSpec(
        module_class=VGFTorchRLModule,
        observation_space=gym.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32),
        action_space=gym.spaces.Box(LOW, HIGH),
        model_config=config._model_config_auto_includes,
    ).build()
    module.set_observation_statistics(np.array([0.5, -0.2, 0.1]), np.array([2.0, 0.5, 1.5]))
    data = {k: torch.as_tensor(v) for k, v in make_demo_arrays(512).items()}
    params = [*module.critic.parameters(), *module.velocity.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    for step in range(20):
        batch = {k: v[step * 16:(step + 1) * 16] for k, v in data.items()}
        losses = vgf_losses(module.velocity, module.critic, module.target_critic, batch,
                            module.acting, gamma=0.99, target_twin_agg="min", particle_agg="mean")
        optimizer.zero_grad()
        (losses["critic_loss"] + losses["flow_loss"]).backward()
        optimizer.step()
    return module


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(module checkpoint dir, artifact written by ``vgf-rllib export``)."""
    folder = tmp_path_factory.mktemp("export")
    small_trained_module().save_to_path(folder / "module")
    artifact = folder / "policy.pt2"
    assert main(["export", str(folder / "module"), "--output", str(artifact), *EXPORT_ARGS]) == 0
    return folder / "module", artifact


def test_torch_only_process_gives_the_modules_actions(exported, tmp_path):
    module_dir, artifact = exported
    generator = torch.Generator().manual_seed(5)
    obs = torch.randn(6, OBS_DIM, generator=generator)
    noise = torch.randn(6, BUDGET["num_particles"], ACTION_DIM, generator=generator)
    uniforms = [torch.zeros(6), torch.full((6,), 0.999)]
    torch.save((obs, noise, uniforms), tmp_path / "inputs.pt")
    subprocess.run(
        [sys.executable, "-c", TORCH_ONLY, str(artifact), str(tmp_path / "inputs.pt"),
         str(tmp_path / "out.pt")],
        cwd=tmp_path, check=True, timeout=300,
    )
    out = torch.load(tmp_path / "out.pt")
    assert out["loaded"] == []  # neither vgf_rllib nor ray was imported
    module = load_policy(module_dir)
    module.set_test_time_budget(**BUDGET)
    for uniform, actions in zip(uniforms, out["actions"]):
        expected = unsquash_actions(
            module.compute_actions(obs, noise=noise, uniform=uniform).detach().numpy(),
            module.action_space,
        )
        np.testing.assert_allclose(actions.numpy(), expected, atol=1e-5)
    assert not torch.equal(*out["actions"])  # the selection draw is an input, not ignored
    assert "obs" in out["error"]  # a wrong observation shape names the input
    metadata = out["metadata"]
    assert metadata["inputs"]["noise"] == ["batch", 5, ACTION_DIM]
    assert (metadata["euler_steps"], metadata["transport"]["steps"]) == (2, 2)
    assert metadata["action_low"] == LOW.tolist() and metadata["action_high"] == HIGH.tolist()


def test_export_traces_at_the_chosen_budget_and_restores_the_modules(exported, monkeypatch):
    module = load_policy(exported[0])
    before = module.acting
    seen = []

    def failing_trace(acting):
        seen.append(acting.module.acting)
        raise RuntimeError("stop after tracing starts")

    monkeypatch.setattr(export, "trace_acting_path", failing_trace)
    with pytest.raises(RuntimeError, match="stop after tracing"):
        export.export_acting_path(module, exported[1].parent / "never.pt2", **BUDGET)
    assert (seen[0].num_particles, seen[0].euler_steps, seen[0].transport.steps) == (5, 2, 2)
    assert module.acting == before
    assert not (exported[1].parent / "never.pt2").exists()


def test_bad_checkpoint_and_settings_fail_clearly(tmp_path, capsys, exported):
    assert main(["export", str(tmp_path / "missing"), "--output", str(tmp_path / "p.pt2")]) == 2
    assert "no such run, checkpoint or module directory" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "--output", str(tmp_path / "p.pt2")]) == 2
    assert "not a VGF run dir" in capsys.readouterr().err
    args = ["export", str(exported[0]), "--output", str(tmp_path / "p.pt2")]
    assert main([*args, "--euler-steps", "0"]) == 2
    assert "euler_steps must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "p.pt2").exists()


def test_the_bandwidth_gradient_is_exported(tmp_path):
    """A module acting with ``kernel_bandwidth_gradient`` keeps it in its checkpoint and exports
    with it: the program equals the module at export's check (else nothing is written) and the
    metadata records it."""
    torch.manual_seed(0)
    config = VGFConfig().training(
        critic_hidden_layers=[8], sampler_hidden_layers=[8], num_particles=4,
        sampler_euler_steps=1, kernel_bandwidth_gradient=True,
    )
    module = RLModuleSpec(
        module_class=VGFTorchRLModule,
        observation_space=gym.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32),
        action_space=gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32),
        model_config=config._model_config_auto_includes,
    ).build()
    module.save_to_path(tmp_path / "module")
    assert load_policy(tmp_path / "module").acting.transport.bandwidth_gradient
    metadata = export.export_acting_path(module, tmp_path / "policy.pt2", flow_steps=2)
    assert metadata["transport"]["bandwidth_gradient"] and metadata["transport"]["steps"] == 2
    assert metadata["max_difference_to_module"] <= 1e-5
