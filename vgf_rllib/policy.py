"""Loading a trained VGF policy (the RLModule alone) from a run or checkpoint directory.

Layout written by RLlib and ``vgf-rllib train``:
``RUN_DIR/checkpoints/iter_000010/learner_group/learner/rl_module/default_policy``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.rl_module.rl_module import RLModule

MODULE_SUBDIR = Path("learner_group") / "learner" / "rl_module" / DEFAULT_MODULE_ID
CHECKPOINTS_SUBDIR = "checkpoints"
RUN_INFO_FILE = "run.json"


class CheckpointError(ValueError):
    """A checkpoint path is missing, incomplete or unreadable."""


def latest_checkpoint(run_dir: Path) -> Path:
    """The newest ``iter_*`` checkpoint under ``run_dir/checkpoints``."""
    candidates = sorted((run_dir / CHECKPOINTS_SUBDIR).glob("iter_*"))
    if not candidates:
        raise CheckpointError(f"{run_dir}: no checkpoints under '{CHECKPOINTS_SUBDIR}/iter_*'")
    return candidates[-1]


def module_dir(path: str | Path) -> Path:
    """Resolve a run dir, an algorithm checkpoint or a module dir to the (absolute) module dir."""
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint or run directory")
    if (path / CHECKPOINTS_SUBDIR).is_dir():
        path = latest_checkpoint(path)
    if (path / MODULE_SUBDIR).is_dir():
        return path / MODULE_SUBDIR
    if (path / "module_state.pt").exists() or (path / "class_and_ctor_args.pkl").exists():
        return path
    raise CheckpointError(
        f"{path}: not a VGF run dir, algorithm checkpoint or RLModule checkpoint "
        f"(expected '{CHECKPOINTS_SUBDIR}/' or '{MODULE_SUBDIR}')"
    )


def load_policy(path: str | Path) -> Any:
    """The trained VGF RLModule (on CPU) from a run, algorithm or module checkpoint.

    Act with ``module.compute_actions(obs_tensor)`` (actions in [-1, 1]; map them to the
    env's bounds with :func:`vgf_rllib.evaluation.unsquash_actions`), and change the test-time
    budget with ``module.set_test_time_budget(flow_steps=..., num_particles=..., step_size=...)``.
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
    """``run.json`` written by ``vgf-rllib train`` in the run dir above ``path`` ({} if none)."""
    path = Path(path).expanduser().resolve()
    for directory in (path, *path.parents):
        info = directory / RUN_INFO_FILE
        if info.is_file():
            return json.loads(info.read_text())
    return {}
