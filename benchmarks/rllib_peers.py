"""VGF beside RLlib's own offline algorithms (BC, CQL, IQL) on the same RLlib recording.

One recording of Pendulum-v1 made with RLlib's own writer (``offline_data(output=...)`` on an
EnvRunner, column layout) is read by every algorithm through ``offline_data(input_=...)``: VGF
reads it once into learner-resident tensors, RLlib's algorithms stream it through their Ray Data
pipeline. Each trains the same number of gradient steps with batch 128 and 2x64 networks where
its config allows, and is scored on the same seeded evaluation episodes (VGF at each L_test).
Prints one row per algorithm and seed: mean return +- standard error, training wall time and
updates/s.

    python benchmarks/rllib_peers.py --updates 8000 --seeds 0 1 2 --episodes 50
    python benchmarks/rllib_peers.py --task ppo --seeds 0       # the better-than-random data

Tasks: ``random`` records random torques (the quickstart's data, through RLlib's writer);
``ppo`` records the stochastic policy of an RLlib PPO trained briefly on Pendulum-v1 (a partly
trained, better-than-random behavior policy; its mean return is printed). Each run's returns are
saved as one JSON file under ``--results``; a run whose file exists is not repeated, so a long
grid can be stopped and continued, and the table covers every saved run of the task.

Peer settings ("as shipped" = RLlib 2.60's defaults plus what the run needs to start at all;
"as tuned" adds what a careful RLlib user sets), each with the reason:

- all peers: ``dataset_num_iters_per_learner`` = updates per ``train()`` call (None runs a full
  epoch per call, 1 crashes CQL's training step), ``map_batches_kwargs={"concurrency": 1}``
  (RLlib's default of max(2, num_learners) data actors starved the parquet read on 2 CPUs),
  the env and explicit spaces (BC and IQL refuse an offline config without an evaluation env or
  spaces; CQL, built on SAC, builds an EnvRunner and needs the env).
- CQL: ``lr=None`` (its validation refuses ``lr`` next to actor/critic learning rates);
  tuned: ``bc_iters=0`` (the actor's behavior-cloning phase counts ``train()`` calls' steps from
  zero at every call in this version, so it never ends).
- IQL: tuned: ``tau=0.005`` with ``target_network_update_freq=0`` (the shipped ``tau=1.0`` makes
  every target update a hard copy, done once per ``train()`` call).

Recorded actions are random torques in the env's units, so RLlib's peers train on them with
``normalize_actions=False`` (their module acts in env units, clipped) and VGF maps them from the
env's bounds (docs/data.md, "RLlib recordings"). Uses one CPU learner per algorithm.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

ENV = "Pendulum-v1"
BATCH = 128
HIDDEN = [64, 64]
PEERS = ("bc", "cql", "iql")


def ppo_config() -> Any:
    """The PPO whose EnvRunner records (and, for task ``ppo``, whose briefly trained policy acts).

    Env units throughout (``normalize_actions=False``), as the peers train."""
    from ray.rllib.algorithms.ppo import PPOConfig

    return (
        PPOConfig()
        .environment(ENV, normalize_actions=False, clip_actions=True)
        .env_runners(batch_mode="complete_episodes", num_env_runners=0)
        .training(train_batch_size_per_learner=4000, minibatch_size=512, num_epochs=6, lr=3e-4,
                  gamma=0.95, lambda_=0.1, vf_clip_param=10.0)
        .debugging(seed=0)
    )


def record(out: Path, task: str, episodes: int, ppo_iterations: int) -> Path:
    """``episodes`` episodes through RLlib's writer (column layout), once per ``out``."""
    from ray.rllib.offline.offline_env_runner import OfflineSingleAgentEnvRunner

    if any(out.rglob("*.parquet")):
        return out
    config = ppo_config().offline_data(output=str(out), output_write_episodes=False)
    runner = OfflineSingleAgentEnvRunner(config=config)
    if task == "ppo":
        algo = ppo_config().build_algo()
        for iteration in range(ppo_iterations):
            result = algo.train()
            print(f"PPO iteration {iteration + 1}/{ppo_iterations}: episode return "
                  f"{result['env_runners'].get('episode_return_mean', float('nan')):.0f}", flush=True)
        runner.set_state({"rl_module": algo.get_module().get_state()})
        algo.stop()
    runner.sample(num_episodes=episodes, random_actions=task == "random")  # one call: one copy
    runner.stop()
    return out


