"""Minari datasets created locally (no download): flattening, rewards, env, scores.

The AntMaze tests build datasets with the structure of Minari's ``D4RL/antmaze/*`` (dict
observations ``observation`` / ``achieved_goal`` / ``desired_goal``, per-episode goals recorded
by a continuing env, an evaluation env spec whose maze map has one goal cell ``"g"``).

See docs/algorithm.md, "Data", and docs/data.md.
"""

from __future__ import annotations

import importlib.util
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec

from vgf_rllib.data import DatasetError, check_against_spaces, load_dataset
from vgf_rllib.data.minari_data import (
    ANTMAZE_GOAL_THRESHOLD,
    AntMazeTask,
    antmaze_task,
    default_reward_transform,
    flatten_episodes,
    open_minari,
    transform_rewards,
    wrap_antmaze_eval_env,
)
from vgf_rllib.envs import make_env, normalized_score

minari = pytest.importorskip("minari")
PENDULUM = "test/pendulum/random-v0"  # truncations only, reference scores set
PENDULUM_NO_REFS = "test/pendulum/norefs-v0"
HOPPER_LIKE = "test/inverted-pendulum/random-v0"  # terminations
REF_MIN, REF_MAX = -1500.0, -100.0
ANTMAZE = "test/antmaze/umaze-v0"
ANTMAZE_NO_GOAL = "test/antmaze/nogoal-v0"
ANTMAZE_NO_SPEC = "test/antmaze/nospec-v0"
R, G = "r", "g"
#: Minari's antmaze-umaze evaluation map (minari-dataset-generation-scripts, EVAL_ENV_MAPS)
EVAL_UMAZE = [[1, 1, 1, 1, 1], [1, 0, 0, R, 1], [1, 0, 1, 1, 1], [1, 0, 0, G, 1], [1, 1, 1, 1, 1]]
OPEN_UMAZE = [[1, 1, 1, 1, 1], [1, 0, 0, 0, 1], [1, 1, 1, 0, 1], [1, 0, 0, 0, 1], [1, 1, 1, 1, 1]]
EVAL_GOAL = np.array([4.0, -4.0])  # centre of cell (3, 3) with AntMaze's maze_size_scaling 4
COLLECTION_GOAL = np.array([-4.0, 4.0])  # cell (1, 1): where the collection env put its goal
#: torso x, y paths: episode 0 heads for its own (collection) goal, episode 1 passes the
#: evaluation goal; distances 0.44 / 0.46 from the evaluation goal straddle the 0.45 radius
PATHS = (
    [[0.0, 4.0], [-2.0, 4.0], [-3.8, 4.1], [-4.0, 4.0], [-4.1, 3.9], [-4.0, 4.2]],
    [[4.0, 0.0], [4.0, -2.0], [4.0, -3.54], [4.0, -3.56], [4.1, -4.0], [4.0, -4.0], [4.0, -4.46]],
)


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


def antmaze_spec(maze_map) -> EnvSpec:
    """An AntMaze env spec as Minari records it (entry point, kwargs with the maze map)."""
    return EnvSpec(
        id="AntMaze_UMaze-v4",
        entry_point="gymnasium_robotics.envs.maze.ant_maze_v4:AntMazeEnv",
        max_episode_steps=700,
        kwargs={
            "maze_map": maze_map,
            "reward_type": "sparse",
            "continuing_task": True,
            "reset_target": False,
        },
    )


