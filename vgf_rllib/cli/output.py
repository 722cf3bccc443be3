"""Terminal output shared by the CLI commands: the per-budget results table, error lines."""

from __future__ import annotations

import math
import sys
from typing import Any

#: (title, record key, format); "return" and "score" show mean +- standard error of the mean
COLUMNS = (
    ("L_test", "test_flow_steps", "{}"),
    ("episodes", "episodes", "{}"),
    ("return +- s.e.", "return", "{:.3f} +- {:.3f}"),
    ("success", "success_rate", "{:.1%}"),
    ("score +- s.e.", "score", "{:.2f} +- {:.2f}"),
)


def budget_records(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``L{n}`` records of a ``vgf_eval`` entry, ordered by L_test."""
    records = [value for key, value in entry.items() if key.startswith("L") and isinstance(value, dict)]
    return sorted(records, key=lambda record: record["test_flow_steps"])


def _cell(record: dict[str, Any], title: str, key: str | None, fmt: str) -> str:
    if key in ("return", "score"):
        standard_error = record[f"{key}_std"] / math.sqrt(record["episodes"])
        return fmt.format(record[f"{key}_mean"], standard_error)
    return fmt.format(record[key]) if key in record else "-"


def format_budget_table(entry: dict[str, Any]) -> str:
    """A fixed-width table with one row per L_test; the best budget is starred."""
    records = budget_records(entry)
    columns = [c for c in COLUMNS if c[1] != "success_rate" or any("success_rate" in r for r in records)]
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
