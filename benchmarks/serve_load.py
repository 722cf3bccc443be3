"""Load on a served policy (docs/serving.md): actions/s and latency, batched vs unbatched.

k concurrent clients on 127.0.0.1 each send one-state ``POST /act`` requests back to back; the
answers arriving in T seconds (after an untimed warm-up of 1 s) count. Each budget L_test runs
against two untrained (initial-weight) VGF modules served from their checkpoints by one replica:
"2x64" (the quickstart's networks on the demo bandit's dims, 3 -> 2) and "4x512" (the paper's
networks on OGBench antmaze's dims, 29 -> 8), both at N=10, K=10. Every cell runs once with
``--max-batch-size`` (batched) and once with 1 (unbatched); one app is deployed at a time. The
clients share the machine with the replica.

    python benchmarks/serve_load.py                                    # defaults: a few minutes
    python benchmarks/serve_load.py --clients 1 8 64 256 --seconds 20  # a longer run
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np

from throughput import ActingBench, hardware_line, untrained_module

POLICIES = {
    "2x64": ActingBench(obs_dim=3, action_dim=2, hidden=(64, 64), num_particles=10, euler_steps=10),
    "4x512": ActingBench(),
}


#: seconds of load before each cell's measurement starts
WARM_UP_S = 1.0


@dataclass(frozen=True)
class Cell:
    actions_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def load(url: str, obs_dim: int, flow_steps: int | str, clients: int, seconds: float) -> Cell:
    """``clients`` clients sending one-state requests back to back. Counted: the answers that
    arrive in the ``seconds`` after a warm-up of :data:`WARM_UP_S`, and their latencies; requests
    still unanswered at the end are abandoned (so a cell takes ``WARM_UP_S + seconds``)."""
    rng = np.random.default_rng(0)
    bodies = [{"observations": rng.normal(size=obs_dim).tolist(), "flow_steps": flow_steps} for _ in range(64)]
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + WARM_UP_S

    async def client(session: aiohttp.ClientSession, index: int) -> None:
        nonlocal errors
        for sent in itertools.count(index, clients):
            began = time.perf_counter()
            async with session.post(url, json=bodies[sent % len(bodies)]) as response:
                await response.read()
                ok = response.status == 200
            done = time.perf_counter()
            if done >= start and ok:
                latencies.append(done - began)
            elif done >= start:
                errors += 1

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(client(session, i)) for i in range(clients)]
        await asyncio.sleep(WARM_UP_S + seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    milliseconds = np.asarray(latencies) * 1e3
    p50, p99 = np.percentile(milliseconds, [50, 99]) if len(latencies) else (math.nan, math.nan)
    return Cell(len(latencies) / seconds, float(p50), float(p99), errors)


def measure(args: argparse.Namespace, folder: Path, base: str) -> dict[tuple, Cell]:
    from ray import serve

    from vgf_rllib.serve import ServeOptions, build_app

    cells = {}
    for name in args.policies:
        bench = POLICIES[name]
        checkpoint = folder / name
        untrained_module(bench).save_to_path(checkpoint)
        for mode, batch_size in (("batched", args.max_batch_size), ("unbatched", 1)):
            options = ServeOptions(
                checkpoint=str(checkpoint), device=args.device, threads=args.threads,
                max_batch_size=batch_size, batch_wait_ms=args.batch_wait_ms,
            )
            serve.run(build_app(options), name="load", route_prefix="/")
            for flow_steps in args.budgets:
                for clients in args.clients:
                    cell = asyncio.run(load(f"{base}/act", bench.obs_dim, flow_steps, clients, args.seconds))
                    cells[name, flow_steps, clients, mode] = cell
                    print(f"  {name} L={flow_steps} k={clients} {mode}: {cell.actions_per_s:.0f} actions/s, "
                          f"p50 {cell.p50_ms:.1f} ms, p99 {cell.p99_ms:.1f} ms", flush=True)
            serve.delete("load")
    return cells


def print_table(cells: dict[tuple, Cell], args: argparse.Namespace) -> None:
    header = ["policy", "L", "k"]
    for mode in ("batched", "unbatched"):
        header += [f"{mode} act/s", "p50 ms", "p99 ms"]
    rows = [header]
    for name in args.policies:
        for flow_steps in args.budgets:
            for clients in args.clients:
                row = [name, str(flow_steps), str(clients)]
                for mode in ("batched", "unbatched"):
                    cell = cells[name, flow_steps, clients, mode]
                    errors = f" ({cell.errors} errors)" if cell.errors else ""
                    row += [f"{cell.actions_per_s:.0f}{errors}", f"{cell.p50_ms:.1f}", f"{cell.p99_ms:.1f}"]
                rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def flow_steps(text: str) -> int | str:
    return text if text == "auto" else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", nargs="+", choices=list(POLICIES), default=list(POLICIES))
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64], help="concurrent clients k")
    parser.add_argument("--budgets", type=flow_steps, nargs="+", default=[0, 1, 3, "auto"], help="L_test values")
    parser.add_argument("--seconds", type=float, default=2.0, help="measured seconds per cell T")
    parser.add_argument("--max-batch-size", type=int, default=32, help="of the batched deployment")
    parser.add_argument("--batch-wait-ms", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the replica")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import ray
    from ray import serve

    load_at_start = os.getloadavg()[0]  # other jobs on the machine share its cores
    print(hardware_line(args.device))
    print(f"one replica, {args.threads} torch thread(s), {args.device}; batched: --max-batch-size "
          f"{args.max_batch_size} --batch-wait-ms {args.batch_wait_ms}; T={args.seconds} s per cell; "
          "one-state requests; untrained modules, N=10, K=10")
    ray.init(address="local", include_dashboard=False, log_to_driver=False)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        with tempfile.TemporaryDirectory() as folder:
            cells = measure(args, Path(folder), f"http://127.0.0.1:{port}")
    finally:
        serve.shutdown()
        ray.shutdown()
    print_table(cells, args)
    print("(act/s: actions answered per second; p50/p99: request latency seen by a client)")
    print(f"load average (1 min) at the start {load_at_start:.1f}, at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
