"""``vgf-rllib data``: generate, list, check and their help, all offline."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from vgf_rllib.cli import data as data_cli

MAZE = "pointmaze-medium-navigate-v0"


def run(*args: str) -> int:
    parser = argparse.ArgumentParser(prog="vgf-rllib")
    data_cli.register(parser.add_subparsers())
    namespace = parser.parse_args(["data", *args])
    return namespace.func(namespace)


@pytest.mark.parametrize(
    ("action", "options"),
    [
        (
            "generate",
            ["--episodes", "--steps", "--dir", "--seed", "--force", "--no-verify", "--quiet"],
        ),
        ("list", ["--dir", "--available"]),
        ("check", ["--dir", "--samples", "--env", "--rescale-actions"]),
    ],
)
def test_help_documents_every_option(action, options, capsys):
    with pytest.raises(SystemExit):
        run(action, "--help")
    text = capsys.readouterr().out
    assert all(option in text for option in options)


def write_npz(path, **flags) -> str:
    rng = np.random.default_rng(0)
    np.savez(path, observations=rng.normal(size=(4, 3)).astype(np.float32),
             actions=rng.uniform(-1, 1, (4, 1)).astype(np.float32), rewards=np.zeros(4),
             next_observations=rng.normal(size=(4, 3)).astype(np.float32), **flags)
    return str(path)


def test_check_counts_ends_and_stops_and_warns_when_every_end_stops(tmp_path, capsys):
    ends = np.array([0, 1, 0, 1], bool)
    assert run("check", write_npz(tmp_path / "cut.npz", masks=1.0 - ends, terminals=ends)) == 0
    out, err = capsys.readouterr()
    assert "2 rows end a trajectory, 2 stop bootstrapping (mask 0)" in out
    assert err.count("warning:") == 1 and "every trajectory end also stops bootstrapping" in err
    # D4RL's fields: one termination, one time limit
    timeouts = np.array([0, 0, 0, 1], bool)
    terminals = np.array([0, 1, 0, 0], bool)
    assert run("check", write_npz(tmp_path / "d4rl.npz", terminals=terminals, timeouts=timeouts)) == 0
    out, err = capsys.readouterr()
    assert "2 rows end a trajectory, 1 stop bootstrapping (mask 0)" in out and err == ""


def test_generate_list_check_ogbench(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    assert (
        run(
            "generate", MAZE, "--episodes", "2", "--steps", "101", "--dir", str(tmp_path), "--quiet"
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / MAZE}.npz" in out and "relabelling matches the env" in out
    assert run("list", "--dir", str(tmp_path), "--available") == 0
    out = capsys.readouterr().out
    assert f"ogbench:{MAZE}" in out and "200 transitions" in out and "cube-single-play-v0" in out
    assert (
        run("check", "pointmaze-medium-navigate-singletask-task4-v0", "--dir", str(tmp_path)) == 0
    )
    assert "200 transitions in 2 trajectories" in capsys.readouterr().out


def test_check_own_file_against_env(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "own.npz",
        observations=rng.normal(size=(4, 3)).astype(np.float32),
        actions=rng.uniform(-2, 2, (4, 1)).astype(np.float32),
        rewards=np.zeros(4, np.float32),
        next_observations=rng.normal(size=(4, 3)).astype(np.float32),
        terminals=np.array([0, 0, 0, 1], bool),
    )
    assert run("check", str(tmp_path / "own.npz"), "--env", "Pendulum-v1", "--rescale-actions") == 0
    assert "4 transitions" in capsys.readouterr().out
    assert run("check", str(tmp_path / "own.npz")) == 2
    err = capsys.readouterr().err
    assert "outside [-1, 1]" in err
    assert "--set rescale_actions=true with --env" in err and "--rescale-actions for data check" in err
    assert "offline_dataset(rescale_actions=True)" in err
    assert (
        run("check", str(tmp_path / "own.npz"), "--env", "InvertedPendulum-v5", "--rescale-actions")
        == 2
    )
    assert (
        "'observations' has dim 3, but the env's observation space has shape (4,)"
        in capsys.readouterr().err
    )


def test_generate_errors_exit_1_and_a_bad_dataset_exits_2_as_in_train(tmp_path, capsys):
    assert run("generate", "antmaze-large-navigate-v0", "--dir", str(tmp_path)) == 1
    assert "expert policies" in capsys.readouterr().err
    assert run("check", "cube-double-play-singletask-task7-v0", "--dir", str(tmp_path)) == 2
    assert "unknown task 'task7'" in capsys.readouterr().err
    assert run("check", "ogbench:cube-double-play-v0", "--dir", str(tmp_path)) == 2
    assert "vgf-rllib data generate cube-double-play-v0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_registered_in_the_main_command():
    from vgf_rllib.cli import build_parser

    namespace = build_parser().parse_args(["data", "list"])
    assert namespace.func is data_cli.run_list
