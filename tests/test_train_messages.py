"""What `vgf-rllib train` tells its user beyond the progress bar (the expected total time of a
long CPU run with the flags that shorten it; a skipped evaluation) and what its evaluation
records (the N and eps it acted with)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vgf_rllib.cli import main, train

SMALL = ["--updates-per-iteration", "5", "--set", "critic_hidden_layers=[8]",
         "--set", "sampler_hidden_layers=[8]", "--set", "num_particles=2",
         "--set", "train_batch_size_per_learner=16"]
TINY = ["--dataset", "demo:offset-bandit", "--eval-episodes", "0", *SMALL]


def test_long_run_note_names_the_time_and_the_flags_that_shorten_it():
    assert train.long_run_note(expected_s=599.0, iteration_s=1.0) is None
    note = train.long_run_note(expected_s=5.5 * 3600, iteration_s=620.0)
    assert note.startswith("note: at 620 s per iteration on this CPU the run takes about 5.5 h")
    for flag in ("--iterations", "--updates-per-iteration", "critic_hidden_layers",
                 "num_gpus_per_learner=1"):
        assert flag in note
    assert "about 12 min" in train.long_run_note(expected_s=720.0, iteration_s=1.0)


@pytest.mark.parametrize("limit_s, printed", [(1e-3, True), (train.LONG_RUN_S, False)])
def test_train_prints_the_expected_time_once_after_the_timed_iteration(
    tmp_path, capsys, monkeypatch, limit_s, printed
):
    """A real run of 4 tiny iterations: with the limit lowered below its measured time the note
    appears once (timed on iteration 2, after the one that compiles); at 10 minutes it does not."""
    monkeypatch.setattr(train, "LONG_RUN_S", limit_s)
    assert main(["train", *TINY, "--iterations", "4", "--output", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert err.count("note: at ") == printed, err


def test_evaluation_files_record_the_particles_and_step_size_used(tmp_path, capsys):
    def acted_with(path):
        document = json.loads(path.read_text())
        return document["num_particles"], document["step_size"]

    run, out = tmp_path / "run", tmp_path / "evaluate.json"
    assert main(["train", "--dataset", "demo:offset-bandit", *SMALL, "--iterations", "1",
                 "--eval-episodes", "1", "--set", "step_size=0.2", "--output", str(run)]) == 0
    assert acted_with(run / "evaluation.json") == (2, 0.2)
    evaluate = ["evaluate", str(run), "--test-flow-steps", "0", "--episodes", "1", "--output", str(out)]
    assert main(evaluate) == 0 and acted_with(out) == (2, 0.2)
    assert main([*evaluate, "--num-particles", "3", "--step-size", "0.05"]) == 0
    assert acted_with(out) == (3, 0.05)
    assert "L_test = 0 is best-of-N;" in capsys.readouterr().out


def test_a_one_particle_table_says_behavior_cloning_not_best_of_n(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--iterations", "1", "--output", str(run)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--test-flow-steps", "0", "--episodes", "1",
                 "--num-particles", "1"]) == 0
    out = capsys.readouterr().out
    assert "L_test = 0 with N = 1 is one flow sample (behavior cloning)" in out
    assert "best-of-N" not in out


def test_training_without_an_env_says_it_was_not_evaluated_and_how_to_evaluate(tmp_path, capsys):
    from vgf_rllib.demo import make_demo_arrays

    np.savez(tmp_path / "bandit.npz", **make_demo_arrays(200))
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "bandit.npz"), *SMALL, "--iterations", "1",
                 "--output", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"not evaluated: {tmp_path / 'bandit.npz'} names no env" in out
    assert f"vgf-rllib evaluate {run} --env ENV" in out
    assert not (run / "evaluation.json").exists()


def test_ctrl_c_while_a_run_is_built_ends_in_one_line_and_130(tmp_path, capsys, monkeypatch):
    """A KeyboardInterrupt outside the training loop (building the algorithm, loading data, or
    a second Ctrl-C) is no traceback."""
    def interrupted(config):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "build_config", interrupted)
    assert main(["train", *TINY, "--output", str(tmp_path / "run")]) == 130
    assert capsys.readouterr().err.strip() == "stopped by SIGINT (Ctrl-C)"
