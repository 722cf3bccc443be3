"""D4RL-style datasets through Minari, from the local store only (docs/data.md).

Episodes are flattened to transitions: ``masks = 1 - terminations`` (a truncation ends the
trajectory but still bootstraps), ``terminals`` = termination or truncation. Rewards follow the
reference: locomotion ``r * 1000 / (max episode return - min episode return)``, antmaze ``r - 1``
(``reward_transform``; ``auto`` decides by dataset id). Scores are D4RL-normalized with the
dataset's ``ref_min_score`` / ``ref_max_score``.

AntMaze (``D4RL/antmaze/*``, gymnasium-robotics ``AntMaze_*`` envs) is handled as D4RL did, see
``docs/data.md``: observations are ``concat(achieved_goal, observation)`` (the torso x, y first:
D4RL's 29-dim observation), and since Minari collected these datasets with
``continuing_task=True``, ``reset_target=False`` and a new goal every episode, rewards and masks
are relabelled against the evaluation goal (the single ``"g"`` cell of the recorded evaluation
maze map): reward 1 and mask 0 where the next state's ``achieved_goal`` is within
:data:`ANTMAZE_GOAL_THRESHOLD` of it. The eval env is made non-continuing with the same, fixed
goal and reports ``info["success"]``. Anything that prevents this is refused with an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from vgf_rllib.data.dataset import DatasetError, OfflineDataset, require_package
from vgf_rllib.data.loading import build_dataset
from vgf_rllib.data.sources import DataSource, register

REWARD_TRANSFORMS = ("auto", "none", "locomotion", "antmaze")
LOCOMOTION_ENVS = ("halfcheetah", "hopper", "walker2d", "ant")  # D4RL locomotion suites
DICT_OBSERVATION_KEY = "observation"  # D4RL convention for goal-based (antmaze) datasets
LOCOMOTION_SCALE = 1000.0

# AntMaze (gymnasium-robotics 1.4.2, envs/maze/ant_maze_v4.py, ant_maze_v5.py, maze_v4.py)
#: dict-observation keys joined into D4RL's observation: torso x, y first, then the rest
ANTMAZE_OBSERVATION_KEYS = ("achieved_goal", "observation")
ANTMAZE_GOAL_KEY = "desired_goal"
#: the env's success radius: sparse reward, termination and info["success"] all test
#: ``||achieved_goal - goal|| <= 0.45`` in the code (its docs and D4RL say 0.5)
ANTMAZE_GOAL_THRESHOLD = 0.45
#: AntMazeEnv builds its maze with ``maze_size_scaling=4`` (not a constructor argument)
ANTMAZE_MAZE_SCALING = 4.0
GOAL_CELL, COMBINED_CELL = "g", "c"  # maze-map cells that can hold the goal
#: recorded env specs to take the evaluation goal from, in order of preference
GOAL_SPEC_KEYS = ("eval_env_spec", "env_spec")


def require_minari() -> ModuleType:
    """Import minari or fail with the install command."""
    return require_package("minari", "Minari datasets", '"minari[hdf5]"')


def minari_store(dataset_dir: str | os.PathLike | None = None) -> Path:
    """The Minari store: ``dataset_dir``, else ``$MINARI_DATASETS_PATH``, else the default."""
    root = dataset_dir or os.environ.get("MINARI_DATASETS_PATH") or "~/.minari/datasets"
    return Path(root).expanduser()


def _data_dir(name: str, dataset_dir: str | os.PathLike | None) -> Path:
    """The ``data`` directory (with ``metadata.json``) of a dataset id or dataset directory path."""
    path = Path(name).expanduser()
    if not path.exists() and (path.is_absolute() or name.startswith((".", "~"))):
        raise DatasetError(f"{path}: Minari dataset directory not found")
    if path.is_dir():
        data = path / "data" if (path / "data").is_dir() else path
        if not (data / "metadata.json").is_file():
            raise DatasetError(
                f"{path}: not a Minari dataset directory (no metadata.json in it or in data/)"
            )
        return data
    minari = require_minari()
    try:
        minari.dataset.minari_dataset.parse_dataset_id(name)
    except ValueError as error:
        raise DatasetError(f"minari:{name}: {error}") from error
    data = minari_store(dataset_dir) / name / "data"
    if not (data / "metadata.json").is_file():
        raise DatasetError(
            f"minari:{name}: not in the local Minari store ({minari_store(dataset_dir)}); nothing "
            f"is downloaded: run `minari download {name}` where there is internet and copy the "
            "dataset into the store (or set MINARI_DATASETS_PATH / dataset_dir), or pass the "
            "dataset's directory path"
        )
    return data


def open_minari(name: str, dataset_dir: str | os.PathLike | None = None) -> Any:
    """A ``minari.MinariDataset`` from the local store (by id) or from a dataset directory path."""
    data = _data_dir(name, dataset_dir)
    minari = require_minari()
    try:
        return minari.MinariDataset(data)
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
        raise DatasetError(
            f"minari:{name}: cannot read {data}: {type(error).__name__}: {error}"
        ) from error


def default_reward_transform(dataset_id: str) -> str:
    """``antmaze`` for antmaze ids, ``locomotion`` for the D4RL locomotion envs, else ``none``."""
    parts = dataset_id.lower().replace("-", "/").split("/")
    if any("antmaze" in part for part in parts):
        return "antmaze"
    return "locomotion" if any(part in LOCOMOTION_ENVS for part in parts) else "none"


def recorded_env_spec(metadata: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A Minari ``env_spec`` / ``eval_env_spec`` (stored as JSON text) as a dict, or None."""
    raw = metadata.get(key)
    if not raw:
        return None
    try:
        spec = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (TypeError, ValueError):
        return None
    return spec if isinstance(spec, dict) else None


