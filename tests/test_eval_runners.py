"""Evaluation on EnvRunners (docs/algorithm.md, "Evaluation on EnvRunners"): with
``evaluation_num_env_runners=k`` an evaluation's episodes are split over RLlib's evaluation
EnvRunners, built once, acting with the learner's latest weights, and give the records of the
in-process loop on the same seeded episodes; a runner lost mid-evaluation is restarted and its
episodes are played again."""

from __future__ import annotations

import os
import threading
import time

import pytest
import ray

from vgf_rllib import VGFConfig
from vgf_rllib.demo_chain import ENV_SPEC as CHAIN
from vgf_rllib.evaluation import evaluate_budgets, evaluation_seed, results_by_budget

pytestmark = pytest.mark.usefixtures("ray_session")

SEED = 3
TINY = dict(
    critic_hidden_layers=[32, 32], sampler_hidden_layers=[32, 32], updates_per_iteration=10,
    train_batch_size_per_learner=32, sampler_euler_steps=3,
)


def evaluated_config(env: str, dataset: str, budgets: list, episodes: int, runners: int) -> VGFConfig:
    return (
        VGFConfig()
        .environment(env)
        .offline_dataset(dataset=dataset)
        .training(**TINY)
        .test_time(test_flow_steps=budgets, eval_episodes=episodes)
        .evaluation(evaluation_num_env_runners=runners)
        .debugging(seed=SEED)
    )


def local_records(algo, env: str, budgets: list, episodes: int) -> dict:
    """The in-process loop's records for the algorithm's current weights and evaluation seeds."""
    module = algo.get_policy_module()
    return results_by_budget(
        evaluate_budgets(module, env, budgets, episodes, seed=evaluation_seed(SEED))
    )


def runner_pids(group) -> list[int]:
    return group.foreach_env_runner(lambda runner: os.getpid(), local_env_runner=False)


def test_two_runners_give_the_local_loops_records_with_the_latest_weights():
    budgets, episodes = [0, 2, "auto"], 5  # shares of 3 and 2 episodes
    algo = evaluated_config(CHAIN, "demo:delayed-chain-250", budgets, episodes, 2).build_algo()
    group = algo.eval_env_runner_group
    pids = runner_pids(group)
    assert len(set(pids)) == 2 and os.getpid() not in pids
    records = []
    for _ in range(2):  # the weights move between the evaluations
        algo.train()
        remote = algo.evaluate_test_time_budgets()
        assert remote == local_records(algo, CHAIN, budgets, episodes)
        records.append(remote)
    assert runner_pids(group) == pids  # built once, in setup, not per evaluation
    algo.stop()
    assert records[0]["L2"]["episode_returns"] != records[1]["L2"]["episode_returns"]
    assert [records[1][key]["episodes"] for key in ("L0", "L2", "Lauto")] == [episodes] * 3


def test_a_runner_killed_mid_evaluation_is_restarted_and_its_episodes_played_again(
    monkeypatch, caplog
):
    budgets, episodes = [0, 1], 4  # 200-step Pendulum episodes: about a second per share
    config = evaluated_config("Pendulum-v1", "random:Pendulum-v1-5", budgets, episodes, 2)
    algo = config.build_algo()
    algo.train()
    group = algo.eval_env_runner_group
    (victim,) = group.foreach_env_runner(
        lambda runner: ray.get_runtime_context().current_actor,
        local_env_runner=False, remote_worker_ids=[1],
    )
    pids = runner_pids(group)
    dispatch = group.foreach_env_runner
    kills: list[threading.Timer] = []

    def kill_runner_1_while_it_plays(*args, **kwargs):
        if not kills:  # the first round only: ray.kill as a crash that Ray may restart
            kills.append(threading.Timer(0.3, ray.kill, (victim,), {"no_restart": False}))
            kills[0].start()
        return dispatch(*args, **kwargs)

    monkeypatch.setattr(group, "foreach_env_runner", kill_runner_1_while_it_plays)
    remote = algo.evaluate_test_time_budgets()
    monkeypatch.undo()
    lost = "taking actor 1 out of service"
    assert any(lost in record.getMessage() for record in caplog.records)  # its share failed
    assert [remote[key]["episodes"] for key in ("L0", "L1")] == [episodes] * 2
    assert remote == local_records(algo, "Pendulum-v1", budgets, episodes)

    deadline = time.monotonic() + 120
    while True:  # Ray restarts the killed actor (same handle, new process)
        try:
            ray.get(victim.ping.remote(), timeout=10)
            break
        except ray.exceptions.RayError:
            assert time.monotonic() < deadline, "Ray did not restart the killed EnvRunner"
            time.sleep(1)
    algo.train()
    remote = algo.evaluate_test_time_budgets()  # its probe takes the restarted runner back
    assert group.healthy_env_runner_ids() == [1, 2] and group.num_remote_worker_restarts() == 1
    new_pids = runner_pids(group)
    assert new_pids[0] != pids[0] and new_pids[1] == pids[1]
    assert remote == local_records(algo, "Pendulum-v1", budgets, episodes)  # the latest weights
    algo.stop()


def test_evaluation_runners_need_an_env():
    from vgf_rllib.demo import make_demo_arrays

    config = (
        VGFConfig()
        .offline_dataset(dataset=make_demo_arrays(200))  # arrays name no env
        .training(**TINY)
        .evaluation(evaluation_num_env_runners=1)
    )
    with pytest.raises(ValueError, match=r"evaluation_num_env_runners=1 needs an env"):
        config.build_algo()


def test_the_cli_starts_ray_for_evaluation_runners():
    from vgf_rllib.cli.ray_session import needs_ray

    config = VGFConfig().offline_dataset(dataset="demo:offset-bandit")
    assert not needs_ray(config)
    assert needs_ray(config.evaluation(evaluation_num_env_runners=1))