def behavior_return(data: Path) -> float:
    """Mean episode return of the recording (its behavior policy's score)."""
    import pyarrow.parquet as pq

    table = pq.read_table(str(data), columns=["eps_id", "rewards"])
    episode_ids = np.asarray(table.column("eps_id").to_pylist())
    rewards = table.column("rewards").to_numpy()
    _, episode_index = np.unique(episode_ids, return_inverse=True)
    return float(np.bincount(episode_index, weights=rewards).mean())


def peer_config(name: str, data: Path, *, seed: int, per_call: int, tuned: bool) -> Any:
    """An RLlib BC/CQL/IQL config on the recording, as documented in the module docstring."""
    from ray.rllib.algorithms.bc import BCConfig
    from ray.rllib.algorithms.cql import CQLConfig
    from ray.rllib.algorithms.iql import IQLConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    env = gym.make(ENV)
    config = {"bc": BCConfig, "cql": CQLConfig, "iql": IQLConfig}[name]()
    config.environment(ENV, observation_space=env.observation_space,
                       action_space=env.action_space, normalize_actions=False, clip_actions=True)
    config.offline_data(
        input_=[str(data)],
        dataset_num_iters_per_learner=per_call,
        map_batches_kwargs={"concurrency": 1},
    )
    config.training(train_batch_size_per_learner=BATCH)
    config.rl_module(model_config=DefaultModelConfig(fcnet_hiddens=HIDDEN, head_fcnet_hiddens=HIDDEN))
    config.debugging(seed=seed)
    if name == "cql":
        config.training(lr=None, **({"bc_iters": 0} if tuned else {}))
    if name == "iql" and tuned:
        config.training(tau=0.005, target_network_update_freq=0)
    return config


def greedy_returns(module: Any, episodes: int, seed: int) -> np.ndarray:
    """Deterministic returns of an RLlib module on VGF's seeded evaluation episodes."""
    import torch
    from ray.rllib.core.columns import Columns

    from vgf_rllib.evaluation import evaluation_seed

    env = gym.make(ENV)
    dist_cls = module.get_inference_action_dist_cls()
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=evaluation_seed(seed) + episode)
        total, done = 0.0, False
        while not done:
            with torch.no_grad():
                out = module.forward_inference({Columns.OBS: torch.as_tensor(obs[None], dtype=torch.float32)})
            action = dist_cls.from_logits(out[Columns.ACTION_DIST_INPUTS]).to_deterministic().sample()
            action = np.clip(action.numpy()[0], env.action_space.low, env.action_space.high)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return np.asarray(returns)


def trained_module(algo: Any) -> Any:
    """A copy of the learner's module (an offline algorithm has no EnvRunner to ask)."""
    from ray.rllib.core import DEFAULT_MODULE_ID

    state = algo.learner_group.get_state(components="learner/rl_module")
    module = algo.config.get_rl_module_spec(inference_only=True).build()
    module.set_state(state["learner"]["rl_module"][DEFAULT_MODULE_ID])
    return module


def train_seconds(algo: Any, updates: int, per_call: int) -> float:
    """Wall time of the ``train()`` calls that make ``updates`` gradient steps."""
    start = time.perf_counter()
    for _ in range(math.ceil(updates / per_call)):
        algo.train()
    return time.perf_counter() - start


def run_peer(name: str, data: Path, args: argparse.Namespace, seed: int, tuned: bool) -> dict[str, Any]:
    per_call = min(args.updates, args.updates_per_call)
    algo = peer_config(name, data, seed=seed, per_call=per_call, tuned=tuned).build_algo()
    seconds = train_seconds(algo, args.updates, per_call)
    returns = greedy_returns(trained_module(algo), args.episodes, seed)
    algo.stop()
    return {"seconds": seconds, "L": {"-": returns.tolist()}}


