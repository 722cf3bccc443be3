"""Offline generation of OGBench's point-maze and manipulation datasets.

Follows OGBench's published recipe on top of its own environments and scripted oracles:
point-maze ``navigate`` (1000 x 1001 steps; giant 500 x 2001) and ``stitch`` (5000 x 201), the
env's BFS subgoal direction plus Gaussian noise 0.5; manipulation ``play`` (plan oracles, noise
0.1) and ``noisy`` (Markov oracles, per-episode noise level up to 0.1, random actions with
probability 0.1, puzzle 0.2), 1001 steps, 1000 episodes (cube-triple / puzzle-4x5 3000,
cube-quadruple / puzzle-4x6 5000). Plus 10% validation episodes, the official file layout
(observations, actions, terminals, qpos, qvel, button_states) and an atomic write. Each file
also carries a JSON provenance record under :data:`GENERATOR_KEY` (ogbench's loader reads only
the keys it names, so it ignores the record).

See docs/algorithm.md, "Data", and item 10 of "Deviations from the authors' code".
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vgf_rllib.data.dataset import DatasetError
from vgf_rllib.data.ogbench_catalog import (
    GENERATOR_KEY,
    OGBENCH_DATASETS,
    OGBenchName,
    dataset_files,
    parse_dataset_name,
)
from vgf_rllib.data.ogbench_data import EXPERT_FAMILIES, require_ogbench

MAZE_NOISE = 0.5
MANIP_NOISE = 0.1
NOISE_SMOOTHING = 0.5
MARKOV_MIN_NORM = 0.4
STITCH_DISTANCE = 4  # stitch goals lie this many cells (BFS) from the start
#: cube-count -> range of the per-episode stacking probability (scene/puzzle: 0.5)
STACK_RANGE = {
    "single": (0.0, 0.0),
    "double": (0.0, 0.25),
    "triple": (0.05, 0.35),
    "quadruple": (0.1, 0.5),
}
LARGE_EPISODES = {"triple": 3000, "quadruple": 5000, "4x5": 3000, "4x6": 5000}
GENERATOR_NAME = "vgf-rllib"

Episode = dict[str, list]
Collector = Callable[[], "Episode | None"]  # None: episode rejected, collect again


@dataclass(frozen=True)
class Recipe:
    """How OGBench made one dataset: base env, episode count and length, noise levels."""

    env_id: str
    episodes: int
    episode_steps: int
    noise: float
    p_random_action: float = 0.0


def recipe_for(parsed: OGBenchName) -> Recipe:
    """The official recipe of ``parsed``'s dataset; refuses datasets that need expert policies."""
    if parsed.family in EXPERT_FAMILIES:
        raise DatasetError(
            f"{parsed.dataset}: {parsed.family} datasets are collected with OGBench's downloaded "
            "expert policies and cannot be generated offline; fetch the official files where "
            "there is internet and copy them into the dataset directory. Generable here: "
            "pointmaze-*, cube-*, scene, puzzle-*"
        )
    env_id = f"{parsed.env}-v0"
    if parsed.family == "pointmaze":
        if parsed.kind == "stitch":
            return Recipe(env_id, 5000, 201, MAZE_NOISE)
        giant = parsed.env.endswith("giant")
        return Recipe(env_id, 500 if giant else 1000, 2001 if giant else 1001, MAZE_NOISE)
    size = parsed.env.partition("-")[2]
    p_random = 0.0 if parsed.kind == "play" else (0.2 if parsed.family == "puzzle" else 0.1)
    return Recipe(env_id, LARGE_EPISODES.get(size, 1000), 1001, MANIP_NOISE, p_random)


def generatable() -> list[tuple[OGBenchName, Recipe]]:
    """Every dataset this module can make, with its official recipe."""
    names = [OGBenchName(env, kind) for env, kinds in OGBENCH_DATASETS.items() for kind in kinds]
    return [(name, recipe_for(name)) for name in names if name.family not in EXPERT_FAMILIES]


