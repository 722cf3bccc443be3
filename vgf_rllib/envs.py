"""Evaluation environments from a spec string, and the score each benchmark reports.

A spec is any gymnasium id (``"Pendulum-v1"``, ``"my_pkg.envs:MyEnv-v0"``) or a
``source:name`` string whose data source (:mod:`vgf_rllib.data.sources`) builds envs:
``ogbench:<env>-<dataset>-singletask[-taskN]-v0`` (metric: ``info["success"]``; the
keyword ``success_timing="pre"|"post"`` chooses when success is judged) and
``minari:<dataset id or directory>`` (the dataset's eval env; D4RL-normalized score;
AntMaze: non-continuing, fixed goal, D4RL's 29-dim observations, ``info["success"]``).
Keyword arguments go to the factory (or to ``gym.make``). See ``docs/data.md`` and
docs/algorithm.md, "Data".
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import vgf_rllib.data  # noqa: F401  (registers the data sources)
from vgf_rllib.data.sources import split_spec


class EnvSpecError(ValueError):
    """An evaluation env spec could not be turned into an environment."""


def make_env(spec: str, **kwargs) -> gym.Env:
    """Build one evaluation env from ``spec`` (see module docstring)."""
    found = split_spec(spec)
    if found and found[0].make_env is not None:
        source, name = found
        try:
            return source.make_env(name, **kwargs)
        except EnvSpecError:
            raise
        except (ValueError, gym.error.Error, ImportError, AttributeError) as error:
            raise EnvSpecError(f"cannot make evaluation env '{spec}': {error}") from error
    try:
        return gym.make(spec, **kwargs)
    except (gym.error.Error, ModuleNotFoundError, ImportError, AttributeError) as error:
        raise EnvSpecError(f"cannot make evaluation env '{spec}': {error}") from error


def normalized_score(spec: str, returns: np.ndarray) -> np.ndarray | None:
    """The benchmark's normalized score of episode returns, or None where it defines none."""
    found = split_spec(spec)
    if found and found[0].normalized_score is not None:
        source, name = found
        return source.normalized_score(name, np.asarray(returns, dtype=np.float64))
    return None
