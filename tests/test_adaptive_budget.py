"""The per-state adaptive test-time budget ``"auto"`` (docs/algorithm.md, "Adaptive test-time
budget"): the stopping rule on hand-built critics whose gains are known, the module and
evaluation records (``Lauto`` with the steps used), the CLI table and the sweep report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from vgf_rllib import VGFConfig
from vgf_rllib.cli import build_parser, main
from vgf_rllib.cli.output import budget_records, format_budget_table
from vgf_rllib.core.adaptive import adaptive_transport, step_pays
from vgf_rllib.core.transport import TransportSettings
from vgf_rllib.demo import DATASET_SPEC, ENV_SPEC
from vgf_rllib.evaluation import BudgetResult, evaluate_budgets, results_by_budget

SGD = TransportSettings(steps=6, step_size=0.1, optimizer="sgd")
RIGHT = lambda particles: torch.ones_like(particles)  # noqa: E731  (moves every particle +0.1)


def ramp_critic(gains: list[float], spread: list[float] | None = None):
    """Twins on a 1-d action whose best particle gains ``gains[k]`` (twin mean) on step k + 1
    when moved +0.1 per step from 0, and whose twins disagree by ``spread[k]`` after step k."""
    spread = spread or [0.0] * (len(gains) + 1)

    def q_fn(particles: torch.Tensor) -> torch.Tensor:
        step = (particles[..., 0] / 0.1).round().long().clamp(0, len(gains))
        level = torch.tensor([0.0, *gains]).cumsum(0)[step]
        half = torch.tensor(spread)[step] / 2
        return torch.stack([level + half, level - half], -1)

    return q_fn


def test_rule_compares_the_mean_gain_with_half_the_added_disagreement():
    before = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 0.6]])
    after = torch.tensor([[1.2, 0.9], [1.4, 1.2], [1.1, 1.1], [1.0, 0.6]])
    # mean gains 0.05, 0.3, 0.1, 0; disagreement added 0.3, 0.2, 0, 0 (half: 0.15, 0.1, 0, 0)
    assert step_pays(before, after).tolist() == [False, True, True, False]
    # min(Q1, Q2) rising is the same rule
    assert step_pays(before, torch.tensor([[1.3, 1.05]] * 4)).all()


@pytest.mark.parametrize(
    "gains, spread, expected_steps",
    [
        ([0.1, 0.1, 0.1, 0.1, 0.1, 0.1], None, 6),  # always pays: up to the limit
        ([0.1, 0.1, -0.05, 0.2, 0.2, 0.2], None, 2),  # stops at the first loss, for good
        ([0.1, 0.0, 0.1, 0.1, 0.1, 0.1], None, 1),  # no gain is no reason to move
        # the third step gains 0.1 but adds 0.3 of disagreement (0.15 > 0.1): stop after 2
        ([0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0, 0, 0, 0.3, 0.3, 0.3, 0.3], 2),
        # the same with only 0.1 added (0.05 < 0.1): it pays
        ([0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0, 0, 0, 0.1, 0.1, 0.1, 0.1], 6),
    ],
)
def test_each_state_stops_where_a_step_stops_paying(gains, spread, expected_steps):
    particles = torch.zeros(1, 1, 1)
    moved, steps = adaptive_transport(RIGHT, ramp_critic(gains, spread), particles, SGD, "mean")
    assert steps.tolist() == [expected_steps]
    assert moved.item() == pytest.approx(0.1 * expected_steps, abs=1e-6)


def test_states_stop_independently_and_the_best_particle_decides():
    """Two states in one batch: the first gains for 4 steps, the second only for 1; the second
    stops (and stays) while the first moves on."""
    q_fn_a, q_fn_b = ramp_critic([0.1] * 4 + [-0.1] * 2), ramp_critic([0.1, -0.1] + [0.1] * 4)

    def q_fn(particles):
        return torch.cat([q_fn_a(particles[:1]), q_fn_b(particles[1:])])

    particles = torch.tensor([[[0.0]], [[0.0]]])
    moved, steps = adaptive_transport(RIGHT, q_fn, particles, SGD, "min")
    assert steps.tolist() == [4, 1]
    assert moved.flatten().tolist() == pytest.approx([0.4, 0.1], abs=1e-6)


@pytest.fixture(scope="module")
def demo_module():
    """An untrained module of the demo bandit (acting needs no training to be exercised)."""
    from vgf_rllib.envs import make_env

    env = make_env(ENV_SPEC)
    config = (
        VGFConfig()
        .environment(observation_space=env.observation_space, action_space=env.action_space)
        .offline_dataset(dataset=DATASET_SPEC)
        .training(critic_hidden_layers=[16], sampler_hidden_layers=[16], sampler_euler_steps=2)
        .test_time(max_test_flow_steps=4)
    )
    return config.get_rl_module_spec(inference_only=True).build()


def test_module_acts_with_auto_and_counts_steps(demo_module):
    obs = torch.rand(32, 3) * 2 - 1
    demo_module.set_test_time_budget(flow_steps="auto")
    assert demo_module.acting.adaptive and demo_module.acting.transport.steps == 4
    actions, steps = demo_module.compute_actions_and_steps(obs)
    assert actions.shape == (32, 2) and actions.abs().max() <= 1.0
    assert steps.shape == (32,) and 0 <= int(steps.min()) and int(steps.max()) <= 4
    demo_module.set_test_time_budget(flow_steps="auto", max_flow_steps=2)
    assert demo_module.acting.transport.steps == 2
    demo_module.set_test_time_budget(flow_steps=3)
    assert not demo_module.acting.adaptive and demo_module.acting.transport.steps == 3
    _, steps = demo_module.compute_actions_and_steps(obs)
    assert steps.tolist() == [3] * 32


def test_evaluation_records_auto_with_the_steps_it_took(demo_module, capsys):
    results = evaluate_budgets(demo_module, ENV_SPEC, [0, 2, "auto"], 20, max_flow_steps=3)
    auto = results[-1]
    assert auto.test_flow_steps == "auto" and auto.flow_steps_limit == 3
    assert 0 <= auto.flow_steps_mean <= auto.flow_steps_max <= 3
    entry = results_by_budget(results)
    assert set(entry) >= {"L0", "L2", "Lauto"}
    assert "flow_steps_mean" in entry["Lauto"] and "flow_steps_mean" not in entry["L0"]
    assert not demo_module.acting.adaptive  # the acting budget is restored


def test_cli_table_orders_budgets_with_auto_last_and_shows_steps():
    records = [
        BudgetResult("auto", 10, 1.0, 0.0, 1.0, 0.0, flow_steps_mean=1.25, flow_steps_max=4,
                     flow_steps_limit=5),
        BudgetResult(3, 10, 0.5, 0.0, 0.5, 0.0),
        BudgetResult(0, 10, 0.2, 0.0, 0.2, 0.0),
    ]
    entry = results_by_budget(records)
    assert [r["test_flow_steps"] for r in budget_records(entry)] == [0, 3, "auto"]
    table = format_budget_table(entry)
    lines = table.splitlines()
    assert "steps mean (max)" in lines[0]
    assert lines[-1].split()[0:2] == ["auto", "*"] and lines[-1].endswith("1.25 (4)")
    no_auto = format_budget_table(results_by_budget(records[1:]))
    assert "steps" not in no_auto


def test_cli_and_config_accept_auto():
    args = build_parser().parse_args(
        ["evaluate", "run", "--test-flow-steps", "0", "2", "auto", "--max-test-flow-steps", "4"]
    )
    assert args.test_flow_steps == [0, 2, "auto"] and args.max_test_flow_steps == 4
    with pytest.raises(SystemExit):
        build_parser().parse_args(["evaluate", "run", "--test-flow-steps", "often"])
    config = VGFConfig().offline_dataset(dataset=DATASET_SPEC)
    config.test_time(test_flow_steps=[0, 1, "auto"], max_test_flow_steps=6).validate()
    for bad in ({"test_flow_steps": [0, "always"]}, {"max_test_flow_steps": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            VGFConfig().offline_dataset(dataset=DATASET_SPEC).test_time(**bad).validate()


def _trial(root: Path, name: str, seed: int, auto_score: float) -> None:
    trial = root / name
    trial.mkdir(parents=True)
    (trial / "params.json").write_text(json.dumps({"dataset": DATASET_SPEC, "seed": seed}))
    record = {
        "L0": {"score_mean": 0.5, "episodes": 10},
        "L2": {"score_mean": 0.8, "episodes": 10},
        "Lauto": {"score_mean": auto_score, "episodes": 10, "flow_steps_mean": 1.5 + seed},
    }
    result = {"training_iteration": 1, "num_gradient_updates_lifetime": 100, "vgf_eval": record}
    (trial / "result.json").write_text(json.dumps(result) + "\n")


def test_report_reads_lauto_records(tmp_path):
    experiment = tmp_path / "exp"
    for seed in (0, 1):
        _trial(experiment, f"VGF_{seed}", seed, 0.9)
    out = tmp_path / "out"
    assert main(["report", str(experiment), "--out", str(out)]) == 0
    table = pd.read_csv(out / "exp.csv")
    assert table.loc[0, "L"] == "auto" and table.loc[0, "final_Lauto"] == pytest.approx(0.9)
    assert table.loc[0, "steps_mean"] == pytest.approx(2.0)
    text = (out / "exp.md").read_text()
    assert "| auto (2.000 steps) |" in text
    assert (out / "exp_test_time_scaling.png").is_file()
