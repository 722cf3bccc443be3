"""A built-in demo task where the best actions lie beside the data's main mode.

``OffsetBandit-v0`` is a one-step contextual bandit: s ~ U[-1, 1]^3, reward
1 - 2 ||a - a*(s)||^2 with a*(s) = m(s) + offset. The behavior data puts 80% of its mass in a
narrow mode around m(s) and 20% uniformly over [-1, 1]^2, so

- behavior cloning (one flow sample) lands near m(s) and misses the optimum by ``offset``,
- best-of-N finds the occasional sample nearer a*(s),
- VGF's transport moves every particle toward a*(s) (particles may leave the support of mu's
  main mode, as far as L and eps let them: docs/algorithm.md, opening paragraph and
  "Transport").

Gym id: ``vgf_rllib.demo:OffsetBandit-v0``; dataset spec: ``demo:offset-bandit``.
"""

from __future__ import annotations

import re
from typing import Any

import gymnasium as gym
import numpy as np

from vgf_rllib import demo_chain
from vgf_rllib.data.dataset import DatasetError, OfflineDataset, from_arrays
from vgf_rllib.data.sources import DataSource, register

ENV_ID = "OffsetBandit-v0"
ENV_SPEC = f"vgf_rllib.demo:{ENV_ID}"
DATASET_SPEC = "demo:offset-bandit"
OBS_DIM, ACTION_DIM = 3, 2
OFFSET = np.array([0.3, -0.3], dtype=np.float32)
MODE_STD, UNIFORM_FRACTION = 0.1, 0.2
_MODE_WEIGHTS = np.array([[0.9, -0.5, 0.3], [0.2, 0.8, -0.7]], dtype=np.float32)


def behavior_mode(obs: np.ndarray) -> np.ndarray:
    """m(s) = 0.5 tanh(W s): the center of the data's main mode."""
    return 0.5 * np.tanh(obs @ _MODE_WEIGHTS.T)


def best_action(obs: np.ndarray) -> np.ndarray:
    """a*(s) = m(s) + offset: the reward's maximizer."""
    return behavior_mode(obs) + OFFSET


def reward(obs: np.ndarray, action: np.ndarray) -> np.ndarray:
    """1 - 2 ||a - a*(s)||^2 (1 at the optimum)."""
    return 1.0 - 2.0 * np.square(action - best_action(obs)).sum(-1)


class OffsetBanditEnv(gym.Env):
    """One-step episodes: observe s, act once, receive the reward, terminate."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (OBS_DIM,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        self._obs = np.zeros(OBS_DIM, np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._obs = self.np_random.uniform(-1.0, 1.0, OBS_DIM).astype(np.float32)
        return self._obs.copy(), {}

    def step(self, action: np.ndarray):
        value = float(reward(self._obs, np.asarray(action, np.float32)))
        return self._obs.copy(), value, True, False, {}


def make_demo_arrays(num_transitions: int = 20_000, seed: int = 0) -> dict[str, np.ndarray]:
    """Behavior data: 80% N(m(s), 0.1^2) clipped to [-1, 1], 20% uniform on [-1, 1]^2."""
    rng = np.random.default_rng(seed)
    obs = rng.uniform(-1.0, 1.0, (num_transitions, OBS_DIM)).astype(np.float32)
    near_mode = behavior_mode(obs) + MODE_STD * rng.standard_normal((num_transitions, ACTION_DIM))
    uniform = rng.uniform(-1.0, 1.0, (num_transitions, ACTION_DIM))
    pick_uniform = rng.random(num_transitions)[:, None] < UNIFORM_FRACTION
    actions = np.clip(np.where(pick_uniform, uniform, near_mode), -1.0, 1.0).astype(np.float32)
    return {
        "observations": obs,
        "actions": actions,
        "rewards": reward(obs, actions).astype(np.float32),
        "next_observations": obs.copy(),
        "masks": np.zeros(num_transitions, np.float32),
        "terminals": np.ones(num_transitions, np.float32),
    }


#: demo dataset name -> (its evaluation env, arrays factory taking a size, default size)
DEMO_TASKS: dict[str, tuple[str, Any, int]] = {
    "offset-bandit": (ENV_SPEC, make_demo_arrays, 20_000),
    demo_chain.DATASET_NAME: (demo_chain.ENV_SPEC, demo_chain.make_chain_arrays, 5_000),
}


def _parse_demo_name(name: str) -> tuple[str, int] | None:
    """``<task>[-<size>]`` -> (task, size), or None if ``name`` names no demo task."""
    match = re.fullmatch(r"([a-z-]+?)(?:-(\d+))?", name)
    if match is None or match.group(1) not in DEMO_TASKS:
        return None
    task = match.group(1)
    return task, int(match.group(2) or DEMO_TASKS[task][2])


def demo_env_spec(dataset_spec: str) -> str | None:
    """The evaluation env of a ``demo:...`` dataset spec, or None if it names no demo task."""
    prefix, _, name = dataset_spec.partition(":")
    parsed = _parse_demo_name(name) if prefix == "demo" else None
    return None if parsed is None else DEMO_TASKS[parsed[0]][0]


def load_demo_dataset(name: str, **options: Any) -> OfflineDataset:
    """Loader for ``demo:offset-bandit[-N]`` (N transitions, default 20000) and
    ``demo:delayed-chain[-E]`` (E episodes of :mod:`vgf_rllib.demo_chain`, default 5000)."""
    parsed = _parse_demo_name(name)
    if parsed is None:
        raise DatasetError(
            f"unknown demo dataset 'demo:{name}'; available: '{DATASET_SPEC}[-<transitions>]', "
            f"'demo:{demo_chain.DATASET_NAME}[-<episodes>]'"
        )
    task, size = parsed
    env_spec, make_arrays, _ = DEMO_TASKS[task]
    return from_arrays(make_arrays(size), source=f"demo:{name}", metadata={"env_spec": env_spec})


gym.register(id=ENV_ID, entry_point=OffsetBanditEnv, max_episode_steps=1)
register(
    DataSource(
        prefix="demo",
        load=load_demo_dataset,
        eval_env=lambda name: demo_env_spec(f"demo:{name}"),
        how_to_get=lambda name, dataset_dir=None: "built in (generated in memory)",
    )
)
