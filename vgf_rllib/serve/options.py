"""Deployment-wide settings of a served policy, checked before anything starts."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import yaml

from vgf_rllib.serve.requests import AUTO

#: options that are text (the others are numbers, or "auto")
TEXT_FIELDS = ("checkpoint", "device")


@dataclass(frozen=True)
class ServeOptions:
    """What to serve and how (docs/serving.md).

    ``checkpoint``: a run dir, algorithm checkpoint, module dir or exported ``.pt2``.
    ``flow_steps``/``num_particles``: the default budget of requests that name none (None: the
    checkpoint's); ``max_flow_steps``/``max_particles``: the largest budget a request may ask for
    (None: the module's ``max_test_flow_steps`` and 4 x the trained N, at least the default
    budget). A ``.pt2`` serves its
    exported budget only. ``threads``: torch intra-op threads per replica; ``num_cpus``: CPUs
    Ray reserves per replica (None: ``threads``). ``max_batch_size``: most requests acted on
    together; ``batch_wait_ms``: how long a batch waits to fill; ``max_observations``: most
    states in one request.
    """

    checkpoint: str
    replicas: int = 1
    device: str = "cpu"
    threads: int = 1
    num_cpus: float | None = None
    max_batch_size: int = 32
    batch_wait_ms: float = 2.0
    max_observations: int = 256
    flow_steps: int | str | None = None
    num_particles: int | None = None
    max_flow_steps: int | None = None
    max_particles: int | None = None

    def __post_init__(self) -> None:
        for name in ("replicas", "threads", "max_batch_size", "max_observations"):
            _check_int(name, getattr(self, name), minimum=1)
        _check_int("num_particles", self.num_particles, minimum=1, optional=True)
        _check_int("max_particles", self.max_particles, minimum=1, optional=True)
        _check_int("max_flow_steps", self.max_flow_steps, minimum=0, optional=True)
        if self.flow_steps != AUTO:
            _check_int("flow_steps", self.flow_steps, minimum=0, optional=True)
        for name in ("batch_wait_ms", "num_cpus"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")

    @classmethod
    def from_dict(cls, args: dict[str, Any]) -> ServeOptions:
        """Options from a ``serve run``/``serve deploy`` config's ``args`` (unknown keys
        refused); the strings of ``serve run ... key=value`` are read as YAML values."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(args) - set(names))
        if unknown:
            raise ValueError(f"unknown serving option {unknown[0]!r}; the options are {', '.join(names)}")
        return cls(**{
            name: yaml.safe_load(value) if isinstance(value, str) and name not in TEXT_FIELDS else value
            for name, value in args.items()
        })

    def budget_options(self) -> dict[str, Any]:
        """The default budget and limits, as :func:`~vgf_rllib.serve.acting.load_served_policy` takes them."""
        return {
            "flow_steps": self.flow_steps,
            "num_particles": self.num_particles,
            "max_flow_steps": self.max_flow_steps,
            "max_particles": self.max_particles,
        }

    def describe(self) -> dict[str, Any]:
        """Everything but the budget fields (``/info`` shows the resolved ones)."""
        budget = self.budget_options()
        return {k: v for k, v in asdict(self).items() if k not in budget}


def _check_int(name: str, value: Any, *, minimum: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
