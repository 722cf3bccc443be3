"""Aggregate evaluations into per-task results: final and best score (CORL's "last" and "best"),
mean and std over seeds, the best L_test and the best configuration of each task.

- final: a trial's score at its last evaluation; best: its maximum over evaluations.
- Each (task, config, L_test) is averaged over its trials (seeds; std with ddof=0).
- A configuration's L_test is the one with the highest mean final score, and a task's configuration
  the one with the highest mean final score at its L_test. Choosing both on the reported runs is
  optimistic, as in the paper's "best L_test per task" (docs/algorithm.md, "Acting and the
  test-time budget").
"""

from __future__ import annotations

import pandas as pd

GROUP = ["suite", "task", "config", "L"]


def per_trial(evals: pd.DataFrame) -> pd.DataFrame:
    """One row per (trial, L_test): final and best score, gradient and online env steps at the
    last evaluation."""
    ordered = evals.sort_values("iteration", kind="stable")
    keys = ["suite", "task", "group", "config", "trial", "L"]
    grouped = ordered.groupby(keys, sort=False)
    return grouped.agg(
        final=("score_mean", "last"),
        best=("score_mean", "max"),
        steps=("steps", "last"),
        updates=("updates", "last"),
        env_steps=("env_steps", "last"),
        errored=("errored", "last"),
    ).reset_index()


def per_config(evals: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, config, L_test): mean/std over trials of final and best score."""
    trials = per_trial(evals)
    grouped = trials.groupby(GROUP + ["group"], sort=False)
    table = grouped.agg(
        final_mean=("final", "mean"),
        final_std=("final", lambda s: s.std(ddof=0)),
        best_mean=("best", "mean"),
        best_std=("best", lambda s: s.std(ddof=0)),
        steps_mean=("steps", "mean"),
        seeds=("trial", "nunique"),
        updates=("updates", "min"),
        env_steps=("env_steps", "min"),
        errored=("errored", "sum"),
    ).reset_index()
    return table


def best_per_task(configs: pd.DataFrame) -> pd.DataFrame:
    """Each task's best (config, L_test) row, plus that config's final score at every L_test."""
    best_l = configs.loc[
        configs.groupby(["suite", "task", "config"], sort=False)["final_mean"].idxmax()
    ]
    best = best_l.loc[best_l.groupby(["suite", "task"], sort=False)["final_mean"].idxmax()]
    by_budget = configs.pivot_table(
        index=["suite", "task", "config"], columns="L", values="final_mean"
    )
    by_budget.columns = [f"final_L{budget}" for budget in by_budget.columns]
    return best.merge(by_budget.reset_index(), on=["suite", "task", "config"]).reset_index(
        drop=True
    )


def _fmt(value: float, like: float | None = None) -> str:
    """1 decimal for scores in % or normalized units (|x| >= 10), else 3 (precision of ``like``)."""
    if pd.isna(value):
        return "-"
    reference = value if like is None else like
    return f"{value:.1f}" if abs(reference) >= 10 else f"{value:.3f}"


def _pm(mean: float, std: float) -> str:
    return f"{_fmt(mean)} ± {_fmt(std, like=mean)}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _header(names: list[str]) -> list[str]:
    return [_row(names), "|" + "---|" * len(names)]


def _budget(row) -> str:
    """The L_test cell: the budget, with the mean steps of the adaptive one ("auto")."""
    if isinstance(row.L, str):
        return f"{row.L} ({_fmt(row.steps_mean)} steps)"
    return str(row.L)


def _steps(row) -> str:
    """Gradient steps at the last evaluation, plus the online env steps of off2on runs."""
    env_steps = int(getattr(row, "env_steps", 0) or 0)
    return f"{int(row.updates)}" + (f" (+{env_steps} env)" if env_steps else "")


def markdown_table(best: pd.DataFrame) -> str:
    """Markdown: one row per task (best config at its best L_test) plus the average over tasks."""
    budgets = [c for c in best.columns if c.startswith("final_L")]
    names = [c.removeprefix("final_") for c in budgets]
    lines = _header(["task", "L_test", "final", "best", "seeds", "steps", *names, "config"])
    for row in best.itertuples(index=False):
        lines.append(
            _row(
                [
                    row.task,
                    _budget(row),
                    _pm(row.final_mean, row.final_std),
                    _pm(row.best_mean, row.best_std),
                    str(row.seeds),
                    _steps(row),
                    *[_fmt(getattr(row, c)) for c in budgets],
                    row.config,
                ]
            )
        )
    averages = [_fmt(best[c].mean()) for c in budgets]
    lines.append(
        _row(
            [
                "**average**",
                "",
                _fmt(best.final_mean.mean()),
                _fmt(best.best_mean.mean()),
                "",
                "",
                *averages,
                "",
            ]
        )
    )
    return "\n".join(lines)


def group_table(best: pd.DataFrame) -> str:
    """Markdown: mean final/best score per environment (e.g. the 5 tasks of cube-single)."""
    groups = best.groupby("group", sort=False).agg(
        tasks=("task", "count"), final=("final_mean", "mean"), best=("best_mean", "mean")
    )
    lines = _header(["environment", "tasks", "final", "best"])
    for row in groups.itertuples():
        lines.append(_row([str(row.Index), str(row.tasks), _fmt(row.final), _fmt(row.best)]))
    return "\n".join(lines)
