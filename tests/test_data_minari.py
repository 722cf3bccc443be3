"""Minari datasets created locally (no download): flattening, rewards, env, scores (spec 4.2)."""

from __future__ import annotations


import gymnasium as gym
import numpy as np
import pytest

from vgf_rllib.data import DatasetError, check_against_spaces, load_dataset
from vgf_rllib.data.minari_data import (
    default_reward_transform,
    flatten_episodes,
    open_minari,
    transform_rewards,
)
from vgf_rllib.envs import make_env, normalized_score

minari = pytest.importorskip("minari")
PENDULUM = "test/pendulum/random-v0"  # truncations only, reference scores set
PENDULUM_NO_REFS = "test/pendulum/norefs-v0"
HOPPER_LIKE = "test/inverted-pendulum/random-v0"  # terminations
REF_MIN, REF_MAX = -1500.0, -100.0


pytestmark = pytest.mark.usefixtures("no_network")


def _collect(env_id: str, dataset_id: str, episodes: int, steps: int, **refs: float) -> None:
    env = minari.DataCollector(gym.make(env_id, max_episode_steps=steps))
    env.action_space.seed(0)
    for episode in range(episodes):
        env.reset(seed=episode)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            done = terminated or truncated
    env.create_dataset(
        dataset_id,
        eval_env=env_id,
        algorithm_name="random",
        author="tests",
        author_email="tests@example.org",
        code_permalink="tests/test_data_minari.py",
        description="test data",
        **refs,
    )
    env.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("minari")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINARI_DATASETS_PATH", str(root))
        _collect(
            "Pendulum-v1",
            PENDULUM,
            episodes=4,
            steps=12,
            ref_min_score=REF_MIN,
            ref_max_score=REF_MAX,
        )
        _collect("Pendulum-v1", PENDULUM_NO_REFS, episodes=2, steps=5)
        _collect("InvertedPendulum-v5", HOPPER_LIKE, episodes=3, steps=50)
        yield root


def test_flattened_transitions(store):
    dataset = load_dataset(f"minari:{PENDULUM}", rescale_actions=True)  # bounds from the dataset
    assert len(dataset) == 4 * 12 and dataset.observation_dim == 3 and dataset.action_dim == 1
    assert dataset.masks.min() == 1.0  # truncations still bootstrap
    assert dataset.terminals.sum() == 4 and dataset.terminals[11] == 1.0
    np.testing.assert_array_equal(dataset.next_observations[:11], dataset.observations[1:12])
    assert (
        dataset.metadata["reward_transform"] == "none"
        and dataset.metadata["ref_max_score"] == REF_MAX
    )
    with pytest.raises(DatasetError, match="outside \\[-1, 1\\]"):
        load_dataset(f"minari:{PENDULUM}")  # actions in [-2, 2] need rescaling


def test_terminations_stop_bootstrapping(store):
    dataset = load_dataset(f"minari:{HOPPER_LIKE}", rescale_actions=True)
    episodes = open_minari(HOPPER_LIKE)
    terminations = np.concatenate([ep.terminations for ep in episodes.iterate_episodes()])
    np.testing.assert_array_equal(dataset.masks, 1.0 - terminations)
    assert dataset.terminals.sum() == 3


def test_dataset_directory_paths(store):
    by_dir = load_dataset(store / PENDULUM, rescale_actions=True)
    by_data_dir = load_dataset(str(store / PENDULUM / "data"), rescale_actions=True)
    assert len(by_dir) == len(by_data_dir) == 48


def test_store_root_as_dataset_dir(store, monkeypatch):
    monkeypatch.delenv("MINARI_DATASETS_PATH")
    dataset = load_dataset(f"minari:{PENDULUM}", dataset_dir=store, rescale_actions=True)
    assert len(dataset) == 48 and dataset.metadata["env_spec"] == f"minari:{store / PENDULUM}"


def test_reward_transforms(store):
    raw, returns = flatten_episodes(open_minari(PENDULUM), "x")
    locomotion = load_dataset(
        f"minari:{PENDULUM}", reward_transform="locomotion", rescale_actions=True
    )
    scale = 1000.0 / (returns.max() - returns.min())
    np.testing.assert_allclose(locomotion.rewards, raw["rewards"] * scale, rtol=1e-5)
    antmaze = load_dataset(f"minari:{PENDULUM}", reward_transform="antmaze", rescale_actions=True)
    np.testing.assert_allclose(antmaze.rewards, raw["rewards"] - 1.0, rtol=1e-5)
    with pytest.raises(DatasetError, match="unknown reward_transform 'd4rl'"):
        load_dataset(f"minari:{PENDULUM}", reward_transform="d4rl")


def test_reward_transform_defaults_by_id():
    assert default_reward_transform("mujoco/hopper/medium-v0") == "locomotion"
    assert default_reward_transform("mujoco/halfcheetah/expert-v0") == "locomotion"
    assert default_reward_transform("D4RL/antmaze/umaze-diverse-v1") == "antmaze"
    assert default_reward_transform("mujoco/inverted_pendulum/expert-v0") == "none"


def test_locomotion_scale_needs_distinct_returns():
    with pytest.raises(DatasetError, match="divides by \\(max - min episode return\\)"):
        transform_rewards(np.ones(3), np.array([5.0, 5.0]), "locomotion", "minari:x")


def test_missing_and_malformed(store, tmp_path):
    with pytest.raises(DatasetError, match="minari download mujoco/hopper/medium-v0"):
        load_dataset("minari:mujoco/hopper/medium-v0")
    with pytest.raises(DatasetError, match="Malformed dataset ID"):
        load_dataset("minari:not a valid id")
    with pytest.raises(DatasetError, match="Minari dataset directory not found"):
        load_dataset(f"minari:{tmp_path / 'absent'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="not a Minari dataset directory"):
        load_dataset(tmp_path / "empty")


def test_eval_env_and_normalized_score(store):
    env = make_env(f"minari:{PENDULUM}")
    dataset = load_dataset(f"minari:{PENDULUM}", rescale_actions=True)
    check_against_spaces(dataset, env.observation_space, env.action_space)
    env.close()
    scores = normalized_score(f"minari:{PENDULUM}", np.array([REF_MIN, REF_MAX, -800.0]))
    np.testing.assert_allclose(scores, [0.0, 100.0, 50.0])
    assert normalized_score(f"minari:{PENDULUM_NO_REFS}", np.zeros(2)) is None
    assert normalized_score("Pendulum-v1", np.zeros(2)) is None


def test_dict_observations_use_the_observation_key():
    class Episodes:
        def iterate_episodes(self):
            class Episode:
                observations = {
                    "observation": np.arange(8.0).reshape(4, 2),
                    "desired_goal": np.zeros((4, 2)),
                }
                actions = np.zeros((3, 1))
                rewards = np.ones(3)
                terminations = np.array([False, False, True])
                truncations = np.zeros(3, bool)

            yield Episode()

    arrays, returns = flatten_episodes(Episodes(), "x")
    np.testing.assert_array_equal(arrays["observations"], [[0, 1], [2, 3], [4, 5]])
    assert returns.tolist() == [3.0] and arrays["masks"].tolist() == [1, 1, 0]
