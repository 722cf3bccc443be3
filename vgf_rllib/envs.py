"""Evaluation environments from a spec string, and the score each benchmark reports.

A spec is any gymnasium id (``"Pendulum-v1"``, ``"my_pkg.envs:MyEnv-v0"``) or a
``suite:name`` string handled by a factory in :data:`ENV_FACTORIES`:
``ogbench:<env>-<dataset>-singletask[-taskN]-v0`` (metric: ``info["success"]``; the
keyword ``success_timing="pre"|"post"`` chooses when success is judged) and
``minari:<dataset id or directory>`` (the dataset's eval env; D4RL-normalized score;
AntMaze: non-continuing, fixed goal, D4RL's 29-dim observations, ``info["success"]``).
Keyword arguments go to the factory (or to ``gym.make``). See ``docs/data.md`` and
docs/algorithm.md, "Data".
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

EnvFactory = Callable[..., gym.Env]

#: prefix (without the colon) -> factory(name, **kwargs) -> gym.Env
ENV_FACTORIES: dict[str, EnvFactory] = {}

ScoreNormalizer = Callable[[str, np.ndarray], "np.ndarray | None"]

#: prefix -> normalizer(name, episode_returns) -> normalized scores, or None if unknown
SCORE_NORMALIZERS: dict[str, ScoreNormalizer] = {}


class EnvSpecError(ValueError):
    """An evaluation env spec could not be turned into an environment."""


def make_env(spec: str, **kwargs) -> gym.Env:
    """Build one evaluation env from ``spec`` (see module docstring)."""
    prefix, sep, name = spec.partition(":")
    if sep and prefix in ENV_FACTORIES:
        try:
            return ENV_FACTORIES[prefix](name, **kwargs)
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
    prefix, sep, name = spec.partition(":")
    if sep and prefix in SCORE_NORMALIZERS:
        return SCORE_NORMALIZERS[prefix](name, np.asarray(returns, dtype=np.float64))
    return None


def _ogbench_env(name: str, **kwargs) -> gym.Env:
    from vgf_rllib.data.ogbench_data import make_ogbench_env

    return make_ogbench_env(name, **kwargs)


def _minari_env(name: str, **kwargs) -> gym.Env:
    from vgf_rllib.data.minari_data import make_minari_env

    return make_minari_env(name, **kwargs)


def _minari_score(name: str, returns: np.ndarray) -> np.ndarray | None:
    from vgf_rllib.data.minari_data import minari_normalized_score

    return minari_normalized_score(name, returns)


ENV_FACTORIES["ogbench"] = _ogbench_env
ENV_FACTORIES["minari"] = _minari_env
SCORE_NORMALIZERS["minari"] = _minari_score
