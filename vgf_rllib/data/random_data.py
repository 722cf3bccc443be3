"""Datasets of uniformly random actions in a gymnasium env: ``random:<gym id>[-<episodes>]``.

The behavior is the env's own action space sampled uniformly (as D4RL's ``*-random`` and
d3rlpy's ``get_pendulum("random")`` datasets), so behavior cloning acts at random and any gain
over it is the critic's. Generation is seeded (actions and resets), a few seconds for 100
Pendulum episodes, and happens in memory at every load. ``random:Pendulum-v1`` is the README's
main job. Masks are 0 only on true termination; time-limit truncation keeps mask 1 and marks
the trajectory end in ``terminals``. See docs/data.md, "Random-action datasets".
"""

from __future__ import annotations

import re
from typing import Any

import gymnasium as gym
import numpy as np

from vgf_rllib.data.dataset import DatasetError, OfflineDataset, from_arrays
from vgf_rllib.data.sources import DataSource, register
from vgf_rllib.data.spaces import has_finite_bounds, unsquash_actions

PREFIX = "random"
DEFAULT_EPISODES = 100
_NAME = re.compile(r"(?P<env_id>.+?-v\d+)(?:-(?P<episodes>\d+))?")


def parse_name(name: str) -> tuple[str, int]:
    """``<gym id>[-<episodes>]`` -> (gym id, episodes); a DatasetError names a bad spec."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise DatasetError(
            f"'{PREFIX}:{name}' is not '{PREFIX}:<gymnasium id ending in -vN>[-<episodes>]', "
            f"e.g. '{PREFIX}:Pendulum-v1' or '{PREFIX}:Pendulum-v1-200'"
        )
    episodes = int(match.group("episodes") or DEFAULT_EPISODES)
    if episodes < 1:
        raise DatasetError(f"'{PREFIX}:{name}': the episode count must be at least 1, got 0")
    return match.group("env_id"), episodes


def make_random_arrays(env_id: str, episodes: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``episodes`` episodes of uniform actions in [-1, 1] (stored), unsquashed to the env's Box."""
    env = gym.make(env_id)
    space = env.action_space
    if not isinstance(space, gym.spaces.Box) or not has_finite_bounds(space):
        raise DatasetError(
            f"'{PREFIX}:{env_id}': the action space {space!r} is not a bounded Box; VGF needs "
            "continuous bounded actions"
        )
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {key: [] for key in ("observations", "actions", "rewards",
                                                  "next_observations", "masks", "terminals")}
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            action = rng.uniform(-1.0, 1.0, space.shape).astype(np.float32)
            next_obs, reward, terminated, truncated, _ = env.step(unsquash_actions(action, space))
            done = terminated or truncated
            for key, value in (("observations", obs), ("actions", action), ("rewards", reward),
                               ("next_observations", next_obs), ("masks", not terminated),
                               ("terminals", done)):
                rows[key].append(value)
            obs = next_obs
    env.close()
    return {key: np.asarray(values, np.float32) for key, values in rows.items()}


def load_random_dataset(name: str, *, rescale_actions: bool = False, **_: Any) -> OfflineDataset:
    """Loader of ``random:<gym id>[-<episodes>]`` (default 100 episodes, seed 0); the common
    loader options (``dataset_dir``, ``action_space``) do not apply."""
    if rescale_actions:
        raise DatasetError(
            f"'{PREFIX}:{name}': rescale_actions=True does not apply, its actions are generated "
            "in [-1, 1]"
        )
    env_id, episodes = parse_name(name)
    try:
        arrays = make_random_arrays(env_id, episodes)
    except gym.error.Error as error:
        raise DatasetError(f"'{PREFIX}:{name}': cannot make gymnasium env '{env_id}' ({error})") from error
    return from_arrays(arrays, source=f"{PREFIX}:{name}", metadata={"env_spec": env_id})


register(
    DataSource(
        prefix=PREFIX,
        load=load_random_dataset,
        eval_env=lambda name: parse_name(name)[0],
        how_to_get=lambda name, dataset_dir=None: "built in (generated in memory)",
    )
)
