"""What `vgf-rllib train` tells its user beyond the progress bar: the expected total time of a
long CPU run, with the flags that shorten it."""

from __future__ import annotations

import pytest

from vgf_rllib.cli import main, train

TINY = ["--dataset", "demo:offset-bandit", "--updates-per-iteration", "5", "--eval-episodes", "0",
        "--set", "critic_hidden_layers=[8]", "--set", "sampler_hidden_layers=[8]",
        "--set", "num_particles=2", "--set", "train_batch_size_per_learner=16"]


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
