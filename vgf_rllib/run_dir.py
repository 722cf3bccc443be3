"""A training run's directory: the one owner of its layout (docs/runs.md).

```
RUN_DIR/
  run.json                  what was trained (dataset, env, settings, dataset shape)
  results.jsonl             one record per training iteration
  evaluation.json           the final evaluation (same records as `vgf-rllib evaluate`)
  tensorboard/              TensorBoard event files of the same metrics
  checkpoints/iter_000012/  RLlib algorithm checkpoint + MANIFEST.json (written last)
```

Checkpoints are written atomically: RLlib saves into a hidden temporary folder, every file is
flushed to disk, a manifest with each file's size and SHA-256 is written last, and only then is
the folder renamed to ``iter_NNNNNN``. A kill at any moment therefore leaves either a complete
checkpoint or a hidden temporary folder that is ignored (and removed by the next save). Loading
verifies the manifest and falls back to the newest checkpoint that verifies.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ray.rllib.core import DEFAULT_MODULE_ID

from vgf_rllib.logs import warn

RUN_INFO_FILE = "run.json"
RESULTS_FILE = "results.jsonl"
EVALUATION_FILE = "evaluation.json"
TENSORBOARD_SUBDIR = "tensorboard"
CHECKPOINTS_SUBDIR = "checkpoints"
MANIFEST_FILE = "MANIFEST.json"
CHECKPOINT_PREFIX = "iter_"
TEMPORARY_PREFIX = ".partial-"
#: where RLlib puts the RLModule inside an algorithm checkpoint
MODULE_SUBDIR = Path("learner_group") / "learner" / "rl_module" / DEFAULT_MODULE_ID


class CheckpointError(ValueError):
    """A checkpoint or run path is missing, incomplete, corrupt or of the wrong kind."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    """Flush a file's or a directory's contents to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _files(folder: Path) -> Iterator[Path]:
    return (path for path in sorted(folder.rglob("*")) if path.is_file())


def write_json_atomically(path: Path, payload: Any) -> None:
    """Write JSON to ``path`` through a temporary file and a rename (never half a file)."""
    temporary = path.with_name(f"{TEMPORARY_PREFIX}{path.name}")
    with temporary.open("w") as handle:
        handle.write(json.dumps(payload, indent=2))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def write_manifest(checkpoint: Path, extra: dict[str, Any]) -> None:
    """Flush every file of ``checkpoint`` and record its size and SHA-256 (written last)."""
    paths = list(_files(checkpoint))
    files = {}
    for path in paths:
        _fsync(path)
        files[str(path.relative_to(checkpoint))] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    for folder in sorted({path.parent for path in paths}, reverse=True):
        _fsync(folder)
    write_json_atomically(checkpoint / MANIFEST_FILE, {**extra, "files": files})
    _fsync(checkpoint)


def verify_checkpoint(checkpoint: Path) -> dict[str, Any]:
    """The manifest of ``checkpoint`` after checking every listed file's size and checksum.

    Raises CheckpointError naming the first file that is missing, truncated or altered.
    """
    manifest_path = checkpoint / MANIFEST_FILE
    if not manifest_path.is_file():
        raise CheckpointError(f"{checkpoint}: incomplete checkpoint (no {MANIFEST_FILE})")
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise CheckpointError(f"{manifest_path}: unreadable manifest ({error})") from error
    for name, expected in files.items():
        path = checkpoint / name
        if not path.is_file():
            raise CheckpointError(f"{checkpoint}: file {name} is missing")
        size = path.stat().st_size
        if size != expected["size"]:
            raise CheckpointError(
                f"{checkpoint}: file {name} has {size} bytes, the manifest says {expected['size']} (truncated?)"
            )
        if _sha256(path) != expected["sha256"]:
            raise CheckpointError(f"{checkpoint}: file {name} does not match its checksum (corrupted)")
    return manifest


