"""RLlib's offline input, ``config.offline_data(input_=...)``, read into an :class:`OfflineDataset`.

VGF reads what RLlib's BC, MARWIL, CQL and IQL read: paths, globs or URIs that Ray Data
understands (``local://``, ``file://``, ``s3://``, ``gs://``, ``abfs://``, ...) through
``ray.data.<input_read_method>``, or a ``ray.data.Dataset`` passed as ``input_``; in either of
RLlib's recorded layouts: columns (``output_write_episodes=False``, one row per step) or
serialized ``SingleAgentEpisode`` s (``input_read_episodes=True``). The rows stream through Ray
Data once, on the driver; the learners then hold them on their device as for any dataset.

The mapping to VGF's fields (docs/data.md, "RLlib recordings"):

- ``masks = 1 - terminateds``; ``terminals`` (trajectory ends) = terminated or truncated (in the
  episode layout also the last step of an unfinished chunk), so a truncation keeps its bootstrap;
- ``next_observations`` come from the recording (``new_obs``; an episode's next observations
  include its last one);
- actions are taken in the env's units and clipped to the action space's bounds, as RLlib
  clips before ``env.step``, then mapped onto [-1, 1]; with ``actions_in_input_normalized=True``
  they are taken as already normalized (an RLModule's output under ``normalize_actions``) and
  clipped to [-1, 1], as RLlib's unsquashing does. Clipped rows are counted and reported;
- packed (LZ4) columns named in ``input_compress_columns`` are unpacked with RLlib's own
  ``unpack_if_needed``;
- exact repeats of a step (RLlib's writer re-writes its whole buffer at every ``sample()`` call
  unless ``output_max_rows_per_file`` is set) are dropped and counted, as RLlib's episode reader
  drops repeated episodes.

Only flat ``Box`` observations and ``Box`` actions go in; Dict, Discrete and image spaces are
refused with an error naming the space.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vgf_rllib.data.dataset import DatasetError, OfflineDataset
from vgf_rllib.data.files import arrow_column_to_numpy
from vgf_rllib.data.loading import build_dataset
from vgf_rllib.data.spaces import rescale_actions
from vgf_rllib.logs import warn

#: RLlib's default ``input_`` (online sampling): no offline input given
SAMPLER = "sampler"
#: the column of RLlib's episode layout: one msgpack-serialized SingleAgentEpisode per row
EPISODE_COLUMN = "item"
#: rows per batch pulled from Ray Data
READ_BATCH_ROWS = 4096
#: columns RLlib records only for actions computed by an RLModule
MODULE_OUTPUT_COLUMNS = ("action_logp", "action_dist_inputs")


def input_given(value: Any) -> bool:
    """Whether ``config.input_`` names offline input (RLlib's default is ``"sampler"``)."""
    return value is not None and not (isinstance(value, str) and value == SAMPLER)


@dataclass(frozen=True)
class RLlibInput:
    """What ``config.offline_data(...)`` says about the data, in RLlib's own field names."""

    input_: Any
    read_method: str = "read_parquet"
    read_method_kwargs: dict[str, Any] = field(default_factory=dict)
    read_schema: dict[str, str] = field(default_factory=dict)
    read_episodes: bool = False
    compress_columns: tuple[str, ...] = ()
    filesystem: Any = None
    filesystem_kwargs: dict[str, Any] = field(default_factory=dict)
    actions_normalized: bool = False

    @classmethod
    def from_config(cls, config: Any) -> RLlibInput:
        """The input fields of an AlgorithmConfig (RLlib's ``offline_data`` setter)."""
        return cls(
            input_=config.input_,
            read_method=config.input_read_method or "read_parquet",
            read_method_kwargs=dict(config.input_read_method_kwargs or {}),
            read_schema=dict(config.input_read_schema or {}),
            read_episodes=bool(config.input_read_episodes),
            compress_columns=tuple(config.input_compress_columns or ()),
            filesystem=config.input_filesystem,
            filesystem_kwargs=dict(config.input_filesystem_kwargs or {}),
            actions_normalized=bool(config.actions_in_input_normalized),
        )

    @property
    def description(self) -> str:
        """The input as users wrote it: a path or URI, a list of them, or a Dataset."""
        import ray.data

        if isinstance(self.input_, ray.data.Dataset):
            return "<ray.data.Dataset>"
        if isinstance(self.input_, (list, tuple)):
            return ", ".join(str(path) for path in self.input_)
        return str(self.input_)

    def check(self) -> None:
        """Refuse input kinds VGF cannot read (old-stack readers, mixed sampler input)."""
        import ray.data

        value = self.input_
        paths = value if isinstance(value, (list, tuple)) else [value]
        readable = isinstance(value, ray.data.Dataset) or (
            len(paths) > 0 and all(isinstance(p, (str, os.PathLike)) for p in paths)
        )
        if not readable:
            raise DatasetError(
                f"input_={value!r}: VGF reads a path, URI or glob, a list of them, or a "
                "ray.data.Dataset (old-stack input readers and sampling mixes are not supported)"
            )
        if self.read_episodes and self.read_method != "read_parquet":
            raise DatasetError(
                f"{self.description}: input_read_episodes=True reads RLlib's episode recordings, "
                f"which are parquet files; input_read_method={self.read_method!r} cannot read them"
            )


def read_rllib_input(
    spec: RLlibInput, *, action_space: Any = None, observation_space: Any = None
) -> OfflineDataset:
    """Read, map and validate RLlib offline input (module docstring; docs/data.md).

    ``action_space`` / ``observation_space`` are the env's (None: the spaces an episode
    recording carries; column recordings without an env need ``actions_in_input_normalized``).
    """
    spec.check()
    source = spec.description
    steps = _EpisodeSteps(source) if spec.read_episodes else _ColumnSteps(source, spec)
    rows = 0
    with _quiet_ray_data():
        for batch in _batches(_open(spec), source):
            if rows == 0:
                steps.check_columns(batch.column_names)
            steps.add(batch)
            rows += batch.num_rows
    if rows == 0:
        raise DatasetError(f"{source}: the input holds no rows")
    arrays = steps.arrays()
    if observation_space is None:
        observation_space = steps.observation_space
    _check_observation_space(source, observation_space, arrays["observations"])
    action_space = action_space if action_space is not None else steps.action_space
    actions, clipped = executed_actions(
        source, arrays["actions"], action_space, normalized=spec.actions_normalized
    )
    arrays["actions"] = actions
    metadata = {
        "input": source,
        "layout": "episodes" if spec.read_episodes else "columns",
        "rows_read": rows,
        "duplicate_rows_dropped": steps.duplicates,
        "clipped_action_rows": clipped,
        "recorded_spaces": (steps.observation_space, steps.action_space),
    }
    _report(source, spec, steps, clipped, len(actions))
    return build_dataset(arrays, source=source, metadata=metadata)


def executed_actions(
    source: str, actions: np.ndarray, action_space: Any, *, normalized: bool
) -> tuple[np.ndarray, int]:
    """The recorded actions as the env executed them, mapped onto [-1, 1]; and how many rows
    were clipped to the bounds (RLlib clips before ``env.step``)."""
    if np.issubdtype(actions.dtype, np.integer):
        raise DatasetError(
            f"{source}: column 'actions' holds integers ({_space_text(action_space)}); VGF needs "
            "continuous Box actions"
        )
    if normalized:
        low, high = -1.0, 1.0
    else:
        if action_space is None:
            raise DatasetError(
                f"{source}: the recorded actions are in the env's units and no action space is "
                "known to map them onto [-1, 1]: name the env (config.environment(...) / --env), "
                "set config.environment(action_space=...), or set "
                "actions_in_input_normalized=True if they are already normalized"
            )
        low, high = _box_bounds(source, action_space, actions.shape[1])
    executed = np.clip(actions, low, high)
    clipped = int((executed != actions).any(axis=1).sum())
    if not normalized:
        executed = rescale_actions(executed, action_space, source)
    return executed.astype(np.float32), clipped


def _box_bounds(source: str, space: Any, action_dim: int) -> tuple[np.ndarray, np.ndarray]:
    import gymnasium as gym

    if not isinstance(space, gym.spaces.Box):
        raise DatasetError(
            f"{source}: the action space is {_space_text(space)}; VGF needs continuous Box actions"
        )
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    if space.shape != (action_dim,):
        raise DatasetError(
            f"{source}: column 'actions' has dim {action_dim}, but the action space is {space}"
        )
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise DatasetError(
            f"{source}: the action space {space} is unbounded, so recorded actions cannot be "
            "mapped onto [-1, 1]; normalize them and set actions_in_input_normalized=True"
        )
    return low, high


def _check_observation_space(source: str, space: Any, observations: np.ndarray) -> None:
    import gymnasium as gym

    if space is not None and not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1):
        raise DatasetError(
            f"{source}: the observation space is {_space_text(space)}; VGF reads flat Box "
            "observations only (flatten them first, e.g. gymnasium's FlattenObservation)"
        )
    if observations.ndim != 2:
        raise DatasetError(
            f"{source}: column 'obs' holds observations of shape {observations.shape[1:]}; VGF "
            "reads flat Box observations only (image and nested observations are not supported)"
        )


