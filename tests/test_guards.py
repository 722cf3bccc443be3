"""Guards on user input and on training numbers: --set parsing, config field names, finite
values, overwrite protection and the non-finite loss stop."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vgf_rllib import VGFConfig
from vgf_rllib.cli import main
from vgf_rllib.cli.train import parse_overrides
from vgf_rllib.demo import DATASET_SPEC, make_demo_arrays


def test_set_reads_exponent_numbers_as_floats():
    assert parse_overrides(["critic_lr=3e-4", "tau=1e-2", "gamma=0.995"]) == {
        "critic_lr": 3e-4,
        "tau": 1e-2,
        "gamma": 0.995,
    }
    assert parse_overrides(["env=Pendulum-v1"]) == {"env": "Pendulum-v1"}


def test_set_with_broken_yaml_names_the_item():
    with pytest.raises(ValueError, match=r"--set 'test_flow_steps=\[0,'"):
        parse_overrides(["test_flow_steps=[0,"])


@pytest.mark.parametrize(
    "name, hint",
    [("gama", "did you mean 'gamma'"), ("num_particle", "did you mean 'num_particles'")],
)
def test_unknown_field_suggests_the_closest(name, hint):
    with pytest.raises(ValueError, match=hint):
        VGFConfig().apply_overrides({name: 1})


def test_methods_are_not_config_fields():
    with pytest.raises(ValueError, match="unknown VGF config field.*'validate'"):
        VGFConfig().apply_overrides({"validate": 3})


@pytest.mark.parametrize("name", ["step_size", "alpha", "critic_lr"])
@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_non_finite_numbers_are_refused(name, value):
    config = VGFConfig().offline_dataset(dataset=DATASET_SPEC).apply_overrides({name: value})
    with pytest.raises(ValueError, match=f"{name} must be a finite number > 0, got {value}"):
        config.validate()


def test_train_refuses_an_existing_run_before_anything_runs(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"dataset": "old"}))
    args = ["train", "--dataset", DATASET_SPEC, "--output", str(run)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already holds a run; pass --resume" in err and "--overwrite to replace it" in err
    assert json.loads((run / "run.json").read_text()) == {"dataset": "old"}
    # --overwrite with a bad value still loses nothing: the old run is removed only once the
    # new one has been built
    assert main([*args, "--overwrite", "--set", "num_particles=0"]) == 2
    assert json.loads((run / "run.json").read_text()) == {"dataset": "old"}


@pytest.mark.usefixtures("ray_session")
def test_training_stops_at_a_non_finite_loss(tmp_path, capsys):
    arrays = make_demo_arrays(500)
    arrays["rewards"] = np.full(500, 1e30, np.float32)  # squared TD errors overflow float32
    data = tmp_path / "huge.npz"
    np.savez(data, **arrays)
    out = tmp_path / "run"
    code = main([
        "train", "--dataset", str(data), "--iterations", "3", "--updates-per-iteration", "5",
        "--set", "critic_hidden_layers=[16]", "--set", "sampler_hidden_layers=[16]",
        "--set", "train_batch_size_per_learner=16", "--output", str(out),
    ])
    assert code == 2
    err = capsys.readouterr().err
    assert "iteration 1: critic_loss became inf" in err and "no checkpoint written" in err
    assert not (out / "results.jsonl").read_text()  # no iteration with inf losses recorded
