"""Online collection throughput of VGF's EnvRunners: env steps per second with 1 and 2 runners,
side by side in one run (docs/algorithm.md, "Offline-to-online fine-tuning").

Each setting builds VGF on the cheap ``demo:delayed-chain`` task with ``num_env_runners`` remote
EnvRunners and times ``train()`` calls of the online phase, alternating between the settings so
that both see the same load. The warm-up is longer than the measured run, so an iteration is
pure collection: the runners act (best-of-N, L = 0), the transitions are appended to the
learner-resident buffer and the weights are synced back. It prints the rate over all timed
iterations and over each setting's fastest one (the least disturbed by other jobs on a shared
machine). Ray workers run at niceness 0 here (``RAY_worker_niceness``; Ray's default is 15). Run:

    python benchmarks/online_collection.py                     # 1 and 2 runners
    python benchmarks/online_collection.py --runners 1 2 4 --steps-per-iteration 4000
"""

from __future__ import annotations

import argparse
import os
import time

import ray

from vgf_rllib import VGF, VGFConfig
from vgf_rllib.demo_chain import ENV_SPEC


def build(runners: int, steps_per_iteration: int, iterations: int) -> VGF:
    """VGF on the chain task with ``runners`` remote EnvRunners whose online phase has no
    gradient steps (the warm-up covers every collected step), after one untimed iteration
    that starts the runners' episodes."""
    total = steps_per_iteration * (iterations + 1)
    config = (
        VGFConfig()
        .environment(ENV_SPEC)
        .offline_dataset(dataset="demo:delayed-chain-500")
        .training(critic_hidden_layers=[64, 64], sampler_hidden_layers=[64, 64])
        .online(
            online_env_steps=total,
            online_steps_per_iteration=steps_per_iteration,
            online_warmup_steps=total,
        )
        .env_runners(num_env_runners=runners)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    algo.train()
    return algo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runners", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps-per-iteration", type=int, default=500)
    parser.add_argument("--iterations", type=int, default=8)
    args = parser.parse_args()
    # Ray starts workers at niceness 15, so on a machine shared with other jobs the runners
    # would get only the cores those jobs leave idle; 0 gives them an even share.
    os.environ.setdefault("RAY_worker_niceness", "0")
    # One CPU per runner in Ray's bookkeeping; only one setting collects at a time.
    ray.init(num_cpus=sum(args.runners), include_dashboard=False, log_to_driver=False)
    algos = {n: build(n, args.steps_per_iteration, args.iterations) for n in args.runners}
    seconds: dict[int, list[float]] = {n: [] for n in algos}
    for _ in range(args.iterations):  # interleaved, so every setting sees the same machine load
        for runners, algo in algos.items():
            start = time.perf_counter()
            algo.train()
            seconds[runners].append(time.perf_counter() - start)
    for algo in algos.values():
        algo.stop()
    steps = args.steps_per_iteration
    mean_rate = {n: steps * len(t) / sum(t) for n, t in seconds.items()}
    best_rate = {n: steps / min(t) for n, t in seconds.items()}
    first = args.runners[0]
    print(
        f"\nonline collection on {ENV_SPEC}, {os.cpu_count()} CPU cores, "
        f"{args.iterations} x {steps} env steps per setting, interleaved"
    )
    print("runners  env steps/s (all)  ratio  env steps/s (best iteration)  ratio")
    for n in args.runners:
        print(
            f"{n:7d}  {mean_rate[n]:17.0f}  {mean_rate[n] / mean_rate[first]:5.2f}  "
            f"{best_rate[n]:28.0f}  {best_rate[n] / best_rate[first]:5.2f}"
        )

if __name__ == "__main__":
    main()
