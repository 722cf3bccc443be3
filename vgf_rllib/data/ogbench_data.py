"""OGBench single-task datasets and eval envs, strictly offline (docs/algorithm.md, "Data").

Loading goes through ``ogbench.make_env_and_datasets(name, dataset_dir, compact_dataset=False)``,
which relabels rewards and ``masks`` (0 only where the task is complete) for the task;
``terminals`` only mark trajectory ends. ogbench downloads missing files silently, so both files
are checked first and nothing is downloaded unless ``allow_download=True``.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from vgf_rllib.data.dataset import DatasetError, OfflineDataset, require_package
from vgf_rllib.data.loading import build_dataset
from vgf_rllib.data.sources import DataSource, register
from vgf_rllib.data.ogbench_catalog import (
    DIR_ENV_VAR,
    OGBenchName,
    dataset_files,
    ogbench_dir,
    parse_dataset_name,
    parse_singletask_name,
)

TRANSITION_KEYS = ("observations", "actions", "rewards", "next_observations", "masks", "terminals")
FILE_KEYS = ("observations", "actions", "terminals", "qpos")  # what relabelling needs in each file
#: families whose datasets need downloaded expert policies (cannot be generated here)
EXPERT_FAMILIES = ("antmaze", "humanoidmaze", "antsoccer")
SPLITS = ("train", "val")
#: when single-task success (and reward, termination) is judged in the eval env: on the state
#: before the step ("pre", ogbench >= 1.2's default) or after it ("post", ogbench 1.1.0, which
#: the paper's authors used). Every OGBench env constructor takes ``success_timing``.
SUCCESS_TIMINGS = ("pre", "post")


def require_ogbench() -> ModuleType:
    """Import ogbench or fail with the install command."""
    return require_package("ogbench", "OGBench datasets and envs", "ogbench")


def _missing_files_message(parsed: OGBenchName, missing: list[Path]) -> str:
    directory = missing[0].parent
    lines = [
        f"ogbench:{parsed.singletask}: missing {[p.name for p in missing]} in {directory}; "
        "nothing is downloaded (allow_download=False)."
    ]
    if parsed.family in EXPERT_FAMILIES:
        lines.append(
            f"'{parsed.dataset}' needs OGBench's expert policies and cannot be generated here: "
            f"fetch it where there is internet (ogbench.download_datasets(['{parsed.dataset}'])) "
            f"and copy both files into {directory}."
        )
    else:
        lines.append(
            f"Generate it offline with `vgf-rllib data generate {parsed.dataset}` "
            "(add `--episodes N` for a small version), or copy the official files there."
        )
    lines.append(f"The directory is dataset_dir, else ${DIR_ENV_VAR}, else ~/.ogbench/data.")
    return " ".join(lines)


def _check_file(parsed: OGBenchName, path: Path) -> None:
    """Cheap integrity check (zip directory and keys) so a bad file is named before loading."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            absent = [key for key in FILE_KEYS if key not in archive.files]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DatasetError(
            f"ogbench:{parsed.singletask}: {path} is truncated or corrupt ({error}); delete it "
            f"and regenerate with `vgf-rllib data generate {parsed.dataset} --force`"
        ) from error
    if absent:
        raise DatasetError(
            f"ogbench:{parsed.singletask}: {path} lacks key(s) {absent}; an OGBench dataset "
            "file holds observations, actions, terminals and qpos/qvel (and button_states)"
        )


