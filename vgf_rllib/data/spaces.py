"""Datasets against an environment's spaces: dimension checks and action rescaling both ways
(env bounds -> [-1, 1] for data, [-1, 1] -> env bounds for acting).

See docs/algorithm.md, "Data".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vgf_rllib.data.dataset import DatasetError, OfflineDataset


def _box_bounds(space: Any, source: str) -> tuple[np.ndarray, np.ndarray]:
    low, high = getattr(space, "low", None), getattr(space, "high", None)
    if low is None or high is None or getattr(space, "shape", None) is None:
        raise DatasetError(
            f"{source}: the action space {space!r} is not a continuous Box; VGF needs "
            "continuous actions"
        )
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def check_against_spaces(
    dataset: OfflineDataset, observation_space: Any, action_space: Any
) -> None:
    """Raise :class:`DatasetError` when the dataset's dims do not fit the env's spaces.

    Observations must match a flat Box observation space; actions a flat Box action space
    (the dataset's actions are already normalized to [-1, 1], so bounds are not compared).
    """
    source = dataset.source
    obs_shape = getattr(observation_space, "shape", None)
    if obs_shape is None or len(obs_shape) != 1:
        raise DatasetError(
            f"{source}: the env's observation space {observation_space!r} is not a flat vector "
            "Box; only flat state observations are supported"
        )
    if obs_shape[0] != dataset.observation_dim:
        raise DatasetError(
            f"{source}: field 'observations' has dim {dataset.observation_dim}, but the env's "
            f"observation space has shape {tuple(obs_shape)}"
        )
    low, _ = _box_bounds(action_space, source)
    if low.ndim != 1 or low.shape[0] != dataset.action_dim:
        raise DatasetError(
            f"{source}: field 'actions' has dim {dataset.action_dim}, but the env's action "
            f"space has shape {tuple(low.shape)}"
        )


def rescale_actions(actions: np.ndarray, action_space: Any, source: str) -> np.ndarray:
    """Map actions from the env's Box bounds ``[low, high]`` affinely onto [-1, 1].

    Values outside the bounds stay outside [-1, 1], so validation still reports them.
    See docs/algorithm.md, "Data".
    """
    low, high = _box_bounds(action_space, source)
    actions = np.asarray(actions)
    if not np.issubdtype(actions.dtype, np.floating):
        return actions  # left for from_arrays to refuse with its dtype message
    if actions.ndim != 2 or actions.shape[1:] != low.shape:
        raise DatasetError(
            f"{source}: field 'actions' has shape {actions.shape}, but the action space to "
            f"rescale from has shape {low.shape}"
        )
    if not (np.isfinite(low).all() and np.isfinite(high).all()) or (high <= low).any():
        raise DatasetError(
            f"{source}: cannot rescale actions from unbounded or empty bounds "
            f"low={low.tolist()}, high={high.tolist()}"
        )
    return (2.0 * (actions - low) / (high - low) - 1.0).astype(np.float32)


def unsquash_actions(actions: np.ndarray, space: Any) -> np.ndarray:
    """Map actions from [-1, 1] to the Box's bounds (what RLlib's connector does when acting).

    Unbounded Boxes leave actions unchanged.
    """
    if not has_finite_bounds(space):
        return actions
    return scale_to_bounds(actions, space.low, space.high)


def has_finite_bounds(space: Any) -> bool:
    """Whether every action dimension has a finite low and high bound."""
    return bool(np.isfinite(space.low).all() and np.isfinite(space.high).all())


def scale_to_bounds(actions: Any, low: Any, high: Any) -> Any:
    """low + (clip(a, -1, 1) + 1) (high - low) / 2, for numpy arrays and torch tensors alike."""
    return low + (actions.clip(-1.0, 1.0) + 1.0) * 0.5 * (high - low)
