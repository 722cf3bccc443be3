"""The in-memory offline dataset every loader produces (docs/algorithm.md, "Data").

One :class:`OfflineDataset` holds flat transition arrays. ``masks`` says where to bootstrap
(0 only where the task is complete); ``terminals`` marks trajectory ends and is
informational only (it never stops bootstrapping). Actions live in [-1, 1].

Input files follow D4RL and d3rlpy (docs/data.md, "Own data: which rows stop bootstrapping"):
given without ``masks``, ``terminals`` are true terminations (``masks = 1 - terminals``), and
``timeouts`` / ``truncations`` mark trajectory ends at a time limit, which still bootstrap.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from vgf_rllib.logs import warn

REQUIRED_FIELDS = ("observations", "actions", "rewards", "next_observations")
FLAG_FIELDS = ("masks", "terminals")
#: time-limit ends (D4RL's and d3rlpy's ``timeouts``, Minari's ``truncations``): they end a
#: trajectory but still bootstrap
TIME_LIMIT_FIELDS = ("timeouts", "truncations")
#: fields holding continuous vectors: integer, boolean or object dtypes are refused there
VECTOR_FIELDS = ("observations", "next_observations", "actions")
ACTION_CLIP = 1.0 - 1e-5  # actions are clipped to [-1 + 1e-5, 1 - 1e-5] (docs/algorithm.md, "Data")
MIN_OBSERVATION_STD = 1e-3


class DatasetError(ValueError):
    """A dataset failed validation; the message names the source, the field and the problem."""


def require_package(module: str, needed_for: str, pip_spec: str) -> ModuleType:
    """Import the optional package ``module``, or fail naming what needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise DatasetError(
            f"{needed_for}: needs the '{module}' package; install it with `pip install {pip_spec}` "
            "(or `pip install vgf-rllib[benchmarks]`)"
        ) from error


@dataclass(frozen=True)
class OfflineDataset:
    """Flat transitions as float32 arrays, validated on construction through :func:`from_arrays`."""

    observations: np.ndarray  # (T, obs_dim)
    actions: np.ndarray  # (T, act_dim), in [-1, 1]
    rewards: np.ndarray  # (T,)
    next_observations: np.ndarray  # (T, obs_dim)
    masks: np.ndarray  # (T,) 1.0 = bootstrap from s', 0.0 = task complete
    terminals: np.ndarray  # (T,) 1.0 = last transition of a trajectory
    source: str = "<arrays>"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.observations.shape[0])

    @property
    def observation_dim(self) -> int:
        return int(self.observations.shape[1])

    @property
    def action_dim(self) -> int:
        return int(self.actions.shape[1])

    def fingerprint(self) -> str:
        """A content hash of the transition arrays: runs record it, and resuming a run on
        other data is refused (docs/runs.md)."""
        digest = hashlib.sha256()
        for name, array in self.as_dict().items():
            digest.update(name.encode())
            digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))
        return digest.hexdigest()[:16]

    def as_dict(self) -> dict[str, np.ndarray]:
        """The six transition arrays by name (what the learner copies to its device)."""
        return {
            "observations": self.observations,
            "actions": self.actions,
            "rewards": self.rewards,
            "next_observations": self.next_observations,
            "masks": self.masks,
            "terminals": self.terminals,
        }