def is_antmaze(dataset_id: str, metadata: dict[str, Any]) -> bool:
    """Whether a Minari dataset is AntMaze: by its id or by a recorded ``AntMaze_*`` env spec."""
    if "antmaze" in dataset_id.lower():
        return True
    specs = (recorded_env_spec(metadata, key) for key in GOAL_SPEC_KEYS)
    return any(str(spec.get("id", "")).startswith("AntMaze") for spec in specs if spec)


def maze_cell_xy(cell: tuple[int, int], maze_map: list[list[Any]], scaling: float) -> np.ndarray:
    """World x, y of the centre of maze cell ``(row, col)`` (as ``Maze.cell_rowcol_to_xy``)."""
    row, col = cell
    x = (col + 0.5) * scaling - len(maze_map[0]) / 2 * scaling
    y = len(maze_map) / 2 * scaling - (row + 0.5) * scaling
    return np.array([x, y], dtype=np.float64)


@dataclass(frozen=True)
class AntMazeTask:
    """The fixed evaluation goal an AntMaze dataset is relabelled against and evaluated on."""

    goal: tuple[float, float]  # world x, y of the goal cell's centre
    goal_cell: tuple[int, int]  # (row, col) in the maze map
    spec_key: str  # which recorded spec the maze map came from
    env_id: str
    threshold: float = ANTMAZE_GOAL_THRESHOLD

    def reached(self, achieved_goal: np.ndarray) -> np.ndarray:
        """Per row: is the torso x, y within ``threshold`` of the goal (the env's own test)."""
        distance = np.linalg.norm(np.asarray(achieved_goal, np.float64) - self.goal, axis=-1)
        return distance <= self.threshold

    def metadata(self) -> dict[str, Any]:
        return {
            "eval_goal": [float(v) for v in self.goal],
            "goal_cell": list(self.goal_cell),
            "goal_threshold": self.threshold,
            "goal_from": self.spec_key,
            "env_id": self.env_id,
            "observation": "concat(achieved_goal, observation)",
        }


