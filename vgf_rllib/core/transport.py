"""The value gradient flow: particle transport along a direction field, SVGD on grad_a Q by default.

All functions work on a batch of states at once: particles are ``(B, N, d)``. ``q_fn(a)``
maps particles ``(B, N, d)`` to twin critic values ``(B, N, 2)`` (the states are closed over).
A :data:`Direction` maps particles to the direction phi they move along (``(B, N, d)``, the
states closed over); :func:`move_particles` is the step loop shared by every direction
(VGF's kernel direction :func:`kernel_direction`, A-VGF's learned field) and
:class:`ParticleStepper` one step of it.

See docs/algorithm.md, "Transport" and "Variants".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.distributed as dist

TwinQFunction = Callable[[torch.Tensor], torch.Tensor]
#: particles (B, N, d) -> the direction phi (B, N, d) they move along
Direction = Callable[[torch.Tensor], torch.Tensor]

PARTICLE_OPTIMIZERS = ("adam", "sgd")
TWIN_AGGREGATIONS = ("mean", "min")

# Adam constants of the authors' optimizer (optax.adam defaults; torch.optim.Adam matches).
ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8


@dataclass(frozen=True)
class TransportSettings:
    """The transport budget: steps L, step size eps, temperature alpha.

    See docs/algorithm.md, opening paragraph and "Transport".
    """

    steps: int
    step_size: float
    alpha: float = 1.0
    optimizer: str = "adam"  # "adam": authors' code (fresh Adam per call); "sgd": paper
    score_twin_agg: str = "mean"  # twin critics aggregated for the score grad_a Qbar
    #: global-norm clip of phi before each step; None: no clip (VGF), 1.0 in A-VGF
    #: (docs/algorithm.md, "Variants")
    max_direction_norm: float | None = None
    #: the clip's norm: False, over the whole particle tensor of the call (the critic target, as
    #: the authors' batched update); True, over each state's (N, d) particles (acting, as the
    #: authors act one state per call)
    clip_per_state: bool = False
    #: the whole-tensor clip norm summed over the data-parallel learners (torch.distributed's
    #: default group), so that k learners clip as one learner on the union of their minibatches;
    #: set by the learner when RLlib runs several (docs/algorithm.md, "Learners and data
    #: parallelism")
    norm_across_learners: bool = False
    #: differentiate the repulsion through the median bandwidth too, as the authors' autodiff
    #: (docs/algorithm.md, "Transport", step 4, and item 1 of "Deviations from the authors' code")
    bandwidth_gradient: bool = False

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"transport steps must be >= 0, got {self.steps}")
        if self.step_size <= 0:
            raise ValueError(f"transport step_size must be > 0, got {self.step_size}")
        if self.alpha <= 0:
            raise ValueError(f"transport alpha must be > 0, got {self.alpha}")
        if self.optimizer not in PARTICLE_OPTIMIZERS:
            raise ValueError(
                f"particle optimizer must be one of {PARTICLE_OPTIMIZERS}, got {self.optimizer!r}"
            )
        if self.score_twin_agg not in TWIN_AGGREGATIONS:
            raise ValueError(
                f"score twin aggregation must be one of {TWIN_AGGREGATIONS}, "
                f"got {self.score_twin_agg!r}"
            )
        if self.max_direction_norm is not None and not self.max_direction_norm > 0:
            raise ValueError(
                f"transport max_direction_norm must be > 0 or None, got {self.max_direction_norm}"
            )


_REDUCERS = {
    "mean": lambda values: values.mean(-1),
    "min": lambda values: values.min(-1).values,
    "max": lambda values: values.max(-1).values,
}


def transport_peak_bytes(batch: int, num_particles: int, action_dim: int) -> int:
    """Float32 bytes of the largest tensors one transport step holds at once: the pairwise
    differences ``(B, N, N, d)`` plus the squared distances, their sorted copy and the kernel
    (``3 x (B, N, N)``); they grow with N^2 and dominate memory at large N."""
    return 4 * batch * num_particles**2 * (action_dim + 3)


def reduce_last_dim(values: torch.Tensor, how: str, allowed: tuple[str, ...], what: str) -> torch.Tensor:
    """Reduce the last dim by ``how`` (one of ``allowed``); ``what`` names the option in errors."""
    if how not in allowed:
        raise ValueError(f"{what} must be one of {allowed}, got {how!r}")
    return _REDUCERS[how](values)


def aggregate_twins(q_values: torch.Tensor, how: str) -> torch.Tensor:
    """Reduce twin critic values ``(..., 2)`` to ``(...)`` by ``mean`` or ``min``."""
    return reduce_last_dim(q_values, how, TWIN_AGGREGATIONS, "twin aggregation")


def value_gradient(q_fn: TwinQFunction, particles: torch.Tensor, twin_agg: str) -> torch.Tensor:
    """Score g_j = grad_a Qbar(s, a_j); no gradient reaches critic parameters.

    A ``q_fn`` with an ``action_gradient(actions, twin_agg)`` method (the critics' own,
    :class:`~vgf_rllib.core.networks.TwinQAtStates`) gives it without autograd; any other
    function is differentiated by ``torch.autograd.grad``. See docs/algorithm.md, "Transport",
    step 1.
    """
    analytic = getattr(q_fn, "action_gradient", None)
    if analytic is not None:
        return analytic(particles.detach(), twin_agg)
    with torch.enable_grad():
        actions = particles.detach().requires_grad_(True)
        q_bar = aggregate_twins(q_fn(actions), twin_agg)
        (grad,) = torch.autograd.grad(q_bar.sum(), actions)
    return grad


def squared_distances(particles: torch.Tensor) -> torch.Tensor:
    """||a_i - a_j||^2, shape ``(B, N, N)``, from direct differences: exactly symmetric with an
    exact 0 diagonal (item 2 of "Deviations from the authors' code" in docs/algorithm.md)."""
    diff = particles.unsqueeze(2) - particles.unsqueeze(1)
    return diff.pow(2).sum(-1)


def median_entries(sq_dist: torch.Tensor) -> torch.Tensor:
    """Flat indices i * N + j ``(B, 2)`` of the two middle values of each state's N*N squared
    distances (the same entry twice for an odd count). The sort is stable, so equal values keep
    row-major order, as the sort inside the authors' ``jnp.median`` does: of a tied pair
    (i, j), (j, i) with i < j, the entry (i, j) sorts first."""
    order = sq_dist.detach().flatten(1).sort(dim=1, stable=True).indices
    count = order.shape[1]
    return order[:, [(count - 1) // 2, count // 2]]


def bandwidth_at(sq_dist: torch.Tensor, middle: torch.Tensor) -> torch.Tensor:
    """sigma^2 = max(mean of the ``middle`` entries / (2 log(N + 1)), 1e-12), shape ``(B,)``;
    no gradient (docs/algorithm.md, "Transport", step 2)."""
    median = sq_dist.detach().flatten(1).gather(1, middle).mean(1)
    return (median / (2.0 * math.log(sq_dist.shape[1] + 1))).clamp_min(1e-12)


def median_bandwidth(particles: torch.Tensor) -> torch.Tensor:
    """Per-state sigma^2 = max(median_ij ||a_i - a_j||^2 / (2 log(N + 1)), 1e-12), ``(B,)``.

    The median runs over all N*N entries (diagonal included); for an even count it is the
    mean of the two middle values. Carries no gradient (docs/algorithm.md, "Transport", step 2).
    """
    sq_dist = squared_distances(particles)
    return bandwidth_at(sq_dist, median_entries(sq_dist))


def rbf_kernel(sq_dist: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """k_ij = exp(-||a_i - a_j||^2 / (2 sigma^2 + 1e-6)) from squared distances ``(B, N, N)``.

    See docs/algorithm.md, "Transport", step 3.
    """
    return torch.exp(-sq_dist / (2.0 * sigma2[:, None, None] + 1e-6))


def _rows(particles: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``particles[b, index[b, m]]``: shape ``(B, M, d)`` for indices ``(B, M)``."""
    return particles.gather(1, index.unsqueeze(-1).expand(-1, -1, particles.shape[-1]))


