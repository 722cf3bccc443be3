"""OGBench names: which state-based datasets exist, how single-task names parse.

A single-task name is ``<env>-<dataset>-singletask[-taskN]-v0`` (e.g.
``cube-single-play-singletask-task2-v0``); its files are ``<env>-<dataset>-v0.npz`` and
``<env>-<dataset>-v0-val.npz``. Pure data, no ogbench import: usable without the package.

See docs/algorithm.md, "Data".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vgf_rllib.data.dataset import DatasetError

#: env name -> the state-based datasets OGBench publishes for it
OGBENCH_DATASETS: dict[str, tuple[str, ...]] = {
    **{f"pointmaze-{m}": ("navigate", "stitch") for m in ("medium", "large", "giant", "teleport")},
    **{f"antmaze-{m}": ("navigate", "stitch", "explore") for m in ("medium", "large", "teleport")},
    "antmaze-giant": ("navigate", "stitch"),
    **{f"humanoidmaze-{m}": ("navigate", "stitch") for m in ("medium", "large", "giant")},
    **{f"antsoccer-{m}": ("navigate", "stitch") for m in ("arena", "medium")},
    **{f"cube-{n}": ("play", "noisy") for n in ("single", "double", "triple", "quadruple")},
    "scene": ("play", "noisy"),
    **{f"puzzle-{s}": ("play", "noisy") for s in ("3x3", "4x4", "4x5", "4x6")},
}
TASK_IDS = (1, 2, 3, 4, 5)
VERSION_SUFFIX = "-v0"
DIR_ENV_VAR = "VGF_OGBENCH_DIR"
DEFAULT_DIR = "~/.ogbench/data"
#: key of the JSON provenance record (generator, dataset, split, episodes, seed, ogbench version)
#: that ``vgf-rllib data generate`` stores in each ``.npz`` it writes; OGBench's own loader reads
#: only the keys it names, so the extra entry is invisible to it
GENERATOR_KEY = "vgf_generator"


@dataclass(frozen=True)
class OGBenchName:
    """A parsed OGBench name: env (``cube-single``), dataset (``play``), task (None: default)."""

    env: str
    kind: str
    task: int | None = None

    @property
    def dataset(self) -> str:
        """The dataset (file) name, e.g. ``cube-single-play-v0``."""
        return f"{self.env}-{self.kind}{VERSION_SUFFIX}"

    @property
    def singletask(self) -> str:
        """The single-task name, e.g. ``cube-single-play-singletask-task2-v0``."""
        task = "" if self.task is None else f"-task{self.task}"
        return f"{self.env}-{self.kind}-singletask{task}{VERSION_SUFFIX}"

    @property
    def family(self) -> str:
        """The env family: ``pointmaze``, ``antmaze``, ..., ``cube``, ``scene`` or ``puzzle``."""
        return self.env.split("-")[0]


def _parse_env_kind(stem: str, original: str) -> tuple[str, str]:
    env, _, kind = stem.rpartition("-")
    if env not in OGBENCH_DATASETS:
        hint = (
            " (pixel-based 'visual-' datasets are not supported)"
            if env.startswith("visual-")
            else ""
        )
        raise DatasetError(
            f"ogbench:{original}: unknown OGBench env '{env}'{hint}; valid envs: "
            f"{sorted(OGBENCH_DATASETS)}"
        )
    if kind not in OGBENCH_DATASETS[env]:
        raise DatasetError(
            f"ogbench:{original}: env '{env}' has no dataset '{kind}'; valid datasets: "
            f"{list(OGBENCH_DATASETS[env])}"
        )
    return env, kind


def parse_singletask_name(name: str) -> OGBenchName:
    """Parse and validate ``<env>-<dataset>-singletask[-taskN]-v0``; errors list valid choices."""
    if not name.endswith(VERSION_SUFFIX):
        raise DatasetError(
            f"ogbench:{name}: expected '<env>-<dataset>-singletask[-taskN]-v0', e.g. "
            "'cube-single-play-singletask-task2-v0'"
        )
    stem = name[: -len(VERSION_SUFFIX)]
    head, sep, tail = stem.partition("-singletask")
    if not sep:
        _parse_env_kind(stem, name)  # a valid goal-conditioned name still needs 'singletask'
        raise DatasetError(
            f"ogbench:{name}: is a goal-conditioned dataset without rewards; use its single-task "
            f"form '{stem}-singletask-v0' (default task) or '{stem}-singletask-taskN-v0', "
            f"N in {list(TASK_IDS)}"
        )
    env, kind = _parse_env_kind(head, name)
    if not tail:
        return OGBenchName(env, kind)
    task_text = tail.removeprefix("-task")
    if not task_text.isdigit() or int(task_text) not in TASK_IDS:
        raise DatasetError(
            f"ogbench:{name}: unknown task '{tail.lstrip('-')}'; valid tasks: "
            f"{[f'task{i}' for i in TASK_IDS]} (or none for the default task)"
        )
    return OGBenchName(env, kind, int(task_text))


def parse_dataset_name(name: str) -> OGBenchName:
    """Parse a dataset name (``cube-single-play-v0``) or a single-task name to its dataset."""
    name = name.removeprefix("ogbench:")
    if "-singletask" in name:
        return parse_singletask_name(name)
    if not name.endswith(VERSION_SUFFIX):
        raise DatasetError(
            f"ogbench:{name}: expected '<env>-<dataset>-v0', e.g. 'cube-single-play-v0'"
        )
    return OGBenchName(*_parse_env_kind(name[: -len(VERSION_SUFFIX)], name))


def ogbench_dir(dataset_dir: str | os.PathLike | None = None) -> Path:
    """OGBench's directory: ``dataset_dir``, else ``$VGF_OGBENCH_DIR``, else ``~/.ogbench/data``."""
    chosen = dataset_dir or os.environ.get(DIR_ENV_VAR) or DEFAULT_DIR
    return Path(chosen).expanduser()


def dataset_files(dataset: str, dataset_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """The training and validation file paths of ``dataset`` (e.g. ``cube-single-play-v0``)."""
    directory = ogbench_dir(dataset_dir)
    return directory / f"{dataset}.npz", directory / f"{dataset}-val.npz"
