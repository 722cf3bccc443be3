"""Guards on user input and on training numbers: --set parsing, config field names, finite
values, overwrite protection, the non-finite loss stop, and a catalogue of bad values that
must each end in one `error:` line naming the field and the value (exit 2)."""

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


# --- catalogue of bad values: one `error:` line naming the field and the value, exit 2 ----------

TRAIN = ["train", "--dataset", DATASET_SPEC]
BAD_SET_VALUES = [
    ("num_particles=0", "num_particles", "0"),
    ("num_particles=2.5", "num_particles", "2.5"),
    ("num_particles=abc", "num_particles", "'abc'"),
    ("sampler_euler_steps=0", "sampler_euler_steps", "0"),
    ("train_flow_steps=-1", "train_flow_steps", "-1"),
    ("updates_per_iteration=0", "updates_per_iteration", "0"),
    ("train_batch_size_per_learner=0", "train_batch_size_per_learner", "0"),
    ("eval_interval=-1", "eval_interval", "-1"),
    ("eval_episodes=0", "eval_episodes", "0"),
    ("inference_flow_steps=-2", "inference_flow_steps", "-2"),
    ("eval_num_particles=0", "eval_num_particles", "0"),
    ("step_size=0", "step_size", "0"),
    ("step_size=-0.1", "step_size", "-0.1"),
    ("step_size=.inf", "step_size", "inf"),
    ("step_size=.nan", "step_size", "nan"),
    ("alpha=0", "alpha", "0"),
    ("critic_lr=abc", "critic_lr", "'abc'"),
    ("sampler_lr=-1", "sampler_lr", "-1"),
    ("selection_temperature=0", "selection_temperature", "0"),
    ("eval_step_size=0", "eval_step_size", "0"),
    ("precision=fp16", "precision", "'fp16'"),
    ("allow_tf32=maybe", "allow_tf32", "'maybe'"),
    ("compile_learner=2", "compile_learner", "2"),
    ("compile_acting=maybe", "compile_acting", "'maybe'"),
    ("online_sync_steps=0", "online_sync_steps", "0"),
    ("tau=0", "tau", "0"),
    ("tau=1.5", "tau", "1.5"),
    ("gamma=abc", "gamma", "'abc'"),
    ("gamma=1.5", "gamma", "1.5"),
    ("gamma=-0.1", "gamma", "-0.1"),
    ("particle_optimizer=rmsprop", "particle_optimizer", "'rmsprop'"),
    ("score_twin_agg=max", "score_twin_agg", "'max'"),
    ("target_twin_agg=median", "target_twin_agg", "'median'"),
    ("particle_agg=sum", "particle_agg", "'sum'"),
    ("action_selection=greedy", "action_selection", "'greedy'"),
    ("critic_hidden_layers=32", "critic_hidden_layers", "32"),
    ("critic_hidden_layers=[]", "critic_hidden_layers", "[]"),
    ("sampler_hidden_layers=[64,-1]", "sampler_hidden_layers", "[64, -1]"),
    ("test_flow_steps=3", "test_flow_steps", "3"),
    ("test_flow_steps=[0,-1]", "test_flow_steps", "[0, -1]"),
    ("test_flow_steps=[]", "test_flow_steps", "[]"),
    ("success_timing=later", "success_timing", "'later'"),
    ("normalize_observations=maybe", "normalize_observations", "'maybe'"),
    ("shard_dataset_across_learners=maybe", "shard_dataset_across_learners", "'maybe'"),
    ("rescale_actions=2", "rescale_actions", "2"),
    ("seed=abc", "seed", "'abc'"),
    ("gama=0.9", "gama", "did you mean 'gamma'"),
    ("validate=3", "validate", "unknown VGF config field"),
    ("num_particles", "num_particles", "expects key=value"),
    ("test_flow_steps=[0,", "test_flow_steps", "cannot parse"),
    ("num_gpus_per_learner=-1", "num_gpus_per_learner", "-1"),
    ("num_particles=200000", "num_particles", "200000"),  # the N x N kernel would not fit
    # RLlib settings an offline VGF run would ignore: refused, naming the VGF field to use
    ("evaluation_interval=1", "evaluation_interval=1", "set eval_interval"),
    ("evaluation_duration=5", "evaluation_duration=5", "set eval_episodes"),
    ("num_env_runners=2", "num_env_runners=2", "evaluation_num_env_runners"),
]
BAD_FLAGS = [
    (["--iterations", "0"], "--iterations", "0"),
    (["--updates-per-iteration", "0"], "--updates-per-iteration", "0"),
    (["--checkpoint-every", "0"], "--checkpoint-every", "0"),
    (["--keep-checkpoints", "0"], "--keep-checkpoints", "0"),
    (["--eval-episodes", "-1"], "--eval-episodes", "-1"),
]
BAD_EVALUATE = [
    (["--step-size", "inf"], "--step-size", "inf"),
    (["--step-size", "0"], "--step-size", "0"),
    (["--num-particles", "0"], "--num-particles", "0"),
    (["--episodes", "0"], "--episodes", "0"),
    (["--test-flow-steps", "-1"], "--test-flow-steps", "-1"),
    (["--device", "banana"], "--device", "banana"),
    (["--device", "meta"], "--device", "only 'cpu' and 'cuda[:N]'"),
]