def read_ogbench(
    parsed: OGBenchName,
    dataset_dir: str | os.PathLike | None = None,
    *,
    allow_download: bool = False,
    add_info: bool = False,
) -> tuple[Any, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(env, train, val)`` from ``ogbench.make_env_and_datasets`` after the offline checks.

    ``add_info`` keeps the per-transition ``qpos``/``qvel``/``button_states`` (used by verify).
    """
    directory = ogbench_dir(dataset_dir)
    files = dataset_files(parsed.dataset, directory)
    missing = [path for path in files if not path.is_file()]
    if missing and not allow_download:
        raise DatasetError(_missing_files_message(parsed, missing))
    for path in files:
        if path.is_file():
            _check_file(parsed, path)
    ogbench = require_ogbench()
    try:
        return ogbench.make_env_and_datasets(
            parsed.singletask,
            dataset_dir=str(directory),
            compact_dataset=False,
            add_info=add_info,
        )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise DatasetError(
            f"ogbench:{parsed.singletask}: cannot read {files[0]} / {files[1]} "
            f"({type(error).__name__}: {error}); they may be corrupt: regenerate with "
            f"`vgf-rllib data generate {parsed.dataset} --force`"
        ) from error


def transitions(
    parsed: OGBenchName,
    env: Any,
    split_data: dict[str, np.ndarray],
    *,
    split: str,
    file: Path,
    **options: Any,
) -> OfflineDataset:
    """One split of :func:`read_ogbench` output as a validated :class:`OfflineDataset`.

    ``options`` are :func:`build_dataset`'s; rescaling defaults to the env's action space.
    """
    metadata = {
        "suite": "ogbench",
        "name": parsed.singletask,
        "dataset": parsed.dataset,
        "split": split,
        "task": int(env.unwrapped._reward_task_id),  # the default task as resolved by the env
        "env_spec": f"ogbench:{parsed.singletask}",
        "file": str(file),
    }
    if options.get("rescale_actions") and options.get("action_space") is None:
        options["action_space"] = env.action_space
    return build_dataset(
        {key: split_data[key] for key in TRANSITION_KEYS},
        source=f"ogbench:{parsed.singletask} [{split}]",
        metadata=metadata,
        **options,
    )


def load_ogbench(
    name: str,
    *,
    dataset_dir: str | os.PathLike | None = None,
    allow_download: bool = False,
    split: str = "train",
    rescale_actions: bool = False,
    action_space: Any = None,
) -> OfflineDataset:
    """Load ``<env>-<dataset>-singletask[-taskN]-v0``; ``split`` is train or val."""
    parsed = parse_singletask_name(name)
    if split not in SPLITS:
        raise DatasetError(f"ogbench:{name}: unknown split '{split}'; valid splits: {list(SPLITS)}")
    env, train, val = read_ogbench(parsed, dataset_dir, allow_download=allow_download)
    try:
        return transitions(
            parsed,
            env,
            train if split == "train" else val,
            split=split,
            file=dataset_files(parsed.dataset, dataset_dir)[SPLITS.index(split)],
            rescale_actions=rescale_actions,
            action_space=action_space,
        )
    finally:
        env.close()


def check_success_timing(success_timing: str | None) -> None:
    """``None`` (ogbench's default) or one of :data:`SUCCESS_TIMINGS`, else a clear error."""
    if success_timing is not None and success_timing not in SUCCESS_TIMINGS:
        raise DatasetError(
            f"success_timing must be one of {list(SUCCESS_TIMINGS)} or None (ogbench's default), "
            f"got {success_timing!r}"
        )


def make_ogbench_env(name: str, success_timing: str | None = None, **env_kwargs: Any) -> Any:
    """The single-task eval env for ``name`` (benchmark TimeLimit, ``info["success"]``).

    ``success_timing``: "pre" judges success on the state before each step, "post" on the
    next state (ogbench 1.1.0, the paper's setting); None keeps the installed ogbench's default
    ("pre" since 1.2). :func:`env_success_timing` tells which one an env uses.
    """
    parsed = parse_singletask_name(name)
    check_success_timing(success_timing)
    if success_timing is not None:
        env_kwargs["success_timing"] = success_timing
    try:
        env = require_ogbench().make_env_and_datasets(
            parsed.singletask, env_only=True, **env_kwargs
        )
    except TypeError as error:
        if "success_timing" not in env_kwargs or "success_timing" not in str(error):
            raise
        raise DatasetError(
            f"ogbench:{parsed.singletask}: this ogbench version does not accept "
            f"success_timing ({error}); it needs ogbench >= 1.2 (`pip install -U ogbench`)"
        ) from error
    if success_timing is not None and env_success_timing(env) != success_timing:
        raise DatasetError(
            f"ogbench:{parsed.singletask}: asked for success_timing={success_timing!r}, the env "
            f"uses {env_success_timing(env)!r}"
        )
    return env


def env_success_timing(env: Any) -> str | None:
    """The success timing an OGBench env uses ("pre" / "post"), None where it does not say."""
    timing = getattr(env.unwrapped, "_success_timing", None)
    return timing if timing in SUCCESS_TIMINGS else None


#: OGBench families whose datasets OGBench's shipped oracles can regenerate (docs/data.md)
GENERATABLE_FAMILIES = ("pointmaze", "cube", "scene", "puzzle")


def ogbench_local_files(name: str, dataset_dir: str | None = None) -> list[Path]:
    """The ``.npz`` and ``-val.npz`` files an ``ogbench:`` dataset or task name reads."""
    return list(dataset_files(parse_dataset_name(name).dataset, dataset_dir))


def ogbench_how_to_get(name: str, dataset_dir: str | None = None) -> str:
    """The generate command, or the official download where OGBench ships no oracle."""
    parsed, directory = parse_dataset_name(name), ogbench_dir(dataset_dir)
    if parsed.family in GENERATABLE_FAMILIES:
        return f"vgf-rllib data generate {parsed.dataset} --dir {directory}"
    return (
        "official download, needs internet (cannot be generated locally): python -c "
        f"\"import ogbench; ogbench.download_datasets(['{parsed.dataset}'], '{directory}')\""
    )


register(
    DataSource(
        prefix="ogbench",
        load=load_ogbench,
        eval_env=lambda name: f"ogbench:{name}",
        make_env=make_ogbench_env,
        local_files=ogbench_local_files,
        how_to_get=ogbench_how_to_get,
    )
)