@contextlib.contextmanager
def _seeded_global_numpy(seed: int) -> Iterator[None]:
    """OGBench envs and oracles draw from ``np.random``: seed it, restore it afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _record(episode: Episode, ob: np.ndarray, action: np.ndarray, done: bool, info: dict) -> None:
    episode["observations"].append(ob)
    episode["actions"].append(action)
    episode["terminals"].append(done)
    episode["qpos"].append(info["prev_qpos"])
    episode["qvel"].append(info["prev_qvel"])
    if "prev_button_states" in info:
        episode["button_states"].append(info["prev_button_states"])


# --- point maze ---------------------------------------------------------------------------


def _maze_cells(maze_map: np.ndarray) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Free cells, and the free cells that are not straight corridor pieces (goal candidates)."""
    free, vertices = [], []
    for i, j in zip(*np.nonzero(maze_map == 0), strict=True):
        cell = (int(i), int(j))
        free.append(cell)
        vertical = (
            maze_map[i - 1, j] == 0
            and maze_map[i + 1, j] == 0
            and maze_map[i, j - 1] == 1
            and maze_map[i, j + 1] == 1
        )
        horizontal = (
            maze_map[i, j - 1] == 0
            and maze_map[i, j + 1] == 0
            and maze_map[i - 1, j] == 1
            and maze_map[i + 1, j] == 1
        )
        if not (vertical or horizontal):
            vertices.append(cell)
    return free, vertices


def _cells_at_distance(
    maze_map: np.ndarray, start: tuple[int, int], distance: int
) -> list[tuple[int, int]]:
    """Free cells exactly ``distance`` BFS steps from ``start``."""
    depth = {start: 0}
    queue = deque([start])
    while queue:
        i, j = queue.popleft()
        for di, dj in ((-1, 0), (0, -1), (1, 0), (0, 1)):
            cell = (i + di, j + dj)
            inside = 0 <= cell[0] < maze_map.shape[0] and 0 <= cell[1] < maze_map.shape[1]
            if inside and maze_map[cell] == 0 and cell not in depth:
                depth[cell] = depth[(i, j)] + 1
                queue.append(cell)
    return [cell for cell, d in depth.items() if d == distance]


def _maze_collector(env: Any, parsed: OGBenchName, recipe: Recipe) -> Collector:
    maze = env.unwrapped
    free, vertices = _maze_cells(maze.maze_map)

    def episode() -> Episode:
        start = free[np.random.randint(len(free))]
        if parsed.kind == "navigate":
            goal = vertices[np.random.randint(len(vertices))]
        else:
            nearby = _cells_at_distance(maze.maze_map, start, STITCH_DISTANCE)
            goal = nearby[np.random.randint(len(nearby))] if nearby else start
        ob, _ = env.reset(options={"task_info": {"init_ij": start, "goal_ij": goal}})
        data: Episode = defaultdict(list)
        done = False
        while not done:
            subgoal, _ = maze.get_oracle_subgoal(maze.get_xy(), maze.cur_goal_xy)
            direction = subgoal - maze.get_xy()
            direction = direction / (np.linalg.norm(direction) + 1e-6)
            action = np.clip(direction + np.random.normal(0.0, recipe.noise, 2), -1.0, 1.0)
            next_ob, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            if info["success"] and parsed.kind == "navigate":  # navigate: chain random goals
                maze.set_goal(vertices[np.random.randint(len(vertices))])
            _record(data, ob, action, done, info)
            ob = next_ob
        return data

    return episode


# --- manipulation ---------------------------------------------------------------------------