def bandwidth_force(
    particles: torch.Tensor,
    sq_dist: torch.Tensor,
    kernel: torch.Tensor,
    sigma2: torch.Tensor,
    middle: torch.Tensor,
) -> torch.Tensor:
    """The part of -grad_{a_k} sum_ij k(a_k, stop(a_j)) that flows through sigma^2, ``(B, N, d)``:
    what the authors' autodiff of the kernel sum adds (``agents/vgf.py``, ``SVGD_VGF.phi``;
    docs/algorithm.md, item 1 of "Deviations from the authors' code").

    With c = 1 / (sigma^2 + 5e-7) it is -(c^2 / 2) (sum_ij k_ij ||a_i - a_j||^2) dsigma^2/da_k.
    sigma^2 depends on a_k only through the middle entries (k, j) of the median, each giving
    (a_k - a_j) / (2 log(N + 1)) (a_j is the stopped argument); none below the 1e-12 floor.
    """
    num, dim = particles.shape[1], particles.shape[2]
    rows, cols = middle // num, middle % num
    pull = _rows(particles, rows) - _rows(particles, cols)
    dsigma2 = torch.zeros_like(particles).scatter_add(1, rows.unsqueeze(-1).expand(-1, -1, dim), pull)
    spread = (kernel * sq_dist).sum((1, 2))
    scale = -0.5 * (sigma2 + 5e-7).pow(-2) * spread / (2.0 * math.log(num + 1))
    return (scale * (sigma2 > 1e-12))[:, None, None] * dsigma2


