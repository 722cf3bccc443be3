"""Memory of concurrent VGF trials on one dataset: each trial loading the file itself (a plain
``tune.Tuner("VGF", ...)``) against the sweep's route, where the driver loads it once and the
trials map one copy from Ray's object store (``vgf_rllib.experiments.sweep.shared_trainable``).

Bytes first: a dataset of R rows with observation size o and action size a holds
R x (2o + a + 3) float32 values; 1M rows, o=29, a=8 (antmaze-sized) is 276 MB. Each trial also
holds its Python, torch and Ray runtime (a few hundred MB, the same in both routes). Per trial
process the table gives RSS, USS (pages only it holds) and PSS (shared pages divided among
their users; Linux's ``/proc/PID/smaps_rollup``), measured after the trial built its learner and
trained a few updates. The total is the trials' USS plus the object store's usage (the one shared
copy): shared library pages, the same in both routes, are left out.

A second table: one run with ``num_learners=2``, rows sharded across the learners
(``shard_dataset_across_learners``, the default) or not: per learner, the rows and the bytes of
its device buffer (on a GPU these are device copies; on a CPU unsharded float32 rows are views of
the object store's copy, so the sharded learner's private USS is the larger one there).

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

MB = 2**20


def memory_of(pid: int) -> dict[str, float]:
    """RSS, USS (private pages) and PSS of a process in MB, from Linux's ``smaps_rollup``."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":")
        fields[name] = int(value.split()[0]) / 1024  # kB
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "uss": fields["Private_Clean"] + fields["Private_Dirty"]}


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


def measure(shared: bool, dataset: Path, trials: int) -> dict[str, Any]:
    """Start ``trials`` VGF actors, each loading the file or (``shared``) taking the driver's
    object-store copy; train one iteration each, read their memory."""
    import ray
    from ray import tune

    from vgf_rllib import VGF
    from vgf_rllib.algorithm.data_setup import share_data

    config = trial_config(dataset)
    start = time.perf_counter()
    if shared:
        trainable = tune.with_parameters(VGF, shared_data=share_data([config]))
    else:
        trainable = VGF

    class Measured(trainable):  # type: ignore[misc, valid-type]
        def pid(self) -> int:
            return os.getpid()

    actors = [ray.remote(num_cpus=0)(Measured).remote(config=config.copy()) for _ in range(trials)]
    ray.get([actor.train.remote() for actor in actors])
    seconds = time.perf_counter() - start
    infos = [memory_of(pid) for pid in ray.get([a.pid.remote() for a in actors])]
    store = ray.available_resources().get("object_store_memory", 0.0)
    used = ray.cluster_resources().get("object_store_memory", 0.0) - store
    for actor in actors:
        ray.kill(actor)
    return {
        "route": "shared" if shared else "per-trial load",
        "rss": [i["rss"] for i in infos],
        "uss": [i["uss"] for i in infos],
        "pss": [i["pss"] for i in infos],
        "store": used / MB,
        "seconds": seconds,
    }


def measure_learners(dataset: Path, shard: bool) -> list[dict[str, float]]:
    """Rows, buffer bytes and USS of each of 2 remote learners of one VGF run."""
    config = trial_config(dataset).learners(num_learners=2).offline_dataset(
        shard_dataset_across_learners=shard)
    algo = config.build_algo()
    held = algo.learner_group.foreach_learner(
        lambda learner: (learner._data.size, sum(t.nbytes for t in learner._data.values()), os.getpid())
    )
    rows = [{"rows": r, "buffer": b / MB, "uss": memory_of(pid)["uss"]}
            for r, b, pid in (call.get() for call in held)]
    algo.stop()
    return rows


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
        for shared in (False, True):
            ray.init(include_dashboard=False, log_to_driver=False,
                     object_store_memory=int(max(4 * data_mb, 512) * MB))
            rows.append(measure(shared, dataset, args.trials))
            ray.shutdown()
        ray.init(include_dashboard=False, log_to_driver=False,
                 object_store_memory=int(max(2 * data_mb, 512) * MB))
        learners = {shard: measure_learners(dataset, shard) for shard in (False, True)}
        ray.shutdown()
    print(f"\n{'route':<16} {'RSS/trial':>10} {'USS/trial':>10} {'PSS/trial':>10} "
          f"{'store':>7} {'total USS+store':>16} {'start+1 iter s':>15}")
    for row in rows:
        total = sum(row["uss"]) + row["store"]
        print(f"{row['route']:<16} {np.mean(row['rss']):>8.0f}MB {np.mean(row['uss']):>8.0f}MB "
              f"{np.mean(row['pss']):>8.0f}MB {row['store']:>5.0f}MB {total:>14.0f}MB "
              f"{row['seconds']:>15.1f}")
    before, after = (sum(r["uss"]) + r["store"] for r in rows)
    print(f"\ntotal memory, shared / per-trial load: {after / before:.2f}x "
          f"(USS per trial: {np.mean(rows[1]['uss']) / np.mean(rows[0]['uss']):.2f}x)")
    print(f"\nnum_learners=2{'':<8} {'rows/learner':>12} {'buffer/learner':>15} {'USS/learner':>12}")
    for shard, per_learner in learners.items():
        label = "sharded" if shard else "every row"
        print(f"{label:<22} {np.mean([r['rows'] for r in per_learner]):>12.0f} "
              f"{np.mean([r['buffer'] for r in per_learner]):>13.0f}MB "
              f"{np.mean([r['uss'] for r in per_learner]):>10.0f}MB")
    ratio = np.mean([r["buffer"] for r in learners[True]]) / np.mean([r["buffer"] for r in learners[False]])
    print(f"buffer per learner, sharded / every row: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