@dataclass(frozen=True)
class RunDir:
    """The directory of one ``vgf-rllib train`` run (layout in the module docstring)."""

    path: Path

    @classmethod
    def at(cls, path: str | Path) -> RunDir:
        return cls(Path(path).expanduser().resolve())

    @classmethod
    def containing(cls, path: str | Path) -> RunDir | None:
        """The run directory that is ``path`` or holds it (None when there is none)."""
        path = Path(path).expanduser().resolve()
        for folder in (path, *path.parents):
            if (folder / RUN_INFO_FILE).is_file():
                return cls(folder)
        return None

    # -- files ---------------------------------------------------------------------------
    @property
    def info_file(self) -> Path:
        return self.path / RUN_INFO_FILE

    @property
    def results_file(self) -> Path:
        return self.path / RESULTS_FILE

    @property
    def evaluation_file(self) -> Path:
        return self.path / EVALUATION_FILE

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / TENSORBOARD_SUBDIR

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINTS_SUBDIR

    def exists(self) -> bool:
        """Whether a run was started here (``run.json`` exists)."""
        return self.info_file.is_file()

    def read_info(self) -> dict[str, Any]:
        try:
            return json.loads(self.info_file.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise CheckpointError(f"{self.info_file}: unreadable run description ({error})") from error

    def write_info(self, info: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self.info_file, info)

    def check_writable(self) -> None:
        """Refuse a run directory that cannot be created or written (before any training)."""
        folder = self.path
        while not folder.exists():
            folder = folder.parent
        if not folder.is_dir():
            raise CheckpointError(f"{self.path}: {folder} is a file, not a directory")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise CheckpointError(f"{self.path}: {folder} is not writable")

    # -- results -------------------------------------------------------------------------
    def read_results(self) -> list[dict[str, Any]]:
        """The iteration records; a last line cut off by a kill is dropped."""
        if not self.results_file.is_file():
            return []
        records = []
        for line in self.results_file.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # only the last line can be partial: everything before it was flushed
        return records

    def keep_results_through(self, iteration: int) -> list[dict[str, Any]]:
        """Drop records after ``iteration`` (they are retrained on resume); returns the rest."""
        kept = [record for record in self.read_results() if record["iteration"] <= iteration]
        temporary = self.results_file.with_name(f"{TEMPORARY_PREFIX}{RESULTS_FILE}")
        temporary.write_text("".join(json.dumps(record) + "\n" for record in kept))
        os.replace(temporary, self.results_file)
        return kept

    # -- checkpoints ---------------------------------------------------------------------
    def checkpoint_path(self, iteration: int) -> Path:
        return self.checkpoints_dir / f"{CHECKPOINT_PREFIX}{iteration:06d}"

    def save_checkpoint(
        self, save: Callable[[str], Any], iteration: int, *, score: float | None = None
    ) -> Path:
        """Write a checkpoint atomically with ``save(folder)`` (e.g. ``algo.save_to_path``).

        On failure (a full disk) nothing but a hidden temporary folder is left, the older
        checkpoints stay intact, and CheckpointError says what happened.
        """
        self.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.checkpoints_dir.glob(f"{TEMPORARY_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)  # from a save that was killed
        final = self.checkpoint_path(iteration)
        temporary = self.checkpoints_dir / f"{TEMPORARY_PREFIX}{final.name}"
        try:
            save(str(temporary))
            write_manifest(temporary, {"iteration": iteration, "score": score})
            if final.exists():  # the same iteration saved before (a resumed run redoes it)
                shutil.rmtree(final)
            os.rename(temporary, final)
            _fsync(self.checkpoints_dir)
        except OSError as error:
            shutil.rmtree(temporary, ignore_errors=True)
            raise CheckpointError(
                f"could not write the checkpoint of iteration {iteration} under "
                f"{self.checkpoints_dir} ({error}); earlier checkpoints are intact"
            ) from error
        return final

    def checkpoints(self) -> list[Path]:
        """Finished checkpoint folders (manifest present), oldest first; not yet verified."""
        folders = sorted(self.checkpoints_dir.glob(f"{CHECKPOINT_PREFIX}*"))
        return [folder for folder in folders if (folder / MANIFEST_FILE).is_file()]

    def latest_checkpoint(self) -> Path:
        """The newest checkpoint that verifies; broken newer ones are named in a warning."""
        for checkpoint in reversed(sorted(self.checkpoints_dir.glob(f"{CHECKPOINT_PREFIX}*"))):
            try:
                verify_checkpoint(checkpoint)
            except CheckpointError as error:
                warn(f"skipping {error}")
                continue
            return checkpoint
        raise CheckpointError(f"{self.path}: no complete checkpoint under {CHECKPOINTS_SUBDIR}/")

    def best_checkpoint(self) -> Path | None:
        """The kept checkpoint with the highest evaluation score (None if none was scored)."""
        scored = [(self._manifest(folder).get("score"), folder) for folder in self.checkpoints()]
        scored = [(score, folder) for score, folder in scored if score is not None]
        return max(scored)[1] if scored else None

    def prune_checkpoints(self, keep_last: int) -> None:
        """Keep the newest ``keep_last`` checkpoints and the best-scoring one."""
        folders = self.checkpoints()
        keep = set(folders[-keep_last:]) | {self.best_checkpoint()}
        for folder in folders:
            if folder not in keep:
                shutil.rmtree(folder)

    @staticmethod
    def _manifest(checkpoint: Path) -> dict[str, Any]:
        try:
            return json.loads((checkpoint / MANIFEST_FILE).read_text())
        except (OSError, json.JSONDecodeError):
            return {}


def module_dir(path: str | Path) -> Path:
    """Resolve a run dir, an algorithm checkpoint or a module dir to the (absolute) module dir.

    A run dir resolves to its newest complete checkpoint; a checkpoint with a manifest is
    verified first (a checkpoint saved by the Python API has none and is taken as is).
    """
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise CheckpointError(f"{path}: no such run, checkpoint or module directory")
    if (path / CHECKPOINTS_SUBDIR).is_dir() or (path / RUN_INFO_FILE).is_file():
        path = RunDir(path).latest_checkpoint()
    elif (path / MANIFEST_FILE).is_file():
        verify_checkpoint(path)
    if (path / MODULE_SUBDIR).is_dir():
        return path / MODULE_SUBDIR
    if (path / "module_state.pt").exists() or (path / "class_and_ctor_args.pkl").exists():
        return path
    inside_checkpoint = any((parent / MODULE_SUBDIR).is_dir() for parent in path.parents)
    if inside_checkpoint or path.name == CHECKPOINTS_SUBDIR or any(path.glob(f"*/{MODULE_SUBDIR}")):
        raise CheckpointError(
            f"{path}: wrong folder level; pass the run directory above it or one "
            f"'{CHECKPOINT_PREFIX}*' checkpoint inside it"
        )
    raise CheckpointError(
        f"{path}: not a VGF run dir, algorithm checkpoint or RLModule checkpoint "
        f"(expected '{RUN_INFO_FILE}', '{CHECKPOINTS_SUBDIR}/' or '{MODULE_SUBDIR}')"
    )
