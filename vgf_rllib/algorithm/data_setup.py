"""The data a VGF run trains on, resolved once: loaded, checked against its spaces, and, where
many runs or learners share it, placed in Ray's object store once.

:func:`prepare_data` is what ``VGF.setup`` calls; a sweep's driver calls :func:`share_data` for
its tasks' configs first and hands the references to the trials (``tune.with_parameters``), so
that no trial reads the source and every trial on a node maps the same copy (numpy arrays from
the object store are zero-copy on the node that holds them; Ray moves them to another node
once). See docs/sweeps.md, "Scaling out", and docs/data.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from vgf_rllib.data import OfflineDataset, check_against_spaces
from vgf_rllib.data.rllib_input import RLlibInput, input_given
from vgf_rllib.data.sources import load_configured_data
from vgf_rllib.envs import make_env


@dataclass(frozen=True)
class PreparedData:
    """A validated dataset with the spaces and env a run uses for it.

    ``env`` is the config's env, else the env the dataset names (suite datasets do), else None;
    ``fingerprint`` the dataset's content hash, computed once where it is loaded.
    """

    dataset: OfflineDataset
    observation_space: gym.Space
    action_space: gym.Space
    env: str | None
    fingerprint: str


def env_spaces(env_spec: str) -> tuple[gym.Space, gym.Space]:
    """Observation and action spaces of the evaluation env ``env_spec``."""
    env = make_env(env_spec)
    spaces = env.observation_space, env.action_space
    env.close()
    return spaces


def configured_spaces(config: Any) -> tuple[gym.Space, gym.Space] | None:
    """The spaces set with ``environment(observation_space=..., action_space=...)``, if both are."""
    if config.observation_space is None or config.action_space is None:
        return None
    return config.observation_space, config.action_space


def dataset_spaces(dataset: OfflineDataset) -> tuple[gym.Space, gym.Space]:
    """Spaces implied by the data alone: the spaces an RLlib episode recording carries, else
    unbounded observations and actions in [-1, 1]."""
    recorded = dataset.metadata.get("recorded_spaces")
    if recorded and all(space is not None for space in recorded):
        return recorded
    obs_space = gym.spaces.Box(-np.inf, np.inf, (dataset.observation_dim,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (dataset.action_dim,), np.float32)
    return obs_space, action_space


def data_key(config: Any) -> str:
    """What identifies the rows a config trains on: its data fields (either route) and the spaces
    that map them (``rescale_actions``, RLlib input's action bounds). Configs with equal keys
    load equal datasets, so a sweep loads each key once."""
    fields = dict(
        input=repr(RLlibInput.from_config(config)) if input_given(config.input_) else None,
        dataset=config.dataset,
        dataset_dir=config.dataset_dir,
        rescale_actions=config.rescale_actions,
        env=config.env,
        spaces=repr(configured_spaces(config)),
    )
    return json.dumps(fields, sort_keys=True, default=repr)


def load_prepared_data(config: Any) -> PreparedData:
    """Load the config's dataset (either route), find its spaces (the env's, the config's, the
    recording's, else from the arrays) and check the rows against them."""
    spaces = env_spaces(config.env) if config.env else configured_spaces(config)
    dataset = load_configured_data(
        config,
        observation_space=spaces[0] if spaces else None,
        action_space=spaces[1] if spaces else None,
    )
    env = config.env or None
    if spaces is None and dataset.metadata.get("env_spec"):
        env = dataset.metadata["env_spec"]  # the dataset's own env
        spaces = env_spaces(env)
    if spaces is None:
        spaces = dataset_spaces(dataset)
    else:
        check_against_spaces(dataset, *spaces)
    return PreparedData(dataset, spaces[0], spaces[1], env, dataset.fingerprint())


def share_data(configs: Iterable[Any]) -> dict[str, Any]:
    """Load each distinct dataset of ``configs`` once, here, and put it in Ray's object store.

    Returns ``data_key(config)`` -> ObjectRef of its :class:`PreparedData`; a bad dataset fails
    here, before any trial starts, with the loader's error.
    """
    import ray

    shared: dict[str, Any] = {}
    for config in configs:
        key = data_key(config)
        if key not in shared:
            shared[key] = ray.put(load_prepared_data(config))
    return shared


def prepare_data(config: Any, shared: Mapping[str, Any] | None = None) -> tuple[PreparedData, Any]:
    """The run's data and, when it came from ``shared`` (:func:`share_data`), its ObjectRef
    (else None: loaded here).

    A config whose data is not in ``shared`` is an error, not a silent second read.
    """
    import ray

    if shared is None:
        return load_prepared_data(config), None
    key = data_key(config)
    if key not in shared:
        raise KeyError(
            f"the shared datasets hold no data for this config ({key}); the driver shared "
            f"{len(shared)} other(s)"
        )
    return ray.get(shared[key]), shared[key]
