"""Which part of VGF's acting makes L_test matter on a trained run: the value gradient, or the
kernel's repulsion and the argmax? A mutation check on a checkpoint, no retraining.

Scores the run's checkpoint at L_test = 0..3 on the same seeded episodes six ways: argmax and
uniformly random selection, each with the critic's action gradient intact, zeroed and flipped
(``vgf_rllib.core.transport.value_gradient`` patched for the call; the repulsion stays). With
random selection the argmax cannot help, so a gain over L_test = 0 there is the value gradient's.
Run after the quickstart:

    python benchmarks/transport_control.py runs/quickstart --episodes 30
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

import torch

from vgf_rllib.cli.output import format_budget_table
from vgf_rllib.evaluation import evaluate_budgets, results_by_budget
from vgf_rllib.policy import load_policy, run_info

# the module, not the `transport` function that vgf_rllib.core exports under the same name
transport = importlib.import_module("vgf_rllib.core.transport")

GRADIENTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "intact": lambda grad: grad,
    "zeroed": torch.zeros_like,
    "flipped": torch.neg,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run directory with an env in its run.json")
    parser.add_argument("--episodes", type=int, default=30, help="episodes per L_test")
    args = parser.parse_args()
    info = run_info(args.run)
    if not info.get("env"):
        parser.error(f"{args.run}: its run.json names no env to evaluate in")
    module = load_policy(args.run)
    seed = info["evaluation_seed"]  # the episodes of the run's own evaluation
    original = transport.value_gradient
    for selection in ("argmax", "random"):
        module.action_selection = selection
        for name, change in GRADIENTS.items():
            transport.value_gradient = lambda *a, change=change, **k: change(original(*a, **k))
            try:
                results = evaluate_budgets(
                    module, info["env"], [0, 1, 2, 3], args.episodes, seed=seed
                )
            finally:
                transport.value_gradient = original
            print(f"\n{selection} selection, value gradient {name}")
            print(format_budget_table(results_by_budget(results)))


if __name__ == "__main__":
    main()