def _space_text(space: Any) -> str:
    return "unknown" if space is None else f"{space}"


def _report(source: str, spec: RLlibInput, steps: Any, clipped: int, rows: int) -> None:
    """One warning line per fact a user should know about the mapping."""
    if steps.duplicates:
        warn(
            f"{source}: dropped {steps.duplicates} repeated step(s) (RLlib's writer re-writes "
            "its buffer at every sample() call unless output_max_rows_per_file is set)"
        )
    if clipped:
        bound = "[-1, 1]" if spec.actions_normalized else "the action space's bounds"
        warn(f"{source}: clipped the actions of {clipped} of {rows} rows to {bound}, as RLlib "
             "does before env.step")
    if steps.module_actions and not spec.actions_normalized:
        warn(
            f"{source}: the actions were computed by an RLModule (it recorded "
            f"'{steps.module_actions}'); under normalize_actions=True, RLlib's default, such "
            "actions are recorded normalized: if so, set actions_in_input_normalized=True"
        )


# -- reading through Ray Data ----------------------------------------------------------------


@contextmanager
def _quiet_ray_data() -> Iterator[None]:
    """Ray Data's per-dataset INFO lines and progress bars off while reading (VGF shows its own)."""
    from ray.data import DataContext

    context = DataContext.get_current()
    logger = logging.getLogger("ray.data")
    bars, level = context.enable_progress_bars, logger.level
    logger.setLevel(logging.ERROR)
    context.enable_progress_bars = False
    try:
        yield
    finally:
        context.enable_progress_bars = bars
        logger.setLevel(level)


