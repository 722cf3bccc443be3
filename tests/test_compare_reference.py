"""benchmarks/compare/: the launcher that runs the authors' main.py (here a stand-in checkout: no
JAX, no reference, no Ray)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from compare.reference import LAUNCHER, reference_timing  # noqa: E402


def test_launcher_runs_main_py_of_a_stand_in_checkout(tmp_path: Path) -> None:
    """The launcher imports from the checkout (its working directory), disables wandb, points
    ogbench at the dataset directory, stubs d4rl, marks updates and times evaluations."""
    checkout = tmp_path / "checkout"
    (checkout / "agents").mkdir(parents=True)
    (checkout / "utils").mkdir()
    (checkout / "wandb.py").write_text(
        "MODE = None\n"
        "def init(*args, mode=None, **kwargs):\n    global MODE\n    MODE = mode\n"
        "class Settings:\n"
        "    def __init__(self, **kwargs):\n"
        "        if kwargs:\n            raise TypeError('unknown setting')\n"
    )
    (checkout / "ogbench.py").write_text(
        "import types\n"
        "def make_env_and_datasets(name, dataset_dir=None, env_only=False):\n"
        "    env = types.SimpleNamespace(unwrapped=types.SimpleNamespace(_success_timing='pre'))\n"
        "    return env if env_only else (env, {'dir': dataset_dir}, None)\n"
    )
    (checkout / "agents" / "__init__.py").write_text(
        "class VGFAgent:\n    def update(self, batch):\n        return self, {}\n"
        "agents = {'vgf': VGFAgent}\n"
    )
    (checkout / "utils" / "__init__.py").write_text("")
    (checkout / "utils" / "evaluation.py").write_text("def evaluate_vgf_multiple(agent):\n    return {}\n")
    (checkout / "main.py").write_text(
        "import json, sys\n"
        "import d4rl, ogbench, wandb\n"
        "from agents import agents\n"
        "from utils.evaluation import evaluate_vgf_multiple\n"
        "wandb.init(project='p', settings=wandb.Settings(start_method='thread'))\n"
        "env, data, _ = ogbench.make_env_and_datasets('task')\n"
        "agent = agents['vgf']()\n"
        "for i in range(1, 6):\n"
        "    agent, _ = agent.update(None)\n"
        "    if i in (1, 5):\n        evaluate_vgf_multiple(agent)\n"
        "json.dump({'argv': sys.argv, 'wandb': wandb.MODE, 'data': data['dir']},"
        " open('seen.json', 'w'))\n"
    )
    info_path = tmp_path / "info.json"
    environment = {**os.environ, "VGF_CMP_DATASET_DIR": str(tmp_path / "data"),
                   "VGF_CMP_INFO": str(info_path), "VGF_CMP_MARK_EVERY": "2"}
    subprocess.run([sys.executable, str(LAUNCHER), "--seed=3"], cwd=checkout, env=environment, check=True)
    seen = json.loads((checkout / "seen.json").read_text())
    assert seen == {"argv": ["main.py", "--seed=3"], "wandb": "disabled", "data": str(tmp_path / "data")}
    info = json.loads(info_path.read_text())
    assert [n for n, _ in info["update_marks"]] == [1, 3, 5]
    assert len(info["evals"]) == 2 and info["updates"] == 5 and info["success_timing"] == "pre"
    timing = reference_timing(info, argparse.Namespace(steps=4, eval_interval=2))
    assert len(timing["interval_train_s"]) == 2 and all(t >= 0 for t in timing["interval_train_s"])