def _oracles(env: Any, parsed: OGBenchName, recipe: Recipe) -> dict[str, Any]:
    """Task name -> OGBench scripted oracle (plan oracles for play, Markov oracles for noisy)."""
    from ogbench.manipspace.oracles.markov.button_markov import ButtonMarkovOracle
    from ogbench.manipspace.oracles.markov.cube_markov import CubeMarkovOracle
    from ogbench.manipspace.oracles.markov.drawer_markov import DrawerMarkovOracle
    from ogbench.manipspace.oracles.markov.window_markov import WindowMarkovOracle
    from ogbench.manipspace.oracles.plan.button_plan import ButtonPlanOracle
    from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle
    from ogbench.manipspace.oracles.plan.drawer_plan import DrawerPlanOracle
    from ogbench.manipspace.oracles.plan.window_plan import WindowPlanOracle

    if parsed.kind == "play":
        kw = {"env": env, "noise": recipe.noise, "noise_smoothing": NOISE_SMOOTHING}
        cube, button, drawer, window = (
            CubePlanOracle,
            ButtonPlanOracle,
            DrawerPlanOracle,
            WindowPlanOracle,
        )
        scene_cube_kw: dict[str, Any] = {}
    else:
        kw = {"env": env, "min_norm": MARKOV_MIN_NORM}
        cube, button, drawer, window = (
            CubeMarkovOracle,
            ButtonMarkovOracle,
            DrawerMarkovOracle,
            WindowMarkovOracle,
        )
        scene_cube_kw = {"max_step": 100}
    if parsed.family == "cube":
        return {"cube": cube(**kw)}
    if parsed.family == "puzzle":
        return {"button": button(**kw, gripper_always_closed=True)}
    return {
        "cube": cube(**kw, **scene_cube_kw),
        "button": button(**kw),
        "drawer": drawer(**kw),
        "window": window(**kw),
    }


def _scene_healthy(qpos: np.ndarray) -> bool:
    """OGBench's scene filter: the cube never leaves the table except into the drawer."""
    y, z = qpos[:, 15], qpos[:, 16]
    too_far_right = (y >= 0.29).any()
    lost_left = ((y <= -0.3) & ((z < 0.06) | (z > 0.08))).any()
    return not (too_far_right or lost_left)


def _manip_collector(env: Any, parsed: OGBenchName, recipe: Recipe) -> Collector:
    oracles = _oracles(env, parsed, recipe)
    stack_range = STACK_RANGE.get(parsed.env.partition("-")[2]) if parsed.family == "cube" else None
    action_dim = env.action_space.shape[0]

    def episode() -> Episode | None:
        ob, info = env.reset()
        p_stack = np.random.uniform(*stack_range) if stack_range else 0.5
        xi = np.random.uniform(0.0, recipe.noise) if parsed.kind == "noisy" else 0.0
        noise_scale = xi * np.array([1.0, 1.0, 1.0, 3.0, 10.0])
        agent = oracles[info["privileged/target_task"]]
        agent.reset(ob, info)
        data: Episode = defaultdict(list)
        done = False
        while not done:
            if np.random.rand() < recipe.p_random_action:
                action = np.random.uniform(-1.0, 1.0, action_dim)
            else:
                action = np.asarray(agent.select_action(ob, info), dtype=np.float64)
                if parsed.kind == "noisy":
                    action = action + np.random.normal(0.0, noise_scale, action.shape)
            action = np.clip(action, -1.0, 1.0)
            next_ob, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            if agent.done:  # next sub-task: a new target and the oracle for it
                agent_ob, agent_info = env.unwrapped.set_new_target(p_stack=p_stack)
                agent = oracles[agent_info["privileged/target_task"]]
                agent.reset(agent_ob, agent_info)
            _record(data, ob, action, done, info)
            ob = next_ob
        if parsed.family == "scene" and not _scene_healthy(np.asarray(data["qpos"])):
            return None
        return data

    return episode


# --- driver -----------------------------------------------------------------------------------


def _ogbench_version() -> str:
    """The installed ogbench's version, ``unknown`` where its metadata is missing."""
    from importlib import metadata

    try:
        return metadata.version("ogbench")
    except metadata.PackageNotFoundError:
        return "unknown"