def _filesystem(spec: RLlibInput) -> Any:
    """``input_filesystem`` as RLlib's OfflineData reads it: 's3', 'gcs', 'abs' or a pyarrow FS."""
    import pyarrow.fs

    kind, kwargs = spec.filesystem, spec.filesystem_kwargs
    if kind is None or isinstance(kind, pyarrow.fs.FileSystem):
        return kind
    if kind == "s3":
        return pyarrow.fs.S3FileSystem(**kwargs)
    if kind in ("gcs", "abs"):
        module, cls = ("gcsfs", "GCSFileSystem") if kind == "gcs" else ("adlfs", "AzureBlobFileSystem")
        try:
            return getattr(__import__(module), cls)(**kwargs)
        except ImportError as error:
            raise DatasetError(
                f"input_filesystem={kind!r} needs the '{module}' package (`pip install {module}`)"
            ) from error
    raise DatasetError(
        f"input_filesystem={kind!r} is not one of None, 's3', 'gcs', 'abs' or a "
        "pyarrow.fs.FileSystem"
    )


def _open(spec: RLlibInput) -> Any:
    import ray.data

    if isinstance(spec.input_, ray.data.Dataset):
        return spec.input_
    read = getattr(ray.data, spec.read_method, None)
    if not (spec.read_method.startswith("read_") and callable(read)):
        raise DatasetError(
            f"input_read_method={spec.read_method!r} is not a ray.data reader (e.g. "
            "'read_parquet', 'read_json')"
        )
    kwargs = dict(spec.read_method_kwargs)
    if (filesystem := _filesystem(spec)) is not None:
        kwargs["filesystem"] = filesystem
    paths = [str(p) for p in spec.input_] if isinstance(spec.input_, (list, tuple)) else str(spec.input_)
    try:
        return read(paths, **kwargs)
    except Exception as error:  # Ray Data and pyarrow raise many types for unreadable input
        raise DatasetError(f"{spec.description}: cannot read ({_one_line(error)})") from error


