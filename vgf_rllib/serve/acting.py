"""What a replica acts with: a checkpoint's VGF module (any budget within the limits) or an
exported ``.pt2`` (its one exported budget), both answering in the env's action units.

Each request's random draws come from its own ``torch.Generator`` seeded by the request's seed
(:func:`request_draws`), so a seeded request gets the same actions whatever it is batched with:
VGF acts per state, and the draws of one request never depend on another's. A-VGF's transport
clips the direction by its norm over all states of a call, so its requests act one per call.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from vgf_rllib.core.policy import acting_draws
from vgf_rllib.data.spaces import has_finite_bounds, scale_to_bounds
from vgf_rllib.serve.requests import AUTO, ActRequest, RequestError

#: file suffix of an exported acting path (``vgf-rllib export``)
ARTIFACT_SUFFIX = ".pt2"


@dataclass(frozen=True)
class Budget:
    """The test-time budget of one acting call: L_test (or "auto") and N."""

    flow_steps: int | str
    num_particles: int


@dataclass(frozen=True)
class Limits:
    """The largest budget a request may ask for; larger requests are refused, not clipped."""

    max_flow_steps: int
    max_particles: int


@dataclass(frozen=True)
class Order:
    """A validated request with its budget and seed resolved (what the batcher receives)."""

    request: ActRequest
    budget: Budget
    seed: int


def request_draws(
    seed: int, states: int, num_particles: int, action_dim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A request's sampler noise ``(states, N, action_dim)`` and selection draws ``(states,)``,
    on the CPU from ``torch.Generator().manual_seed(seed)`` (noise first)."""
    return acting_draws(torch.Generator().manual_seed(seed), states, num_particles, action_dim)


def fresh_seed() -> int:
    """A seed for a request that brought none (reported back, so its answer can be replayed)."""
    return secrets.randbits(53)  # exact in JSON numbers of any client (doubles)


