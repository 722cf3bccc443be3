"""Memory of concurrent VGF trials on one dataset: each trial loading the file itself (a plain
``tune.Tuner("VGF", ...)``) against the sweep's route, where the driver loads it once and the
trials map one copy from Ray's object store (``vgf_rllib.experiments.sweep.shared_trainable``).

Bytes first: a dataset of R rows with observation size o and action size a holds
R x (2o + a + 3) float32 values; 1M rows, o=29, a=8 (antmaze-sized) is 276 MB. Each trial also
holds its Python, torch and Ray runtime (a few hundred MB, the same in both routes). Per trial
process the table gives RSS, USS (pages only it holds) and PSS (shared pages divided among
their users), measured after the trial built its learner and trained a few updates; the
object store's usage is counted once, in the total.

    python benchmarks/shared_data_memory.py --rows 1000000 --trials 4
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

MB = 2**20


def write_dataset(path: Path, rows: int, obs_dim: int, action_dim: int) -> None:
    """Random transitions with ~1000-step episodes (values do not matter for memory)."""
    rng = np.random.default_rng(0)
    terminals = np.zeros(rows, np.float32)
    terminals[999::1000] = 1.0
    terminals[-1] = 1.0
    np.savez(
        path,
        observations=rng.standard_normal((rows, obs_dim), np.float32),
        actions=rng.uniform(-1, 1, (rows, action_dim)).astype(np.float32),
        rewards=rng.standard_normal(rows, np.float32),
        next_observations=rng.standard_normal((rows, obs_dim), np.float32),
        masks=np.ones(rows, np.float32),
        terminals=terminals,
    )


def trial_config(dataset: Path) -> Any:
    from vgf_rllib import VGFConfig

    return (
        VGFConfig()
        .offline_dataset(dataset=str(dataset))
        .training(updates_per_iteration=5, critic_hidden_layers=[64, 64],
                  sampler_hidden_layers=[64, 64], compile_learner=False)
    )


def measure(route: str, dataset: Path, trials: int) -> dict[str, Any]:
    """Start ``trials`` VGF actors by ``route``, train one iteration each, read their memory."""
    import ray
    from ray import tune

    from vgf_rllib import VGF
    from vgf_rllib.algorithm.data_setup import share_data

    config = trial_config(dataset)
    start = time.perf_counter()
    if route == "shared":
        trainable = tune.with_parameters(VGF, shared_data=share_data([config]))
    else:
        trainable = VGF

    class Measured(trainable):  # type: ignore[misc, valid-type]
        def pid(self) -> int:
            return os.getpid()

    actors = [ray.remote(num_cpus=0)(Measured).remote(config=config.copy()) for _ in range(trials)]
    ray.get([actor.train.remote() for actor in actors])
    seconds = time.perf_counter() - start
    processes = [psutil.Process(pid) for pid in ray.get([a.pid.remote() for a in actors])]
    infos = [p.memory_full_info() for p in processes]
    store = ray.available_resources().get("object_store_memory", 0.0)
    used = ray.cluster_resources().get("object_store_memory", 0.0) - store
    for actor in actors:
        ray.kill(actor)
    return {
        "route": route,
        "rss": [i.rss / MB for i in infos],
        "uss": [i.uss / MB for i in infos],
        "pss": [i.pss / MB for i in infos],
        "store": used / MB,
        "seconds": seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--obs-dim", type=int, default=29)
    parser.add_argument("--action-dim", type=int, default=8)
    parser.add_argument("--trials", type=int, default=4)
    args = parser.parse_args()

    import ray

    data_mb = args.rows * (2 * args.obs_dim + args.action_dim + 3) * 4 / MB
    print(f"{sys.platform}, {os.cpu_count()} CPUs; {args.rows} rows, obs {args.obs_dim}, "
          f"action {args.action_dim}: {data_mb:.0f} MB of float32 transitions; "
          f"{args.trials} concurrent trials", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        dataset = Path(folder) / "data.npz"
        write_dataset(dataset, args.rows, args.obs_dim, args.action_dim)
        rows = []
        for route in ("per-trial load", "shared"):
            ray.init(include_dashboard=False, log_to_driver=False,
                     object_store_memory=int(max(4 * data_mb, 512) * MB))
            rows.append(measure(route.split()[0] if route == "shared" else "file", dataset, args.trials))
            rows[-1]["route"] = route
            ray.shutdown()
    print(f"\n{'route':<16} {'RSS/trial':>10} {'USS/trial':>10} {'PSS/trial':>10} "
          f"{'store':>7} {'total PSS+store':>16} {'start+1 iter s':>15}")
    for row in rows:
        total = sum(row["pss"]) + row["store"]
        print(f"{row['route']:<16} {np.mean(row['rss']):>8.0f}MB {np.mean(row['uss']):>8.0f}MB "
              f"{np.mean(row['pss']):>8.0f}MB {row['store']:>5.0f}MB {total:>14.0f}MB "
              f"{row['seconds']:>15.1f}")
    before, after = (sum(r["pss"]) + r["store"] for r in rows)
    print(f"\ntotal memory, shared / per-trial load: {after / before:.2f}x "
          f"(USS per trial: {np.mean(rows[1]['uss']) / np.mean(rows[0]['uss']):.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