def _batches(dataset: Any, source: str) -> Iterator[Any]:
    """The input's rows as pyarrow Tables of up to READ_BATCH_ROWS rows (Ray Data's numpy
    batches fail on its own many-chunk tensor columns), with a row counter on a terminal."""
    from tqdm.auto import tqdm

    with tqdm(desc="read input", unit="row", disable=None, mininterval=2.0) as bar:
        try:
            for batch in dataset.iter_batches(batch_size=READ_BATCH_ROWS, batch_format="pyarrow"):
                yield batch
                bar.update(batch.num_rows)
        except DatasetError:
            raise
        except Exception as error:  # Ray Data and pyarrow raise many types for unreadable input
            raise DatasetError(f"{source}: cannot read ({_one_line(error)})") from error


def _one_line(error: BaseException) -> str:
    """An exception's first meaningful line (Ray wraps errors in long multi-line reports)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"[:400]


# -- the two layouts -------------------------------------------------------------------------


class _Steps:
    """Transitions collected batch by batch; exact repeats of a step are dropped and counted."""

    FIELDS = ("observations", "actions", "rewards", "next_observations", "terminateds",
              "truncateds", "episode_ids")

    def __init__(self, source: str) -> None:
        self.source = source
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in self.FIELDS}
        self.seen: set[bytes] = set()
        self.duplicates = 0
        self.observation_space: Any = None
        self.action_space: Any = None
        self.module_actions: str | None = None

    def _column(self, batch: Any, name: str) -> np.ndarray:
        return arrow_column_to_numpy(self.source, name, batch.column(name))

    def _append(self, fields: dict[str, np.ndarray]) -> None:
        """Add a batch's steps, except exact repeats (same episode, observation, action and
        next observation) of a step already read."""
        keep = np.ones(len(fields["episode_ids"]), dtype=bool)
        for i, episode_id in enumerate(fields["episode_ids"]):
            key = hashlib.blake2b(str(episode_id).encode(), digest_size=16)
            for name in ("observations", "actions", "next_observations"):
                key.update(np.ascontiguousarray(fields[name][i]).tobytes())
            digest = key.digest()
            if digest in self.seen:
                keep[i] = False
            else:
                self.seen.add(digest)
        self.duplicates += int((~keep).sum())
        for name, values in fields.items():
            self.parts[name].append(values[keep])

    def arrays(self) -> dict[str, np.ndarray]:
        """VGF's fields; a trajectory ends where it terminates or is truncated."""
        joined = {name: np.concatenate(parts) for name, parts in self.parts.items()}
        del joined["episode_ids"]
        terminateds = joined.pop("terminateds").astype(bool)
        ends = terminateds | joined.pop("truncateds").astype(bool)
        return {
            **joined,
            "masks": (~terminateds).astype(np.float32),
            "terminals": ends.astype(np.float32),
        }


class _ColumnSteps(_Steps):
    """RLlib's column layout: one row per step, RLlib's ``Columns`` renamed by ``input_read_schema``."""

    def __init__(self, source: str, spec: RLlibInput) -> None:
        from ray.rllib.core.columns import Columns
        from ray.rllib.offline.offline_prelearner import SCHEMA

        super().__init__(source)
        self.schema = SCHEMA | spec.read_schema
        self.packed = {
            Columns.OBS: Columns.OBS in spec.compress_columns,
            Columns.NEXT_OBS: Columns.OBS in spec.compress_columns,
            Columns.ACTIONS: Columns.ACTIONS in spec.compress_columns,
        }
        self.columns = Columns

    def check_columns(self, present: list[str]) -> None:
        c = self.columns
        if present == [EPISODE_COLUMN]:
            raise DatasetError(
                f"{self.source}: the input holds one '{EPISODE_COLUMN}' column, RLlib's episode "
                "layout: set input_read_episodes=True (CLI: --input-read-episodes)"
            )
        wanted = [self.schema[key] for key in (c.OBS, c.ACTIONS, c.REWARDS, c.NEXT_OBS)]
        missing = [name for name in wanted if name not in present]
        if missing:
            raise DatasetError(
                f"{self.source}: missing column(s) {missing}; present: {present} (rename "
                "columns with input_read_schema, e.g. {'obs': 'o_t'})"
            )
        self.module_actions = next((n for n in MODULE_OUTPUT_COLUMNS if n in present), None)

    def add(self, batch: Any) -> None:
        c, schema = self.columns, self.schema
        rows = batch.num_rows
        names = batch.column_names
        episode_ids = (
            self._column(batch, schema[c.EPS_ID]) if schema[c.EPS_ID] in names else np.full(rows, "")
        )
        fields = {
            "observations": self._vectors(batch, c.OBS),
            "actions": self._vectors(batch, c.ACTIONS),
            "rewards": self._column(batch, schema[c.REWARDS]),
            "next_observations": self._vectors(batch, c.NEXT_OBS),
            "terminateds": self._flags(batch, c.TERMINATEDS, rows),
            "truncateds": self._flags(batch, c.TRUNCATEDS, rows),
            "episode_ids": episode_ids.astype(str),
        }
        self._append(fields)

    def _flags(self, batch: Any, key: str, rows: int) -> np.ndarray:
        name = self.schema[key]
        if name not in batch.column_names:
            return np.zeros(rows, bool)
        return self._column(batch, name).astype(bool)

    def _vectors(self, batch: Any, key: str) -> np.ndarray:
        """A column as a float (rows, dim) array: packed values unpacked, objects stacked."""
        from ray.rllib.utils.compression import unpack_if_needed

        name = self.schema[key]
        values = self._column(batch, name)
        if values.dtype == object or values.dtype.kind in "SU":
            items = list(values)
            if items and isinstance(items[0], (str, bytes)):
                if not self.packed[key]:
                    raise DatasetError(
                        f"{self.source}: column '{name}' holds packed (compressed) values; add "
                        f"'{key if key != self.columns.NEXT_OBS else self.columns.OBS}' to "
                        "input_compress_columns"
                    )
                items = [unpack_if_needed(item) for item in items]
            if items and isinstance(items[0], dict):
                raise DatasetError(
                    f"{self.source}: column '{name}' holds dicts (a Dict space); VGF reads flat "
                    "Box observations and actions only"
                )
            try:
                values = np.stack([np.asarray(item) for item in items])
            except ValueError as error:
                raise DatasetError(f"{self.source}: column '{name}' is ragged ({error})") from error
        if values.ndim == 1:
            values = values[:, None]
        return values