def _antmaze_episode(index: int, path: list[list[float]]):
    """One episode as Minari stores it: rewards/goals of its own (per-episode) goal."""
    from minari.data_collector import EpisodeBuffer

    rng = np.random.default_rng(index)
    xy = np.asarray(path, dtype=np.float64)
    goal = COLLECTION_GOAL + rng.uniform(-0.3, 0.3, 2)  # this episode's noisy goal
    near_own_goal = np.linalg.norm(xy[1:] - goal, axis=1) <= ANTMAZE_GOAL_THRESHOLD
    steps = len(xy) - 1
    return EpisodeBuffer(
        id=index,
        observations={
            "observation": rng.normal(size=(len(xy), 27)),
            "achieved_goal": xy,
            "desired_goal": np.tile(goal, (len(xy), 1)),
        },
        actions=rng.uniform(-1, 1, (steps, 8)).astype(np.float32),
        rewards=near_own_goal.astype(np.float64).tolist(),
        terminations=[False] * steps,  # continuing_task=True never terminates
        truncations=[False] * (steps - 1) + [True],
    )


def _create_antmaze(dataset_id: str, eval_map) -> None:
    box = lambda n: gym.spaces.Box(-np.inf, np.inf, (n,), np.float64)  # noqa: E731
    minari.create_dataset_from_buffers(
        dataset_id,
        [_antmaze_episode(i, path) for i, path in enumerate(PATHS)],
        eval_env=None if eval_map is None else antmaze_spec(eval_map),
        observation_space=gym.spaces.Dict(
            {"observation": box(27), "achieved_goal": box(2), "desired_goal": box(2)}
        ),
        action_space=gym.spaces.Box(-1.0, 1.0, (8,), np.float32),
        algorithm_name="scripted",
        author="tests",
        author_email="tests@example.org",
        code_permalink="tests/test_data_minari.py",
        description="antmaze-like test data",
    )


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
        with warnings.catch_warnings():  # no collection env spec: Minari warns, not needed
            warnings.simplefilter("ignore", UserWarning)
            _create_antmaze(ANTMAZE, EVAL_UMAZE)
            _create_antmaze(ANTMAZE_NO_GOAL, OPEN_UMAZE)
            _create_antmaze(ANTMAZE_NO_SPEC, None)
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


# --- AntMaze (D4RL through Minari) -----------------------------------------------------------


def test_antmaze_observations_are_d4rl_29_dims_with_torso_xy(store):
    dataset = load_dataset(f"minari:{ANTMAZE}")
    steps = sum(len(path) - 1 for path in PATHS)
    assert len(dataset) == steps and dataset.observation_dim == 29 and dataset.action_dim == 8
    episodes = list(open_minari(ANTMAZE).iterate_episodes())
    xy = np.concatenate([ep.observations["achieved_goal"][:-1] for ep in episodes])
    rest = np.concatenate([ep.observations["observation"][:-1] for ep in episodes])
    next_xy = np.concatenate([ep.observations["achieved_goal"][1:] for ep in episodes])
    np.testing.assert_allclose(dataset.observations[:, :2], xy, rtol=1e-6)  # x, y first
    np.testing.assert_allclose(dataset.observations[:, 2:], rest, rtol=1e-6)
    np.testing.assert_allclose(dataset.next_observations[:, :2], next_xy, rtol=1e-6)
    assert dataset.metadata["antmaze"]["observation"] == "concat(achieved_goal, observation)"


