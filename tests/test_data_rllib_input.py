"""RLlib's offline input (``offline_data(input_=...)``) on recordings written by RLlib's own
writer (``offline_data(output=...)`` on an EnvRunner), in both of its layouts: the rows VGF
holds equal the recorded episodes, VGF trains on them from Python and the CLI, an ``s3://`` URI
served on 127.0.0.1 reads the same rows, and bad recordings fail with one error line."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vgf_rllib import VGFConfig
from vgf_rllib.cli import main
from vgf_rllib.data import DatasetError
from vgf_rllib.data.rllib_input import RLlibInput, read_rllib_input

pytestmark = pytest.mark.usefixtures("ray_session")

PENDULUM = "Pendulum-v1"  # truncated after 200 steps, never terminates
FALLING = "InvertedPendulum-v5"  # random torques topple the pole: terminates within steps
TINY = {
    "critic_hidden_layers": [16], "sampler_hidden_layers": [16], "sampler_euler_steps": 2,
    "train_batch_size_per_learner": 32, "updates_per_iteration": 5, "compile_learner": False,
}


def record(out: Path, env: str, *, episodes: bool, num_episodes: int, random_actions: bool = True,
           samples: int = 1) -> list[Any]:
    """Record ``num_episodes`` per ``sample()`` call with RLlib's own writer; returns the
    episodes the EnvRunner returned (the ground truth)."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.offline.offline_env_runner import OfflineSingleAgentEnvRunner

    config = (
        PPOConfig()
        .environment(env)
        .env_runners(batch_mode="complete_episodes", num_env_runners=0)
        .offline_data(output=str(out), output_write_episodes=episodes)
    )
    runner = OfflineSingleAgentEnvRunner(config=config)
    recorded = []
    for _ in range(samples):
        recorded += runner.sample(num_episodes=num_episodes, random_actions=random_actions)
    runner.stop()
    return recorded