def assert_one_error_line(capsys, *fragments: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err  # one line, no traceback
    for fragment in fragments:
        assert fragment in err, (fragment, err)


@pytest.mark.parametrize("item, field, value", BAD_SET_VALUES, ids=[c[0] for c in BAD_SET_VALUES])
def test_bad_set_values(item, field, value, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--set", item, "--output", str(out)]) == 2
    assert_one_error_line(capsys, field, value)
    assert not out.exists()


@pytest.mark.parametrize("flags, flag, value", BAD_FLAGS, ids=[c[1] for c in BAD_FLAGS])
def test_bad_train_flags(flags, flag, value, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, *flags, "--output", str(out)]) == 2
    assert_one_error_line(capsys, flag, value)
    assert not out.exists()


@pytest.mark.parametrize("flags, flag, value", BAD_EVALUATE, ids=[" ".join(c[0]) for c in BAD_EVALUATE])
def test_bad_evaluate_flags(flags, flag, value, tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), *flags]) == 2
    assert_one_error_line(capsys, flag, value)


def test_bad_paths(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main([*TRAIN, "--output", str(a_file / "run")]) == 2
    assert_one_error_line(capsys, str(a_file), "is a file, not a directory")
    assert main(["train", "--dataset", str(tmp_path / "missing.npz"), "--output", str(tmp_path / "r")]) == 2
    assert_one_error_line(capsys, "missing.npz")
    assert main(["evaluate", str(tmp_path / "nowhere")]) == 2
    assert_one_error_line(capsys, "nowhere", "no such run")
    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert_one_error_line(capsys, "nowhere", "no such run")


def test_gpu_request_without_a_gpu(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main([*TRAIN, "--set", "num_gpus_per_learner=1", "--output", str(tmp_path / "r")]) == 2
    assert_one_error_line(capsys, "num_gpus_per_learner", "1", "no CUDA GPU")
    assert main(["evaluate", str(tmp_path), "--device", "cuda"]) == 2
    assert_one_error_line(capsys, "--device 'cuda'", "no CUDA GPU")


# --- degenerate inputs: handled (finite losses and actions) or refused clearly ------------------


def _train_briefly(arrays: dict, normalize: bool = False, **training) -> tuple[dict, object]:
    settings = dict(critic_hidden_layers=[16], sampler_hidden_layers=[16], updates_per_iteration=5,
                    train_batch_size_per_learner=8, num_particles=4, train_flow_steps=2)
    settings.update(training)
    config = (
        VGFConfig()
        .offline_dataset(dataset=arrays, normalize_observations=normalize)
        .training(**settings)
        .debugging(seed=1)
    )
    algo = config.build_algo()
    losses = algo.train()["learners"]["default_policy"]
    module = algo.get_policy_module()
    algo.stop()
    return losses, module


@pytest.mark.parametrize(
    "case",
    ["single transition", "constant observations, normalized", "one particle", "all-equal actions"],
)
def test_degenerate_inputs_train_to_finite_numbers(case):
    import torch

    arrays = make_demo_arrays(200)
    training: dict = {}
    if case == "single transition":
        arrays = {key: value[:1] for key, value in arrays.items()}
    elif case == "constant observations, normalized":
        arrays["observations"][:] = 0.5
        arrays["next_observations"][:] = 0.5
        training["normalize"] = True
    elif case == "one particle":
        training["num_particles"] = 1
    else:  # every flow sample and particle starts at the same action: zero kernel bandwidth
        arrays["actions"][:] = 0.25
    losses, module = _train_briefly(arrays, **training)
    assert all(np.isfinite(float(losses[key])) for key in ("critic_loss", "flow_loss", "q_mean"))
    actions = module.compute_actions(torch.as_tensor(arrays["observations"][:3]))
    assert torch.isfinite(actions).all() and actions.abs().max() <= 1.0


def test_all_equal_particles_move_finitely():
    import torch

    from vgf_rllib.core.transport import TransportSettings, transport

    particles = torch.full((2, 5, 3), 0.1)
    q_fn = lambda a: torch.stack([-(a - 0.5).pow(2).sum(-1)] * 2, -1)  # noqa: E731
    moved = transport(q_fn, particles, TransportSettings(steps=3, step_size=0.05, alpha=0.5))
    assert torch.isfinite(moved).all() and (moved > particles).all()  # towards 0.5, no NaN


def test_non_finite_weights_stop_training_naming_the_network():
    import torch

    from vgf_rllib.algorithm.learner import NonFiniteLossError

    algo = (
        VGFConfig()
        .offline_dataset(dataset=f"{DATASET_SPEC}-200")
        .training(critic_hidden_layers=[8], sampler_hidden_layers=[8], updates_per_iteration=2,
                  train_batch_size_per_learner=8)
        .build_algo()
    )
    learner = algo.learner_group._learner
    learner._check_finite_parameters(0)  # a fresh module is finite
    module = learner.module["default_policy"].unwrapped()
    with torch.no_grad():
        next(module.velocity.parameters()).view(-1)[0] = float("inf")
    with pytest.raises(NonFiniteLossError, match="the velocity weights became non-finite"):
        learner._check_finite_parameters(0)
    algo.stop()