def test_antmaze_rewards_and_masks_are_relabelled_against_the_eval_goal(store):
    dataset = load_dataset(f"minari:{ANTMAZE}")
    info = dataset.metadata["antmaze"]
    assert info["eval_goal"] == EVAL_GOAL.tolist() and info["goal_cell"] == [3, 3]
    assert info["goal_threshold"] == ANTMAZE_GOAL_THRESHOLD == 0.45
    assert info["goal_from"] == "eval_env_spec"
    assert dataset.metadata["reward_transform"] == "antmaze"
    episodes = list(open_minari(ANTMAZE).iterate_episodes())
    recorded = np.concatenate([ep.rewards for ep in episodes])
    own_goal = np.concatenate([ep.observations["desired_goal"][1:] for ep in episodes])
    next_xy = dataset.next_observations[:, :2].astype(np.float64)
    at_eval_goal = np.linalg.norm(next_xy - EVAL_GOAL, axis=1) <= 0.45
    at_own_goal = np.linalg.norm(next_xy - own_goal, axis=1) <= 0.45  # per-episode goal
    assert at_eval_goal.sum() == 3 and at_own_goal.sum() >= 3 and info["goal_rows"] == 3
    assert (recorded[at_own_goal] == 1.0).all() and (recorded[at_eval_goal] == 0.0).all()
    # reached the eval goal: reward 1 (-> 0 after the antmaze r - 1), task complete (mask 0)
    assert (dataset.rewards[at_eval_goal] == 0.0).all() and (dataset.masks[at_eval_goal] == 0).all()
    # everywhere else, including where the recorded per-episode goal was reached: -1, bootstrap
    assert (dataset.rewards[~at_eval_goal] == -1.0).all()
    assert (dataset.masks[~at_eval_goal] == 1).all()
    assert (dataset.rewards[at_own_goal] == -1.0).all() and (dataset.masks[at_own_goal] == 1).all()
    # the 0.45 radius: 0.44 away is success, 0.46 away is not (episode 1, steps 1 and 2)
    first = len(PATHS[0]) - 1
    assert dataset.rewards[first + 1] == -1.0 and dataset.rewards[first + 2] == 0.0
    assert dataset.terminals.sum() == 2  # trajectory ends stay as recorded


def test_antmaze_without_one_fixed_eval_goal_is_refused(store):
    with pytest.raises(DatasetError, match=r"0 goal cell\(s\) 'g'.*exactly one fixed evaluation"):
        load_dataset(f"minari:{ANTMAZE_NO_GOAL}")
    with pytest.raises(DatasetError, match="without a recorded env spec"):
        load_dataset(f"minari:{ANTMAZE_NO_SPEC}")
    two_goals = antmaze_spec([[1, 1, 1], [1, G, 1], [1, G, 1], [1, 1, 1]]).to_json()
    with pytest.raises(DatasetError, match=r"2 goal cell\(s\)"):
        antmaze_task({"eval_env_spec": two_goals}, "minari:x")
    with pytest.raises(DatasetError, match=r"UMaze-v3', not a gymnasium-robotics AntMaze"):
        antmaze_task({"eval_env_spec": '{"id": "PointMaze_UMaze-v3", "kwargs": {}}'}, "minari:x")


def test_antmaze_needs_dict_observations_with_achieved_goal():
    task = antmaze_task({"eval_env_spec": antmaze_spec(EVAL_UMAZE).to_json()}, "minari:x")

    class Episodes:
        def __init__(self, observations):
            self.observations = observations

        def iterate_episodes(self):
            episode = type("Episode", (), {})()
            episode.observations = self.observations
            episode.actions, episode.rewards = np.zeros((2, 8)), np.zeros(2)
            episode.terminations, episode.truncations = np.zeros(2, bool), np.ones(2, bool)
            yield episode

    with pytest.raises(DatasetError, match="got a flat array"):
        flatten_episodes(Episodes(np.zeros((3, 27))), "minari:x", task)
    with pytest.raises(DatasetError, match=r"got \['desired_goal', 'observation'\]"):
        no_xy = {"observation": np.zeros((3, 27)), "desired_goal": np.zeros((3, 2))}
        flatten_episodes(Episodes(no_xy), "minari:x", task)


class FakeAntMaze(gym.Env):
    """gymnasium-robotics' AntMaze interface without MuJoCo: dict observations, a goal re-drawn
    with noise at each reset, success within 0.45 of ``self.goal``, actions move the torso."""

    def __init__(self, continuing_task: bool = False) -> None:
        box = lambda n: gym.spaces.Box(-np.inf, np.inf, (n,), np.float64)  # noqa: E731
        self.observation_space = gym.spaces.Dict(
            {"observation": box(27), "achieved_goal": box(2), "desired_goal": box(2)}
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (8,), np.float32)
        self.continuing_task, self.reset_target = continuing_task, False
        self.goal, self.xy = np.zeros(2), np.zeros(2)

    def _observation(self):
        return {
            "observation": np.full(27, 7.0),
            "achieved_goal": self.xy.copy(),
            "desired_goal": self.goal.copy(),
        }

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.goal = EVAL_GOAL + self.np_random.uniform(-1.0, 1.0, 2)
        self.xy = np.array([4.0, 4.0])
        return self._observation(), {"success": False}

    def step(self, action):
        self.xy = self.xy + np.asarray(action[:2], np.float64)
        success = bool(np.linalg.norm(self.xy - self.goal) <= 0.45)
        terminated = success and not self.continuing_task
        return self._observation(), float(success), terminated, False, {"success": success}


