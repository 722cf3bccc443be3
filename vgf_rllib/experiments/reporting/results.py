"""Read Tune experiment folders into one table of evaluations (a row per trial, iteration, L_test).

Each trial folder holds Tune's ``params.json`` (the trial config) and ``result.json`` (one JSON
result per line); the sweep's ``vgf_sweep.yaml`` (in a parent folder) names the suite, the task
of each dataset spec, and the searched keys.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from vgf_rllib.evaluation import AUTO_BUDGET
from vgf_rllib.experiments.sweep import METADATA_FILE

EVAL_KEY = "vgf_eval"
#: a budget's record key: ``L<n>`` (fixed L_test) or ``Lauto`` (per-state adaptive budget)
BUDGET = re.compile(rf"L(\d+|{AUTO_BUDGET})")
#: score-like fields copied from each L_test record
RECORD_FIELDS = ("score_mean", "score_std", "return_mean", "success_rate", "episodes")
#: searched keys that are not part of a configuration (repeats of one)
SEED_KEYS = ("seed",)


class ReportError(ValueError):
    """The folder holds no readable VGF evaluation results."""


def _metadata_for(trial_dir: Path, root: Path) -> tuple[Path, dict[str, Any]]:
    """A trial's experiment folder (nearest parent with sweep metadata) and that metadata."""
    for folder in [trial_dir, *trial_dir.parents]:
        if (folder / METADATA_FILE).is_file():
            return folder, yaml.safe_load((folder / METADATA_FILE).read_text()) or {}
        if folder == root:
            break
    return trial_dir.parent, {}


def _read_results(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut off by an interruption
    return rows


def _eval_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per budget: ``L`` is an int, or "auto"; ``steps`` the transport steps per
    decision (L itself, or the adaptive budget's mean)."""
    records = result.get(EVAL_KEY) or {}
    rows = []
    for key, record in records.items():
        match = BUDGET.fullmatch(key)
        if match and isinstance(record, dict):
            budget = match.group(1)
            label = budget if budget == AUTO_BUDGET else int(budget)
            steps = record.get("flow_steps_mean") if label == AUTO_BUDGET else label
            rows.append({"L": label, "steps": steps, **{f: record.get(f) for f in RECORD_FIELDS}})
    return rows


def _label(value: Any) -> str:
    """Floats to 4 significant digits (random search draws long ones), anything else as is."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _hashable(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def load_trial(trial_dir: Path, root: Path) -> pd.DataFrame:
    """Evaluation rows of one trial folder (empty when it never evaluated)."""
    experiment_dir, metadata = _metadata_for(trial_dir, root)
    config = json.loads((trial_dir / "params.json").read_text())
    tasks = metadata.get("tasks") or {}
    # sweeps key their tasks by name; those written before own-data tasks, by dataset spec
    task_info = tasks.get(config.get("task_name")) or tasks.get(config.get("dataset"), {})
    task = task_info.get("name") or str(config.get("dataset", trial_dir.name)).split(":")[-1]
    base = {
        "suite": metadata.get("suite") or experiment_dir.name,
        "experiment": experiment_dir.name,
        "task": task,
        "group": task_info.get("group", task),
        "trial": trial_dir.name,
        "errored": False,  # set below from the results
        "dataset": str(config.get("dataset")),
        "dataset_dir": config.get("dataset_dir"),
    }
    params = {key: _hashable(value) for key, value in config.items()}
    rows = []
    results = list(_read_results(trial_dir / "result.json"))
    # Tune keeps error.txt after a failure it recovered from (a lost node): errored = failed
    # and not finished since
    finished = bool(results) and bool(results[-1].get("done"))
    base["errored"] = (trial_dir / "error.txt").exists() and not finished
    for result in results:
        for record in _eval_rows(result):
            rows.append(
                {
                    **base,
                    "iteration": result.get("training_iteration"),
                    "updates": result.get(
                        "num_gradient_updates_lifetime", result.get("training_iteration")
                    ),
                    "env_steps": result.get("num_online_env_steps_lifetime", 0),
                    **record,
                }
            )
    frame = pd.DataFrame(rows)
    if not frame.empty:  # a trial resumed from an older checkpoint repeats iterations: last wins
        frame = frame.drop_duplicates(["iteration", "L"], keep="last", ignore_index=True)
    search = metadata.get("search")
    frame.attrs = {"params": params, "search": search}
    return frame


def config_keys(trials: list[pd.DataFrame]) -> list[str]:
    """Keys that tell configurations apart: the searched keys, else keys that vary per task."""
    searched = {key for t in trials for key in (t.attrs.get("search") or [])}
    if searched:
        return sorted(searched - set(SEED_KEYS))
    by_task: dict[str, list[dict[str, Any]]] = {}
    for trial in trials:
        by_task.setdefault(trial["task"].iloc[0], []).append(trial.attrs["params"])
    varying = {
        key
        for params in by_task.values()
        for key in set().union(*params)
        if len({repr(p.get(key)) for p in params}) > 1
    }
    return sorted(varying - set(SEED_KEYS))


def load_evaluations(root: str | Path) -> pd.DataFrame:
    """All evaluation rows under ``root``, with one column per configuration key, ``config``
    (a label, prefixed by the experiment when ``root`` holds several) and ``seed``."""
    root = Path(root)
    trials = [
        load_trial(path.parent, root)
        for path in sorted(root.rglob("result.json"))
        if (path.parent / "params.json").is_file()
    ]
    trials = [trial for trial in trials if not trial.empty]
    if not trials:
        raise ReportError(
            f"{root}: no trial with VGF evaluations (result.json with '{EVAL_KEY}') found"
        )
    keys = config_keys(trials)
    for trial in trials:
        params = trial.attrs["params"]
        for key in keys:
            trial[key] = params.get(key)
        trial["config"] = ", ".join(f"{key}={_label(params.get(key))}" for key in keys) or "default"
        trial["seed"] = params.get("seed")
    frame = pd.concat(trials, ignore_index=True)
    if frame.experiment.nunique() > 1:  # equal searched values may hide different fixed settings
        frame["config"] = frame.experiment + ": " + frame.config
    frame.attrs = {"config_keys": keys}
    return frame
