"""Offline-to-online bookkeeping: online reward handling and the update schedule.

See docs/algorithm.md, "Offline-to-online fine-tuning".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

#: ``reward_transform`` values the data layer records in dataset metadata (docs/data.md)
RECORDED_REWARD_TRANSFORMS = ("none", "locomotion", "antmaze")


def online_rewards(rewards: np.ndarray, metadata: Mapping[str, Any]) -> np.ndarray:
    """Env rewards transformed as the offline data's were (docs/algorithm.md, "Data").

    The dataset's metadata records the transform: ``antmaze`` is r - 1, ``locomotion`` is
    r * ``reward_scale`` (the offline data's scale, fixed), none recorded leaves r unchanged.
    """
    transform = metadata.get("reward_transform", "none")
    if transform not in RECORDED_REWARD_TRANSFORMS:
        raise ValueError(
            f"dataset metadata reward_transform must be one of {list(RECORDED_REWARD_TRANSFORMS)}, "
            f"got {transform!r}"
        )
    rewards = np.asarray(rewards, dtype=np.float32)
    if transform == "antmaze":
        return rewards - np.float32(1.0)
    if transform == "locomotion":
        return rewards * np.float32(metadata["reward_scale"])
    return rewards


def updates_due(online_steps: int, *, warmup_steps: int, updates_per_env_step: float) -> int:
    """Gradient updates owed after ``online_steps`` collected env steps: none during the first
    ``warmup_steps``, then ``updates_per_env_step`` per step (rounded down, cumulatively)."""
    return math.floor(updates_per_env_step * max(0, online_steps - warmup_steps) + 1e-9)