def test_antmaze_eval_wrappers_on_a_fake_env():
    task = AntMazeTask(goal=(4.0, -4.0), goal_cell=(3, 3), spec_key="eval_env_spec", env_id="x")
    env = wrap_antmaze_eval_env(FakeAntMaze(), task, "minari:x")
    assert env.observation_space.shape == (29,)
    for seed in range(3):
        observation, info = env.reset(seed=seed)
        assert observation.shape == (29,) and observation[:2].tolist() == [4.0, 4.0]
        assert (observation[2:] == 7.0).all() and info["success"] is False
        assert env.unwrapped.goal.tolist() == [4.0, -4.0]  # pinned, not the noisy draw
    for _ in range(7):
        observation, reward, terminated, _, info = env.step(np.array([0, -1] + [0] * 6, np.float32))
        assert not terminated and info["success"] is False
    observation, reward, terminated, _, info = env.step(np.array([0, -1] + [0] * 6, np.float32))
    assert observation[:2].tolist() == [4.0, -4.0]
    assert terminated and info["success"] and reward == 1.0
    with pytest.raises(DatasetError, match="continuing_task=False"):
        wrap_antmaze_eval_env(FakeAntMaze(continuing_task=True), task, "minari:x")


@pytest.mark.skipif(
    importlib.util.find_spec("gymnasium_robotics") is None, reason="needs gymnasium-robotics"
)
def test_antmaze_eval_env_for_real(store):
    env = make_env(f"minari:{ANTMAZE}")
    base = env.unwrapped
    assert env.observation_space.shape == (29,) and base.continuing_task is False
    np.testing.assert_allclose(base.maze.cell_rowcol_to_xy(np.array([3, 3])), EVAL_GOAL)
    dataset = load_dataset(f"minari:{ANTMAZE}")
    check_against_spaces(dataset, env.observation_space, env.action_space)
    for seed in range(3):
        observation, info = env.reset(seed=seed)
        np.testing.assert_allclose(base.goal, EVAL_GOAL)  # no per-reset goal noise
        np.testing.assert_allclose(observation[:2], base.ant_env.data.qpos[:2])  # torso x, y
        np.testing.assert_allclose(observation[2:15], base.ant_env.data.qpos[2:])  # D4RL: qpos
        np.testing.assert_allclose(observation[15:], base.ant_env.data.qvel)  # then qvel
        assert info["success"] is False
    _, reward, terminated, truncated, info = env.step(np.zeros(8, np.float32))
    assert (reward, terminated, info["success"]) == (0.0, False, False)
    qpos, qvel = base.ant_env.data.qpos.copy(), base.ant_env.data.qvel.copy()
    qpos[:2] = EVAL_GOAL + [0.1, 0.0]  # put the torso at the goal
    base.ant_env.set_state(qpos, np.zeros_like(qvel))
    _, reward, terminated, truncated, info = env.step(np.zeros(8, np.float32))
    assert (reward, terminated, info["success"]) == (1.0, True, True)  # non-continuing: ends
    env.close()
    assert normalized_score(f"minari:{ANTMAZE}", np.zeros(2)) is None  # scored by success
    with pytest.raises(Exception, match="continuing_task=True is not an evaluation setting"):
        make_env(f"minari:{ANTMAZE}", continuing_task=True)
