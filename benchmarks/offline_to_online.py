"""Offline-to-online fine-tuning against more offline training, from the same offline checkpoint
(docs/algorithm.md, "Offline-to-online fine-tuning").

1. Train VGF offline on ``demo:delayed-chain`` (reward only after the 4th move) and save.
2. Restore that checkpoint into (a) an online config that collects ``--online-env-steps`` env
   steps with best-of-N and takes one gradient step per collected step after the warm-up, and
   (b) the offline config, trained for the same number of gradient steps on the offline data.
3. Score the checkpoint, (a) and (b) at every L_test on the same seeded episodes.

    python benchmarks/offline_to_online.py                    # about 5 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import tempfile
import time

import ray

from vgf_rllib import VGF, VGFConfig
from vgf_rllib.demo_chain import ENV_SPEC

OFFLINE_DATASET = "demo:delayed-chain-2500"  # 10,000 transitions


def config(updates_per_iteration: int, seed: int) -> VGFConfig:
    return (
        VGFConfig()
        .environment(ENV_SPEC)
        .offline_dataset(dataset=OFFLINE_DATASET)
        .training(
            critic_hidden_layers=[64, 64],
            sampler_hidden_layers=[64, 64],
            updates_per_iteration=updates_per_iteration,
            train_batch_size_per_learner=128,
        )
        .debugging(seed=seed)
    )


def train_from(checkpoint: str, algo: VGF, iterations: int) -> tuple[VGF, dict]:
    algo.restore_from_path(checkpoint)
    for _ in range(iterations):
        result = algo.train()
    return algo, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--offline-updates", type=int, default=1500)
    parser.add_argument("--online-env-steps", type=int, default=3000)
    parser.add_argument("--warmup-steps", type=int, default=500)
    parser.add_argument("--env-runners", type=int, default=1)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ray.init(num_cpus=max(2, args.env_runners), include_dashboard=False, log_to_driver=False)
    budgets = [0, 1, 2, 3]
    steps_per_iteration = 500
    iterations = -(-args.online_env_steps // steps_per_iteration)

    start = time.perf_counter()
    offline = config(args.offline_updates, args.seed).build_algo()
    offline.train()
    checkpoint = tempfile.mkdtemp(prefix="vgf-offline-")
    offline.save_to_path(checkpoint)
    scores = {"offline checkpoint": offline.evaluate_test_time_budgets(budgets, args.episodes)}
    offline.stop()

    online_algo = (
        config(args.offline_updates, args.seed)
        .online(
            online_env_steps=args.online_env_steps,
            online_steps_per_iteration=steps_per_iteration,
            online_warmup_steps=args.warmup_steps,
        )
        .env_runners(num_env_runners=args.env_runners)
        .build_algo()
    )
    online_algo, online_result = train_from(checkpoint, online_algo, iterations)
    updates = online_result["num_gradient_updates_lifetime"] - args.offline_updates
    scores["+ online"] = online_algo.evaluate_test_time_budgets(budgets, args.episodes)
    online_algo.stop()

    more_offline = config(updates, args.seed).build_algo()
    more_offline, _ = train_from(checkpoint, more_offline, 1)
    scores["+ offline"] = more_offline.evaluate_test_time_budgets(budgets, args.episodes)
    more_offline.stop()

    print(
        f"\nVGF on {ENV_SPEC}: {args.offline_updates} offline gradient steps, then either "
        f"{online_result['num_online_env_steps_lifetime']} online env steps "
        f"({args.env_runners} EnvRunner(s), warm-up {args.warmup_steps}) with {updates} gradient "
        f"steps, or {updates} more offline gradient steps; return +- s.e. over {args.episodes} "
        f"seeded episodes ({time.perf_counter() - start:.0f} s)"
    )
    print(f"{'':20s}" + "".join(f"   L_test {b}     " for b in budgets))
    for name, entry in scores.items():
        cells = []
        for budget in budgets:
            record = entry[f"L{budget}"]
            se = record["return_std"] / record["episodes"] ** 0.5
            cells.append(f"{record['return_mean']:.3f} +- {se:.3f}  ")
        print(f"{name:20s}" + "".join(cells))


if __name__ == "__main__":
    main()
