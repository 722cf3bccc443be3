"""D4RL-style datasets through Minari, from the local store only (spec 4.2).

Episodes are flattened to transitions: ``masks = 1 - terminations`` (a truncation ends the
trajectory but still bootstraps), ``terminals`` = termination or truncation. Rewards follow the
reference: locomotion ``r * 1000 / (max episode return - min episode return)``, antmaze ``r - 1``
(``reward_transform``; ``auto`` decides by dataset id). Scores are D4RL-normalized with the
dataset's ``ref_min_score`` / ``ref_max_score``.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from vgf_rllib.data.dataset import DatasetError, OfflineDataset
from vgf_rllib.data.loading import SUITE_LOADERS, build_dataset

REWARD_TRANSFORMS = ("auto", "none", "locomotion", "antmaze")
LOCOMOTION_ENVS = ("halfcheetah", "hopper", "walker2d", "ant")  # D4RL locomotion suites
DICT_OBSERVATION_KEY = "observation"  # D4RL convention for goal-based (antmaze) datasets
LOCOMOTION_SCALE = 1000.0


def require_minari() -> ModuleType:
    """Import minari or fail with the install command."""
    try:
        return importlib.import_module("minari")
    except ImportError as error:
        raise DatasetError(
            "Minari datasets need the 'minari' package; install it with "
            '`pip install "minari[hdf5]"` (or `pip install vgf-rllib[benchmarks]`)'
        ) from error


def _store_root(dataset_dir: str | os.PathLike | None) -> Path:
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
    data = _store_root(dataset_dir) / name / "data"
    if not (data / "metadata.json").is_file():
        raise DatasetError(
            f"minari:{name}: not in the local Minari store ({_store_root(dataset_dir)}); nothing "
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


def _episode_observations(observations: Any, source: str) -> np.ndarray:
    if isinstance(observations, dict):
        if DICT_OBSERVATION_KEY not in observations:
            raise DatasetError(
                f"{source}: dict observations without an '{DICT_OBSERVATION_KEY}' key are not "
                f"supported (keys: {sorted(observations)})"
            )
        observations = observations[DICT_OBSERVATION_KEY]
    return np.asarray(observations)


def flatten_episodes(dataset: Any, source: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Transition arrays of every episode, and the undiscounted return of each episode."""
    parts: dict[str, list[np.ndarray]] = {
        k: []
        for k in ("observations", "next_observations", "actions", "rewards", "masks", "terminals")
    }
    returns = []
    for episode in dataset.iterate_episodes():
        observations = _episode_observations(episode.observations, source)
        length = len(episode.rewards)
        if length == 0:
            continue
        terminations = np.asarray(episode.terminations, dtype=bool)
        ends = terminations | np.asarray(episode.truncations, dtype=bool)
        ends[-1] = True
        parts["observations"].append(observations[:length])
        parts["next_observations"].append(observations[1 : length + 1])
        parts["actions"].append(np.asarray(episode.actions).reshape(length, -1))
        parts["rewards"].append(np.asarray(episode.rewards))
        parts["masks"].append(1.0 - terminations)
        parts["terminals"].append(ends)
        returns.append(float(np.sum(episode.rewards)))
    if not returns:
        raise DatasetError(f"{source}: the dataset is empty (0 transitions)")
    return {key: np.concatenate(value) for key, value in parts.items()}, np.asarray(returns)


def transform_rewards(
    rewards: np.ndarray, returns: np.ndarray, transform: str, source: str
) -> tuple[np.ndarray, float]:
    """Apply the reference reward handling (spec 4.2); returns the rewards and the scale used."""
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
    """Load a Minari dataset by id (local store) or directory path as transitions (spec 4.2)."""
    if reward_transform not in REWARD_TRANSFORMS:
        raise DatasetError(
            f"minari:{name}: unknown reward_transform '{reward_transform}'; "
            f"valid: {list(REWARD_TRANSFORMS)}"
        )
    dataset = open_minari(name, dataset_dir)
    dataset_id = dataset.spec.dataset_id
    data_root = Path(dataset.storage.data_path).parent
    source = f"minari:{dataset_id}"
    arrays, returns = flatten_episodes(dataset, source)
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
        **{key: dataset.storage.metadata.get(key) for key in ("ref_min_score", "ref_max_score")},
    }
    return build_dataset(
        arrays,
        source=source,
        metadata=metadata,
        rescale_actions=rescale_actions,
        action_space=action_space if action_space is not None else dataset.action_space,
    )


def make_minari_env(name: str, **env_kwargs: Any) -> Any:
    """The dataset's evaluation env (``recover_environment(eval_env=True)``), flat observations."""
    import gymnasium

    env = open_minari(name).recover_environment(eval_env=True, **env_kwargs)
    if isinstance(env.observation_space, gymnasium.spaces.Dict):
        if DICT_OBSERVATION_KEY not in env.observation_space.spaces:
            raise DatasetError(
                f"minari:{name}: dict observation space without an '{DICT_OBSERVATION_KEY}' key"
            )
        env = gymnasium.wrappers.FlattenObservation(
            gymnasium.wrappers.FilterObservation(env, [DICT_OBSERVATION_KEY])
        )
    return env


def minari_normalized_score(name: str, returns: np.ndarray) -> np.ndarray | None:
    """D4RL score ``100 * (R - ref_min) / (ref_max - ref_min)``; None without reference returns."""
    metadata = open_minari(name).storage.metadata
    low, high = metadata.get("ref_min_score"), metadata.get("ref_max_score")
    if low is None or high is None or high == low:
        return None
    return 100.0 * (np.asarray(returns, dtype=np.float64) - low) / (high - low)


SUITE_LOADERS["minari"] = load_minari
