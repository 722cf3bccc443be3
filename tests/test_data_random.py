"""``random:<gym id>[-<episodes>]``: seeded uniform-action datasets generated in memory."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from vgf_rllib.data import DatasetError, default_eval_env, load_dataset
from vgf_rllib.data.spaces import unsquash_actions


def test_pendulum_episodes_are_replayable_and_truncated_with_mask_one():
    dataset = load_dataset("random:Pendulum-v1-3")
    assert len(dataset) == 600 and dataset.source == "random:Pendulum-v1-3"
    assert default_eval_env("random:Pendulum-v1-3") == "Pendulum-v1"
    # time-limit truncation is not termination: every mask 1, a trajectory end every 200 rows
    assert (dataset.masks == 1.0).all()
    np.testing.assert_array_equal(np.flatnonzero(dataset.terminals), [199, 399, 599])
    assert np.abs(dataset.actions).max() <= 1.0 and dataset.actions.std() > 0.5
    # replaying the stored actions (unsquashed to [-2, 2]) in the env reproduces every reward
    env = gym.make("Pendulum-v1")
    env.reset(seed=1)  # episode 1 of seed 0 starts from reset(seed=1)
    for row in range(200, 205):
        next_obs, reward, *_ = env.step(unsquash_actions(dataset.actions[row], env.action_space))
        np.testing.assert_allclose(next_obs, dataset.next_observations[row], rtol=1e-5)
        assert reward == pytest.approx(dataset.rewards[row], rel=1e-5)
    np.testing.assert_array_equal(load_dataset("random:Pendulum-v1-3").actions, dataset.actions)


def test_termination_sets_mask_zero():
    dataset = load_dataset("random:InvertedPendulum-v5-4")  # random actions drop the pole fast
    ends = np.flatnonzero(dataset.terminals)
    assert len(ends) == 4 and (dataset.masks[ends] == 0.0).all()
    assert (np.delete(dataset.masks, ends) == 1.0).all()


@pytest.mark.parametrize(
    "spec, message",
    [
        ("random:Pendulum", "is not 'random:<gymnasium id ending in -vN>"),
        ("random:Pendulum-v1-0", "episode count must be at least 1"),
        ("random:NoSuchEnv-v0", "cannot make gymnasium env 'NoSuchEnv-v0'"),
        ("random:CartPole-v1", "is not a bounded Box"),
    ],
)
def test_bad_specs_name_the_problem(spec, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset(spec)


def test_rescaling_is_refused():
    with pytest.raises(DatasetError, match="generated in \\[-1, 1\\]"):
        load_dataset("random:Pendulum-v1-1", rescale_actions=True)