def antmaze_task(metadata: dict[str, Any], source: str) -> AntMazeTask:
    """The evaluation goal from the recorded eval env spec (else the collection spec).

    It must be one fixed goal: the maze map needs exactly one ``"g"`` cell and no ``"c"`` cell
    (D4RL's antmaze evaluation maps have one), otherwise relabelling is refused.
    """
    for key in GOAL_SPEC_KEYS:
        spec = recorded_env_spec(metadata, key)
        if spec is not None:
            break
    else:
        raise DatasetError(
            f"{source}: AntMaze dataset without a recorded env spec (eval_env_spec or env_spec): "
            "its evaluation goal is unknown, so rewards and masks (recorded against per-episode "
            "goals) cannot be relabelled against it; refusing to train on them"
        )
    env_id = str(spec.get("id", ""))
    if not env_id.startswith("AntMaze"):
        raise DatasetError(
            f"{source}: AntMaze dataset whose {key} is '{env_id}', not a gymnasium-robotics "
            "AntMaze_* env; the evaluation goal cannot be read from it"
        )
    maze_map = (spec.get("kwargs") or {}).get("maze_map")
    if not maze_map or not all(isinstance(row, list) for row in maze_map):
        raise DatasetError(
            f"{source}: the recorded {key} ({env_id}) has no maze_map, so the evaluation goal "
            "is unknown; refusing to train on rewards recorded against per-episode goals"
        )
    goals = [(i, j) for i, row in enumerate(maze_map) for j, c in enumerate(row) if c == GOAL_CELL]
    combined = sum(c == COMBINED_CELL for row in maze_map for c in row)
    if len(goals) != 1 or combined:
        raise DatasetError(
            f"{source}: the {key} maze map ({env_id}) has {len(goals)} goal cell(s) 'g' and "
            f"{combined} combined cell(s) 'c': relabelling needs exactly one fixed evaluation "
            "goal (one 'g' cell, no 'c' cells, as in D4RL's antmaze evaluation maps); refusing "
            "to train on rewards recorded against per-episode goals"
        )
    goal = maze_cell_xy(goals[0], maze_map, ANTMAZE_MAZE_SCALING)
    return AntMazeTask(
        goal=(float(goal[0]), float(goal[1])), goal_cell=goals[0], spec_key=key, env_id=env_id
    )


def antmaze_transitions(
    observations: Any, length: int, task: AntMazeTask, source: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One episode's D4RL observations (length + 1 rows), rewards and masks for ``task``.

    Reward 1 and mask 0 where the NEXT state's torso x, y is within the goal radius (the env
    computes its sparse reward after the step); the recorded rewards/terminations are ignored.
    """
    missing = (
        [key for key in ANTMAZE_OBSERVATION_KEYS if key not in observations]
        if isinstance(observations, dict)
        else list(ANTMAZE_OBSERVATION_KEYS)
    )
    if missing:
        kind = sorted(observations) if isinstance(observations, dict) else "a flat array"
        raise DatasetError(
            f"{source}: AntMaze observations need the dict keys {list(ANTMAZE_OBSERVATION_KEYS)} "
            f"(got {kind}): without 'achieved_goal' the ant's torso x, y (part of D4RL's 29-dim "
            "observation) and the goal test are unavailable"
        )
    achieved = np.asarray(observations["achieved_goal"], dtype=np.float64)
    rest = np.asarray(observations["observation"], dtype=np.float64)
    joined = np.concatenate([achieved.reshape(len(achieved), -1), rest.reshape(len(rest), -1)], 1)
    reached = task.reached(achieved[1 : length + 1])
    return joined, reached.astype(np.float64), 1.0 - reached


def _episode_observations(observations: Any, source: str) -> np.ndarray:
    if isinstance(observations, dict):
        if DICT_OBSERVATION_KEY not in observations:
            raise DatasetError(
                f"{source}: dict observations without an '{DICT_OBSERVATION_KEY}' key are not "
                f"supported (keys: {sorted(observations)})"
            )
        observations = observations[DICT_OBSERVATION_KEY]
    return np.asarray(observations)


def flatten_episodes(
    dataset: Any, source: str, antmaze: AntMazeTask | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Transition arrays of every episode, and the undiscounted return of each episode.

    With ``antmaze``, observations, rewards and masks follow :func:`antmaze_transitions`.
    """
    parts: dict[str, list[np.ndarray]] = {
        k: []
        for k in ("observations", "next_observations", "actions", "rewards", "masks", "terminals")
    }
    returns = []
    for episode in dataset.iterate_episodes():
        length = len(episode.rewards)
        if length == 0:
            continue
        terminations = np.asarray(episode.terminations, dtype=bool)
        ends = terminations | np.asarray(episode.truncations, dtype=bool)
        ends[-1] = True
        if antmaze is None:
            observations = _episode_observations(episode.observations, source)
            rewards, masks = np.asarray(episode.rewards), 1.0 - terminations
        else:
            observations, rewards, masks = antmaze_transitions(
                episode.observations, length, antmaze, source
            )
        parts["observations"].append(observations[:length])
        parts["next_observations"].append(observations[1 : length + 1])
        parts["actions"].append(np.asarray(episode.actions).reshape(length, -1))
        parts["rewards"].append(rewards)
        parts["masks"].append(masks)
        parts["terminals"].append(ends)
        returns.append(float(np.sum(rewards)))
    if not returns:
        raise DatasetError(f"{source}: the dataset is empty (0 transitions)")
    return {key: np.concatenate(value) for key, value in parts.items()}, np.asarray(returns)


