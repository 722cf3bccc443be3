"""Third-party messages a VGF user cannot act on are dropped, and only those (vgf_rllib/logs.py)."""

from __future__ import annotations

import logging
import warnings

import gymnasium as gym
import numpy as np
import pytest

from vgf_rllib.logs import quiet_third_party_noise


def test_float64_bounds_of_a_float32_box_give_no_warning_but_other_warnings_pass() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_third_party_noise()
        gym.spaces.Box(low=-np.ones(3), high=np.ones(3), dtype=np.float32)  # float64 bounds, as OGBench's
        warnings.warn("a warning VGF does not know")
    assert [str(w.message) for w in caught] == ["a warning VGF does not know"]


def test_a_reregistered_rllib_env_gives_no_warning() -> None:
    rllib_spec = gym.registry.get("rllib-single-agent-env-v0")  # restored below
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_third_party_noise()
        for _ in range(2):
            gym.register("rllib-single-agent-env-v0", entry_point="gymnasium.envs.classic_control:PendulumEnv")
        gym.register("vgf-test-env-v0", entry_point="gymnasium.envs.classic_control:PendulumEnv")
        gym.register("vgf-test-env-v0", entry_point="gymnasium.envs.classic_control:PendulumEnv")
    gym.registry.pop("vgf-test-env-v0")
    gym.registry.pop("rllib-single-agent-env-v0")
    if rllib_spec is not None:
        gym.registry["rllib-single-agent-env-v0"] = rllib_spec
    assert [str(w.message) for w in caught] == [
        "\x1b[33mWARN: Overriding environment vgf-test-env-v0 already in registry.\x1b[0m"
    ]


def test_a_noisy_log_line_is_dropped_and_its_neighbours_kept(caplog: pytest.LogCaptureFixture) -> None:
    quiet_third_party_noise()
    logger = logging.getLogger("ray.tune.utils.util")
    with caplog.at_level(logging.INFO, logger="ray.tune.utils.util"):
        logger.info("Install gputil for GPU system monitoring.")
        logger.info("something else")
    assert [r.getMessage() for r in caplog.records] == ["something else"]


def test_tunes_snapshot_count_warning_is_dropped_and_its_slow_snapshot_warning_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_third_party_noise()
    logger = logging.getLogger("ray.tune.execution.experiment_state")
    with caplog.at_level(logging.WARNING, logger="ray.tune.execution.experiment_state"):
        logger.warning("Experiment state snapshotting has been triggered multiple times in the last 5.0 s")
        logger.warning("Saving the experiment state (which holds ...) took ~9.00 seconds")
    assert [r.getMessage()[:26] for r in caplog.records] == ["Saving the experiment stat"]


def test_tunes_reuse_actors_advice_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    from vgf_rllib import VGF

    assert VGF.reset_config(None, {}) is False  # why the advice cannot apply (vgf_rllib/logs.py)
    quiet_third_party_noise()
    logger = logging.getLogger("ray.tune.trainable.trainable")
    with caplog.at_level(logging.INFO, logger="ray.tune.trainable.trainable"):
        logger.info("Trainable.setup took 12.000 seconds. If your trainable is slow to initialize, "
                    "consider setting reuse_actors=True to reduce actor creation overheads.")
        logger.info("Restored on 127.0.0.1 from checkpoint")
    assert [r.getMessage() for r in caplog.records] == ["Restored on 127.0.0.1 from checkpoint"]


def test_rllibs_advice_to_call_evaluate_is_dropped_for_vgfs_evaluation_runners(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from vgf_rllib import VGFConfig
    from vgf_rllib.demo import DATASET_SPEC, ENV_SPEC

    quiet_third_party_noise()
    config = (
        VGFConfig().environment(ENV_SPEC).offline_dataset(dataset=DATASET_SPEC)
        .evaluation(evaluation_num_env_runners=2)
    )
    with caplog.at_level(logging.WARNING, logger="ray.rllib.algorithms.algorithm_config"):
        config.validate()  # RLlib's own validate logs the advice (2 evaluation workers, no interval)
    assert not [r for r in caplog.records if "evaluation_interval" in r.getMessage()]
