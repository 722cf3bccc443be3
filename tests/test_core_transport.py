"""Particle transport (docs/algorithm.md, "Transport"): hand computations and golden vectors.

``tests/data/transport_golden.json`` holds inputs and outputs of the authors' transport (Adam
variant, bandwidth held constant) on an analytic twin critic. Every case must match to 1e-3.
Case 4 (N = 1) lands 7.9e-4 off at step 3 because the reference computed the particle's
self-distance as 1.19e-7 instead of 0 in float32 (so its median bandwidth is not the 1e-12
floor); our exact 0 is the right value, and the difference stays inside the tolerance.

``tests/data/transport_parity_golden.json`` holds the same cases with the bandwidth
differentiated, as the authors' autodiff (``kernel_bandwidth_gradient=True``), made by
``scripts/make_parity_golden.py`` with torch autodiff of the authors' kernel sum.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from vgf_rllib.core.networks import TwinCritic, TwinQAtStates
from vgf_rllib.core.transport import (
    TransportSettings,
    aggregate_twins,
    bandwidth_at,
    bandwidth_force,
    median_bandwidth,
    median_entries,
    rbf_kernel,
    squared_distances,
    svgd_direction,
    transport,
    value_gradient,
)

GOLDEN = Path(__file__).resolve().parent / "data" / "transport_golden.json"
PARITY_GOLDEN = GOLDEN.with_name("transport_parity_golden.json")


def quadratic_critic(center: torch.Tensor):
    """Twin critic with Q1 = Q2 = -||a - center||^2: grad_a = -2 (a - center)."""

    def q_fn(actions: torch.Tensor) -> torch.Tensor:
        q = -(actions - center).pow(2).sum(-1)
        return torch.stack([q, q], -1)

    return q_fn


def test_median_bandwidth_matches_hand_computation():
    particles = torch.tensor([[[0.0], [1.0], [3.0]]])
    # squared distances: 0,1,9 / 1,0,4 / 9,4,0 -> sorted 0,0,0,1,1,4,4,9,9 -> median 1
    expected = 1.0 / (2 * math.log(4))
    assert median_bandwidth(particles).item() == pytest.approx(expected, rel=1e-6)


def test_median_bandwidth_even_count_averages_middle_values_and_is_floored():
    particles = torch.tensor([[[0.0], [2.0]]])
    # entries 0,4,4,0 -> sorted 0,0,4,4 -> median 2
    assert median_bandwidth(particles).item() == pytest.approx(2 / (2 * math.log(3)), rel=1e-6)
    same = torch.zeros(1, 3, 2)
    assert median_bandwidth(same).item() == pytest.approx(1e-12)


def test_rbf_kernel_values():
    particles = torch.tensor([[[0.0, 0.0], [1.0, 1.0]]])
    sigma2 = torch.tensor([0.5])
    kernel = rbf_kernel(squared_distances(particles), sigma2)
    off = math.exp(-2.0 / (1.0 + 1e-6))
    assert torch.allclose(kernel, torch.tensor([[[1.0, off], [off, 1.0]]]), atol=1e-7)


def test_direction_is_smoothed_score_plus_repulsion():
    torch.manual_seed(0)
    particles = torch.rand(2, 4, 3) * 2 - 1
    scores = torch.randn(2, 4, 3)
    alpha = 0.7
    phi, kernel = svgd_direction(particles, scores, alpha)
    sigma2 = median_bandwidth(particles)
    expected = torch.zeros_like(particles)
    for b in range(2):
        for i in range(4):
            for j in range(4):
                k = kernel[b, i, j]
                expected[b, i] += k * scores[b, j] / alpha
                expected[b, i] += (particles[b, i] - particles[b, j]) * k / (sigma2[b] + 5e-7)
    assert torch.allclose(phi, expected / 4, atol=1e-5)


def test_large_alpha_leaves_pure_repulsion_and_no_maxent_drops_it():
    torch.manual_seed(1)
    particles = torch.rand(1, 5, 2) * 2 - 1
    scores = torch.randn(1, 5, 2)
    phi_inf, _ = svgd_direction(particles, scores, 1e12)
    phi_zero_score, _ = svgd_direction(particles, torch.zeros_like(scores), 1.0)
    assert torch.allclose(phi_inf, phi_zero_score, atol=1e-6)
    # repulsion pushes the particles apart: mean pairwise distance grows along phi
    moved = particles + 1e-2 * phi_inf
    assert torch.cdist(moved, moved).mean() > torch.cdist(particles, particles).mean()
    phi_no_rep, kernel = svgd_direction(particles, scores, 1.0, repulsion=False)
    assert torch.allclose(phi_no_rep, kernel @ scores / 5, atol=1e-6)


def test_sgd_step_is_plain_euler_step_and_adam_first_step_is_sign():
    center = torch.tensor([0.5, -0.25])
    q_fn = quadratic_critic(center)
    particles = torch.tensor([[[0.0, 0.0], [0.1, -0.2], [-0.3, 0.4]]])
    scores = value_gradient(q_fn, particles, "mean")
    assert torch.allclose(scores, -2 * (particles - center))
    phi, _ = svgd_direction(particles, scores, 1.0)
    sgd = transport(q_fn, particles, TransportSettings(steps=1, step_size=0.05, optimizer="sgd"))
    assert torch.allclose(sgd, particles + 0.05 * phi, atol=1e-6)
    adam = transport(q_fn, particles, TransportSettings(steps=1, step_size=0.05))
    assert torch.allclose(adam, particles + 0.05 * torch.sign(phi), atol=1e-5)


def test_transport_moves_toward_the_optimum_and_clips():
    q_fn = quadratic_critic(torch.tensor([0.6, -0.6]))
    particles = torch.zeros(1, 6, 2).uniform_(-0.1, 0.1)
    moved = transport(q_fn, particles, TransportSettings(steps=30, step_size=0.1))
    assert (moved.mean(1) - torch.tensor([0.6, -0.6])).abs().max() < 0.15
    far = transport(
        quadratic_critic(torch.tensor([5.0, 5.0])),
        particles,
        TransportSettings(steps=50, step_size=0.5, optimizer="sgd"),
    )
    assert far.max() <= 1.0 and far.min() >= -1.0


def test_score_uses_requested_twin_aggregation_and_leaves_critic_params_alone():
    net = torch.nn.Linear(2, 2)
    particles = torch.rand(3, 4, 2)
    g_min = value_gradient(lambda a: net(a), particles, "min")
    g_mean = value_gradient(lambda a: net(a), particles, "mean")
    assert torch.allclose(g_mean, net.weight.mean(0).expand_as(g_mean))
    chosen = net(particles).argmin(-1)
    assert torch.allclose(g_min, net.weight[chosen])
    assert all(p.grad is None for p in net.parameters())
    with torch.no_grad():  # works under an outer no_grad (acting in RLlib)
        assert torch.allclose(value_gradient(lambda a: net(a), particles, "mean"), g_mean)
    assert aggregate_twins(torch.tensor([[1.0, 3.0]]), "min").item() == 1.0


@pytest.mark.parametrize("twin_agg", ["mean", "min"])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_critics_action_gradient_by_hand_equals_autograd(twin_agg, precision):
    torch.manual_seed(0)
    critic = TwinCritic(obs_dim=3, action_dim=2, hidden=[32, 16, 8])
    for param in critic.parameters():  # non-trivial LayerNorm scales and biases
        param.data.add_(0.3 * torch.randn_like(param))
    obs = torch.randn(5, 1, 3).expand(5, 7, 3)
    particles = torch.rand(5, 7, 2) * 2 - 1
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    with autocast:
        by_autograd = value_gradient(lambda a: critic(obs, a), particles, twin_agg)
        by_hand = value_gradient(TwinQAtStates(critic, obs), particles, twin_agg)
    tolerance = 1e-5 if precision == "fp32" else 0.05 * by_autograd.abs().max().item()
    assert by_hand.shape == by_autograd.shape and by_hand.dtype == torch.float32
    assert (by_hand.float() - by_autograd.float()).abs().max() < tolerance
    assert all(p.grad is None for p in critic.parameters())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"steps": -1, "step_size": 0.1},
        {"steps": 1, "step_size": 0.0},
        {"steps": 1, "step_size": 0.1, "alpha": 0.0},
        {"steps": 1, "step_size": 0.1, "optimizer": "rmsprop"},
        {"steps": 1, "step_size": 0.1, "score_twin_agg": "max"},
    ],
)
def test_transport_settings_reject_impossible_values(kwargs):
    with pytest.raises(ValueError):
        TransportSettings(**kwargs)


def _golden_cases(path: Path = GOLDEN):
    data = json.loads(path.read_text())
    return data, data["cases"]


def _golden_critic(data, observations):
    w1, w2 = torch.tensor(data["W1"]), torch.tensor(data["W2"])
    target1, target2 = torch.tanh(observations @ w1.T), torch.tanh(observations @ w2.T)

    def q_fn(actions):
        q1 = -(actions - target1[:, None]).pow(2).sum(-1)
        q2 = -0.5 * (actions - target2[:, None]).pow(2).sum(-1) + torch.sin(3 * actions).sum(-1)
        return torch.stack([q1, q2], -1)

    return q_fn


@pytest.mark.parametrize("case_index", range(5))
def test_golden_vectors(case_index):
    data, cases = _golden_cases()
    case = cases[case_index]
    q_fn = _golden_critic(data, torch.tensor(case["observations"]))
    initial = torch.tensor(case["initial_particles"])
    scores = value_gradient(q_fn, initial, case["score_q_agg"])
    phi, kernel = svgd_direction(initial, scores, case["alpha"])
    assert torch.allclose(kernel, torch.tensor(case["kernel_at_init"]), atol=1e-3, rtol=0)
    assert torch.allclose(phi, torch.tensor(case["direction_at_init"]), atol=1e-3, rtol=0)
    expected = torch.tensor(case["particles_after_each_step"])
    for steps in range(case["steps"] + 1):
        settings = TransportSettings(
            steps=steps,
            step_size=case["step_size"],
            alpha=case["alpha"],
            score_twin_agg=case["score_q_agg"],
        )
        moved = transport(q_fn, initial, settings)
        assert torch.allclose(moved, expected[steps], atol=1e-3, rtol=0), f"step {steps}"


@pytest.mark.parametrize("case_index", range(5))
def test_bandwidth_gradient_matches_autodiff_of_the_authors_kernel_sum(case_index):
    """``bandwidth_gradient=True`` gives the authors' direction and transport (the kernel sum
    differentiated through the median bandwidth), and differs from the constant-bandwidth one."""
    data, cases = _golden_cases(PARITY_GOLDEN)
    case = cases[case_index]
    q_fn = _golden_critic(data, torch.tensor(case["observations"]))
    initial = torch.tensor(case["initial_particles"])
    scores = value_gradient(q_fn, initial, case["score_q_agg"])
    phi, _ = svgd_direction(initial, scores, case["alpha"], bandwidth_gradient=True)
    assert torch.allclose(phi, torch.tensor(case["direction_at_init"]), atol=1e-3, rtol=0)
    expected = torch.tensor(case["particles_after_each_step"])
    settings = TransportSettings(
        steps=case["steps"],
        step_size=case["step_size"],
        alpha=case["alpha"],
        score_twin_agg=case["score_q_agg"],
        bandwidth_gradient=True,
    )
    for steps in range(case["steps"] + 1):
        moved = transport(q_fn, initial, replace(settings, steps=steps))
        assert torch.allclose(moved, expected[steps], atol=1e-3, rtol=0), f"step {steps}"
    constant = transport(q_fn, initial, replace(settings, bandwidth_gradient=False))
    if case["particles"] > 1:  # one particle: its bandwidth is the floor, which has no gradient
        assert (constant - expected[-1]).abs().max() > 1e-2


def test_bandwidth_force_pulls_the_median_particle_toward_its_partner():
    """Two particles in 1D at 0 and 2: the sorted entries 0, 0, 4, 4 put the median between the
    diagonal (1, 1) and the pair entry (0, 1), so only particle 0 gets the extra term:
    -(c^2 / 2) * S * (a_0 - a_1) / (2 log 3) with S = 2 k_01 * 4 and c = 1 / (sigma^2 + 5e-7)."""
    particles = torch.tensor([[[0.0], [2.0]]])
    zero = torch.zeros_like(particles)
    with_force, kernel = svgd_direction(particles, zero, 1.0, bandwidth_gradient=True)
    without, _ = svgd_direction(particles, zero, 1.0)
    sigma2 = 2.0 / (2 * math.log(3))
    c = 1.0 / (sigma2 + 5e-7)
    spread = 2 * kernel[0, 0, 1].item() * 4.0
    force = -0.5 * c**2 * spread * (0.0 - 2.0) / (2 * math.log(3))
    expected = torch.tensor([[[force / 2], [0.0]]])
    assert torch.allclose(with_force - without, expected, rtol=1e-5)


def test_bandwidth_force_vanishes_below_the_bandwidth_floor():
    """Particles 1e-7 apart: median / (2 log 3) is below 1e-12, so sigma^2 is the floor, which
    has no gradient (the authors' ``jnp.maximum(h, 1e-12)``): the extra term is exactly 0."""
    particles = torch.tensor([[[0.0], [1e-7]]])
    sq_dist = squared_distances(particles)
    middle = median_entries(sq_dist)
    sigma2 = bandwidth_at(sq_dist, middle)
    kernel = rbf_kernel(sq_dist, sigma2)
    assert sigma2.item() == pytest.approx(1e-12)
    assert torch.all(bandwidth_force(particles, sq_dist, kernel, sigma2, middle) == 0)
