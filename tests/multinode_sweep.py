"""Sweeps on a simulated multi-node Ray cluster (``ray.cluster_utils.Cluster``), run as their own
process by tests/test_cluster.py so that the test session's local Ray stays untouched.

The head has no CPUs; two worker nodes have one each, so two trials that run at once run on two
nodes. Two scenarios, each printed as one JSON line:

- ``node-loss``: the sweep's two tasks read ``.npz`` files that are deleted as soon as the driver
  has loaded them (a trial that read its source would fail); when the first trial has written its
  first checkpoint, its node is removed. Tune restarts the trial from that checkpoint on the
  remaining node.
- ``driver-kill``: the same sweep run by ``vgf-rllib sweep`` in a child process that is killed with
  SIGKILL after the first checkpoint; then ``vgf-rllib sweep --resume`` finishes it.

    python tests/multinode_sweep.py STORAGE
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from ray import tune

ROUNDS = 3


def write_task_files(folder: Path) -> list[Path]:
    from vgf_rllib.data.random_data import make_random_arrays

    paths = []
    for seed in (0, 1):
        path = folder / f"pendulum-{seed}.npz"
        np.savez(path, **make_random_arrays("Pendulum-v1", episodes=3, seed=seed))
        paths.append(path)
    return paths


def sweep_file(name: str, files: list[Path]) -> dict[str, Any]:
    return {
        "name": name,
        "tasks": [{"name": f"task-{i}", "dataset": str(path), "env": "Pendulum-v1",
                   "training_steps": 20 * ROUNDS} for i, path in enumerate(files)],
        "config": {"critic_hidden_layers": [32, 32], "sampler_hidden_layers": [32, 32],
                   "train_batch_size_per_learner": 32, "eval_episodes": 2,
                   "test_flow_steps": [0, 1], "compile_learner": False},
        "stop": {"evaluations": ROUNDS},
        "checkpoint": {"frequency": 1, "num_to_keep": 2},
        "max_failures": 2,
    }


def trial_records(experiment: Path) -> list[dict[str, Any]]:
    """Per trial folder: its task, the iterations it reported (in order), whether it finished
    and how many iterations its last run trained since a restore."""
    records = []
    for folder in sorted(p for p in experiment.iterdir() if (p / "params.json").is_file()):
        results = [json.loads(line) for line in (folder / "result.json").read_text().splitlines()
                   if line.strip()]
        records.append({
            "task": json.loads((folder / "params.json").read_text())["task_name"],
            "iterations": [r["training_iteration"] for r in results],
            "since_restore": results[-1]["iterations_since_restore"] if results else None,
            "error": (folder / "error.txt").read_text()[-500:] if (folder / "error.txt").exists() else None,
        })
    return records


def trial_nodes() -> list[str]:
    """Nodes that ran a trial, from the GCS actor table (a debugging API that keeps finished
    actors; ``_Inner`` is the class ``tune.with_parameters`` makes of VGF)."""
    import ray._private.state

    return sorted({info["Address"]["NodeID"] for info in ray._private.state.actors().values()
                   if "_Inner" in info["ActorClassName"]})


class RemoveNodeAfterFirstCheckpoint(tune.Callback):
    """Removes the node of the first trial that writes a checkpoint, once (a lost spot node)."""

    def __init__(self, cluster: Any, workers: list[Any]) -> None:
        self.cluster, self.workers, self.removed = cluster, workers, {}

    def __getstate__(self) -> dict[str, Any]:
        return {}  # Tune saves its run config; the live callback (and cluster) stays here

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info) -> None:
        if self.removed:
            return
        import ray._private.state

        actor_id = trial.temporary_state.ray_actor._actor_id.hex()
        node_id = ray._private.state.actors(actor_id)["Address"]["NodeID"]
        node = next(w for w in self.workers if w.node_id == node_id)
        self.removed.update(task=trial.config["task_name"], node=node_id)
        self.cluster.remove_node(node, allow_graceful=False)


def node_loss(storage: Path, cluster: Any, workers: list[Any]) -> dict[str, Any]:
    import vgf_rllib.algorithm.data_setup as data_setup
    from vgf_rllib.cli import main as cli
    from vgf_rllib.experiments.sweep import experiment_path, run_sweep
    from vgf_rllib.experiments.sweep_files import parse_sweep

    files = write_task_files(storage)
    spec = parse_sweep(sweep_file("node-loss", files))
    share_data = data_setup.share_data
    shared: list[str] = []

    def share_then_delete(configs: Any) -> dict[str, Any]:  # then no node can read the files
        refs = share_data(configs)
        for path in files:
            path.unlink()
        shared.extend(refs)
        return refs

    remover = RemoveNodeAfterFirstCheckpoint(cluster, workers)
    data_setup.share_data = share_then_delete
    try:
        run_sweep(spec, str(storage / "sweeps"), callbacks=[remover])
    finally:
        data_setup.share_data = share_data
    path = experiment_path(spec, str(storage / "sweeps"))
    report_exit = cli(["report", path])
    table = (Path(path) / "report" / "own-data.csv").read_text().splitlines()
    errored = [int(row.split(",")[table[0].split(",").index("errored")]) for row in table[1:]]
    return {
        "scenario": "node-loss",
        "datasets_shared": len(shared),
        "files_left": [p.exists() for p in files],
        "removed": remover.removed,
        "trials": trial_records(Path(path)),
        "trial_nodes": trial_nodes(),
        "report_exit": report_exit,
        "report_errored": errored,
    }


def driver_kill(storage: Path, address: str) -> dict[str, Any]:
    from vgf_rllib.cli import main as cli

    folder = storage / "kill"
    folder.mkdir()
    sweep = folder / "sweep.yaml"
    sweep.write_text(yaml.safe_dump(sweep_file("driver-kill", write_task_files(folder))))
    command = [sys.executable, "-m", "vgf_rllib.cli", "sweep", str(sweep),
               "--storage", str(folder / "sweeps"), "--address", address]
    with (folder / "killed-driver.log").open("w") as log:
        driver = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while not any((folder / "sweeps").glob("driver-kill/*/checkpoint_*")):
            if driver.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "killed-driver.log").read_text()[-3000:])
            time.sleep(0.2)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    resumed = cli(["sweep", str(sweep), "--storage", str(folder / "sweeps"), "--resume"])
    return {
        "scenario": "driver-kill",
        "resume_exit": resumed,
        "trials": trial_records(folder / "sweeps" / "driver-kill"),
    }


def main(storage: Path) -> int:
    import ray
    from ray.cluster_utils import Cluster

    storage.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "object_store_memory": 100 * 2**20, "include_dashboard": False})
    workers = [cluster.add_node(num_cpus=1, object_store_memory=100 * 2**20) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        print(json.dumps(node_loss(storage, cluster, workers)), flush=True)
        cluster.add_node(num_cpus=1, object_store_memory=100 * 2**20)  # the spot node is back
        print(json.dumps(driver_kill(storage, cluster.address)), flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
