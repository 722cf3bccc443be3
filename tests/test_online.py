"""Offline-to-online fine-tuning (docs/algorithm.md, "Offline-to-online fine-tuning"): the
learner-resident ring buffer, online transitions (masks, reward transform), the update
schedule, EnvRunner weight sync and checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from vgf_rllib import VGF, VGFConfig
from vgf_rllib.algorithm.env_runner import episodes_to_transitions
from vgf_rllib.algorithm.online import online_rewards, updates_due
from vgf_rllib.algorithm.replay import ResidentReplayBuffer
from vgf_rllib.data.dataset import from_arrays
from vgf_rllib.data.sources import SOURCES, DataSource
from vgf_rllib.demo_chain import ENV_SPEC, final_reward, make_chain_arrays

FIELDS = ("observations", "actions", "rewards", "next_observations", "masks")


def rows(start: int, count: int) -> dict[str, torch.Tensor]:
    """``count`` transitions whose every field holds its row id (start, start + 1, ...)."""
    ids = torch.arange(start, start + count, dtype=torch.float32)
    return {
        "observations": ids[:, None].repeat(1, 3),
        "actions": ids[:, None].repeat(1, 2),
        "rewards": ids,
        "next_observations": ids[:, None].repeat(1, 3),
        "masks": ids,
    }


def test_buffer_appends_after_the_offline_rows_and_wraps_over_the_oldest():
    buffer = ResidentReplayBuffer(rows(0, 5), capacity=8)
    assert (buffer.size, buffer.pointer, buffer.num_appended) == (5, 5, 0)
    buffer.append(rows(100, 2))
    assert buffer["rewards"][:7].tolist() == [0, 1, 2, 3, 4, 100, 101]
    assert (buffer.size, buffer.pointer) == (7, 7)
    buffer.append(rows(200, 3))  # row 7, then wraps over offline rows 0 and 1
    assert buffer["rewards"].tolist() == [201, 202, 2, 3, 4, 100, 101, 200]
    assert (buffer.size, buffer.pointer, buffer.num_appended) == (8, 2, 5)
    assert buffer.online_rows()["rewards"].tolist() == [100, 101, 200, 201, 202]
    buffer.append(rows(300, 11))  # more than the capacity at once: the last 8 remain
    assert sorted(buffer["rewards"].tolist()) == list(range(303, 311))
    assert buffer.online_rows()["rewards"].tolist() == list(range(303, 311))
    assert buffer.pointer == (2 + 11) % 8


def test_buffer_samples_uniformly_over_offline_and_online_rows():
    buffer = ResidentReplayBuffer(rows(0, 6), capacity=10)
    buffer.append(rows(100, 2))  # 8 filled rows, 2 empty ones
    generator = torch.Generator().manual_seed(0)
    drawn = torch.cat([buffer.sample(1000, generator)["rewards"] for _ in range(40)])
    values, counts = torch.unique(drawn, return_counts=True)
    assert values.tolist() == [0, 1, 2, 3, 4, 5, 100, 101]  # never an unfilled row
    expected = drawn.numel() / 8
    assert (counts.float() - expected).abs().max() < 5 * expected**0.5  # 5 sigma


def test_buffer_state_restores_a_wrapped_ring_exactly():
    buffer = ResidentReplayBuffer(rows(0, 5), capacity=8)
    for start in (100, 200, 300):
        buffer.append(rows(start, 3))  # 9 appended: wrapped over offline rows
    restored = ResidentReplayBuffer(rows(0, 5), capacity=8)
    restored.set_state(buffer.get_state())
    assert (restored.size, restored.pointer, restored.num_appended) == (8, buffer.pointer, 9)
    for name in FIELDS:
        assert torch.equal(restored[name], buffer[name])
    with pytest.raises(ValueError, match="overwritten offline rows"):
        buffer.set_state(restored.get_state())  # in place, after offline rows were lost


def test_buffer_refuses_bad_capacity_and_missing_fields():
    with pytest.raises(ValueError, match="buffer_capacity must hold the offline data"):
        ResidentReplayBuffer(rows(0, 5), capacity=4)
    with pytest.raises(ValueError, match="larger buffer_capacity"):
        ResidentReplayBuffer(rows(0, 5)).append(rows(9, 1))
    with pytest.raises(ValueError, match=r"lack field\(s\) \['masks'\]"):
        ResidentReplayBuffer(rows(0, 5), capacity=9).append(
            {k: v for k, v in rows(9, 1).items() if k != "masks"}
        )


def episode(
    length: int, *, terminated: bool = False, truncated: bool = False
) -> SingleAgentEpisode:
    """An episode whose step t observes [t, t] after action [t] and reward 10 t."""
    ep = SingleAgentEpisode()
    ep.add_env_reset(observation=np.zeros(2, np.float32))
    for t in range(1, length + 1):
        last = t == length
        ep.add_env_step(
            observation=np.full(2, t, np.float32),
            action=np.array([t], np.float32),
            reward=10.0 * t,
            terminated=terminated and last,
            truncated=truncated and last,
        )
    return ep.to_numpy()


def test_online_transitions_mask_only_true_terminations():
    arrays = episodes_to_transitions(
        [episode(3, terminated=True), episode(2, truncated=True), episode(2)]
    )
    assert arrays["masks"].tolist() == [1, 1, 0, 1, 1, 1, 1]  # truncation and cut chunks bootstrap
    assert arrays["observations"][:, 0].tolist() == [0, 1, 2, 0, 1, 0, 1]
    assert arrays["next_observations"][:, 0].tolist() == [1, 2, 3, 1, 2, 1, 2]
    assert arrays["actions"][:, 0].tolist() == [1, 2, 3, 1, 2, 1, 2]
    assert arrays["rewards"].tolist() == [10, 20, 30, 10, 20, 10, 20]


def test_online_rewards_follow_the_datasets_recorded_transform():
    rewards = np.array([0.0, 1.0, 2.5], np.float32)
    assert online_rewards(rewards, {}).tolist() == [0.0, 1.0, 2.5]
    assert online_rewards(rewards, {"reward_transform": "antmaze"}).tolist() == [-1.0, 0.0, 1.5]
    scaled = online_rewards(rewards, {"reward_transform": "locomotion", "reward_scale": 2.0})
    assert scaled.tolist() == [0.0, 2.0, 5.0]
    with pytest.raises(ValueError, match="reward_transform must be one of"):
        online_rewards(rewards, {"reward_transform": "squash"})


def test_no_updates_during_warmup_then_updates_per_env_step():
    due = lambda n: updates_due(n, warmup_steps=5, updates_per_env_step=0.5)  # noqa: E731
    assert [due(n) for n in (0, 5, 6, 7, 9, 15)] == [0, 0, 0, 1, 2, 5]
    assert updates_due(12, warmup_steps=0, updates_per_env_step=2.0) == 24


# --- the algorithm with EnvRunners (one local Ray session) ---------------------------------

ANTMAZE_CHAIN = "antmaze-chain"


@pytest.fixture
def chain_suite(monkeypatch: pytest.MonkeyPatch) -> str:
    """A dataset suite whose metadata records the antmaze reward transform (r - 1), as the
    Minari antmaze loader does, on the delayed-reward chain task."""

    def load(name: str, **options) -> object:
        arrays = make_chain_arrays(250, seed=1)
        arrays["rewards"] = arrays["rewards"] - 1.0
        metadata = {"env_spec": ENV_SPEC, "reward_transform": "antmaze"}
        return from_arrays(arrays, source=f"test:{name}", metadata=metadata)

    monkeypatch.setitem(SOURCES, "test", DataSource(prefix="test", load=load, eval_env=lambda name: ENV_SPEC))
    return f"test:{ANTMAZE_CHAIN}"


def online_config(dataset: str, **online) -> VGFConfig:
    settings = dict(
        online_env_steps=48, offline_updates=10, online_steps_per_iteration=24,
        online_warmup_steps=8, updates_per_env_step=0.5,
    )
    settings.update(online)
    return (
        VGFConfig()
        .offline_dataset(dataset=dataset)
        .training(
            critic_hidden_layers=[32, 32], sampler_hidden_layers=[32, 32],
            updates_per_iteration=10, train_batch_size_per_learner=32, sampler_euler_steps=3,
        )
        .online(**settings)
        .debugging(seed=5)
    )


def learner_of(algo: VGF):
    return algo.learner_group._learner


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


@pytest.mark.usefixtures("ray_session")
def test_online_phase_appends_transformed_transitions_and_updates_on_schedule(chain_suite):
    algo = online_config(chain_suite).build_algo()
    first = algo.train()  # offline phase: 10 updates, nothing collected
    assert first["num_gradient_updates_lifetime"] == 10
    assert first["num_online_env_steps_lifetime"] == 0
    second = algo.train()  # 24 steps, of which 16 after the warm-up: 8 updates
    assert second["num_online_env_steps_lifetime"] == 24
    assert second["num_gradient_updates_lifetime"] == 18
    third = algo.train()  # 24 more steps: 12 updates
    assert third["num_online_env_steps_lifetime"] == 48
    assert third["num_gradient_updates_lifetime"] == 30
    assert algo.train()["num_gradient_updates_lifetime"] == 40  # budget spent: offline-style
    buffer = learner_of(algo)._data
    assert (buffer.offline_size, buffer.capacity, buffer.size) == (1000, 1048, 1048)
    online = {k: v.numpy() for k, v in buffer.online_rows().items()}
    algo.stop()

    last = online["next_observations"][:, 2] == 0.0  # steps left 0: the episode terminated
    assert last.any() and (online["observations"][:, 2] > 0).all()
    np.testing.assert_array_equal(online["masks"], np.where(last, 0.0, 1.0))
    expected = np.where(last, final_reward(online["next_observations"][:, :2]), 0.0) - 1.0
    np.testing.assert_allclose(online["rewards"], expected, atol=1e-5)  # antmaze: r - 1
    assert np.abs(online["actions"]).max() <= 1.0


@pytest.mark.usefixtures("ray_session")
def test_online_iteration_collects_in_chunks_with_updates_and_syncs_between(
    chain_suite, monkeypatch
):
    algo = online_config(chain_suite, online_sync_steps=10).build_algo()
    algo.train()  # offline phase
    calls: list[tuple[str, int]] = []
    collect, update, sync = algo._collect_transitions, algo._update_learners, algo._sync_env_runner_weights
    monkeypatch.setattr(algo, "_collect_transitions", lambda n: calls.append(("collect", n)) or collect(n))
    monkeypatch.setattr(algo, "_update_learners", lambda n: calls.append(("update", n)) or update(n))
    monkeypatch.setattr(algo, "_sync_env_runner_weights", lambda: calls.append(("sync", 0)) or sync())
    result = algo.train()  # 24 steps in chunks 10, 10, 4; warm-up 8, then 0.5 updates per step
    algo.stop()
    assert calls == [
        ("collect", 10), ("update", 1), ("sync", 0),
        ("collect", 10), ("update", 5), ("sync", 0),
        ("collect", 4), ("update", 2), ("sync", 0),
    ]
    assert result["num_online_env_steps_lifetime"] == 24
    assert result["num_gradient_updates_lifetime"] == 18  # as without chunks


@pytest.mark.usefixtures("ray_session")
def test_remote_env_runner_acts_with_the_learners_latest_weights():
    algo = online_config("demo:delayed-chain-250").env_runners(num_env_runners=1).build_algo()
    for _ in range(3):  # offline, then two online iterations
        algo.train()
    learner_weights = weights(learner_of(algo).module["default_policy"].unwrapped())
    runner_weights, flow_steps = algo.env_runner_group.foreach_env_runner(
        lambda runner: (
            {k: v.detach().cpu().clone() for k, v in runner.module.state_dict().items()},
            runner.module.acting.transport.steps,
        ),
        local_env_runner=False,
    )[0]
    algo.stop()
    assert flow_steps == 0  # best-of-N, no transport, when collecting
    assert set(runner_weights) == set(learner_weights) - {
        k for k in learner_weights if k.startswith("target_critic")
    }
    for name, value in runner_weights.items():
        assert torch.equal(value, learner_weights[name]), name


@pytest.mark.usefixtures("ray_session")
def test_checkpoint_keeps_the_online_rows_and_counters(chain_suite, tmp_path):
    algo = online_config(chain_suite, buffer_capacity=1030).build_algo()
    for _ in range(3):  # 48 online rows into 30 free slots: the ring wrapped
        algo.train()
    algo.save_to_path(str(tmp_path / "ckpt"))
    saved = {k: v.clone() for k, v in learner_of(algo)._data.items()}
    saved_ring = (learner_of(algo)._data.pointer, learner_of(algo)._data.size)
    algo.stop()

    restored = VGF.from_checkpoint(str(tmp_path / "ckpt"))
    buffer = learner_of(restored)._data
    assert (buffer.pointer, buffer.size, buffer.num_appended) == (*saved_ring, 48)
    for name, tensor in saved.items():
        assert torch.equal(buffer[name], tensor), name
    result = restored.train()  # online budget spent: continues on the buffer
    restored.stop()
    assert result["num_online_env_steps_lifetime"] == 48
    assert result["num_gradient_updates_lifetime"] == 40


def test_online_config_is_validated():
    with pytest.raises(ValueError, match="online_steps_per_iteration must be an int >= 1"):
        online_config("demo:delayed-chain-250", online_steps_per_iteration=0).validate()
    with pytest.raises(ValueError, match="updates_per_env_step must be a finite number > 0"):
        online_config("demo:delayed-chain-250", updates_per_env_step=-1).validate()
    assert not VGFConfig().is_online and online_config("demo:delayed-chain-250").is_online
    config = online_config("demo:delayed-chain-250", buffer_capacity=1000)
    with pytest.raises(ValueError, match="buffer_capacity must exceed .* 1000 transitions"):
        VGF._buffer_capacity(config, 1000)
    assert VGF._buffer_capacity(online_config("demo:delayed-chain-250"), 1000) == 1048


@pytest.mark.usefixtures("ray_session")
def test_offline_checkpoint_restored_into_an_online_config_collects_next(tmp_path):
    offline = online_config("demo:delayed-chain-250", online_env_steps=0).build_algo()
    offline.train()
    offline.save_to_path(str(tmp_path / "offline"))
    saved = weights(learner_of(offline).module["default_policy"].unwrapped())
    offline.stop()

    online = online_config("demo:delayed-chain-250", offline_updates=0).build_algo()
    online.restore_from_path(str(tmp_path / "offline"))
    runner = online.env_runner_group.local_env_runner  # no remote runners: the local one acts
    for name, value in weights(runner.module).items():  # the restored weights, synced
        assert torch.equal(value, saved[name]), name
    result = online.train()
    online.stop()
    assert result["num_online_env_steps_lifetime"] == 24
    assert result["num_gradient_updates_lifetime"] == 10 + 8
