"""Evaluation wall time with 0 (in-process loop), 1 and 2 evaluation EnvRunners, side by side
in one run (docs/algorithm.md, "Evaluation on EnvRunners").

Each setting builds VGF on ``random:Pendulum-v1`` (200-step episodes, a cheap env) with the
paper's 4x512 networks, so an evaluation is bound by acting (one batched particle-flow call per
step), with ``evaluation_num_env_runners`` = 0, 1, 2, and times ``evaluate_test_time_budgets()``
on the same weights (no training: every setting starts from the same seed) and the same seeded
episodes, alternating between the settings so that all see the same load. The records should
equal the in-process loop's (the script says which do). On C cores, k runners
can at best divide the time by min(k, C). Ray workers run at niceness 0 here
(``RAY_worker_niceness``; Ray's default is 15). Run:

    python benchmarks/eval_runners.py                              # 4 episodes x L_test 0
    python benchmarks/eval_runners.py --episodes 16 --rounds 3 --runners 0 1 2 4
"""

from __future__ import annotations

import argparse
import os
import time

import ray
from throughput import hardware_line

from vgf_rllib import VGF, VGFConfig

ENV = "Pendulum-v1"
PAPER_LAYERS = [512, 512, 512, 512]


def build(runners: int, episodes: int, budgets: list[int]) -> VGF:
    config = (
        VGFConfig()
        .environment(ENV)
        .offline_dataset(dataset=f"random:{ENV}-5")
        .training(critic_hidden_layers=PAPER_LAYERS, sampler_hidden_layers=PAPER_LAYERS)
        .test_time(test_flow_steps=budgets, eval_episodes=episodes)
        .evaluation(evaluation_num_env_runners=runners)
        .debugging(seed=0)
    )
    return config.build_algo()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runners", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=4, help="episodes per L_test")
    parser.add_argument("--budgets", type=int, nargs="+", default=[0], help="L_test values")
    parser.add_argument("--rounds", type=int, default=2, help="timed evaluations per setting")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    os.environ.setdefault("RAY_worker_niceness", "0")
    # every setting's runners exist at once (one CPU each in Ray's bookkeeping, else the last
    # ones are never placed and building waits for ever); only one setting evaluates at a time
    ray.init(num_cpus=max(2, sum(args.runners)), include_dashboard=False, log_to_driver=False)
    algos = {n: build(n, args.episodes, args.budgets) for n in args.runners}
    seconds: dict[int, list[float]] = {n: [] for n in algos}
    records = {}
    for _ in range(args.rounds):  # interleaved, so every setting sees the same machine load
        for runners, algo in algos.items():
            start = time.perf_counter()
            records[runners] = algo.evaluate_test_time_budgets()
            seconds[runners].append(time.perf_counter() - start)
    for algo in algos.values():
        algo.stop()
    first = args.runners[0]
    equal = [n for n in args.runners if records[n] == records[first]]
    steps = args.episodes * len(args.budgets) * 200
    print(f"\n{hardware_line('cpu')}; load average {load:.1f} at the start")
    print(
        f"evaluation of {ENV}, 4x512 networks, {args.episodes} episodes x L_test {args.budgets} "
        f"({steps} env steps), {args.rounds} rounds per setting, interleaved"
    )
    print("runners  seconds (mean)  ratio to first  seconds (best)  ratio to first")
    mean = {n: sum(t) / len(t) for n, t in seconds.items()}
    best = {n: min(t) for n, t in seconds.items()}
    for n in args.runners:
        print(
            f"{n:7d}  {mean[n]:14.2f}  {mean[first] / mean[n]:14.2f}  "
            f"{best[n]:14.2f}  {best[first] / best[n]:14.2f}"
        )
    print(
        f"records equal to {first} runners' (same weights, same seeded episodes): runners {equal}"
        "; a share of one episode acts on fewer than 16 particle rows, where CPU matmuls may "
        "round differently (docs/algorithm.md, \"Evaluation on EnvRunners\")"
    )


if __name__ == "__main__":
    main()
