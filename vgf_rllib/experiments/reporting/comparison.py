"""Our scores beside the paper's published ones, and which datasets differ from the paper's.

:func:`annotate` adds to the per-task table each task's dataset origin
(:mod:`~vgf_rllib.experiments.reporting.provenance`) and the paper's number where one exists
(:mod:`~vgf_rllib.experiments.reporting.paper`): a D4RL task score for that task, or an OGBench environment's
5-task average for every task of that environment (labelled as such). :func:`comparison_markdown`
sets ours beside the paper's, per D4RL task and per OGBench environment (our average over the
environment's tasks in the report), and says what keeps each pair from being comparable: a
different dataset, fewer than the paper's 5 tasks, or fewer gradient steps than the protocol.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from vgf_rllib.experiments.reporting.paper import CITATION, PaperResult, environment_result, task_result
from vgf_rllib.experiments.reporting.provenance import DataOrigin, dataset_origin
from vgf_rllib.experiments.suites import ENV_DEFAULTS


def _origins(evals: pd.DataFrame) -> dict[str, DataOrigin]:
    """Task -> origin of its dataset (the dataset spec and directory of its first trial)."""
    first = evals.drop_duplicates("task")
    return {
        row.task: dataset_origin(row.dataset, None if pd.isna(row.dataset_dir) else row.dataset_dir)
        for row in first.itertuples(index=False)
    }


def _paper(task: str, group: str, dataset: str) -> PaperResult | None:
    return task_result(task, dataset) or environment_result(group)


def annotate(best: pd.DataFrame, evals: pd.DataFrame) -> pd.DataFrame:
    """``best`` plus the dataset's origin and the paper's number (value and kind) per task."""
    origins = _origins(evals)
    datasets = evals.drop_duplicates("task").set_index("task")["dataset"]
    rows = []
    for row in best.itertuples(index=False):
        origin = origins[row.task]
        paper = _paper(row.task, row.group, datasets[row.task])
        rows.append(
            {
                "dataset": datasets[row.task],
                "data_source": origin.source,
                "data_origin": origin.origin,
                "data_differs": origin.differs,
                "data_note": origin.note,
                "paper": paper.value if paper else None,
                "paper_kind": paper.what if paper else None,
            }
        )
    return pd.concat([best.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def _protocol_steps(group: str) -> int | None:
    defaults = ENV_DEFAULTS.get(group)
    return defaults.training_steps if defaults else None


def _combined_origin(rows: pd.DataFrame) -> tuple[str, bool | None]:
    """One origin label for several tasks, and whether all their data is the paper's."""
    labels = ", ".join(dict.fromkeys(rows.data_origin))
    differs = set(rows.data_differs)
    same = False if "yes" in differs else (True if differs == {"no"} else None)
    return labels, same


def _verdict(same: bool | None, origin: str, tasks: int, wanted: int, steps: int, protocol):
    reasons = []
    if same is False:
        reasons.append(f"dataset differs ({origin})")
    elif same is None:
        reasons.append(f"dataset origin {origin}")
    if tasks < wanted:
        reasons.append(f"{tasks} of {wanted} tasks")
    if protocol and steps < protocol:
        reasons.append(f"{steps} of {protocol} steps")
    return "yes" if not reasons else "no: " + "; ".join(reasons)


def comparison_rows(annotated: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per paper number the report can set ours beside (D4RL tasks, OGBench envs)."""
    rows = []
    for row in annotated.itertuples(index=False):
        paper = task_result(row.task, row.dataset)
        if paper is None:
            continue
        same = None if row.data_differs == "unknown" else row.data_differs == "no"
        rows.append(
            {
                "paper_row": paper.name,
                "kind": paper.what,
                "paper": paper.value,
                "final": row.final_mean,
                "final_std": row.final_std,
                "best": row.best_mean,
                "tasks": f"{row.task}",
                "steps": int(row.updates),
                "dataset": row.data_origin,
                "comparable": _verdict(
                    same, row.data_origin, 1, 1, int(row.updates), _protocol_steps(row.group)
                ),
            }
        )
    for group, members in annotated.groupby("group", sort=False):
        paper = environment_result(str(group))
        if paper is None:
            continue
        origin, same = _combined_origin(members)
        steps = int(members.updates.min())
        rows.append(
            {
                "paper_row": paper.name,
                "kind": paper.what,
                "paper": paper.value,
                "final": members.final_mean.mean(),
                "final_std": None,
                "best": members.best_mean.mean(),
                "tasks": f"{len(members)} of {paper.tasks}",
                "steps": steps,
                "dataset": origin,
                "comparable": _verdict(
                    same, origin, len(members), paper.tasks, steps, _protocol_steps(str(group))
                ),
            }
        )
    return rows


def _num(value: Any) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{value:.1f}"


def comparison_markdown(annotated: pd.DataFrame) -> str | None:
    """The "Compared with the paper" section, or None when no task has a paper number."""
    rows = comparison_rows(annotated)
    if not rows:
        return None
    lines = [
        "## Compared with the paper",
        "",
        f"Paper: VGF's published numbers, {CITATION} (kept in `vgf_rllib/experiments/reporting/paper.py`). "
        "A *task score* is one D4RL task's normalized score; an *environment average* is an "
        "OGBench environment's success rate averaged over its 5 tasks, set beside our average "
        "over that environment's tasks in this report. Ours: each task's best configuration at "
        "its best L_test (as the paper picks L_test per task); final = last evaluation, best = "
        "maximum over evaluations; mean (± std) over seeds.",
        "",
        "| paper row | paper number is | paper VGF | ours final | ours best | our tasks | steps "
        "| dataset | comparable |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        final = _num(row["final"])
        if row["final_std"] is not None and not pd.isna(row["final_std"]):
            final += f" ± {_num(row['final_std'])}"
        cells = [
            row["paper_row"],
            row["kind"],
            f"{row['paper']:g}",
            final,
            _num(row["best"]),
            row["tasks"],
            str(row["steps"]),
            row["dataset"],
            row["comparable"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def datasets_markdown(annotated: pd.DataFrame) -> str:
    """The "Datasets" section: each dataset's origin and whether it differs from the paper's."""
    lines = [
        "## Datasets",
        "",
        "Whether each dataset is the one the paper used (checked on the machine that wrote this "
        "report; OGBench files made by `vgf-rllib data generate` carry a generator record).",
        "",
        "| dataset | origin | differs from the paper's | tasks | note |",
        "|---|---|---|---|---|",
    ]
    for source, rows in annotated.groupby("data_source", sort=False):
        first = rows.iloc[0]
        cells = [
            str(source),
            first.data_origin,
            first.data_differs,
            str(len(rows)),
            first.data_note or "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