def steps_of(episodes: list[Any]) -> dict[str, np.ndarray]:
    """The recorded episodes as flat transitions, straight from the EnvRunner's objects."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "actions", "rewards", "next", "term", "end")}
    for episode in episodes:
        observations = np.asarray(episode.get_observations(slice(None)), dtype=np.float32)
        length = len(episode)
        parts["obs"].append(observations[:-1])
        parts["next"].append(observations[1:])
        parts["actions"].append(np.asarray(episode.get_actions(slice(None)), np.float32).reshape(length, -1))
        parts["rewards"].append(np.asarray(episode.get_rewards(slice(None)), np.float32))
        term = np.zeros(length, np.float32)
        term[-1] = float(episode.is_terminated)
        parts["term"].append(term)
        parts["end"].append(np.eye(1, length, length - 1, dtype=np.float32)[0])
    return {key: np.concatenate(value) for key, value in parts.items()}


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[Path, dict]]:
    """(env, layout) -> (recording dir, ground-truth transitions)."""
    root = tmp_path_factory.mktemp("recordings")
    found = {}
    for env, count in ((PENDULUM, 10), (FALLING, 40)):
        for layout in ("columns", "episodes"):
            out = root / f"{env}-{layout}"
            episodes = record(out, env, episodes=layout == "episodes", num_episodes=count)
            found[env, layout] = (out, steps_of(episodes))
    return found


def config_for(path: Any, layout: str, env: str | None = PENDULUM, **offline: Any) -> VGFConfig:
    config = VGFConfig().offline_data(
        input_=path, input_read_episodes=layout == "episodes", **offline
    ).training(**TINY)
    return config.environment(env) if env else config


def load(path: Any, layout: str, env: str = PENDULUM, **fields: Any):
    spec = RLlibInput.from_config(config_for(path, layout, env, **fields))
    environment = gym.make(env)
    return read_rllib_input(
        spec, observation_space=environment.observation_space, action_space=environment.action_space
    )


@pytest.mark.parametrize("layout", ["columns", "episodes"])
@pytest.mark.parametrize("env", [PENDULUM, FALLING])
def test_rows_equal_the_recorded_episodes(recordings, env, layout):
    path, truth = recordings[env, layout]
    data = load(path, layout, env)
    # the writer's files come back in any order: compare as sets of rows, then row by row
    order = np.lexsort(data.observations.T)
    truth_order = np.lexsort(truth["obs"].T)
    bounds = gym.make(env).action_space
    expected_actions = 2 * (truth["actions"] - bounds.low) / (bounds.high - bounds.low) - 1
    assert len(data) == len(truth["obs"]) > 150
    np.testing.assert_allclose(data.observations[order], truth["obs"][truth_order], atol=1e-6)
    np.testing.assert_allclose(data.next_observations[order], truth["next"][truth_order], atol=1e-6)
    np.testing.assert_allclose(data.actions[order], np.clip(expected_actions, -1 + 1e-5, 1 - 1e-5)[truth_order], atol=1e-5)
    np.testing.assert_allclose(data.rewards[order], truth["rewards"][truth_order], rtol=1e-6)
    np.testing.assert_array_equal(data.masks[order], 1 - truth["term"][truth_order])
    np.testing.assert_array_equal(data.terminals[order], truth["end"][truth_order])
    if env == PENDULUM:  # truncations keep their bootstrap
        assert data.masks.min() == 1.0 and data.terminals.sum() == 10
    else:  # every random episode ends with the pole down: a true termination
        assert data.masks.sum() == len(data) - 40 and data.terminals.sum() == 40
    assert data.metadata["duplicate_rows_dropped"] == 0
    assert data.metadata["clipped_action_rows"] == 0


def test_a_writer_that_rewrites_its_buffer_is_read_once(tmp_path, capsys):
    episodes = record(tmp_path / "rec", PENDULUM, episodes=True, num_episodes=2, samples=2)
    data = load(tmp_path / "rec", "episodes")
    assert len(data) == len(steps_of(episodes)["obs"]) == 800
    assert data.metadata["duplicate_rows_dropped"] == 400  # the first call's rows, written twice
    assert "dropped 400 repeated step(s)" in capsys.readouterr().err


def test_module_actions_beyond_the_bounds_are_clipped_as_executed(tmp_path, capsys):
    """An untrained PPO's Gaussian actions (recorded normalized, RLlib's default) go past
    the bounds: clipped rows are counted either way they are read."""
    episodes = record(tmp_path / "rec", PENDULUM, episodes=True, num_episodes=2, random_actions=False)
    actions = steps_of(episodes)["actions"][:, 0]
    as_env_units = load(tmp_path / "rec", "episodes")
    assert as_env_units.metadata["clipped_action_rows"] == int((np.abs(actions) > 2).sum())
    err = capsys.readouterr().err
    assert "the actions were computed by an RLModule" in err and "actions_in_input_normalized=True" in err
    normalized = load(tmp_path / "rec", "episodes", actions_in_input_normalized=True)
    assert normalized.metadata["clipped_action_rows"] == int((np.abs(actions) > 1).sum()) > 0
    np.testing.assert_allclose(
        np.sort(normalized.actions[:, 0]), np.sort(np.clip(actions, -1 + 1e-5, 1 - 1e-5)), atol=1e-6
    )


# reading the column layout's many small files through Ray Data takes 10-30 s here; the
# default run reads it in test_rows_equal_the_recorded_episodes
SLOW_COLUMNS = pytest.param("columns", marks=pytest.mark.slow)


@pytest.mark.parametrize("layout", [SLOW_COLUMNS, "episodes"])
def test_vgf_trains_on_a_recording_with_input_alone(recordings, layout):
    path, truth = recordings[PENDULUM, layout]
    algo = config_for(str(path), layout).build_algo()
    try:
        assert algo.dataset_size == len(truth["obs"])
        result = algo.train()
        assert np.isfinite(result["learners"]["default_policy"]["critic_loss"])
    finally:
        algo.stop()


def test_episode_recording_without_an_env_uses_its_recorded_spaces(recordings):
    path, _ = recordings[PENDULUM, "episodes"]
    algo = config_for(str(path), "episodes", env=None).build_algo()
    try:
        assert algo.config.action_space == gym.make(PENDULUM).action_space
        assert algo.config.observation_space == gym.make(PENDULUM).observation_space
    finally:
        algo.stop()


def test_a_ray_data_dataset_goes_in_directly(recordings):
    import ray.data

    path, truth = recordings[PENDULUM, "episodes"]
    data = load(ray.data.read_parquet(str(path)), "episodes")
    assert len(data) == len(truth["obs"]) and data.source == "<ray.data.Dataset>"


def test_both_sources_or_none_are_refused_in_one_line():
    both = config_for("rec", "columns").offline_dataset(dataset="data.npz")
    with pytest.raises(ValueError, match="VGF reads one data source; both offline_data"):
        both.validate()
    with pytest.raises(ValueError, match=r"VGF needs data: config.offline_data\(input_="):
        VGFConfig().validate()


@pytest.mark.parametrize("layout", [SLOW_COLUMNS, "episodes"])
def test_cli_trains_on_input_and_refuses_to_resume_on_changed_data(recordings, tmp_path, capsys, layout):
    source, truth = recordings[PENDULUM, layout]
    data = tmp_path / "copy"
    data.mkdir()
    for file in sorted(source.rglob("*.parquet")):
        (data / file.name).write_bytes(file.read_bytes())
    run = tmp_path / "run"
    tiny = [f"--set={key}={json.dumps(value)}" for key, value in TINY.items() if key != "updates_per_iteration"]
    args = ["train", "--input", str(data), "--env", PENDULUM, "--iterations", "1",
            "--updates-per-iteration", "5", "--eval-episodes", "1", *tiny]
    if layout == "episodes":
        args.append("--input-read-episodes")
    assert main([*args, "--output", str(run)]) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["input"] == [str(data)] and info["dataset_summary"]["transitions"] == len(truth["obs"])
    assert "VGF on " + str(data) in capsys.readouterr().out
    # same row count, other content: refused by the fingerprint
    changed = next(data.glob("*.parquet"))
    pq.write_table(with_first_reward_raised(pq.read_table(changed)), changed)
    assert main(["train", "--resume", str(run), "--iterations", "2"]) == 2
    assert "changed since the run started" in capsys.readouterr().err


def rewrite(source: Path, out: Path, change) -> Path:
    """A copy of a column recording as one parquet file, with ``change(table)`` applied."""
    import pyarrow.dataset as ds

    out.mkdir()
    pq.write_table(change(ds.dataset(str(source)).to_table()), out / "part.parquet")
    return out


def with_first_reward_raised(table: pa.Table) -> pa.Table:
    """The recording's first reward + 1, in either layout (same rows, other content)."""
    import msgpack
    import msgpack_numpy

    if "item" not in table.column_names:
        rewards = table.column("rewards").to_numpy().copy()
        rewards[0] += 1.0
        return table.set_column(table.column_names.index("rewards"), "rewards", pa.array(rewards))
    items = table.column("item").to_pylist()
    state = msgpack.unpackb(items[0], object_hook=msgpack_numpy.decode)
    state["rewards"]["data"][0] += 1.0
    items[0] = msgpack.packb(state, default=msgpack_numpy.encode)
    return table.set_column(table.column_names.index("item"), "item", pa.array(items, pa.binary()))


