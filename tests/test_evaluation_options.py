"""Evaluation options: episodes per L_test (50 by default everywhere) and OGBench success timing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vgf_rllib import VGFConfig
from vgf_rllib.cli import build_parser
from vgf_rllib.cli import evaluate as evaluate_cli
from vgf_rllib.cli import train as train_cli
from vgf_rllib.demo import DATASET_SPEC, ENV_SPEC
from vgf_rllib.envs import make_env
from vgf_rllib.run_dir import RunDir
from vgf_rllib.evaluation import (
    EVAL_SEED_OFFSET,
    EVAL_EPISODES,
    BudgetResult,
    evaluate_budgets,
    results_by_budget,
)

MAZE = "ogbench:pointmaze-medium-navigate-singletask-v0"


class StubModule(torch.nn.Module):
    """What evaluate_budgets needs from a VGF module: the env's spaces, acts with zeros (no
    transport steps), records budgets."""

    def __init__(self, env_spec: str) -> None:
        super().__init__()
        env = make_env(env_spec)
        self.observation_space, self.action_space = env.observation_space, env.action_space
        env.close()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.action_dim = self.action_space.shape[0]
        self.acting = SimpleNamespace(num_particles=1, budget="trained")
        self.budgets: list[int] = []

    def set_test_time_budget(self, flow_steps, num_particles=None, step_size=None):
        self.budgets.append(flow_steps)
        self.acting = SimpleNamespace(num_particles=1, budget=f"L{flow_steps}")

    def compute_actions_and_steps(self, obs: torch.Tensor, noise=None, uniform=None):
        return torch.zeros(obs.shape[0], self.action_dim), torch.zeros(obs.shape[0], dtype=torch.long)


# --- episodes per L_test --------------------------------------------------------------------


def test_fifty_episodes_is_the_default_everywhere():
    assert EVAL_EPISODES == 50 and VGFConfig().eval_episodes == EVAL_EPISODES
    parser = build_parser()
    assert parser.parse_args(["evaluate", "run"]).episodes == EVAL_EPISODES
    train = parser.parse_args(["train", "--dataset", DATASET_SPEC, "--output", "out"])
    assert train.eval_episodes is None  # the config's eval_episodes (50) unless asked
    assert parser.parse_args(["evaluate", "run", "--episodes", "3"]).episodes == 3


def _fake_algo(eval_episodes: int, success_timing: str | None = None):
    calls = []

    def evaluate_test_time_budgets(episodes=None, show_progress=False):
        calls.append(episodes)
        record = BudgetResult(1, episodes, 0.0, 0.0, 0.0, 0.0, 0.5, success_timing)
        return results_by_budget([record])

    acting = SimpleNamespace(num_particles=10, transport=SimpleNamespace(step_size=0.1))
    algo = SimpleNamespace(
        config=SimpleNamespace(eval_episodes=eval_episodes, success_timing=success_timing, seed=None,
                               eval_num_particles=None, eval_step_size=None),
        evaluate_test_time_budgets=evaluate_test_time_budgets,
        get_policy_module=lambda: SimpleNamespace(acting=acting),
        stop=lambda: None,
    )
    return algo, calls


def _train_args(tmp_path, *extra: str) -> argparse.Namespace:
    return build_parser().parse_args(["train", "--dataset", MAZE, "--output", str(tmp_path), *extra])


def _final_evaluation(folder, algo, *extra: str, success_timing=None) -> None:
    """``train``'s final evaluation of a run dir holding one (dummy) checkpoint."""
    args = _train_args(folder, *extra)
    run = RunDir.at(folder)
    run.write_info(train_cli.new_run_info(args) | {"success_timing": success_timing})
    run.save_checkpoint(lambda path: Path(path).mkdir() or (Path(path) / "w").write_text("w"), 1)
    train_cli.final_evaluation(args, algo, run, run.read_info())


def test_train_final_evaluation_uses_fifty_episodes_unless_asked(tmp_path, capsys):
    algo, calls = _fake_algo(EVAL_EPISODES, "post")
    _final_evaluation(tmp_path / "a", algo, success_timing="post")
    assert calls == [50]
    assert "success_timing=post" in capsys.readouterr().out
    document = json.loads((tmp_path / "a" / "evaluation.json").read_text())
    record = document["vgf_eval"]["L1"]
    assert record["episodes"] == 50 and record["success_timing"] == "post"
    assert document["checkpoint"].endswith("iter_000001") and document["env"] == MAZE
    assert document["seed"] == EVAL_SEED_OFFSET  # training seed None
    algo, calls = _fake_algo(20)  # --set eval_episodes=20
    _final_evaluation(tmp_path / "b", algo)
    algo, calls_asked = _fake_algo(EVAL_EPISODES)
    _final_evaluation(tmp_path / "c", algo, "--eval-episodes", "7")
    assert calls == [20] and calls_asked == [7]


# --- OGBench success timing ------------------------------------------------------------------


def test_records_name_the_success_timing_of_ogbench_envs():
    pytest.importorskip("ogbench")
    from vgf_rllib.data.ogbench_data import env_success_timing, make_ogbench_env

    default_env = make_ogbench_env(MAZE.partition(":")[2])
    default = env_success_timing(default_env)  # the installed ogbench's default
    default_env.close()
    module = StubModule(MAZE)
    for timing, expected in (("post", "post"), ("pre", "pre"), (None, default)):
        results = evaluate_budgets(module, MAZE, [0, 2], 1, success_timing=timing)
        assert [r.success_timing for r in results] == [expected, expected]
        entry = results_by_budget(results)
        assert entry["L0"]["success_timing"] == entry["L2"]["success_timing"] == expected
        assert "success_rate" in entry["L0"]
    assert module.acting.budget == "trained" and module.budgets == [0, 2] * 3


