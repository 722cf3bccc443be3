"""The acting path as a standalone ``torch.export`` artifact (.pt2) that loads with torch alone.

What is exported is the module's own :meth:`compute_actions` (observation normalization, flow
sampler, transport, scoring, selection) at a chosen N, K and L_test, followed by scaling to the
action bounds when the module's action space has finite ones. Its random draws are inputs:
``artifact(obs, noise, uniform)`` with ``noise ~ N(0, I)`` of shape ``(B, N, action_dim)`` and
``uniform ~ U[0, 1)`` of shape ``(B,)`` gives the module's actions for the same draws.

The module's acting code is traced with ``make_fx``, which records aten operations below autograd,
and that graph is exported with a dynamic batch dimension (why not ``torch.export`` directly:
docs/algorithm.md, "Exporting the acting path").
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch.fx.experimental.proxy_tensor import make_fx

from vgf_rllib.data.spaces import has_finite_bounds, scale_to_bounds

#: name of the JSON record stored inside the artifact (``torch.export.load(extra_files=...)``)
METADATA_FILE = "vgf_policy.json"
ARTIFACT_FORMAT = "vgf-acting-path/1"
#: largest difference allowed between the artifact and the module in the post-export check
CHECK_TOLERANCE = 1e-5
#: the artifact's inputs, in order
INPUT_NAMES = ("obs", "noise", "uniform")


class ActingPath(torch.nn.Module):
    """``module.compute_actions`` with explicit random draws, then scaling to the action bounds."""

    def __init__(self, module: Any) -> None:
        super().__init__()
        self.module = module
        space = module.action_space
        self.scaled = isinstance(space, gym.spaces.Box) and has_finite_bounds(space)
        if self.scaled:
            self.register_buffer("low", torch.as_tensor(space.low, dtype=torch.float32).flatten())
            self.register_buffer("high", torch.as_tensor(space.high, dtype=torch.float32).flatten())

    def forward(self, obs: torch.Tensor, noise: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
        actions = self.module.compute_actions(obs, noise=noise, uniform=uniform)
        return scale_to_bounds(actions, self.low, self.high) if self.scaled else actions


def random_inputs(
    acting: ActingPath, batch: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Observations, sampler noise and selection draws for ``batch`` states."""
    module = acting.module
    obs_shape = tuple(module.observation_space.shape)
    action_dim = int(np.prod(module.action_space.shape))
    return (
        torch.randn((batch, *obs_shape), generator=generator),
        torch.randn((batch, module.acting.num_particles, action_dim), generator=generator),
        torch.rand((batch,), generator=generator),
    )


def trace_acting_path(acting: ActingPath) -> torch.export.ExportedProgram:
    """make_fx (inner autograd becomes aten ops), then torch.export with a dynamic batch dim."""
    example = random_inputs(acting, example_batch(acting), torch.Generator().manual_seed(0))
    graph = make_fx(acting, tracing_mode="symbolic", _allow_non_fake_inputs=True)(*example)
    names = iter(INPUT_NAMES)  # so that input checks of the artifact name the input
    for node in graph.graph.nodes:
        if node.op == "placeholder":
            node.name = node.target = next(names)
    graph.recompile()
    batch = torch.export.Dim("batch")
    return torch.export.export(graph, example, dynamic_shapes=({0: batch}, {0: batch}, {0: batch}))


def example_batch(acting: ActingPath) -> int:
    """A batch size for tracing that equals no other input dim and is not 1.

    Symbolic tracing gives equal sizes one symbol and specializes 1, so a batch equal to the
    action dim or N, or of 1, would freeze the batch size of the artifact.
    """
    _, noise, _ = random_inputs(acting, 1)
    return 1 + max(2, *acting.module.observation_space.shape, *noise.shape)


def check_against_module(program: torch.export.ExportedProgram, acting: ActingPath) -> float:
    """Largest |artifact - module| over fresh inputs at batch 1 and 5; raises above tolerance."""
    generator = torch.Generator().manual_seed(1)
    exported = program.module()
    worst = 0.0
    for batch in (1, 5):
        inputs = random_inputs(acting, batch, generator)
        expected = acting(*inputs)
        with torch.no_grad():
            got = exported(*inputs)
        worst = max(worst, float((got - expected).abs().max()))
    if not worst <= CHECK_TOLERANCE:
        raise RuntimeError(
            f"the exported acting path differs from the module by {worst:.3g} "
            f"(tolerance {CHECK_TOLERANCE}); not writing it"
        )
    return worst


def artifact_metadata(acting: ActingPath, max_difference: float) -> dict[str, Any]:
    """What a user of the artifact needs: input shapes, the budget and the action bounds."""
    module = acting.module
    action_dim = int(np.prod(module.action_space.shape))
    settings = module.acting
    return {
        "format": ARTIFACT_FORMAT,
        "inputs": {
            "obs": ["batch", *module.observation_space.shape],
            "noise": ["batch", settings.num_particles, action_dim],
            "uniform": ["batch"],
        },
        "num_particles": settings.num_particles,
        "euler_steps": settings.euler_steps,
        "transport": asdict(settings.transport),
        "action_selection": module.action_selection,
        "selection_temperature": module.selection_temperature,
        "selection_twin_agg": module.selection_twin_agg,
        "action_low": acting.low.tolist() if acting.scaled else None,
        "action_high": acting.high.tolist() if acting.scaled else None,
        "max_difference_to_module": max_difference,
        "torch_version": torch.__version__,
    }


def export_acting_path(
    module: Any,
    output: str | Path,
    *,
    num_particles: int | None = None,
    flow_steps: int | None = None,
    euler_steps: int | None = None,
    step_size: float | None = None,
) -> dict[str, Any]:
    """Write ``module``'s acting path at the given budget (default: the module's) to ``output``.

    The artifact is checked against the module on fresh inputs before it is written. Returns
    the metadata stored with it. The module's own budget is left as it was.
    """
    previous, compiled = module.acting, module.compile_acting
    module.compile_acting = False  # make_fx traces the eager acting code
    try:
        module.set_test_time_budget(
            num_particles=num_particles,
            flow_steps=flow_steps,
            euler_steps=euler_steps,
            step_size=step_size,
        )
        module.eval()
        acting = ActingPath(module)
        program = trace_acting_path(acting)
        metadata = artifact_metadata(acting, check_against_module(program, acting))
    finally:
        module.acting, module.compile_acting = previous, compiled
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, output, extra_files={METADATA_FILE: json.dumps(metadata)})
    return metadata


def load_artifact(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The artifact's callable ``(obs, noise, uniform) -> actions`` and its metadata.

    Equivalent to what needs only torch: ``torch.export.load(path, extra_files=...).module()``.
    """
    extra = {METADATA_FILE: ""}
    program = torch.export.load(str(path), extra_files=extra)
    return program.module(), json.loads(extra[METADATA_FILE])
