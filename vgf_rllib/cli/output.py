"""Terminal output shared by the CLI commands: the per-budget results table, error lines."""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from vgf_rllib.evaluation import budget_order

#: (title, record key, format); "return" and "score" show mean +- standard error of the mean,
#: "steps" the mean (max) transport steps of the "auto" budget
COLUMNS = (
    ("L_test", "test_flow_steps", "{}"),
    ("episodes", "episodes", "{}"),
    ("return +- s.e.", "return", "{:.3f} +- {:.3f}"),
    ("success", "success_rate", "{:.1%}"),
    ("score +- s.e.", "score", "{:.2f} +- {:.2f}"),
    ("steps mean (max)", "flow_steps", "{:.2f} ({})"),
    ("vs first +- s.e.", "paired_gain", "{:+.3f} +- {:.3f}"),
)
#: columns shown only when some record has them
OPTIONAL_COLUMNS = {
    "success_rate": "success_rate", "flow_steps": "flow_steps_mean", "paired_gain": "paired_gain"
}


def budget_records(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``L{n}`` (and ``Lauto``) records of a ``vgf_eval`` entry, by L_test, "auto" last."""
    records = [value for key, value in entry.items() if key.startswith("L") and isinstance(value, dict)]
    return sorted(records, key=lambda record: budget_order(record["test_flow_steps"]))


def with_paired_gains(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``paired_gain`` (mean, s.e.) to each record after the first: the mean over episodes of
    its return minus the first budget's return on the same episode (the budgets of one evaluation
    play the same seeded episodes), which removes the spread between starting states that the
    per-row standard errors carry. Records without equally long ``episode_returns`` get none."""
    lengths = {len(r.get("episode_returns") or ()) for r in records}
    if len(records) < 2 or len(lengths) != 1 or 0 in lengths:
        return records
    first = np.asarray(records[0]["episode_returns"])
    gained = [records[0]]
    for record in records[1:]:
        differences = np.asarray(record["episode_returns"]) - first
        gain = (float(differences.mean()), float(differences.std() / math.sqrt(len(first))))
        gained.append({**record, "paired_gain": gain})
    return gained


def _cell(record: dict[str, Any], title: str, key: str | None, fmt: str) -> str:
    if key in ("return", "score"):
        standard_error = record[f"{key}_std"] / math.sqrt(record["episodes"])
        return fmt.format(record[f"{key}_mean"], standard_error)
    if key == "flow_steps":
        if "flow_steps_mean" in record:
            return fmt.format(record["flow_steps_mean"], record["flow_steps_max"])
        return f"{record['test_flow_steps']}"  # a fixed budget takes L_test steps everywhere
    if key == "paired_gain":
        return fmt.format(*record[key]) if key in record else "-"
    return fmt.format(record[key]) if key in record else "-"


def format_budget_table(entry: dict[str, Any]) -> str:
    """A fixed-width table with one row per L_test; the best budget is starred."""
    records = with_paired_gains(budget_records(entry))
    columns = [
        c for c in COLUMNS
        if c[1] not in OPTIONAL_COLUMNS or any(OPTIONAL_COLUMNS[c[1]] in r for r in records)
    ]
    rows = [[title for title, _, _ in columns]]
    for record in records:
        row = [_cell(record, *column) for column in columns]
        if record["test_flow_steps"] == entry.get("best_test_flow_steps"):
            row[0] += " *"
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def print_budget_table(entry: dict[str, Any], *, title: str, num_particles: int) -> None:
    """The table with its notes; ``num_particles`` is the N the evaluation acted with (with
    N = 1, L_test = 0 is one flow sample, not a best-of-N)."""
    table = format_budget_table(entry)
    zero = (
        "L_test = 0 with N = 1 is one flow sample (behavior cloning)"
        if num_particles == 1 else "L_test = 0 is best-of-N"
    )
    notes = f"* best L_test; {zero}; s.e. = standard error of the mean over episodes"
    if "vs first" in table:
        notes += ";\n vs first = return minus the first row's return on the same seeded episodes"
    print(f"\n{title}\n{table}\n({notes})")


def report_error(message: object, *, code: int = 2) -> int:
    """Print ``error: <message>`` to stderr and return the exit code (bad input: 2)."""
    print(f"error: {message}", file=sys.stderr)
    return code
