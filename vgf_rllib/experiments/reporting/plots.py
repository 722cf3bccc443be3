"""PNG figures of a sweep (one subplot per task): learning curves, score vs L_test (test-time
scaling), and score vs a searched hyperparameter (sensitivity)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after selecting the backend)
import pandas as pd  # noqa: E402

from vgf_rllib.experiments.reporting.tables import per_trial  # noqa: E402

SCORE_NOTE = "score: success % (OGBench), normalized return (D4RL), else raw return"
COLUMNS = 4
MAX_LABELLED_TICKS = 4
LEGEND_INCHES = 0.4


def _task_axes(tasks: list[str], title: str) -> tuple[plt.Figure, dict[str, plt.Axes]]:
    cols = min(COLUMNS, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(max(4.2 * cols, 7.0), 3.4 * rows + 1.4), squeeze=False
    )
    flat = list(axes.flat)
    for ax in flat[len(tasks) :]:
        ax.set_visible(False)
    for task, ax in zip(tasks, flat[: len(tasks)], strict=True):
        ax.set_title(task, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{title}\n{SCORE_NOTE}", fontsize=10)
    return fig, dict(zip(tasks, flat[: len(tasks)], strict=True))


def _finish(fig: plt.Figure, path: Path, xlabel: str) -> Path:
    for ax in fig.axes:
        ax.set_xlabel(xlabel, fontsize=9)
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("score", fontsize=9)
    handles, labels = next(iter(fig.axes)).get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="lower center", ncol=max(1, len(handles)), fontsize=9, frameon=False
    )
    fig.tight_layout(rect=(0, LEGEND_INCHES / fig.get_figheight(), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def learning_curves(evals: pd.DataFrame, best: pd.DataFrame, path: Path) -> Path:
    """Score over gradient steps of each task's best config, one line per L_test (mean ± std)."""
    fig, axes = _task_axes(
        list(best.task), "Learning curves (best config per task, mean ± std over seeds)"
    )
    for row in best.itertuples(index=False):
        axes[row.task].set_title(f"{row.task}\n{row.config}", fontsize=9)
        runs = evals[(evals.task == row.task) & (evals.config == row.config)]
        curve = runs.groupby(["L", "iteration"]).agg(
            updates=("updates", "mean"),
            mean=("score_mean", "mean"),
            std=("score_mean", lambda s: s.std(ddof=0)),
        )
        for budget, line in curve.groupby(level="L"):
            ax = axes[row.task]
            ax.plot(line.updates, line["mean"], marker="o", markersize=3, label=f"L_test={budget}")
            ax.fill_between(
                line.updates, line["mean"] - line["std"], line["mean"] + line["std"], alpha=0.2
            )
    return _finish(fig, path, "gradient steps")


def test_time_scaling(configs: pd.DataFrame, best: pd.DataFrame, path: Path) -> Path:
    """Final (and best) score vs L_test for each task's best config: the test-time budget. The
    adaptive budget ("auto") is a dotted line at its final score, labelled with its mean steps."""
    fig, axes = _task_axes(list(best.task), "Test-time scaling: score vs L_test (0 = best-of-N)")
    for row in best.itertuples(index=False):
        rows = configs[(configs.task == row.task) & (configs.config == row.config)]
        fixed = rows.L.map(lambda budget: not isinstance(budget, str))
        for auto in rows[~fixed].itertuples(index=False):
            axes[row.task].axhline(
                auto.final_mean, ls=":", color="gray",
                label=f"L_test={auto.L} (final)",
            )
            axes[row.task].annotate(
                f"{auto.L}: {auto.steps_mean:.2f} steps", (0, auto.final_mean), fontsize=8
            )
        rows = rows[fixed].astype({"L": int}).sort_values("L")
        ax = axes[row.task]
        ax.set_title(f"{row.task}\n{row.config}", fontsize=9)
        ax.errorbar(
            rows.L, rows.final_mean, yerr=rows.final_std, marker="o", capsize=3, label="final"
        )
        ax.errorbar(
            rows.L, rows.best_mean, yerr=rows.best_std, marker="s", capsize=3, ls="--", label="best"
        )
        ax.set_xticks(sorted(rows.L.unique()))
    return _finish(fig, path, "L_test (transport steps at test time)")


def sensitivity(evals: pd.DataFrame, param: str, path: Path) -> Path:
    """Final score vs ``param`` (mean ± std over trials with that value), a line per L_test.

    Only trials that ran their task's full budget count (ASHA-stopped ones would look worse).
    """
    trials = per_trial(evals).merge(evals[["trial", param]].drop_duplicates(), on="trial")
    trials = trials[trials.updates == trials.groupby("task").updates.transform("max")]
    tasks = list(dict.fromkeys(trials.task))
    fig, axes = _task_axes(tasks, f"Sensitivity to {param} (other settings averaged, full runs)")
    for task, rows in trials.groupby("task", sort=False):
        points = rows.groupby(["L", param])["final"].agg(["mean", lambda s: s.std(ddof=0)])
        points.columns = ["mean", "std"]
        few = rows[param].nunique() <= MAX_LABELLED_TICKS
        for budget, line in points.groupby(level="L"):
            axes[task].errorbar(
                line.index.get_level_values(param),
                line["mean"],
                yerr=line["std"],
                marker="o",
                linestyle="-" if few else "none",
                capsize=3,
                label=f"L_test={budget}",
            )
        _value_axis(axes[task], pd.to_numeric(rows[param]), few)
    return _finish(fig, path, param)


def _value_axis(ax: plt.Axes, values: pd.Series, label_values: bool) -> None:
    """Log scale for ranges over a decade; ticks at the values when there are few (a grid)."""
    if values.min() > 0 and values.max() / values.min() >= 10:
        ax.set_xscale("log")
        ax.minorticks_off()
    if label_values:
        distinct = sorted(values.unique())
        ax.set_xticks(distinct, [f"{value:.3g}" for value in distinct])