def run_vgf(data: Path, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    from vgf_rllib import VGFConfig

    per_call = min(args.updates, args.updates_per_call)
    config = (
        VGFConfig()
        .environment(ENV)
        .offline_data(input_=[str(data)])
        .training(updates_per_iteration=per_call, train_batch_size_per_learner=BATCH,
                  critic_hidden_layers=HIDDEN, sampler_hidden_layers=HIDDEN, sampler_euler_steps=5)
        .debugging(seed=seed)
    )
    algo = config.build_algo()
    seconds = train_seconds(algo, args.updates, per_call)
    budgets = algo.evaluate_test_time_budgets([0, 1, 2, 3], args.episodes)
    algo.stop()
    returns = {key[1:]: list(value["episode_returns"]) for key, value in budgets.items()
               if key.startswith("L") and isinstance(value, dict)}
    return {"seconds": seconds, "L": returns}


def print_table(rows: list[dict[str, Any]], task: str, behavior: float) -> None:
    """One line per run and budget, then per algorithm the mean over seeds of the seed means."""
    print(f"\n{ENV}, RLlib recording ({task}: behavior policy's mean return {behavior:.0f}); "
          f"batch {BATCH}, 2x64 networks; mean return +- s.e. over the same seeded episodes")
    print(f"{'algorithm':<16} {'seed':>4} {'L_test':>6} {'return +- s.e.':>20} {'updates':>7} "
          f"{'train s':>8} {'upd/s':>7}")
    seed_means: dict[tuple[str, str], list[float]] = {}
    for row in sorted(rows, key=lambda r: (r["algo"], r["seed"])):
        for budget, values in row["L"].items():
            returns = np.asarray(values)
            se = returns.std(ddof=1) / math.sqrt(len(returns)) if len(returns) > 1 else float("nan")
            seed_means.setdefault((row["algo"], budget), []).append(float(returns.mean()))
            print(f"{row['algo']:<16} {row['seed']:>4} {budget:>6} "
                  f"{returns.mean():>10.1f} +- {se:>6.1f} {row['updates']:>7} {row['seconds']:>8.1f} "
                  f"{row['updates'] / row['seconds']:>7.1f}")
    print(f"\n{'algorithm':<16} {'L_test':>6} {'seeds':>5} {'mean of seed means +- s.e.':>28}")
    for (algo, budget), means in sorted(seed_means.items()):
        values = np.asarray(means)
        se = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
        print(f"{algo:<16} {budget:>6} {len(values):>5} {values.mean():>18.1f} +- {se:>6.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["random", "ppo"], default="random",
                        help="whose actions the recording holds (module docstring)")
    parser.add_argument("--root", type=Path, default=Path("runs/peers"),
                        help="recordings (ROOT/TASK/recording, reused) and results (ROOT/TASK/results)")
    parser.add_argument("--record-episodes", type=int, default=100)
    parser.add_argument("--ppo-iterations", type=int, default=15,
                        help="task ppo: PPO iterations of 4,000 steps before recording")
    parser.add_argument("--updates", type=int, default=8000)
    parser.add_argument("--updates-per-call", type=int, default=1000,
                        help="gradient steps per train() call, every algorithm")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--algos", nargs="+", default=["vgf", *PEERS],
                        choices=["vgf", *PEERS])
    parser.add_argument("--settings", nargs="+", default=["tuned"], choices=["shipped", "tuned"])
    args = parser.parse_args()

    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    print(f"{sys.platform}, {os.cpu_count()} CPUs, ray {ray.__version__}", flush=True)
    data = record(args.root / args.task / "recording", args.task, args.record_episodes,
                  args.ppo_iterations)
    results = args.root / args.task / "results"
    results.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for name in args.algos:
            for setting in ["tuned"] if name == "vgf" else args.settings:
                algo = name if name == "vgf" else f"{name} ({setting})"
                path = results / f"{name}-{setting}-seed{seed}-updates{args.updates}.json"
                if path.exists():
                    continue
                row = (run_vgf(data, args, seed) if name == "vgf"
                       else run_peer(name, data, args, seed, tuned=setting == "tuned"))
                row.update(algo=algo, seed=seed, updates=args.updates)
                path.write_text(json.dumps(row))
                print(f"done: {algo} seed {seed} ({row['seconds']:.0f} s)", flush=True)
    rows = [json.loads(path.read_text()) for path in sorted(results.glob("*.json"))]
    print_table(rows, args.task, behavior_return(data))
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
