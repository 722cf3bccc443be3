"""Slow learning test: the VGF > best-of-N > BC ordering holds across training seeds.

Run with ``bash scripts/test.sh -m slow`` (about 2 minutes on 2 CPU cores).
"""

from __future__ import annotations

import numpy as np
import pytest

from demo_training import train_demo_module
from vgf_rllib.demo import ENV_SPEC
from vgf_rllib.evaluation import evaluate_budgets

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_session")]

SEEDS = (1, 2, 3)


def test_ordering_holds_for_every_training_seed():
    scores = []
    for seed in SEEDS:
        module = train_demo_module(seed=seed, updates_per_iteration=300)
        vgf, best_of_n = evaluate_budgets(module, ENV_SPEC, [2, 0], 300, seed=seed)
        (bc,) = evaluate_budgets(module, ENV_SPEC, [0], 300, num_particles=1, seed=seed)
        scores.append((vgf.return_mean, best_of_n.return_mean, bc.return_mean))
    vgf, best_of_n, bc = np.array(scores).T
    print(f"VGF L=2 {vgf}, best-of-N {best_of_n}, BC {bc}")
    # Every seed keeps the order, and the gaps exceed 3 seed-to-seed standard deviations.
    assert (vgf > best_of_n).all() and (best_of_n > bc).all()
    assert (vgf - best_of_n).mean() > 3 * (vgf - best_of_n).std()
    assert (best_of_n - bc).mean() > 3 * (best_of_n - bc).std()
