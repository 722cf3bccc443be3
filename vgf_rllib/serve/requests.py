"""The ``POST /act`` request body: parsing and validation, each refusal naming the field and value.

Body: ``{"observations": [[...], ...] or [...], "flow_steps": int | "auto", "num_particles": int,
"seed": int}``; only ``observations`` is required. Whether a budget is within the deployment's
limits is decided by the served policy (:mod:`vgf_rllib.serve.acting`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

AUTO = "auto"
FIELDS = ("observations", "flow_steps", "num_particles", "seed")
#: seeds are torch.Generator seeds: 0 <= seed < 2**63
MAX_SEED = 2**63 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: how much of a refused value an error message shows
SHOWN_CHARS = 60


class RequestError(ValueError):
    """A request the server refuses; ``status`` is the HTTP status code (4xx)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ActRequest:
    """A validated request: ``observations`` ``(B, obs_dim)`` float32; ``single`` when one flat
    state was sent (the answer is then flat too); unset budget fields are None."""

    observations: np.ndarray
    single: bool
    flow_steps: int | str | None
    num_particles: int | None
    seed: int | None


def shown(value: Any) -> str:
    """``value`` as JSON, cut to :data:`SHOWN_CHARS` characters, for error messages."""
    text = json.dumps(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; NaN and Infinity literals are kept (refused by the fields)."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(f"the request body is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise RequestError(f"the request body must be a JSON object, got {shown(payload)}")
    return payload


def parse_observations(value: Any, observation_dim: int, max_observations: int) -> tuple[np.ndarray, bool]:
    """``(B, obs_dim)`` float32 from one flat state or a list of states; whether it was one."""
    if not isinstance(value, list) or not value:
        raise RequestError(
            f"field 'observations' must be a non-empty list of states (or one state), got {shown(value)}"
        )
    single = not isinstance(value[0], list)
    rows = [value] if single else value
    if len(rows) > max_observations:
        raise RequestError(
            f"field 'observations' has {len(rows)} states, more than this deployment's "
            f"max_observations={max_observations}; split the request",
            status=413,
        )
    for i, row in enumerate(rows):
        where = "observations" if single else f"observations[{i}]"
        if not isinstance(row, list) or len(row) != observation_dim:
            raise RequestError(
                f"field '{where}' must be a list of {observation_dim} numbers (the observation "
                f"dim), got {shown(row)}"
            )
        for j, number in enumerate(row):
            if not isinstance(number, (int, float)) or isinstance(number, bool):
                raise RequestError(f"field '{where}[{j}]' must be a number, got {shown(number)}")
            if isinstance(number, float) and not math.isfinite(number):
                raise RequestError(f"field '{where}[{j}]' must be finite, got {number}")
            if abs(number) > FLOAT32_MAX:
                raise RequestError(f"field '{where}[{j}]' is beyond float32's range, got {shown(number)}")
    return np.asarray(rows, dtype=np.float32), single


def parse_flow_steps(value: Any) -> int | str | None:
    if value is None or value == AUTO or (is_int(value) and value >= 0):
        return value
    raise RequestError(f"field 'flow_steps' must be an int >= 0 or '{AUTO}', got {shown(value)}")


def parse_positive_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int | None:
    if value is None or (is_int(value) and value >= minimum and (maximum is None or value <= maximum)):
        return value
    upper = "" if maximum is None else f" and <= {maximum}"
    raise RequestError(f"field '{name}' must be an int >= {minimum}{upper}, got {shown(value)}")


def parse_act_request(body: bytes, observation_dim: int, max_observations: int) -> ActRequest:
    """Validate a ``POST /act`` body; :class:`RequestError` names the first bad field."""
    payload = parse_json_object(body)
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise RequestError(f"unknown field {shown(unknown[0])}; the fields are {', '.join(FIELDS)}")
    if "observations" not in payload:
        raise RequestError("field 'observations' is missing")
    observations, single = parse_observations(payload["observations"], observation_dim, max_observations)
    return ActRequest(
        observations=observations,
        single=single,
        flow_steps=parse_flow_steps(payload.get("flow_steps")),
        num_particles=parse_positive_int("num_particles", payload.get("num_particles"), 1),
        seed=parse_positive_int("seed", payload.get("seed"), 0, MAX_SEED),
    )
