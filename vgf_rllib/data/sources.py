"""The registry of dataset sources: one entry per ``prefix:name`` spec kind (``ogbench:``,
``minari:``, ``demo:``, ``random:``), the one place that knows, for a source, how to load a
dataset, which env evaluates it, how that env is built, how its returns are scored, where its
local files live and how to get missing ones.

Files (``.npz``, ``.parquet``), Minari dataset directories and dicts of arrays carry no prefix;
:func:`vgf_rllib.data.loading.load_dataset` reads them directly and they name no env. Each
source module registers itself on import (``vgf_rllib.data`` imports them). RLlib's own offline
input (``offline_data(input_=...)``) is the other route to a dataset; :func:`load_configured_data`
picks the route a config names. See docs/data.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DataSource:
    """A ``prefix:name`` dataset kind.

    ``load(name, **options)`` returns an OfflineDataset; ``eval_env(name)`` the env spec that
    evaluates the dataset (None: name one with ``--env``); ``make_env(name, **kwargs)`` builds
    the env of an env spec ``prefix:name`` (None: the env specs are gymnasium ids);
    ``normalized_score(name, returns)`` the benchmark's score (None: success rate or return);
    ``local_files(name, dataset_dir)`` what must exist locally; ``how_to_get(name,
    dataset_dir)`` the command or recipe that creates it.
    """

    prefix: str
    load: Callable[..., Any]
    eval_env: Callable[[str], str | None]
    make_env: Callable[..., Any] | None = None
    normalized_score: Callable[[str, np.ndarray], np.ndarray | None] | None = None
    local_files: Callable[[str, str | None], list[Path]] = lambda name, dataset_dir: []
    how_to_get: Callable[[str, str | None], str] = lambda name, dataset_dir: "built in"


SOURCES: dict[str, DataSource] = {}


def register(source: DataSource) -> None:
    SOURCES[source.prefix] = source


def split_spec(spec: str) -> tuple[DataSource, str] | None:
    """``prefix:name`` -> (its source, name); None for a spec with no registered prefix."""
    prefix, sep, name = str(spec).partition(":")
    source = SOURCES.get(prefix) if sep else None
    return (source, name) if source else None


def default_eval_env(dataset_spec: Any) -> str | None:
    """The env that evaluates a dataset spec (None for files, dicts and unknown names)."""
    found = split_spec(dataset_spec) if isinstance(dataset_spec, str) else None
    return found[0].eval_env(found[1]) if found else None


def missing_files(spec: str, dataset_dir: str | None = None) -> list[Path]:
    """Local files a dataset spec needs that do not exist (none for files given by path)."""
    found = split_spec(spec)
    files = found[0].local_files(found[1], dataset_dir) if found else []
    return [path for path in files if not path.exists()]


def how_to_get(spec: str, dataset_dir: str | None = None) -> str:
    """The command or recipe that creates a dataset spec's data."""
    found = split_spec(spec)
    return found[0].how_to_get(found[1], dataset_dir) if found else f"{spec} is your own file"


def load_configured_data(
    config: Any, *, observation_space: Any = None, action_space: Any = None
) -> Any:
    """The OfflineDataset a VGFConfig names, by either route: RLlib's offline input
    (``offline_data(input_=...)``, :mod:`vgf_rllib.data.rllib_input`) or VGF's own dataset spec
    (``offline_dataset(dataset=...)``, :func:`vgf_rllib.data.loading.load_dataset`).

    ``observation_space`` / ``action_space`` are the env's (or the config's) when known.
    """
    from vgf_rllib.data.loading import load_dataset
    from vgf_rllib.data.rllib_input import RLlibInput, input_given, read_rllib_input

    if input_given(config.input_):
        return read_rllib_input(
            RLlibInput.from_config(config),
            action_space=action_space,
            observation_space=observation_space,
        )
    options: dict[str, Any] = {}
    if config.dataset_dir:
        options["dataset_dir"] = config.dataset_dir
    if config.rescale_actions:
        options.update(rescale_actions=True, action_space=action_space)
    return load_dataset(config.dataset, **options)