class _EpisodeSteps(_Steps):
    """RLlib's episode layout: msgpack-serialized ``SingleAgentEpisode`` states, one per row."""

    def check_columns(self, present: list[str]) -> None:
        if EPISODE_COLUMN not in present:
            raise DatasetError(
                f"{self.source}: input_read_episodes=True but the input has no "
                f"'{EPISODE_COLUMN}' column (columns: {present}); it looks like RLlib's column "
                "layout: leave input_read_episodes False"
            )

    def add(self, batch: Any) -> None:
        import msgpack
        import msgpack_numpy
        from ray.rllib.env.single_agent_episode import SingleAgentEpisode

        for row, item in enumerate(self._column(batch, EPISODE_COLUMN)):
            try:
                state = msgpack.unpackb(item, object_hook=msgpack_numpy.decode)
                episode = SingleAgentEpisode.from_state(state)
                episode.to_numpy()
            except Exception as error:
                raise DatasetError(
                    f"{self.source}: episode row {row} of a batch cannot be decoded as a "
                    f"SingleAgentEpisode ({_one_line(error)})"
                ) from error
            self._add_episode(episode)

    def _add_episode(self, episode: Any) -> None:
        self.observation_space = self.observation_space or episode.observation_space
        self.action_space = self.action_space or episode.action_space
        if self.module_actions is None:
            self.module_actions = next(
                (n for n in MODULE_OUTPUT_COLUMNS if n in episode.extra_model_outputs), None
            )
        length = len(episode)
        if length == 0:
            return
        observations = np.asarray(episode.get_observations(slice(None)))
        if observations.dtype == object or observations.ndim < 2:
            raise DatasetError(
                f"{self.source}: episode {episode.id_} has observations of the space "
                f"{_space_text(episode.observation_space)}; VGF reads flat Box observations only"
            )
        actions = np.asarray(episode.get_actions(slice(None)))
        terminateds = np.zeros(length, bool)
        terminateds[-1] = bool(episode.is_terminated)
        truncateds = np.zeros(length, bool)
        truncateds[-1] = not episode.is_terminated  # truncated, or the chunk ends here
        fields = {
            "observations": observations[:-1],
            "actions": actions if actions.ndim == 2 else actions.reshape(length, -1),
            "rewards": np.asarray(episode.get_rewards(slice(None)), dtype=np.float64),
            "next_observations": observations[1:],
            "terminateds": terminateds,
            "truncateds": truncateds,
            "episode_ids": np.full(length, f"{episode.id_}:{episode.t_started}"),
        }
        self._append(fields)