def test_success_timing_is_refused_for_other_envs_and_values():
    module = StubModule(ENV_SPEC)
    (result,) = evaluate_budgets(module, ENV_SPEC, [0], 2)
    assert "success_timing" not in result.as_record()  # not an OGBench env: nothing recorded
    with pytest.raises(ValueError, match="success_timing applies to OGBench envs"):
        evaluate_budgets(module, ENV_SPEC, [0], 2, success_timing="post")
    with pytest.raises(ValueError, match=r"success_timing must be one of \['pre', 'post'\]"):
        evaluate_budgets(StubModule(MAZE), MAZE, [0], 2, success_timing="after")


def test_config_success_timing_field():
    config = VGFConfig().offline_dataset(dataset=DATASET_SPEC)
    assert config.success_timing is None
    assert config.test_time(success_timing="post") is config and config.success_timing == "post"
    config.environment(MAZE)
    config.validate()
    config.test_time(success_timing="later")
    with pytest.raises(ValueError, match=r"success_timing must be one of \['pre', 'post'\]"):
        config.validate()
    config = VGFConfig().offline_dataset(dataset=DATASET_SPEC).environment(ENV_SPEC)
    config.test_time(success_timing="pre")
    with pytest.raises(ValueError, match="success_timing applies to OGBench envs only"):
        config.validate()


def test_cli_success_timing_flags(tmp_path, capsys, monkeypatch):
    parser = build_parser()
    assert _train_args(tmp_path).success_timing is None
    assert _train_args(tmp_path, "--success-timing", "post").success_timing == "post"
    with pytest.raises(SystemExit):
        parser.parse_args(["evaluate", "run", "--success-timing", "later"])
    assert "invalid choice: 'later'" in capsys.readouterr().err
    # train refuses it for a non-OGBench env before anything is written
    args = parser.parse_args([
        "train", "--dataset", DATASET_SPEC, "--env", ENV_SPEC, "--output", str(tmp_path / "x"),
        "--success-timing", "post",
    ])
    assert train_cli.run(args) == 2 and not (tmp_path / "x").exists()
    assert "success_timing applies to OGBench envs only" in capsys.readouterr().err
    # evaluate: --success-timing wins, else the run's own setting from run.json
    calls = []

    def fake_evaluate(module, env, steps, episodes, **options):
        calls.append((env, episodes, options["success_timing"]))
        timing = options["success_timing"] or "pre"
        return [BudgetResult(s, episodes, 0.0, 0.0, 0.0, 0.0, 0.0, timing) for s in steps]

    import vgf_rllib.evaluation
    import vgf_rllib.policy

    monkeypatch.setattr(vgf_rllib.evaluation, "evaluate_budgets", fake_evaluate)
    module = torch.nn.Identity()  # .to(device) works
    module.acting = SimpleNamespace(num_particles=10, transport=SimpleNamespace(step_size=0.1))
    monkeypatch.setattr(vgf_rllib.policy, "load_policy", lambda path: module)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"env": MAZE, "success_timing": "post"}))
    out = tmp_path / "eval.json"
    for extra in ([], ["--success-timing", "pre"]):
        args = parser.parse_args(["evaluate", str(run_dir), "--output", str(out), *extra])
        assert evaluate_cli.run(args) == 0
    assert calls == [(MAZE, 50, "post"), (MAZE, 50, "pre")]
    payload = json.loads(out.read_text())
    assert payload["success_timing"] == "pre"
    assert payload["vgf_eval"]["L0"]["success_timing"] == "pre"
    assert "success_timing=post" in capsys.readouterr().out


def test_results_table_shows_standard_errors():
    from vgf_rllib.cli.output import format_budget_table

    record = {"test_flow_steps": 0, "episodes": 4, "return_mean": 1.0, "return_std": 2.0,
              "score_mean": 50.0, "score_std": 10.0}
    table = format_budget_table({"L0": record, "best_test_flow_steps": 0})
    assert "return +- s.e." in table
    assert "1.000 +- 1.000" in table  # std 2 over sqrt(4) episodes
    assert "50.00 +- 5.00" in table


def test_results_table_shows_paired_gains_over_the_first_budget():
    from vgf_rllib.cli.output import format_budget_table

    def record(steps: int, returns: list[float]) -> dict:
        values = np.asarray(returns)
        return {"test_flow_steps": steps, "episodes": len(returns), "return_mean": values.mean(),
                "return_std": values.std(), "score_mean": values.mean(),
                "score_std": values.std(), "episode_returns": returns}

    # starting states spread the returns widely; the second budget gains 1 or 3 on each episode
    first, second = [-100.0, -10.0, -50.0, -1.0], [-99.0, -7.0, -49.0, 2.0]
    table = format_budget_table({"L0": record(0, first), "L1": record(1, second),
                                 "best_test_flow_steps": 1})
    assert "vs first +- s.e." in table
    assert "+2.000 +- 0.500" in table  # differences 1, 3, 1, 3: mean 2, std 1 over sqrt(4)
    # without per-episode returns (older records) the column is left out
    for entry in ({"L0": record(0, first)}, {"L0": record(0, first), "L1": record(1, second[:3])}):
        assert "vs first" not in format_budget_table(entry)