class ServedPolicy(Protocol):
    """The acting interface of a replica."""

    observation_dim: int
    action_dim: int
    default_budget: Budget
    #: whether one acting call's states affect each other's actions (A-VGF's global-norm clip of
    #: the transport direction over the whole particle tensor)
    couples_states: bool

    def budget(self, flow_steps: int | str | None, num_particles: int | None) -> Budget:
        """The request's budget (defaults filled in); :class:`RequestError` above the limits."""

    def act(
        self, obs: torch.Tensor, budget: Budget, noise: torch.Tensor, uniform: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions in env units ``(B, action_dim)`` and transport steps taken ``(B,)``."""

    def describe(self) -> dict[str, Any]:
        """Spaces, budgets, limits and provenance for ``GET /info``."""


def action_bounds(space: Any) -> tuple[list[float] | None, list[float] | None]:
    """The Box's finite bounds as lists, or (None, None) when some bound is infinite."""
    if has_finite_bounds(space):
        return np.asarray(space.low, np.float64).tolist(), np.asarray(space.high, np.float64).tolist()
    return None, None


class ModulePolicy:
    """A run's or checkpoint's VGF module; any budget within ``limits`` (one at a time)."""

    def __init__(
        self,
        path: str | Path,
        *,
        device: str,
        flow_steps: int | str | None = None,
        num_particles: int | None = None,
        max_flow_steps: int | None = None,
        max_particles: int | None = None,
    ) -> None:
        from vgf_rllib.policy import load_policy, run_info
        from vgf_rllib.run_dir import module_dir

        self.source = str(module_dir(path))
        self.module = load_policy(path).to(device).eval()
        self.run_info = run_info(path)
        self.device = device
        settings = self.module.acting
        self.default_budget = Budget(
            (AUTO if settings.adaptive else settings.transport.steps) if flow_steps is None else flow_steps,
            settings.num_particles if num_particles is None else num_particles,
        )
        default_steps = 0 if self.default_budget.flow_steps == AUTO else self.default_budget.flow_steps
        self.limits = Limits(
            max_flow_steps=max(self.module.max_test_flow_steps, default_steps) if max_flow_steps is None else max_flow_steps,
            max_particles=(
                max(4 * settings.num_particles, self.default_budget.num_particles)
                if max_particles is None else max_particles
            ),
        )
        if default_steps > self.limits.max_flow_steps or self.default_budget.num_particles > self.limits.max_particles:
            raise ValueError(
                f"the default budget {vars(self.default_budget)} is above the limits {vars(self.limits)}"
            )
        self.observation_dim = int(self.module.obs_mean.shape[0])
        self.action_dim = int(self.module.velocity.action_dim)
        self.couples_states = settings.transport.max_direction_norm is not None
        self.low, self.high = action_bounds(self.module.action_space)
        self.bounds = None
        if self.low is not None:
            self.bounds = (torch.tensor(self.low, device=device), torch.tensor(self.high, device=device))
        self.lock = threading.Lock()  # set_test_time_budget + acting change module state

    @property
    def auto_max_flow_steps(self) -> int:
        """The most steps "auto" takes: the module's own, capped by the limit."""
        return min(self.module.max_test_flow_steps, self.limits.max_flow_steps)

    def budget(self, flow_steps: int | str | None, num_particles: int | None) -> Budget:
        budget = Budget(
            self.default_budget.flow_steps if flow_steps is None else flow_steps,
            self.default_budget.num_particles if num_particles is None else num_particles,
        )
        if budget.flow_steps != AUTO and budget.flow_steps > self.limits.max_flow_steps:
            raise RequestError(
                f"field 'flow_steps' is {budget.flow_steps}, above this deployment's "
                f"max_flow_steps={self.limits.max_flow_steps}"
            )
        if budget.num_particles > self.limits.max_particles:
            raise RequestError(
                f"field 'num_particles' is {budget.num_particles}, above this deployment's "
                f"max_particles={self.limits.max_particles}"
            )
        return budget

    def act(
        self, obs: torch.Tensor, budget: Budget, noise: torch.Tensor, uniform: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        with self.lock:
            self.module.set_test_time_budget(
                flow_steps=budget.flow_steps,
                num_particles=budget.num_particles,
                max_flow_steps=self.auto_max_flow_steps,
            )
            actions, steps = self.module.compute_actions_and_steps(
                obs.to(self.device), noise=noise.to(self.device), uniform=uniform.to(self.device)
            )
        actions = actions.detach()
        return (scale_to_bounds(actions, *self.bounds) if self.bounds else actions), steps

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": "checkpoint",
            "observation_shape": [self.observation_dim],
            "action_shape": [self.action_dim],
            "action_low": self.low,
            "action_high": self.high,
            "default_budget": vars(self.default_budget),
            "limits": {**vars(self.limits), "auto_max_flow_steps": self.auto_max_flow_steps},
            "run": self.run_info,
        }


class ArtifactPolicy:
    """An exported ``.pt2`` (``torch.export.load``, no pickles): only its exported budget."""

    def __init__(self, path: str | Path, *, device: str) -> None:
        from vgf_rllib.export import load_artifact

        self.source = str(Path(path).resolve())
        program, self.metadata = load_artifact(path)
        self.program = program.to(device)
        self.device = device
        self.default_budget = Budget(self.metadata["transport"]["steps"], self.metadata["num_particles"])
        self.observation_dim = int(self.metadata["inputs"]["obs"][1])
        self.action_dim = int(self.metadata["inputs"]["noise"][2])
        self.couples_states = self.metadata["transport"]["max_direction_norm"] is not None

    def budget(self, flow_steps: int | str | None, num_particles: int | None) -> Budget:
        fixed = self.default_budget
        for name, asked, exported in (
            ("flow_steps", flow_steps, fixed.flow_steps), ("num_particles", num_particles, fixed.num_particles)
        ):
            if asked is not None and asked != exported:
                raise RequestError(
                    f"field '{name}' is {asked!r}, but this deployment serves an exported .pt2 "
                    f"with the fixed budget flow_steps={fixed.flow_steps}, "
                    f"num_particles={fixed.num_particles} (serve the checkpoint for other budgets)"
                )
        return fixed

    def act(
        self, obs: torch.Tensor, budget: Budget, noise: torch.Tensor, uniform: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            actions = self.program(obs.to(self.device), noise.to(self.device), uniform.to(self.device))
        return actions, torch.full((obs.shape[0],), budget.flow_steps)

    def describe(self) -> dict[str, Any]:
        budget = vars(self.default_budget)
        return {
            "source": self.source,
            "kind": "exported",
            "observation_shape": [self.observation_dim],
            "action_shape": [self.action_dim],
            "action_low": self.metadata["action_low"],
            "action_high": self.metadata["action_high"],
            "default_budget": budget,
            "limits": {"max_flow_steps": budget["flow_steps"], "max_particles": budget["num_particles"]},
            "artifact": self.metadata,
        }


def load_served_policy(path: str | Path, *, device: str = "cpu", **budget: Any) -> ServedPolicy:
    """A ``.pt2`` file, else a run dir / checkpoint / module dir (loading runs its pickles).

    ``budget``: the default ``flow_steps`` and ``num_particles`` and the limits
    ``max_flow_steps`` and ``max_particles`` (None: the checkpoint's); a ``.pt2`` takes none.
    """
    if Path(path).suffix == ARTIFACT_SUFFIX:
        given = sorted(name for name, value in budget.items() if value is not None)
        if given:
            raise ValueError(
                f"{path}: an exported .pt2 acts at its one exported budget; {', '.join(given)} "
                "can be set only when serving a checkpoint"
            )
        return ArtifactPolicy(path, device=device)
    return ModulePolicy(path, device=device, **budget)


def order(policy: ServedPolicy, request: ActRequest) -> Order:
    """Resolve a request's budget (refused above the limits) and seed (fresh when unseeded)."""
    budget = policy.budget(request.flow_steps, request.num_particles)
    return Order(request, budget, fresh_seed() if request.seed is None else request.seed)


def acting_groups(policy: ServedPolicy, orders: list[Order]) -> list[list[int]]:
    """Which orders act in one call: those with the same budget, or each alone where the policy
    couples the states of a call (then a request's answer is the Python call on its states)."""
    if policy.couples_states:
        return [[i] for i in range(len(orders))]
    budgets = dict.fromkeys(o.budget for o in orders)
    return [[i for i, o in enumerate(orders) if o.budget == budget] for budget in budgets]


def act_orders(policy: ServedPolicy, orders: list[Order]) -> list[dict[str, Any]]:
    """Answer a batch, one acting call per :func:`acting_groups` group (its states stacked);
    each answer in its request's own form."""
    answers: list[dict[str, Any]] = [{} for _ in orders]
    for members in acting_groups(policy, orders):
        budget = orders[members[0]].budget
        sizes = [len(orders[i].request.observations) for i in members]
        draws = [
            request_draws(orders[i].seed, size, budget.num_particles, policy.action_dim)
            for i, size in zip(members, sizes)
        ]
        obs = torch.as_tensor(np.concatenate([orders[i].request.observations for i in members]))
        actions, steps = policy.act(
            obs, budget, torch.cat([n for n, _ in draws]), torch.cat([u for _, u in draws])
        )
        actions, steps = actions.cpu().numpy(), steps.cpu().numpy()
        ends = np.cumsum(sizes)
        for i, start, end in zip(members, ends - sizes, ends):
            answers[i] = answer(orders[i], actions[start:end], steps[start:end], len(members))
    return answers


def answer(order: Order, actions: np.ndarray, steps: np.ndarray, batched: int) -> dict[str, Any]:
    """The response body: actions and steps flat for a flat request, else one row per state."""
    single = order.request.single
    actions_out, steps_out = actions.tolist(), [int(s) for s in steps]
    return {
        "actions": actions_out[0] if single else actions_out,
        "steps_taken": steps_out[0] if single else steps_out,
        "flow_steps": order.budget.flow_steps,
        "num_particles": order.budget.num_particles,
        "seed": order.seed,
        "batched_requests": batched,
    }