def transform_rewards(
    rewards: np.ndarray, returns: np.ndarray, transform: str, source: str
) -> tuple[np.ndarray, float]:
    """Apply the reference reward handling; returns the rewards and the scale used.

    See docs/algorithm.md, "Data".
    """
    if transform == "antmaze":
        return rewards - 1.0, 1.0
    if transform == "locomotion":
        spread = float(returns.max() - returns.min())
        if spread <= 0.0:
            raise DatasetError(
                f"{source}: reward_transform='locomotion' divides by (max - min episode return), "
                f"which is {spread} here; use reward_transform='none'"
            )
        scale = LOCOMOTION_SCALE / spread
        return rewards * scale, scale
    return rewards, 1.0


def load_minari(
    name: str,
    *,
    dataset_dir: str | os.PathLike | None = None,
    reward_transform: str = "auto",
    rescale_actions: bool = False,
    action_space: Any = None,
) -> OfflineDataset:
    """Load a Minari dataset by id (local store) or directory path as transitions.

    AntMaze datasets are relabelled against their evaluation goal (see the module docstring,
    docs/algorithm.md, "Data", and docs/data.md).
    """
    if reward_transform not in REWARD_TRANSFORMS:
        raise DatasetError(
            f"minari:{name}: unknown reward_transform '{reward_transform}'; "
            f"valid: {list(REWARD_TRANSFORMS)}"
        )
    dataset = open_minari(name, dataset_dir)
    dataset_id = dataset.spec.dataset_id
    data_root = Path(dataset.storage.data_path).parent
    source = f"minari:{dataset_id}"
    stored = dataset.storage.metadata
    task = antmaze_task(stored, source) if is_antmaze(dataset_id, stored) else None
    arrays, returns = flatten_episodes(dataset, source, task)
    transform = (
        default_reward_transform(dataset_id) if reward_transform == "auto" else reward_transform
    )
    arrays["rewards"], scale = transform_rewards(
        arrays["rewards"].astype(np.float64), returns, transform, source
    )
    metadata = {
        "suite": "minari",
        "dataset_id": dataset_id,
        # by id when found in the default store, else by directory (what make_env can find)
        "env_spec": f"minari:{name if dataset_dir is None else data_root}",
        "reward_transform": transform,
        "reward_scale": scale,
        "episodes": len(returns),
        **{key: stored.get(key) for key in ("ref_min_score", "ref_max_score")},
    }
    if task is not None:
        metadata["antmaze"] = {**task.metadata(), "goal_rows": int((arrays["masks"] == 0).sum())}
    return build_dataset(
        arrays,
        source=source,
        metadata=metadata,
        rescale_actions=rescale_actions,
        action_space=action_space if action_space is not None else dataset.action_space,
    )


class AntMazeFixedGoal(gym.Wrapper):
    """Pins an AntMaze env's goal to ``task.goal`` at every reset and reports ``info["success"]``.

    gymnasium-robotics re-draws the goal at each reset with uniform noise of +-0.25 cells; the
    dataset is relabelled against the goal cell's centre, so evaluation uses that same point.
    """

    def __init__(self, env: gym.Env, task: AntMazeTask) -> None:
        super().__init__(env)
        self.task = task

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        base = self.env.unwrapped
        base.goal = np.array(self.task.goal, dtype=np.float64)  # what step() tests against
        if hasattr(base, "update_target_site_pos"):
            base.update_target_site_pos()  # the goal marker, for rendering
        observation = {**observation, ANTMAZE_GOAL_KEY: base.goal.copy()}
        info = {**info, "success": bool(self.task.reached(observation["achieved_goal"]))}
        return observation, info