def svgd_direction(
    particles: torch.Tensor,
    scores: torch.Tensor,
    alpha: float,
    *,
    repulsion: bool = True,
    bandwidth_gradient: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """phi_i = (1/N) sum_j [k_ij g_j / alpha + grad_{a_j} k(a_j, a_i)].

    The repulsion term is sum_j (a_i - a_j) k_ij / (sigma^2 + 5e-7) / N; ``repulsion=False``
    gives the paper's "w/o MaxEnt" form; ``bandwidth_gradient`` adds :func:`bandwidth_force` / N
    to the repulsion. Returns ``(phi, kernel)``. See docs/algorithm.md, "Transport", step 4, and
    "Variants".
    """
    num = particles.shape[1]
    sq_dist = squared_distances(particles)
    middle = median_entries(sq_dist)
    sigma2 = bandwidth_at(sq_dist, middle)
    kernel = rbf_kernel(sq_dist, sigma2)
    phi = kernel @ scores / alpha
    if repulsion:
        # sum_j k_ij (a_i - a_j) = a_i * sum_j k_ij - (K @ a)_i
        weighted = particles * kernel.sum(-1, keepdim=True) - kernel @ particles
        phi = phi + weighted / (sigma2[:, None, None] + 5e-7)
        if bandwidth_gradient:
            phi = phi + bandwidth_force(particles, sq_dist, kernel, sigma2, middle)
    return phi / num, kernel


def kernel_direction(
    q_fn: TwinQFunction, particles: torch.Tensor, settings: TransportSettings
) -> torch.Tensor:
    """VGF's direction: the SVGD form on grad_a Qbar (docs/algorithm.md, "Transport", steps 1-4)."""
    scores = value_gradient(q_fn, particles, settings.score_twin_agg)
    phi, _ = svgd_direction(
        particles, scores, settings.alpha, bandwidth_gradient=settings.bandwidth_gradient
    )
    return phi


def clip_norm(
    phi: torch.Tensor, limit: float, *, per_state: bool, across_learners: bool = False
) -> torch.Tensor:
    """``phi`` ``(B, N, d)`` scaled down to norm ``limit`` where it is longer, as optax's
    ``clip_by_global_norm``: the norm of the whole tensor, or of each state's ``(N, d)`` slice
    with ``per_state`` (docs/algorithm.md, "Variants"). ``across_learners``: the whole tensor's
    norm is that of every learner's ``phi`` together (:func:`sum_over_learners`)."""
    if per_state:
        norm = phi.flatten(1).norm(dim=1)[:, None, None]
    elif across_learners:
        norm = sum_over_learners(phi.square().sum()).sqrt()
    else:
        norm = phi.norm()
    return phi * (limit / norm.clamp_min(limit))


def sum_over_learners(value: torch.Tensor) -> torch.Tensor:
    """``value`` summed over the processes of torch.distributed's default group (RLlib's
    data-parallel learners), by a functional all-reduce that ``torch.compile`` can trace. Every
    learner must call it at the same point of its step, as DDP's gradient all-reduce."""
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "a norm across learners needs torch.distributed's process group (num_learners > 1)"
        )
    from torch.distributed import _functional_collectives as funcol

    return funcol.all_reduce(value, "sum", dist.group.WORLD)


