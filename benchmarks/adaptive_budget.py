"""VGF and A-VGF on the demo tasks, scored at fixed L_test and at the adaptive budget ``auto``.

For each task (``demo:offset-bandit``, ``demo:delayed-chain``), variant and training seed: train
2x64 networks for 1,500 gradient steps (3 x 500; N = 10 for VGF, 5 for A-VGF as in the authors'
A-VGF scripts), then score L_test = 0, 1, 2, 3, 5 and ``auto`` (at most ``--max-steps`` steps) on
the same seeded episodes, and print one table per run plus ``auto`` against the best fixed
L_test of 0-3 (the reference's budgets). Run:

    python benchmarks/adaptive_budget.py --seeds 0 1 --output runs/adaptive_budget.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import ray

from vgf_rllib import VGFConfig, demo, demo_chain
from vgf_rllib.cli.output import format_budget_table
from vgf_rllib.evaluation import evaluate_budgets, results_by_budget

TASKS = {
    "offset-bandit": (demo.DATASET_SPEC, demo.ENV_SPEC, 400),
    "delayed-chain": (f"demo:{demo_chain.DATASET_NAME}", demo_chain.ENV_SPEC, 300),
}
BUDGETS = [0, 1, 2, 3, 5, "auto"]
REFERENCE_BUDGETS = (0, 1, 2, 3)


def train(dataset: str, env: str, variant: str, seed: int):
    config = (
        VGFConfig()
        .environment(env)
        .offline_dataset(dataset=dataset)
        .training(
            variant=variant,
            critic_hidden_layers=[64, 64],
            sampler_hidden_layers=[64, 64],
            updates_per_iteration=500,
            train_batch_size_per_learner=128,
            sampler_euler_steps=5,
            num_particles=5 if variant == "a-vgf" else 10,
        )
        .debugging(seed=seed)
    )
    algo = config.build_algo()
    for _ in range(3):
        algo.train()
    module = algo.get_policy_module()
    algo.stop()
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--variants", nargs="+", default=["vgf", "a-vgf"])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--max-steps", type=int, default=5, help="max_test_flow_steps of auto")
    parser.add_argument("--output", type=Path, default=None, help="write all records as JSON")
    args = parser.parse_args()
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    runs = []
    for task in args.tasks:
        dataset, env, episodes = TASKS[task]
        for variant in args.variants:
            for seed in args.seeds:
                start = time.time()
                module = train(dataset, env, variant, seed)
                results = evaluate_budgets(
                    module, env, BUDGETS, episodes, seed=100 + seed, max_flow_steps=args.max_steps
                )
                entry = results_by_budget(results)
                print(f"\n{task} {variant} seed {seed} ({time.time() - start:.0f} s)")
                print(format_budget_table(entry))
                by_budget = {r.test_flow_steps: r for r in results}
                best = max(REFERENCE_BUDGETS, key=lambda b: by_budget[b].return_mean)
                auto = by_budget["auto"]
                print(
                    f"  auto {auto.return_mean:.3f} in {auto.flow_steps_mean:.2f} steps vs best "
                    f"fixed L_test {best}: {by_budget[best].return_mean:.3f} in {best} steps"
                )
                runs.append({"task": task, "variant": variant, "seed": seed, "vgf_eval": entry})
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
