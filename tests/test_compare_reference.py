"""benchmarks/compare/: the paired statistics and verdict rule of the comparison, and the launcher
that runs the authors' main.py (here a stand-in checkout: no JAX, no reference, no Ray)."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from compare.reference import LAUNCHER, reference_timing  # noqa: E402
from compare.stats import PairedDifference, paired_difference, verdict  # noqa: E402


def test_paired_difference_uses_the_t_interval_of_the_per_seed_differences() -> None:
    ours = {0: 3.0, 1: 5.0, 2: 4.0, 7: 9.0}
    reference = {0: 1.0, 1: 2.0, 2: 4.0}  # seed 7 has no pair
    diff = paired_difference(ours, reference)
    # differences 2, 3, 0: mean 5/3, stdev sqrt(7/3), t(0.975, 2) = 4.302653
    se = math.sqrt(7 / 3) / math.sqrt(3)
    assert diff.n == 3
    assert diff.mean == pytest.approx(5 / 3)
    assert diff.se == pytest.approx(se)
    assert diff.low == pytest.approx(5 / 3 - 4.302653 * se, rel=1e-6)
    assert diff.high == pytest.approx(5 / 3 + 4.302653 * se, rel=1e-6)


def test_paired_difference_skips_non_finite_scores_and_has_no_interval_for_one_pair() -> None:
    diff = paired_difference({0: 1.0, 1: math.nan}, {0: 0.5, 1: 0.0})
    assert (diff.n, diff.mean) == (1, 0.5)
    assert math.isnan(diff.low) and math.isnan(diff.high)
    assert verdict(diff, margin=10.0) == "inconclusive"


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (-1.0, 1.0, "equivalent"),
        (-2.0, 2.0, "equivalent"),  # the margin's ends count as inside
        (0.5, 1.5, "equivalent"),  # above 0, but within the margin: equivalence is checked first
        (0.5, 3.0, "ours better"),
        (-3.0, -0.5, "authors better"),
        (-3.0, 1.0, "inconclusive"),
        (-0.5, 3.0, "inconclusive"),
    ],
)
def test_verdict_rule(low: float, high: float, expected: str) -> None:
    diff = PairedDifference(n=5, mean=(low + high) / 2, se=1.0, low=low, high=high)
    assert verdict(diff, margin=2.0) == expected


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



def test_verdict_table_pairs_final_scores_by_seed() -> None:
    from compare.report import verdict_table

    rows = [
        {"impl": impl, "seed": seed, "step": step, "L_test": n, "success_rate": rate, "return_mean": 0.0}
        for seed, (ref_rate, our_rate) in enumerate([(0.1, 0.5), (0.2, 0.7), (0.3, 0.7)])
        for impl, rate in (("reference", ref_rate), ("ours", our_rate))
        for step in (10, 20)
        for n in (0, 1, 2, 3)
    ]
    timing = {"interval_train_s": [1.0, 1.0], "eval_s": 0.0, "wall_s": 2.0}
    args = argparse.Namespace(metric="success_rate", steps=20, eval_interval=10, margin=5.0)
    text, records = verdict_table(rows, {"reference": [timing] * 3, "ours": [timing] * 3}, args)
    differences = [r for r in records if r["impl"] == "ours - reference"]
    assert [r["verdict"] for r in differences] == ["ours better"] * 4
    assert differences[0]["mean"] == pytest.approx(43.3333333) and differences[0]["pairs"] == 3
    assert "20.0 +- 5.8" in text and "ours better" in text
    assert text.endswith("updates/s, mean over seeds: reference 10.0, ours 10.0")