def _validation_episodes(train_episodes: int) -> int:
    """Validation episodes that go with ``train_episodes`` training episodes (10%, at least 1)."""
    return max(1, train_episodes // 10)


def provenance_record(
    dataset: str, split: str, *, train_episodes: int, recipe: Recipe, episode_steps: int, seed: int
) -> np.ndarray:
    """The record stored under :data:`GENERATOR_KEY` in one split's file: JSON in a 0-d array.

    ``episodes`` is the split's episode count, ``official_episodes`` the official file's count for
    the same split.
    """
    val = split == "val"
    record = {
        "generator": GENERATOR_NAME,
        "dataset": dataset,
        "split": split,
        "episodes": _validation_episodes(train_episodes) if val else train_episodes,
        "official_episodes": _validation_episodes(recipe.episodes) if val else recipe.episodes,
        "episode_steps": episode_steps,
        "seed": seed,
        "ogbench_version": _ogbench_version(),
    }
    return np.array(json.dumps(record))


def _stack(episodes: list[Episode]) -> dict[str, np.ndarray]:
    """Concatenate episodes into OGBench's file layout and dtypes."""
    dtypes = {"terminals": bool, "button_states": np.int64}
    return {
        key: np.asarray(
            [row for ep in episodes for row in ep[key]], dtype=dtypes.get(key, np.float32)
        )
        for key in episodes[0]
    }


def _write_atomically(arrays_by_path: dict[Path, dict[str, np.ndarray]]) -> None:
    """Write every file under a temporary name, then rename all; nothing is left on failure."""
    temporary = {path: path.with_name(f".{path.stem}.partial.npz") for path in arrays_by_path}
    try:
        for path, arrays in arrays_by_path.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(temporary[path], **arrays)
        for path, tmp in temporary.items():
            os.replace(tmp, path)
    finally:
        for tmp in temporary.values():
            tmp.unlink(missing_ok=True)


def generate(
    name: str,
    *,
    episodes: int | None = None,
    dataset_dir: str | os.PathLike | None = None,
    seed: int = 0,
    episode_steps: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> tuple[Path, Path]:
    """Generate ``name`` (``cube-single-play-v0`` or a single-task name) into ``dataset_dir``.

    ``episodes`` training episodes (default: the official count) plus ``max(1, episodes // 10)``
    validation episodes, each ``episode_steps`` long (default: the official length). Seeded
    (``np.random`` is restored afterwards). Returns the training and validation file paths.
    """
    parsed = parse_dataset_name(name)
    recipe = recipe_for(parsed)
    train_path, val_path = dataset_files(parsed.dataset, dataset_dir)
    existing = [str(p) for p in (train_path, val_path) if p.exists()]
    if existing and not overwrite:
        raise DatasetError(
            f"{parsed.dataset}: {existing} already exist; pass overwrite=True (CLI: --force)"
        )
    num_train = recipe.episodes if episodes is None else int(episodes)
    steps = recipe.episode_steps if episode_steps is None else int(episode_steps)
    if num_train < 1 or steps < 2:
        raise DatasetError(
            f"{parsed.dataset}: need episodes >= 1 and episode_steps >= 2; got {num_train}, {steps}"
        )
    num_val = _validation_episodes(num_train)

    import gymnasium
    from tqdm import trange

    require_ogbench()  # registers the envs
    manip = parsed.family != "pointmaze"
    env = gymnasium.make(
        recipe.env_id,
        terminate_at_goal=False,
        max_episode_steps=steps,
        **({"mode": "data_collection"} if manip else {}),
    )
    collected: list[Episode] = []
    try:
        with _seeded_global_numpy(seed):
            env.reset(seed=seed)
            collect = (_manip_collector if manip else _maze_collector)(env, parsed, recipe)
            for _ in trange(
                num_train + num_val, desc=parsed.dataset, unit="episode", disable=not progress
            ):
                episode = collect()
                while episode is None:  # rejected (scene health check): collect it again
                    episode = collect()
                collected.append(episode)
    finally:
        env.close()
    recipe_args = {"train_episodes": num_train, "recipe": recipe, "episode_steps": steps}
    _write_atomically(
        {
            path: {
                **_stack(episodes),
                GENERATOR_KEY: provenance_record(parsed.dataset, split, seed=seed, **recipe_args),
            }
            for path, split, episodes in (
                (train_path, "train", collected[:num_train]),
                (val_path, "val", collected[num_train:]),
            )
        }
    )
    return train_path, val_path