def _as_numeric_array(source: str, name: str, value: Any) -> np.ndarray:
    """``value`` as an array; vectors must be floating point, scalars may be int or bool."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:  # ragged nested lists
        raise DatasetError(
            f"{source}: field '{name}' is not a rectangular array ({error})"
        ) from error
    floating = np.issubdtype(array.dtype, np.floating)
    if name in VECTOR_FIELDS and not floating:
        raise DatasetError(
            f"{source}: field '{name}' has dtype {array.dtype}; a floating-point array is needed "
            "(integer or object data usually means a wrong column or pixel observations, which "
            "this project does not support; convert explicitly with .astype(np.float32) if meant)"
        )
    if not (floating or np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_):
        raise DatasetError(
            f"{source}: field '{name}' has dtype {array.dtype}; a numeric array is needed"
        )
    return array


def _check_finite(source: str, name: str, array: np.ndarray) -> None:
    """Refuse NaN, inf and values that overflow float32 (they would become inf on the device)."""
    if not np.issubdtype(array.dtype, np.floating):
        return
    limit = np.finfo(np.float32).max
    bad_mask = ~np.isfinite(array) | (np.abs(array) > limit)
    if bad_mask.any():
        bad = np.argwhere(bad_mask)[0]
        value = array[tuple(bad)]
        problem = "holds NaN or inf" if not np.isfinite(value) else "exceeds float32's range (+-3.4e38)"
        raise DatasetError(
            f"{source}: field '{name}' {problem} (first at row {int(bad[0])}, "
            f"index {tuple(int(i) for i in bad)}, value {value})"
        )


def _check_shapes(source: str, raw: dict[str, np.ndarray]) -> int:
    """Check one row per transition, 2-D vectors and 1-D scalars; returns the row count."""
    length = raw["observations"].shape[0] if raw["observations"].ndim else 0
    if length == 0:
        raise DatasetError(f"{source}: the dataset is empty (0 transitions)")
    for name, array in raw.items():
        if array.ndim == 0 or array.shape[0] != length:
            raise DatasetError(
                f"{source}: field '{name}' has shape {array.shape}, but 'observations' has "
                f"{length} rows; every field needs one row per transition"
            )
    for name in VECTOR_FIELDS:
        if raw[name].ndim != 2:
            raise DatasetError(
                f"{source}: field '{name}' must be 2-D (transitions, dim); got shape "
                f"{raw[name].shape}"
            )
    for name in ("rewards", *FLAG_FIELDS, *TIME_LIMIT_FIELDS):
        if name in raw:
            if raw[name].size != length:
                raise DatasetError(
                    f"{source}: field '{name}' must be 1-D (one scalar per transition); "
                    f"got shape {raw[name].shape}"
                )
            raw[name] = raw[name].reshape(length)
    if raw["next_observations"].shape[1] != raw["observations"].shape[1]:
        raise DatasetError(
            f"{source}: 'next_observations' has dim {raw['next_observations'].shape[1]} but "
            f"'observations' has dim {raw['observations'].shape[1]}"
        )
    return length


def from_arrays(
    arrays: Mapping[str, Any],
    *,
    source: str = "<arrays>",
    metadata: dict[str, Any] | None = None,
) -> OfflineDataset:
    """Validate raw transition arrays and build an :class:`OfflineDataset`.

    Accepts ``observations, actions, rewards, next_observations`` plus ``masks`` and/or
    ``terminals``, and optionally ``timeouts`` or ``truncations`` (time-limit ends). Without
    ``masks``, ``masks = 1 - terminals`` (D4RL convention: a terminal transition is a true
    episode end); with no time-limit field beside such ``terminals`` a warning says so, once
    per source. The dataset's ``terminals`` are every trajectory end: the given ``terminals``
    (else ``1 - masks``) or a time-limit end. Actions must already lie in [-1, 1]; they are then
    clipped to [-1 + 1e-5, 1 - 1e-5] (docs/algorithm.md, "Data"). Observations and actions
    must be floating point. Every problem raises :class:`DatasetError` naming ``source``, the
    field and (where there is one) the first bad row; nothing is modified on failure.
    """
    missing = [name for name in REQUIRED_FIELDS if name not in arrays]
    if not any(name in arrays for name in FLAG_FIELDS):
        missing.append("masks or terminals")
    if missing:
        raise DatasetError(
            f"{source}: missing field(s) {missing}; present: {sorted(arrays.keys())}"
        )
    raw = {
        name: _as_numeric_array(source, name, arrays[name])
        for name in (*REQUIRED_FIELDS, *FLAG_FIELDS, *TIME_LIMIT_FIELDS)
        if name in arrays
    }
    _check_shapes(source, raw)
    for name, array in raw.items():
        _check_finite(source, name, array)
    actions = raw["actions"]
    outside = np.abs(actions) > 1.0
    if outside.any():
        row, col = (int(i) for i in np.argwhere(outside)[0])
        raise DatasetError(
            f"{source}: field 'actions' has {int(outside.sum())} value(s) outside [-1, 1] "
            f"(first at row {row}, dim {col}: {actions[row, col]}); rescale them from the "
            "env's action bounds (CLI: --set rescale_actions=true with --env, or "
            "--rescale-actions for data check; Python: offline_dataset(rescale_actions=True)) "
            "or normalize them first"
        )
    for name in (*FLAG_FIELDS, *TIME_LIMIT_FIELDS):
        if name in raw and not np.isin(raw[name], (0, 1)).all():
            row = int(np.argwhere(~np.isin(raw[name], (0, 1)))[0, 0])
            raise DatasetError(
                f"{source}: field '{name}' must hold only 0 and 1; row {row} is {raw[name][row]}"
            )
    terminals = raw.get("terminals")
    masks = raw.get("masks")
    time_limits = [raw[name] for name in TIME_LIMIT_FIELDS if name in raw]
    if masks is None:
        masks = 1.0 - terminals
        if not time_limits and terminals.any():
            warn_once(source, (
                f"{source}: 'terminals' without 'masks' or 'timeouts'/'truncations': each of its "
                f"{int(terminals.sum())} trajectory ends is taken as a true termination that stops "
                "bootstrapping (masks = 1 - terminals, as D4RL); if some are time limits, mark "
                "them in 'timeouts' (docs/data.md)"
            ))
    if terminals is None:
        terminals = 1.0 - masks
    terminals = np.logical_or.reduce([terminals != 0, *(t != 0 for t in time_limits)])
    as32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    return OfflineDataset(
        observations=as32(raw["observations"]),
        actions=as32(np.clip(actions, -ACTION_CLIP, ACTION_CLIP)),
        rewards=as32(raw["rewards"]),
        next_observations=as32(raw["next_observations"]),
        masks=as32(masks),
        terminals=as32(terminals),
        source=source,
        metadata=dict(metadata or {}),
    )


_WARNED_SOURCES: set[str] = set()


def warn_once(source: str, message: str) -> None:
    """Print ``message`` as a warning unless one was printed for ``source`` already (a dataset
    is loaded more than once per run: by the algorithm and by ``data check``'s own checks)."""
    if source not in _WARNED_SOURCES:
        _WARNED_SOURCES.add(source)
        warn(message)


def every_end_stops_bootstrapping(dataset: OfflineDataset) -> bool:
    """True when the dataset has trajectory ends and every one of them has mask 0: right if
    every episode really terminated, a trap if some were cut by a time limit."""
    ends = dataset.terminals != 0
    return bool(ends.any() and (dataset.masks[ends] == 0).all())


def observation_statistics(dataset: OfflineDataset) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std of the dataset's observations (float32, std >= 1e-3).

    Used for optional observation normalization; the statistics travel with the checkpoint so
    acting applies the same transform (docs/algorithm.md, "Data").
    """
    observations = dataset.observations.astype(np.float64)
    mean = observations.mean(axis=0)
    std = np.maximum(observations.std(axis=0), MIN_OBSERVATION_STD)
    return mean.astype(np.float32), std.astype(np.float32)
