"""Terminal output shared by the CLI commands: the per-budget results table, error lines."""

from __future__ import annotations

import math
import sys
from typing import Any

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
)
#: columns shown only when some record has them
OPTIONAL_COLUMNS = {"success_rate": "success_rate", "flow_steps": "flow_steps_mean"}


def budget_records(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``L{n}`` (and ``Lauto``) records of a ``vgf_eval`` entry, by L_test, "auto" last."""
    records = [value for key, value in entry.items() if key.startswith("L") and isinstance(value, dict)]
    return sorted(records, key=lambda record: budget_order(record["test_flow_steps"]))


def _cell(record: dict[str, Any], title: str, key: str | None, fmt: str) -> str:
    if key in ("return", "score"):
        standard_error = record[f"{key}_std"] / math.sqrt(record["episodes"])
        return fmt.format(record[f"{key}_mean"], standard_error)
    if key == "flow_steps":
        if "flow_steps_mean" in record:
            return fmt.format(record["flow_steps_mean"], record["flow_steps_max"])
        return f"{record['test_flow_steps']}"  # a fixed budget takes L_test steps everywhere
    return fmt.format(record[key]) if key in record else "-"


def format_budget_table(entry: dict[str, Any]) -> str:
    """A fixed-width table with one row per L_test; the best budget is starred."""
    records = budget_records(entry)
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


def print_budget_table(entry: dict[str, Any], *, title: str) -> None:
    print(
        f"\n{title}\n{format_budget_table(entry)}\n"
        "(* best L_test; L_test = 0 is best-of-N; s.e. = standard error of the mean over episodes)"
    )


def report_error(message: object, *, code: int = 2) -> int:
    """Print ``error: <message>`` to stderr and return the exit code (bad input: 2)."""
    print(f"error: {message}", file=sys.stderr)
    return code