def with_nan_reward(table: pa.Table) -> pa.Table:
    rewards = table.column("rewards").to_numpy().copy()
    rewards[7] = np.nan
    return table.set_column(table.column_names.index("rewards"), "rewards", pa.array(rewards))


@pytest.mark.parametrize(
    "case, problem",
    [
        ("discrete", "holds integers (Discrete(2))"),
        ("missing", "missing column(s) ['rewards']"),
        ("nan", "field 'rewards' holds NaN or inf"),
        ("unreadable", "cannot read"),
        ("empty", "the input holds no rows"),
        ("layout", "RLlib's episode layout: set input_read_episodes=True"),
    ],
)
def test_bad_recordings_end_in_one_error_line(recordings, tmp_path, capsys, case, problem):
    columns, _ = recordings[PENDULUM, "columns"]
    env = PENDULUM
    if case == "discrete":
        env = "CartPole-v1"
        path = tmp_path / "cartpole"
        record(path, env, episodes=False, num_episodes=2)
    elif case == "missing":
        path = rewrite(columns, tmp_path / "bad", lambda t: t.drop_columns(["rewards"]))
    elif case == "nan":
        path = rewrite(columns, tmp_path / "bad", with_nan_reward)
    elif case == "unreadable":
        path = tmp_path / "no-such-recording"
    elif case == "empty":
        path = rewrite(columns, tmp_path / "bad", lambda t: t.slice(0, 0))
    else:
        path = recordings[PENDULUM, "episodes"][0]
    run = tmp_path / "run"
    code = main(["train", "--input", str(path), "--env", env, "--output", str(run)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(lines) == 1, err
    assert str(path) in lines[0] and problem in lines[0], lines[0]
    assert not run.exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_s3_uri_served_on_localhost_reads_the_same_rows(recordings):
    """``s3://`` through pyarrow's S3 filesystem against an S3-compatible server (moto) on
    127.0.0.1: the path a cloud recording takes, without the internet."""
    import pyarrow.fs
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        credentials = {
            "endpoint_override": f"127.0.0.1:{port}", "scheme": "http", "region": "us-east-1",
            "access_key": "testing", "secret_key": "testing",
        }
        s3 = pyarrow.fs.S3FileSystem(**credentials, allow_bucket_creation=True)
        s3.create_dir("recordings")
        path, truth = recordings[PENDULUM, "episodes"]
        pyarrow.fs.copy_files(str(path), "recordings/pendulum", destination_filesystem=s3)
        data = load("s3://recordings/pendulum", "episodes", input_filesystem="s3",
                    input_filesystem_kwargs=credentials)
        local = load(path, "episodes")
        assert data.source == "s3://recordings/pendulum" and len(data) == len(truth["obs"])
        assert data.fingerprint() != "" and sorted(data.rewards) == sorted(local.rewards)
    finally:
        server.stop()


def test_unknown_input_kinds_and_readers_are_refused():
    with pytest.raises(DatasetError, match="VGF reads a path, URI or glob"):
        load({"sampler": 0.5, "x": 0.5}, "columns")
    with pytest.raises(DatasetError, match="is not a ray.data reader"):
        load("rec", "columns", input_read_method="from_items")


def test_a_sweep_trains_on_an_rllib_recording_read_once_by_its_driver(recordings, tmp_path, capsys):
    """Two trials on the session's 2 CPUs: the driver reads the input through Ray Data before they
    start (trials that read it themselves waited for a CPU they held, forever)."""
    import yaml

    data, truth = recordings[PENDULUM, "episodes"]
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "recorded",
        "tasks": [{"name": "pendulum-recording", "input_": str(data), "input_read_episodes": True,
                   "env": PENDULUM, "training_steps": 10}],
        "config": {key: value for key, value in TINY.items() if key != "updates_per_iteration"}
        | {"eval_episodes": 1, "test_flow_steps": [0]},
        "search": {"seed": {"grid": [0, 1]}},
    }))
    assert main(["sweep", str(sweep), "--storage", str(tmp_path / "sweeps")]) == 0
    assert "2 of 2 trial(s) finished, 0 failed" in capsys.readouterr().out
