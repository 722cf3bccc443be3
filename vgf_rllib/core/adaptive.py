"""A per-state test-time budget (``test_flow_steps="auto"``): transport while it pays.

Beyond the paper (docs/algorithm.md, "Adaptive test-time budget"). Each state keeps taking
transport steps while the step's expected value gain exceeds the uncertainty it adds, up to
``settings.steps`` steps. Both are read at the best particle (the one selection would pick):

- expected gain: the rise of the twins' mean (Q1 + Q2) / 2;
- added uncertainty: :data:`UNCERTAINTY_WEIGHT` times the rise of their disagreement |Q1 - Q2|.

With the weight 1/2 the rule reads: the step raises min(Q1, Q2) = mean - |Q1 - Q2| / 2 at the
best particle. A step that does not pay is undone and the state stops for good; the others move on.
Deciding costs one critic evaluation per proposal beyond a fixed budget's, so a state that keeps
k steps has evaluated min(k + 1, ``settings.steps``) proposals.
"""

from __future__ import annotations

import torch

from vgf_rllib.core.transport import (
    Direction,
    ParticleStepper,
    TransportSettings,
    TwinQFunction,
    aggregate_twins,
)

#: weight of the disagreement's rise against the mean's (1/2: the twins' minimum must rise)
UNCERTAINTY_WEIGHT = 0.5


def best_particle_twins(q_values: torch.Tensor, twin_agg: str) -> torch.Tensor:
    """Per state, both twins' values ``(B, 2)`` at the particle with the best aggregated Q.

    ``q_values`` are twin values ``(B, N, 2)``.
    """
    index = aggregate_twins(q_values, twin_agg).argmax(-1)
    return q_values[torch.arange(q_values.shape[0], device=q_values.device), index]


def step_pays(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """The stopping rule, per state: the twins' mean at the best particle rises by more than
    :data:`UNCERTAINTY_WEIGHT` times the rise of their disagreement |Q1 - Q2|. ``before`` and
    ``after`` are the twins at the best particle before and after the step, ``(B, 2)``; returns a
    ``(B,)`` bool tensor."""
    gain = after.mean(-1) - before.mean(-1)
    added = (after[:, 0] - after[:, 1]).abs() - (before[:, 0] - before[:, 1]).abs()
    return gain > UNCERTAINTY_WEIGHT * added


def adaptive_transport(
    direction: Direction,
    q_fn: TwinQFunction,
    particles: torch.Tensor,
    settings: TransportSettings,
    twin_agg: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Transport each state while :func:`step_pays`, at most ``settings.steps`` steps.

    ``twin_agg`` aggregates the twins into the score that names the best particle (the
    selection's). Stopped states get a zero
    direction, so they neither move nor enter a step's global-norm clip. Returns the detached
    particles and the steps each state kept, ``(B,)`` (int64).
    """
    current = particles.detach()
    stepper = ParticleStepper(settings, current)
    with torch.no_grad():
        best = best_particle_twins(q_fn(current), twin_agg)
    active = torch.ones(current.shape[0], dtype=torch.bool, device=current.device)
    steps = torch.zeros(current.shape[0], dtype=torch.long, device=current.device)
    for _ in range(settings.steps):
        if not bool(active.any()):
            break
        keep = active[:, None, None]
        proposal = stepper.step(current, direction(current).detach() * keep)
        with torch.no_grad():
            proposed_best = best_particle_twins(q_fn(proposal), twin_agg)
        active = active & step_pays(best, proposed_best)
        current = torch.where(active[:, None, None], proposal, current)
        best = torch.where(active[:, None], proposed_best, best)
        steps += active.long()
    return current, steps