class ParticleStepper:
    """One transport call's particle update, applied step after step (docs/algorithm.md,
    "Transport", step 5): a fresh Adam (learning rate eps, moments at zero) fed -phi, or the
    paper's a + eps * phi; with ``max_direction_norm`` phi is first scaled down to that norm
    (:func:`clip_norm`), as A-VGF's clip before its Adam. Every step clips the particles to
    [-1, 1]."""

    def __init__(self, settings: TransportSettings, particles: torch.Tensor) -> None:
        self.settings = settings
        self.count = 0
        self.first_moment = torch.zeros_like(particles)
        self.second_moment = torch.zeros_like(particles)

    def step(self, particles: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        """Particles moved one step along ``phi``."""
        settings = self.settings
        self.count += 1
        if settings.max_direction_norm is not None:
            phi = clip_norm(
                phi,
                settings.max_direction_norm,
                per_state=settings.clip_per_state,
                across_learners=settings.norm_across_learners,
            )
        if settings.optimizer == "sgd":
            moved = particles + settings.step_size * phi
        else:
            grad = -phi
            self.first_moment = ADAM_BETA1 * self.first_moment + (1 - ADAM_BETA1) * grad
            self.second_moment = ADAM_BETA2 * self.second_moment + (1 - ADAM_BETA2) * grad.square()
            m_hat = self.first_moment / (1 - ADAM_BETA1**self.count)
            v_hat = self.second_moment / (1 - ADAM_BETA2**self.count)
            moved = particles - settings.step_size * m_hat / (v_hat.sqrt() + ADAM_EPS)
        return moved.clamp(-1.0, 1.0)


def move_particles(
    direction: Direction, particles: torch.Tensor, settings: TransportSettings
) -> torch.Tensor:
    """Move particles ``settings.steps`` times along ``direction`` (one :class:`ParticleStepper`
    per call). Returns detached particles of the same shape."""
    current = particles.detach()
    stepper = ParticleStepper(settings, current)
    for _ in range(settings.steps):
        current = stepper.step(current, direction(current).detach())
    return current


def transport(
    q_fn: TwinQFunction,
    particles: torch.Tensor,
    settings: TransportSettings,
) -> torch.Tensor:
    """VGF's transport: :func:`move_particles` along :func:`kernel_direction` of ``q_fn``.

    ``adam``: the direction -phi is the gradient of a fresh Adam (learning rate eps) created
    for this call, as in the authors' code (first step moves by about eps * sign(phi)).
    ``sgd``: the paper's a <- a + eps * phi. Returns detached particles of the same shape.
    """
    return move_particles(lambda current: kernel_direction(q_fn, current, settings), particles, settings)
