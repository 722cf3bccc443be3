"""``curves.png``: both learning curves per L_test and the training losses, mean over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .report import mean
from .settings import TEST_FLOW_STEPS

STYLES = {
    "reference": {"color": "tab:orange", "linestyle": "--", "marker": "s"},
    "ours": {"color": "tab:blue", "linestyle": "-", "marker": "o"},
}


def draw(ax: Any, data: list[dict[str, Any]], metric: str, scale: float, impl: str) -> None:
    """One implementation's mean over seeds, with a min-max band."""
    steps = sorted({r["step"] for r in data})
    per_step = [[scale * r[metric] for r in data if r["step"] == s] for s in steps]
    ax.plot(steps, [mean(v) for v in per_step], label=impl, **STYLES[impl])
    ax.fill_between(steps, [min(v) for v in per_step], [max(v) for v in per_step],
                    color=STYLES[impl]["color"], alpha=0.15)


def plot(
    rows: list[dict[str, Any]],
    loss_rows: list[dict[str, Any]],
    impls: list[str],
    title: str,
    path: Path,
) -> None:
    """Rows 1-2: success and return per L_test; row 3: the training losses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = len(TEST_FLOW_STEPS)
    fig, axes = plt.subplots(3, cols, figsize=(4 * cols, 9.5), squeeze=False)
    for col, n in enumerate(TEST_FLOW_STEPS):
        for row_i, (metric, label, scale) in enumerate(
            (("success_rate", "success (%)", 100.0), ("return_mean", "return", 1.0))
        ):
            ax = axes[row_i][col]
            for impl in impls:
                draw(ax, [r for r in rows if r["impl"] == impl and r["L_test"] == n],
                     metric, scale, impl)
            if row_i == 0:
                ax.set_title(f"L_test = {n}")
            if col == 0:
                ax.set_ylabel(label)
            ax.grid(alpha=0.3)
    for col, (metric, label) in enumerate(
        (("critic_loss", "critic loss"), ("q_mean", "Q mean"),
         ("flow_loss_per_dim", "flow loss per action dim"))
    ):
        ax = axes[2][col]
        for impl in impls:
            draw(ax, [r for r in loss_rows if r["impl"] == impl], metric, 1.0, impl)
        ax.set_title(label)
        ax.set_xlabel("gradient steps")
        ax.grid(alpha=0.3)
    for col in range(3, cols):
        axes[2][col].axis("off")
    axes[0][0].legend()
    fig.suptitle(title + "  (mean over seeds, band: min-max)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
