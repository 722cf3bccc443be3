"""VGF on RLlib: learner invariants, learning outcome, checkpoints, Tune and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vgf_rllib import VGF, VGFConfig
from vgf_rllib.demo import DATASET_SPEC, ENV_SPEC
from vgf_rllib.evaluation import evaluate_budgets
from vgf_rllib.hardware import bf16_cpu_warning
from demo_training import gap_and_noise
from vgf_rllib.policy import load_policy
from vgf_rllib.run_dir import MODULE_SUBDIR, CheckpointError, RunDir

pytestmark = pytest.mark.usefixtures("ray_session")


def small_config(**training) -> VGFConfig:
    return config_with_default_seed(**training).debugging(seed=3)


def config_with_default_seed(**training) -> VGFConfig:
    settings = dict(
        critic_hidden_layers=[64, 64],
        sampler_hidden_layers=[64, 64],
        updates_per_iteration=20,
        train_batch_size_per_learner=64,
    )
    settings.update(training)
    return (
        VGFConfig()
        .environment(ENV_SPEC)
        .offline_dataset(dataset=f"{DATASET_SPEC}-2000")
        .training(**settings)
    )


def learner_of(algo: VGF):
    return algo.learner_group._learner


def module_of(algo: VGF):
    return learner_of(algo).module["default_policy"].unwrapped()


def test_dataset_is_resident_on_the_learner_device():
    algo = small_config().build_algo()
    learner = learner_of(algo)
    assert set(learner._data) == {"observations", "actions", "rewards", "next_observations", "masks"}
    assert all(t.device == learner._device for t in learner._data.values())
    assert learner._data["observations"].shape == (2000, 3)
    algo.stop()


def test_targets_get_no_gradients_and_move_by_tau_every_step():
    tau = 0.05
    algo = small_config(tau=tau).build_algo()
    learner, module = learner_of(algo), module_of(algo)
    records = []
    original = learner.apply_gradients

    def recording(gradients):
        before = [p.detach().clone() for p in module.target_critic.parameters()]
        original(gradients)
        records.append((
            before,
            [p.detach().clone() for p in module.critic.parameters()],
            [p.detach().clone() for p in module.target_critic.parameters()],
        ))

    learner.apply_gradients = recording
    learner.train_on_resident_data(3)
    assert len(records) == 3  # one Polyak update per gradient step, not per iteration
    for before, online, after in records:
        for b, o, a in zip(before, online, after):
            assert torch.allclose(a, tau * o + (1 - tau) * b, atol=1e-6)
        assert any(not torch.equal(b, a) for b, a in zip(before, after))
    assert all(not p.requires_grad and p.grad is None for p in module.target_critic.parameters())
    assert all(p.grad is not None for p in module.critic.parameters())
    algo.stop()


@pytest.mark.parametrize("target_update", ["pre-step", "post-step"])
def test_target_update_averages_the_critic_before_or_after_the_step(target_update):
    """Every critic weight 1 and every target weight 0 before one step, tau = 0.25: the authors'
    pre-step update gives target = 0.75 * 0 + 0.25 * 1 = 0.25 exactly; the post-step one gives
    0.25 times the stepped critic (which Adam moved off 1)."""
    algo = small_config(tau=0.25, target_update=target_update).build_algo()
    learner, module = learner_of(algo), module_of(algo)
    with torch.no_grad():
        for weight in module.critic.parameters():
            weight.fill_(1.0)
        for weight in module.target_critic.parameters():
            weight.zero_()
    learner.train_on_resident_data(1)
    algo.stop()
    pairs = list(zip(module.critic.parameters(), module.target_critic.parameters()))
    assert any(not torch.all(critic == 1.0) for critic, _ in pairs)  # the step moved the critic
    for critic, target in pairs:
        expected = torch.full_like(target, 0.25) if target_update == "pre-step" else 0.25 * critic
        assert torch.allclose(target, expected, rtol=0, atol=1e-7)


def test_config_reaches_the_loss(monkeypatch):
    """gamma, target twin aggregation, particle aggregation, L_train and the bandwidth gradient
    go from the config into every gradient step's loss; the particle-policy settings are built
    once."""
    from vgf_rllib.algorithm import learner as learner_module

    calls = []
    original = learner_module.vgf_losses

    def recording(*args, **kwargs):
        calls.append((args[4], kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(learner_module, "vgf_losses", recording)
    algo = small_config(
        gamma=0.5, target_twin_agg="mean", particle_agg="max", train_flow_steps=2, num_particles=3,
        kernel_bandwidth_gradient=True,
    ).build_algo()
    learner_of(algo).train_on_resident_data(2)
    algo.stop()
    assert len(calls) == 2
    settings, kwargs = calls[0]
    draws = kwargs.pop("draws")  # the step's random draws, taken before the losses
    assert kwargs == {"gamma": 0.5, "target_twin_agg": "mean", "particle_agg": "max"}
    assert settings.transport.steps == 2 and settings.num_particles == 3
    assert settings.transport.bandwidth_gradient
    assert draws.next_noise.shape[1] == 3 and draws.flow_noise.shape == draws.next_noise[:, 0].shape
    assert calls[1][0] is settings  # built once per learner, not at every gradient step


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_precision_sets_the_dtype_of_the_loss_forwards(precision, dtype):
    """bf16 runs the critic and sampler matmuls in bf16 while weights, gradients and losses stay
    fp32 (docs/algorithm.md, "Precision")."""
    algo = small_config(precision=precision).build_algo()
    learner, module = learner_of(algo), module_of(algo)
    seen = []
    hooks = [
        network.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
        for network in (module.critic, module.velocity)
    ]
    learner.train_on_resident_data(1)  # raises on a non-finite loss
    for hook in hooks:
        hook.remove()
    algo.stop()
    assert seen and set(seen) == {dtype}
    assert all(p.dtype == torch.float32 for p in module.parameters())
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in module.parameters())


def test_bf16_on_a_cpu_without_bf16_instructions_warns(capfd):
    """A CPU learner with precision='bf16' names the missing instructions, exactly when this
    processor lacks them (vgf_rllib.hardware; the message itself is tested there)."""
    expected = bf16_cpu_warning()
    small_config(precision="bf16").build_algo().stop()
    stderr = capfd.readouterr().err
    if expected is None:
        assert "bf16 dot-product" not in stderr
    else:
        assert f"warning: {expected}" in stderr


def test_precision_is_validated():
    with pytest.raises(ValueError, match="precision must be one of \\['fp32', 'bf16'\\], got 'fp16'"):
        small_config(precision="fp16").validate()


def test_vgf_beats_best_of_n_which_beats_behavior_cloning(trained_demo_module):
    episodes = 400
    vgf, best_of_n = evaluate_budgets(trained_demo_module, ENV_SPEC, [2, 0], episodes, seed=7)
    (bc,) = evaluate_budgets(trained_demo_module, ENV_SPEC, [0], episodes, num_particles=1, seed=7)
    vgf_gap, vgf_noise = gap_and_noise(vgf, best_of_n)
    bon_gap, bon_noise = gap_and_noise(best_of_n, bc)
    means = (vgf.return_mean, best_of_n.return_mean, bc.return_mean)
    print("VGF L=2: {:.3f}  best-of-N: {:.3f}  BC: {:.3f}".format(*means))
    # Margins must exceed 4 standard errors of the difference (seed noise of the episodes).
    assert vgf_gap > max(0.03, vgf_noise)
    assert bon_gap > max(0.1, bon_noise)


def test_test_time_budget_changes_without_retraining(trained_demo_module):
    results = evaluate_budgets(trained_demo_module, ENV_SPEC, [0, 1, 3], 100, seed=1)
    assert [r.test_flow_steps for r in results] == [0, 1, 3]
    assert trained_demo_module.acting.transport.steps == 1  # restored after evaluation
    assert results[2].return_mean > results[0].return_mean


def _weights(module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_checkpoint_resumes_exactly_and_policy_reloads(tmp_path):
    algo = small_config().build_algo()
    algo.train()
    checkpoint = tmp_path / "ckpt"
    algo.save_to_path(str(checkpoint))
    saved = _weights(module_of(algo))
    algo.train()
    continued = _weights(module_of(algo))
    algo.stop()

    restored = VGF.from_checkpoint(str(checkpoint))
    for a, b in zip(saved, _weights(module_of(restored))):  # the saved weights, not a fresh init
        assert torch.equal(a, b)
    result = restored.train()
    assert result["num_gradient_updates_lifetime"] == 40
    for a, b in zip(continued, _weights(module_of(restored))):
        assert torch.equal(a, b)
    reference = restored.get_policy_module()
    restored.save_to_path(str(tmp_path / "ckpt2"))
    restored.stop()

    policy = load_policy(tmp_path / "ckpt2")
    obs = torch.rand(16, 3) * 2 - 1
    torch.manual_seed(11)
    expected = reference.compute_actions(obs)
    torch.manual_seed(11)
    assert torch.equal(policy.compute_actions(obs), expected)


def test_a_config_that_sets_no_seed_trains_the_same_run_twice():
    """VGF is seeded by default (0, as the authors' main.py; RLlib's default None is unseeded)."""
    runs = []
    for _ in range(2):
        algo = config_with_default_seed().build_algo()
        result = algo.train()
        runs.append((result["learners"]["default_policy"]["critic_loss"], _weights(module_of(algo))))
        algo.stop()
    (loss_a, weights_a), (loss_b, weights_b) = runs
    assert loss_a == loss_b
    assert all(torch.equal(a, b) for a, b in zip(weights_a, weights_b))


def test_corrupt_checkpoint_gives_a_clear_error(tmp_path):
    algo = small_config().build_algo()
    algo.save_to_path(str(tmp_path / "ckpt"))
    algo.stop()
    state_file = tmp_path / "ckpt" / MODULE_SUBDIR / "module_state.pkl"
    state_file.write_bytes(state_file.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt or incomplete"):
        load_policy(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match="no such run"):
        load_policy(tmp_path / "missing")


def test_bad_dataset_fails_at_build_with_a_clear_message(tmp_path):
    arrays = {
        "observations": np.zeros((10, 3), np.float32),
        "actions": np.full((10, 2), 1.5, np.float32),
        "rewards": np.zeros(10, np.float32),
        "next_observations": np.zeros((10, 3), np.float32),
        "terminals": np.ones(10, np.float32),
    }
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"bad.npz.*'actions'.*outside \[-1, 1\]"):
        small_config().offline_dataset(dataset=str(path)).build_algo()


def test_tuner_runs_vgf_by_registered_name(tmp_path):
    from ray import tune

    config = small_config(updates_per_iteration=5).test_time(eval_interval=1, eval_episodes=4)
    tuner = tune.Tuner(
        "VGF",
        param_space=config,
        run_config=tune.RunConfig(
            stop={"training_iteration": 1}, storage_path=str(tmp_path), verbose=0
        ),
    )
    results = tuner.fit()
    assert not results.errors
    metrics = results[0].metrics
    assert metrics["num_gradient_updates_lifetime"] == 5
    assert set(metrics["vgf_eval"]) >= {"L0", "L1", "L2", "L3", "best_score", "best_test_flow_steps"}


def test_cli_train_then_evaluate(tmp_path, capsys):
    from vgf_rllib.cli import main

    run_dir = tmp_path / "run"
    code = main([
        "train", "--dataset", f"{DATASET_SPEC}-2000", "--iterations", "2",
        "--updates-per-iteration", "10", "--set", "critic_hidden_layers=[32,32]",
        "--set", "sampler_hidden_layers=[32,32]", "--set", "num_particles=4",
        "--output", str(run_dir), "--eval-episodes", "5",
    ])
    assert code == 0
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["num_gradient_updates_lifetime"] for line in lines] == [10, 20]
    assert "L_test" in capsys.readouterr().out
    out_file = tmp_path / "eval.json"
    assert main(["evaluate", str(run_dir), "--test-flow-steps", "0", "2", "--episodes", "3",
                 "--num-particles", "2", "--output", str(out_file)]) == 0
    evaluation = json.loads(out_file.read_text())["vgf_eval"]
    records = [evaluation["L0"], evaluation["L2"]]
    assert [r["test_flow_steps"] for r in records] == [0, 2]
    assert all({"return_mean", "return_std", "episodes"} <= set(r) for r in records)


def test_module_acts_through_rllib_forward_inference_under_no_grad(trained_demo_module):
    from ray.rllib.core.columns import Columns

    obs = torch.rand(5, 3) * 2 - 1
    with torch.no_grad():
        actions = trained_demo_module.forward_inference({Columns.OBS: obs})[Columns.ACTIONS]
    assert actions.shape == (5, 2) and actions.abs().max() <= 1.0
    assert all(p.grad is None for p in trained_demo_module.parameters())


def test_cli_reports_bad_input_without_writing(tmp_path, capsys, monkeypatch):
    from vgf_rllib.cli import main

    bad = tmp_path / "bad.npz"
    np.savez(bad, observations=np.zeros((4, 3), np.float32))
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(bad), "--env", ENV_SPEC, "--output", str(out)]) == 2
    assert "missing field(s)" in capsys.readouterr().err
    assert not out.exists()
    assert main(["train", "--dataset", DATASET_SPEC, "--set", "num_particles=0", "--output", str(out)]) == 2
    assert "num_particles must be an int >= 1" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nowhere"), "--env", ENV_SPEC]) == 2
    assert "no such run" in capsys.readouterr().err


def test_cli_evaluate_accepts_a_relative_run_dir(tmp_path, monkeypatch, capsys):
    from vgf_rllib.cli import main

    monkeypatch.chdir(tmp_path)
    algo = small_config().build_algo()
    RunDir.at(tmp_path / "run").save_checkpoint(algo.save_to_path, 1)  # as `train` writes it
    algo.stop()
    assert main(["evaluate", "run", "--env", ENV_SPEC, "--episodes", "2", "--test-flow-steps", "1"]) == 0
    assert "L_test" in capsys.readouterr().out


def _learner_views(algo: VGF) -> list[tuple[int, int, np.ndarray, list[torch.Tensor]]]:
    """Per learner: its minibatch seed, index, offline rewards held, and weights."""
    return [
        call.get()
        for call in algo.learner_group.foreach_learner(
            lambda learner: (
                int(learner._index_generator.initial_seed()),
                int(learner._learner_index),
                learner._data["rewards"][: learner._data.offline_size].cpu().numpy(),
                [p.detach().clone() for p in learner.module["default_policy"].unwrapped().parameters()],
            )
        )
    ]


def test_two_learners_hold_disjoint_shards_and_stay_in_sync():
    from vgf_rllib.algorithm.replay import shard_rows
    from vgf_rllib.data import load_dataset

    algo = small_config().learners(num_learners=2).build_algo()
    assert algo.rows_per_learner == [1000, 1000]
    algo.train()
    (seed_a, index_a, rewards_a, weights_a), (seed_b, index_b, rewards_b, weights_b) = _learner_views(algo)
    algo.stop()
    assert seed_a != seed_b  # each learner draws its own i.i.d. minibatches
    for a, b in zip(weights_a, weights_b):  # DDP keeps the replicas identical
        assert torch.equal(a, b)
    rewards = load_dataset(f"{DATASET_SPEC}-2000").rewards
    shards = [shard_rows(len(rewards), index, 2, seed=3) for index in (index_a, index_b)]
    assert not set(shards[0]) & set(shards[1]) and len(set(shards[0]) | set(shards[1])) == 2000
    np.testing.assert_array_equal(rewards_a, rewards[shards[0]])
    np.testing.assert_array_equal(rewards_b, rewards[shards[1]])


def test_unsharded_learners_each_hold_every_row():
    algo = small_config().learners(num_learners=2).offline_dataset(
        shard_dataset_across_learners=False).build_algo()
    assert algo.rows_per_learner == [2000, 2000]
    algo.stop()


def test_shard_rows_split_evenly_disjoint_and_seeded():
    from vgf_rllib.algorithm.replay import shard_rows

    shards = [shard_rows(10, index, 3, seed=0) for index in range(3)]
    assert sorted(len(s) for s in shards) == [3, 3, 4]
    assert sorted(np.concatenate(shards).tolist()) == list(range(10))
    assert not np.array_equal(shard_rows(10, 0, 3, seed=1), shards[0])
    with pytest.raises(ValueError, match="cannot take shard 3 of 3 from 10 rows"):
        shard_rows(10, 3, 3, seed=0)


def test_compute_actions_takes_one_observation_or_a_batch_numpy_or_torch(trained_demo_module):
    module = trained_demo_module
    batch = np.random.default_rng(0).uniform(-1, 1, (4, 3)).astype(np.float32)
    noise = torch.randn(4, module.acting.num_particles, 2)
    from_torch = module.compute_actions(torch.as_tensor(batch), noise=noise)
    from_numpy = module.compute_actions(batch, noise=noise)
    assert isinstance(from_numpy, np.ndarray) and from_numpy.shape == (4, 2)
    np.testing.assert_allclose(from_numpy, from_torch.numpy(), rtol=1e-5, atol=1e-6)
    one = module.compute_actions(batch[0], noise=noise[:1])
    assert isinstance(one, np.ndarray) and one.shape == (2,)
    np.testing.assert_allclose(one, from_numpy[0], rtol=1e-5, atol=1e-6)
    assert module.compute_actions(torch.as_tensor(batch[0]), noise=noise[:1]).shape == (2,)
    with pytest.raises(ValueError, match=r"observations of shape \(4, 5\): expected \(3,\)"):
        module.compute_actions(np.zeros((4, 5), np.float32))
