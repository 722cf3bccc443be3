"""Sweep reports: per suite tables (markdown, CSV) and figures (PNG) from Tune experiments, with
the paper's published numbers beside ours (:mod:`~vgf_rllib.experiments.reporting.paper`) and each dataset's
origin (:mod:`~vgf_rllib.experiments.reporting.provenance`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vgf_rllib.experiments.reporting import plots
from vgf_rllib.experiments.reporting.comparison import annotate, comparison_markdown, datasets_markdown
from vgf_rllib.experiments.reporting.results import ReportError, load_evaluations
from vgf_rllib.experiments.reporting.tables import best_per_task, group_table, markdown_table, per_config

__all__ = ["ReportError", "score_summary", "write_report"]


def _swept(evals: pd.DataFrame) -> list[str]:
    """Numeric configuration keys that take at least two values within some task."""
    keys = []
    for key in evals.attrs["config_keys"]:
        numeric = pd.to_numeric(evals[key], errors="coerce")
        if (
            numeric.notna().all()
            and (evals.assign(v=numeric).groupby("task").v.nunique() > 1).any()
        ):
            keys.append(key)
    return keys


def _suite_markdown(suite: str, best: pd.DataFrame, figures: list[Path]) -> str:
    """``best`` is :func:`~vgf_rllib.experiments.reporting.comparison.annotate`'s table."""
    parts = [
        f"# VGF sweep report: {suite}",
        "",
        "Score: success rate in % (OGBench), D4RL normalized score (Minari), else the raw return. "
        "Per task: the configuration and L_test with the highest mean final score; final = score "
        "at the last evaluation, best = maximum over evaluations (as CORL reports), mean ± std "
        "over seeds. "
        "`L<n>` columns: final score of that configuration at each test-time budget.",
        "",
        markdown_table(best),
    ]
    if best.group.nunique() < len(best):
        parts += ["", "## Per environment (average over its tasks)", "", group_table(best)]
    paper = comparison_markdown(best)
    if paper:
        parts += ["", paper]
    parts += ["", datasets_markdown(best)]
    parts += ["", "## Figures", ""] + [f"![{path.stem}]({path.name})" for path in figures]
    return "\n".join(parts) + "\n"


def score_summary(experiment_dir: str | Path) -> str:
    """Per suite, the markdown table of the best configuration and L_test of each task (what
    ``vgf-rllib sweep`` prints when it ends; the full report adds figures and comparisons)."""
    evals = load_evaluations(experiment_dir)
    parts = []
    for suite, suite_evals in evals.groupby("suite", sort=False):
        suite_evals.attrs = evals.attrs
        parts += [f"{suite}: best configuration per task (final score, mean ± std over seeds)",
                  markdown_table(best_per_task(per_config(suite_evals)))]
    return "\n\n".join(parts)


def write_report(experiment_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write ``<suite>.md``, ``<suite>.csv``, ``<suite>_configs.csv`` and PNGs; return them."""
    evals = load_evaluations(experiment_dir)
    out = Path(out_dir) if out_dir else Path(experiment_dir) / "report"
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for suite, suite_evals in evals.groupby("suite", sort=False):
        suite_evals.attrs = evals.attrs
        configs = per_config(suite_evals)
        best = annotate(best_per_task(configs), suite_evals)
        figures = [
            plots.learning_curves(suite_evals, best, out / f"{suite}_learning_curves.png"),
            plots.test_time_scaling(configs, best, out / f"{suite}_test_time_scaling.png"),
            *[
                plots.sensitivity(suite_evals, key, out / f"{suite}_sensitivity_{key}.png")
                for key in _swept(suite_evals)
            ],
        ]
        best.to_csv(out / f"{suite}.csv", index=False)
        configs.to_csv(out / f"{suite}_configs.csv", index=False)
        (out / f"{suite}.md").write_text(_suite_markdown(str(suite), best, figures))
        written += [
            out / f"{suite}.md",
            out / f"{suite}.csv",
            out / f"{suite}_configs.csv",
            *figures,
        ]
    return written
