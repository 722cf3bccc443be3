"""Loading a trained VGF policy (the RLModule alone) from a run or checkpoint directory.

Paths resolve through :mod:`vgf_rllib.run_dir` (a run dir gives its newest complete checkpoint).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ray.rllib.core.rl_module.rl_module import RLModule

from vgf_rllib.run_dir import CheckpointError, RunDir, module_dir


def load_policy(path: str | Path) -> Any:
    """The trained VGF RLModule (on CPU) from a run, algorithm or module checkpoint.

    Act with ``module.compute_actions(obs)`` (one observation or a batch, numpy or torch;
    actions in [-1, 1], the space the dataset's actions are stored in: map them to the env's
    bounds with :func:`vgf_rllib.data.spaces.unsquash_actions`; an exported ``.pt2``, by
    contrast, acts in the env's units when the checkpoint knows its bounds), and change the test-time budget with
    ``module.set_test_time_budget(flow_steps=..., num_particles=..., step_size=...)``.
    """
    directory = module_dir(path)
    try:
        return RLModule.from_checkpoint(directory)
    except Exception as error:  # RLlib/pickle/torch raise many types for broken files
        raise CheckpointError(
            f"{directory}: cannot load the VGF module ({type(error).__name__}: {error}); "
            "the checkpoint is corrupt or incomplete"
        ) from error


def run_info(path: str | Path) -> dict[str, Any]:
    """``run.json`` of the run dir that is or holds ``path`` ({} if none)."""
    run = RunDir.containing(path)
    return run.read_info() if run else {}