class AntMazeObservation(gym.ObservationWrapper):
    """Dict AntMaze observations -> ``concat(achieved_goal, observation)`` (D4RL's order)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        spaces = env.observation_space.spaces
        parts = [spaces[key] for key in ANTMAZE_OBSERVATION_KEYS]
        self.observation_space = gym.spaces.Box(
            low=np.concatenate([np.ravel(space.low) for space in parts]),
            high=np.concatenate([np.ravel(space.high) for space in parts]),
            dtype=np.float64,
        )

    def observation(self, observation: dict[str, Any]) -> np.ndarray:
        return np.concatenate(
            [np.ravel(np.asarray(observation[key], np.float64)) for key in ANTMAZE_OBSERVATION_KEYS]
        )


def wrap_antmaze_eval_env(env: gym.Env, task: AntMazeTask, source: str) -> gym.Env:
    """Fixed goal + D4RL observations on an AntMaze env made with ``continuing_task=False``."""
    base = env.unwrapped
    if getattr(base, "continuing_task", False) or getattr(base, "reset_target", False):
        raise DatasetError(
            f"{source}: the AntMaze eval env must be made with continuing_task=False and "
            "reset_target=False (an episode ends when the goal is reached)"
        )
    spaces = getattr(env.observation_space, "spaces", {})
    missing = [k for k in (*ANTMAZE_OBSERVATION_KEYS, ANTMAZE_GOAL_KEY) if k not in spaces]
    if missing:
        raise DatasetError(f"{source}: AntMaze eval env observations lack the key(s) {missing}")
    maze = getattr(base, "maze", None)
    if maze is not None:  # cross-check the recorded env spec's goal against the env's own maze
        locations = list(maze.unique_goal_locations)
        if len(locations) != 1 or not np.allclose(locations[0], task.goal):
            raise DatasetError(
                f"{source}: the eval env's goal locations {[list(p) for p in locations]} are not "
                f"the single goal {list(task.goal)} the dataset is relabelled against"
            )
    return AntMazeObservation(AntMazeFixedGoal(env, task))


def make_minari_env(name: str, **env_kwargs: Any) -> Any:
    """The dataset's evaluation env (``recover_environment(eval_env=True)``), flat observations.

    AntMaze: non-continuing (the episode ends at the goal), the fixed evaluation goal the data
    are relabelled against, D4RL observations and ``info["success"]``.
    """
    dataset = open_minari(name)
    source = f"minari:{dataset.spec.dataset_id}"
    stored = dataset.storage.metadata
    if is_antmaze(dataset.spec.dataset_id, stored):
        task = antmaze_task(stored, source)
        for key in ("continuing_task", "reset_target"):
            if env_kwargs.get(key, False):
                raise DatasetError(
                    f"{source}: {key}=True is not an evaluation setting: success means "
                    "reaching the fixed goal, which ends the episode"
                )
        require_package("gymnasium_robotics", f"{source}: the AntMaze eval env", "gymnasium-robotics")
        env_kwargs = {**env_kwargs, "continuing_task": False, "reset_target": False}
        env = dataset.recover_environment(eval_env=True, **env_kwargs)
        return wrap_antmaze_eval_env(env, task, source)
    env = dataset.recover_environment(eval_env=True, **env_kwargs)
    if isinstance(env.observation_space, gym.spaces.Dict):
        if DICT_OBSERVATION_KEY not in env.observation_space.spaces:
            raise DatasetError(
                f"minari:{name}: dict observation space without an '{DICT_OBSERVATION_KEY}' key"
            )
        env = gym.wrappers.FlattenObservation(
            gym.wrappers.FilterObservation(env, [DICT_OBSERVATION_KEY])
        )
    return env


def minari_normalized_score(name: str, returns: np.ndarray) -> np.ndarray | None:
    """D4RL score ``100 * (R - ref_min) / (ref_max - ref_min)``; None without reference returns."""
    metadata = open_minari(name).storage.metadata
    low, high = metadata.get("ref_min_score"), metadata.get("ref_max_score")
    if low is None or high is None or high == low:
        return None
    return 100.0 * (np.asarray(returns, dtype=np.float64) - low) / (high - low)


register(
    DataSource(
        prefix="minari",
        load=load_minari,
        eval_env=lambda name: f"minari:{name}",
        make_env=make_minari_env,
        normalized_score=minari_normalized_score,
        local_files=lambda name, dataset_dir=None: [minari_store(dataset_dir) / name / "data"],
        how_to_get=lambda name, dataset_dir=None: f"minari download {name}",
    )
)
