"""VGF beside RLlib's own offline algorithms (BC, CQL, IQL) on the same RLlib recording.

One recording of Pendulum-v1 made with RLlib's own writer (``offline_data(output=...)`` on an
EnvRunner, column layout) is read by every algorithm through ``offline_data(input_=...)``: VGF
reads it once into learner-resident tensors, RLlib's algorithms stream it through their Ray Data
pipeline. Each trains the same number of gradient steps with batch 128 and 2x64 networks where
its config allows, and is scored on the same seeded evaluation episodes (VGF at each L_test).
Prints one row per algorithm and seed: mean return +- standard error, training wall time and
updates/s.

    python benchmarks/rllib_peers.py --updates 8000 --seeds 0 1 2 --episodes 50

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


def record(out: Path, episodes: int) -> Path:
    """``episodes`` random-torque episodes through RLlib's writer (column layout), once."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.offline.offline_env_runner import OfflineSingleAgentEnvRunner

    if any(out.rglob("*.parquet")):
        return out
    config = (
        PPOConfig()
        .environment(ENV)
        .env_runners(batch_mode="complete_episodes", num_env_runners=0)
        .offline_data(output=str(out), output_write_episodes=False)
        .debugging(seed=0)
    )
    runner = OfflineSingleAgentEnvRunner(config=config)
    runner.sample(num_episodes=episodes, random_actions=True)  # one call: one copy of each step
    runner.stop()
    return out


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


def run_peer(name: str, data: Path, args: argparse.Namespace, seed: int, tuned: bool) -> dict[str, Any]:
    per_call = min(args.updates, args.updates_per_call)
    algo = peer_config(name, data, seed=seed, per_call=per_call, tuned=tuned).build_algo()
    start = time.perf_counter()
    for _ in range(math.ceil(args.updates / per_call)):
        algo.train()
    seconds = time.perf_counter() - start
    returns = greedy_returns(trained_module(algo), args.episodes, seed)
    algo.stop()
    label = f"{name} ({'tuned' if tuned else 'shipped'})"
    return {"algo": label, "seed": seed, "seconds": seconds, "L": {"-": returns}}


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
    start = time.perf_counter()
    for _ in range(math.ceil(args.updates / per_call)):
        algo.train()
    seconds = time.perf_counter() - start
    budgets = algo.evaluate_test_time_budgets([0, 1, 2, 3], args.episodes)
    algo.stop()
    returns = {key[1:]: np.asarray(value["episode_returns"]) for key, value in budgets.items()
               if key.startswith("L") and isinstance(value, dict)}
    return {"algo": "vgf", "seed": seed, "seconds": seconds, "L": returns}


def print_table(rows: list[dict[str, Any]], updates: int) -> None:
    print(f"\n{ENV}, RLlib recording of random torques; {updates} updates, batch {BATCH}, "
          f"2x64 networks; mean return +- s.e. over the same seeded episodes")
    print(f"{'algorithm':<16} {'seed':>4} {'L_test':>6} {'return +- s.e.':>20} {'train s':>8} {'upd/s':>7}")
    for row in rows:
        for budget, returns in row["L"].items():
            se = returns.std(ddof=1) / math.sqrt(len(returns)) if len(returns) > 1 else float("nan")
            print(f"{row['algo']:<16} {row['seed']:>4} {budget:>6} "
                  f"{returns.mean():>10.1f} +- {se:>6.1f} {row['seconds']:>8.1f} "
                  f"{updates / row['seconds']:>7.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("runs/peers/recording"),
                        help="where the RLlib recording is written (reused when present)")
    parser.add_argument("--record-episodes", type=int, default=100)
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
    data = record(args.data, args.record_episodes)
    rows = []
    for seed in args.seeds:
        for name in args.algos:
            if name == "vgf":
                rows.append(run_vgf(data, args, seed))
            else:
                rows.extend(run_peer(name, data, args, seed, tuned=s == "tuned") for s in args.settings)
            print(f"done: {rows[-1]['algo']} seed {seed} ({rows[-1]['seconds']:.0f} s)", flush=True)
    print_table(rows, args.updates)
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
