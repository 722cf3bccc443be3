"""Evaluation environments from a spec string, and the score each benchmark reports.

A spec is any gymnasium id (``"Pendulum-v1"``, ``"my_pkg.envs:MyEnv-v0"``) or a
``suite:name`` string handled by a factory in :data:`ENV_FACTORIES`.
"""

from __future__ import annotations

from typing import Callable

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
        return ENV_FACTORIES[prefix](name, **kwargs)
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
