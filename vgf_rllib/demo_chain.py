"""A built-in multi-step demo task whose only reward comes at the end: VGF must bootstrap.

``DelayedChain-v0``: a point in the plane starts uniformly in [-0.5, 0.5]^2 and moves by
``STEP * a`` for ``HORIZON`` steps (a in [-1, 1]^2). Only the last step is rewarded, with
1 - ||p_H - goal||^2, and ends the episode (mask 0 there, 1 everywhere before). The goal lies
up to ``HORIZON * STEP`` per coordinate from the start, so every step must head for it: the
last action alone moves the point by at most ``STEP``. Observation: (x, y, steps left / H).

The behavior data puts 80% of its mass around a state-dependent mode m(s) that ignores the
goal and 20% uniformly on [-1, 1]^2, so

- behavior cloning wanders and ends far from the goal,
- VGF needs correct TD targets (r + gamma * mask * Q_target at transported next-state
  particles, docs/algorithm.md "Critic target") to learn which early moves lead to the goal:
  with the reward only at the end, a learner that does not bootstrap (or whose target
  critics never move) has no signal for the first HORIZON - 1 actions.

Gym id: ``vgf_rllib.demo_chain:DelayedChain-v0``; dataset spec: ``demo:delayed-chain[-E]``
(E behavior episodes, default 5000).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

ENV_ID = "DelayedChain-v0"
ENV_SPEC = f"vgf_rllib.demo_chain:{ENV_ID}"
DATASET_NAME = "delayed-chain"
HORIZON, STEP = 4, 0.25
GOAL = np.array([0.5, -0.5], dtype=np.float32)
MODE_STD, UNIFORM_FRACTION = 0.1, 0.2
_MODE_WEIGHTS = np.array([[-0.8, 0.6, 0.5], [0.7, 0.9, -0.4]], dtype=np.float32)


def observe(position: np.ndarray, steps_left: np.ndarray) -> np.ndarray:
    """Observation rows (x, y, steps left / H)."""
    return np.concatenate([position, steps_left[..., None] / HORIZON], -1).astype(np.float32)


def final_reward(position: np.ndarray) -> np.ndarray:
    """1 - ||p - goal||^2, paid only when the episode ends."""
    return 1.0 - np.square(position - GOAL).sum(-1)


def behavior_mode(obs: np.ndarray) -> np.ndarray:
    """m(s) = 0.6 tanh(W s): where the behavior's main mode moves, blind to the goal."""
    return 0.6 * np.tanh(obs @ _MODE_WEIGHTS.T)


class DelayedChainEnv(gym.Env):
    """``HORIZON`` moves of at most ``STEP`` per coordinate; reward only after the last one."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._position = np.zeros(2, np.float32)
        self._steps_left = HORIZON

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._position = self.np_random.uniform(-0.5, 0.5, 2).astype(np.float32)
        self._steps_left = HORIZON
        return observe(self._position, np.array(self._steps_left)), {}

    def step(self, action: np.ndarray):
        move = STEP * np.clip(np.asarray(action, np.float32), -1.0, 1.0)
        self._position = (self._position + move).astype(np.float32)
        self._steps_left -= 1
        done = self._steps_left == 0
        reward = float(final_reward(self._position)) if done else 0.0
        return observe(self._position, np.array(self._steps_left)), reward, done, False, {}


def make_chain_arrays(episodes: int = 5000, seed: int = 0) -> dict[str, np.ndarray]:
    """``episodes`` behavior episodes of ``HORIZON`` steps, as flat transition arrays."""
    rng = np.random.default_rng(seed)
    position = rng.uniform(-0.5, 0.5, (episodes, 2)).astype(np.float32)
    columns: dict[str, list[np.ndarray]] = {
        name: [] for name in ("observations", "actions", "rewards", "next_observations", "masks")
    }
    for steps_left in range(HORIZON, 0, -1):
        obs = observe(position, np.full(episodes, steps_left))
        near_mode = behavior_mode(obs) + MODE_STD * rng.standard_normal((episodes, 2))
        uniform = rng.uniform(-1.0, 1.0, (episodes, 2))
        pick_uniform = rng.random(episodes)[:, None] < UNIFORM_FRACTION
        actions = np.clip(np.where(pick_uniform, uniform, near_mode), -1.0, 1.0)
        position = (position + STEP * actions).astype(np.float32)
        last = steps_left == 1
        columns["observations"].append(obs)
        columns["actions"].append(actions.astype(np.float32))
        columns["rewards"].append(
            final_reward(position).astype(np.float32) if last else np.zeros(episodes, np.float32)
        )
        columns["next_observations"].append(observe(position, np.full(episodes, steps_left - 1)))
        columns["masks"].append(np.full(episodes, 0.0 if last else 1.0, np.float32))
    arrays = {name: np.concatenate(parts) for name, parts in columns.items()}
    arrays["terminals"] = 1.0 - arrays["masks"]
    return arrays


gym.register(id=ENV_ID, entry_point=DelayedChainEnv, max_episode_steps=HORIZON)
