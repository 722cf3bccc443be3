"""Write tests/data/transport_parity_golden.json: the authors' VGF transport with the kernel
bandwidth differentiated (``kernel_bandwidth_gradient=True``; docs/algorithm.md, item 1 of
"Deviations from the authors' code").

The vectors come from torch autodiff of the authors' formulas (``agents/vgf.py``: ``rbf_kernel``
and ``SVGD_VGF.phi``), written here independently of ``vgf_rllib.core``, in float64:

- score = grad_X sum_{b,i} agg_twins Q(s_b, X_bi);
- K = stop_gradient(k(X, stop(X))); grad_K = -grad_X sum_{b,i,j} k(X, stop(X))_bij, where the
  kernel's median bandwidth is a function of X too (not stopped);
- phi = (K @ score / alpha + grad_K) / N, handed as -phi to a fresh Adam (lr = step size) per
  transport call; particles clipped to [-1, 1] after every step.

Distances are taken from differences (exact 0 self-distance; item 2 of the deviations), and the
median is ``jnp.median``'s: the mean of the two middle values of a stable sort over the N*N
entries in row-major order. The inputs (critic weights, states, initial particles, settings) are
those of tests/data/transport_golden.json. As a check of this formulation, the same code with
the bandwidth stopped must reproduce that file's particles to 1e-3.

Run from the repository root: ``python scripts/make_parity_golden.py``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import torch

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SOURCE = DATA / "transport_golden.json"
OUTPUT = DATA / "transport_parity_golden.json"
TOLERANCE = 1e-3

DESCRIPTION = (
    "Particle transport golden vectors with the kernel bandwidth differentiated, as the authors' "
    "autodiff does (agents/vgf.py, SVGD_VGF.phi: grad_K = -grad of sum_ij rbf_kernel(X, stop(X)) "
    "with the median-heuristic bandwidth of X not stopped). Inputs, critic and Adam transport as "
    "in transport_golden.json; direction_at_init is phi before the first step, "
    "particles_after_each_step[0] the initial set. Produced by scripts/make_parity_golden.py "
    "(torch autodiff, float64, distances from differences, median = mean of the two middle "
    "values of a stable row-major sort, as jnp.median)."
)


def twin_critic(data: dict[str, Any], observations: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The analytic twin critic of the golden files: actions (B, N, d) -> (B, N, 2)."""
    w1, w2 = (torch.tensor(data[name], dtype=torch.float64) for name in ("W1", "W2"))
    target1, target2 = torch.tanh(observations @ w1.T), torch.tanh(observations @ w2.T)

    def q_fn(actions: torch.Tensor) -> torch.Tensor:
        q1 = -(actions - target1[:, None]).pow(2).sum(-1)
        q2 = -0.5 * (actions - target2[:, None]).pow(2).sum(-1) + torch.sin(3 * actions).sum(-1)
        return torch.stack([q1, q2], -1)

    return q_fn


def authors_kernel(x: torch.Tensor, y: torch.Tensor, stop_bandwidth: bool) -> torch.Tensor:
    """``rbf_kernel(X, Y)[0]`` of the authors: exp(-gamma d2), gamma = 1 / (1e-6 + 2 sigma^2),
    sigma = sqrt(max(median(d2) / (2 log(n + 1)), 1e-12))."""
    d2 = (x.unsqueeze(2) - y.unsqueeze(1)).pow(2).sum(-1)
    flat = d2.flatten(1)
    ordered = flat.gather(1, flat.detach().sort(dim=1, stable=True).indices)
    count = ordered.shape[1]
    median = 0.5 * (ordered[:, (count - 1) // 2] + ordered[:, count // 2])
    h = median / (2.0 * math.log(x.shape[1] + 1.0))
    sigma = torch.sqrt(torch.clamp_min(h, 1e-12))[:, None, None]
    if stop_bandwidth:
        sigma = sigma.detach()
    gamma = 1.0 / (1e-6 + 2.0 * sigma**2)
    return torch.exp(-gamma * d2)


def authors_phi(q_fn, particles: torch.Tensor, alpha: float, agg: str, stop_bandwidth: bool) -> torch.Tensor:
    """``SVGD_VGF.phi``: (K @ score / alpha + grad_K) / N, both gradients by autodiff."""
    x = particles.detach().requires_grad_(True)
    q = q_fn(x)
    q_bar = q.min(-1).values if agg == "min" else q.mean(-1)
    (score,) = torch.autograd.grad(q_bar.sum(), x)
    stopped = x.detach()
    kernel = authors_kernel(x, stopped, stop_bandwidth)
    (grad_sum,) = torch.autograd.grad(kernel.sum(), x)
    return (kernel.detach() @ score / alpha - grad_sum) / x.shape[1]


def authors_transport(q_fn, case: dict[str, Any], stop_bandwidth: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """phi at the initial particles and the particles after each Adam step (fresh Adam)."""
    particles = torch.tensor(case["initial_particles"], dtype=torch.float64)
    phi_of = lambda p: authors_phi(q_fn, p, case["alpha"], case["score_q_agg"], stop_bandwidth)
    first = phi_of(particles)
    leaf = particles.clone().requires_grad_(True)
    adam = torch.optim.Adam([leaf], lr=case["step_size"])
    trajectory = [particles]
    for _ in range(case["steps"]):
        leaf.grad = -phi_of(leaf.detach())
        adam.step()
        with torch.no_grad():
            leaf.clamp_(-1.0, 1.0)
        trajectory.append(leaf.detach().clone())
    return first, trajectory


def main() -> None:
    data = json.loads(SOURCE.read_text())
    cases = []
    for index, case in enumerate(data["cases"]):
        q_fn = twin_critic(data, torch.tensor(case["observations"], dtype=torch.float64))
        _, constant = authors_transport(q_fn, case, stop_bandwidth=True)
        expected = torch.tensor(case["particles_after_each_step"], dtype=torch.float64)
        check = (torch.stack(constant) - expected).abs().max().item()
        print(f"case {index}: bandwidth stopped vs transport_golden.json: {check:.2e}")
        if check > TOLERANCE:
            raise SystemExit(f"case {index}: this formulation does not reproduce the golden file")
        phi, moved = authors_transport(q_fn, case, stop_bandwidth=False)
        print(f"case {index}: differentiated vs stopped, last step: "
              f"{(moved[-1] - constant[-1]).abs().max().item():.2e}")
        keys = ("batch", "particles", "alpha", "step_size", "score_q_agg", "steps",
                "observations", "initial_particles")
        cases.append({
            **{key: case[key] for key in keys},
            "direction_at_init": phi.tolist(),
            "particles_after_each_step": torch.stack(moved).tolist(),
        })
    golden = {"description": DESCRIPTION, "W1": data["W1"], "W2": data["W2"], "cases": cases}
    OUTPUT.write_text(json.dumps(golden) + "\n")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
