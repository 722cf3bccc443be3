"""Runs the authors' ``main.py`` in the reference's own interpreter, with the reference checkout as
working directory (started by ``reference.py``; imports nothing of ours). It only
- points ``ogbench.make_env_and_datasets`` at the local dataset files (nothing is downloaded) and
  records the eval env's OGBench success timing and version,
- disables Weights & Biases (``wandb.init(mode="disabled")``; settings that a newer wandb rejects
  are dropped),
- stands in empty ``d4rl`` / ``gym`` modules when those are not installed (the reference imports
  them at module level; they are used for D4RL tasks only),
- times the reference's own evaluation calls and marks the time at the start of every evaluation
  interval, so that its updates/s exclude evaluation.

Environment: VGF_CMP_DATASET_DIR (OGBench files), VGF_CMP_INFO (the JSON this writes),
VGF_CMP_MARK_EVERY (update 1, 1 + m, 1 + 2m, ... are marked); ``sys.argv[1:]`` are main.py's flags.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import time
import types
from typing import Any, Callable


class Info:
    """What the launcher records, rewritten to VGF_CMP_INFO after every change."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.data: dict[str, Any] = {
            "update_marks": [], "evals": [], "success_timing": None, "ogbench_version": None
        }

    def dump(self) -> None:
        with open(self.path, "w") as f:
            json.dump(self.data, f)


def disable_wandb() -> None:
    os.environ["WANDB_MODE"] = "disabled"
    import wandb

    wandb_init, wandb_settings = wandb.init, wandb.Settings

    def init_disabled(*args: Any, **kwargs: Any) -> Any:
        kwargs["mode"] = "disabled"
        return wandb_init(*args, **kwargs)

    def settings_lenient(*args: Any, **kwargs: Any) -> Any:  # newer wandb rejects some options
        try:
            return wandb_settings(*args, **kwargs)
        except Exception:
            return wandb_settings()

    wandb.init, wandb.Settings = init_disabled, settings_lenient


def stub_d4rl_and_gym() -> None:
    """The reference imports both at module level but uses them for D4RL tasks only."""
    try:
        import d4rl  # noqa: F401
    except Exception:
        sys.modules["d4rl"] = types.ModuleType("d4rl")
    try:
        import gym

        gym.envs.registry.all
    except Exception:  # no gym, or a gym whose registry has no .all()
        stub, stub_envs = types.ModuleType("gym"), types.ModuleType("gym.envs")
        stub_envs.registry = types.SimpleNamespace(all=lambda: [])
        stub.envs = stub_envs
        sys.modules["gym"], sys.modules["gym.envs"] = stub, stub_envs


def load_ogbench_locally(dataset_dir: str, info: Info) -> None:
    import ogbench

    make = ogbench.make_env_and_datasets

    def make_local(name: str, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("env_only"):
            kwargs["dataset_dir"] = dataset_dir
        out = make(name, *args, **kwargs)
        env = out if kwargs.get("env_only") else out[0]
        # ogbench < 1.2 has no success_timing option and judges success after the step
        info.data["success_timing"] = getattr(env.unwrapped, "_success_timing", "post")
        try:
            from importlib.metadata import version

            info.data["ogbench_version"] = version("ogbench")
        except Exception:
            pass
        info.dump()
        return out

    ogbench.make_env_and_datasets = make_local


def time_evaluations(info: Info) -> None:
    import utils.evaluation as evaluation

    evaluate = evaluation.evaluate_vgf_multiple

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = evaluate(*args, **kwargs)
        info.data["evals"].append([start, time.perf_counter() - start])
        info.dump()
        return out

    evaluation.evaluate_vgf_multiple = timed


def mark_updates(info: Info, every: int) -> Callable[[], int]:
    """Marks the start of update 1, 1 + every, ...; returns a function giving the update count."""
    from agents import agents

    agent_class = agents["vgf"]
    update = agent_class.update
    calls = [0]

    def marked(self: Any, batch: Any) -> Any:
        calls[0] += 1
        if (calls[0] - 1) % every == 0:
            info.data["update_marks"].append([calls[0], time.perf_counter()])
        return update(self, batch)

    agent_class.update = marked
    return lambda: calls[0]


def main() -> None:
    sys.path[0] = os.getcwd()  # the reference checkout, in place of this file's folder
    info = Info(os.environ["VGF_CMP_INFO"])
    disable_wandb()
    stub_d4rl_and_gym()
    load_ogbench_locally(os.environ["VGF_CMP_DATASET_DIR"], info)
    time_evaluations(info)
    updates = mark_updates(info, int(os.environ["VGF_CMP_MARK_EVERY"]))
    sys.argv = ["main.py"] + sys.argv[1:]
    try:
        runpy.run_path("main.py", run_name="__main__")
    finally:
        info.data["end"] = time.perf_counter()
        info.data["updates"] = updates()
        info.dump()


if __name__ == "__main__":
    main()
