"""``vgf-rllib serve``: serve a policy over HTTP with Ray Serve until Ctrl-C.

See docs/serving.md.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from vgf_rllib.cli.evaluate import flow_steps

APP_NAME = "vgf-policy"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a policy over HTTP (POST /act, GET /healthz, GET /info) with Ray Serve",
        description="Serve a run, checkpoint or exported .pt2 with Ray Serve until Ctrl-C. "
        "Requests choose their test-time budget (flow_steps, num_particles) within the limits; "
        "concurrent requests with the same budget are acted on together. An RLlib checkpoint is "
        "a pickle (loading it runs code): serve only your own, or serve the exported .pt2.",
    )
    parser.add_argument("checkpoint", type=Path, help="run dir, algorithm checkpoint, RLModule dir or .pt2 file")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    parser.add_argument("--replicas", type=int, default=1, help="replicas (default 1)")
    parser.add_argument("--device", default="cpu", help="torch device of each replica: cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads per replica (default 1)")
    parser.add_argument("--max-batch-size", type=int, default=32, help="most requests acted on together (default 32; 1: no batching)")
    parser.add_argument("--batch-wait-ms", type=float, default=2.0, help="how long a batch waits to fill (default 2 ms)")
    parser.add_argument("--max-observations", type=int, default=256, help="most states in one request (default 256)")
    parser.add_argument(
        "--flow-steps", type=flow_steps, default=None, metavar="L",
        help="default L_test of requests that name none, or 'auto' (default: the checkpoint's)",
    )
    parser.add_argument("--num-particles", type=int, default=None, metavar="N", help="default N (default: the checkpoint's)")
    parser.add_argument(
        "--max-flow-steps", type=int, default=None, metavar="L",
        help="largest flow_steps a request may ask for (default: the checkpoint's max_test_flow_steps)",
    )
    parser.add_argument(
        "--max-particles", type=int, default=None, metavar="N",
        help="largest num_particles a request may ask for (default: 4 x the trained N)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ray import serve

    from vgf_rllib.cli.ray_session import ray_session
    from vgf_rllib.serve import ServeOptions, build_app

    options = ServeOptions(
        checkpoint=str(args.checkpoint),
        replicas=args.replicas,
        device=args.device,
        threads=args.threads,
        max_batch_size=args.max_batch_size,
        batch_wait_ms=args.batch_wait_ms,
        max_observations=args.max_observations,
        flow_steps=args.flow_steps,
        num_particles=args.num_particles,
        max_flow_steps=args.max_flow_steps,
        max_particles=args.max_particles,
    )
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be in 1..65535, got {args.port}")
    app = build_app(options)
    stop = threading.Event()
    with ray_session(required=True):
        serve.start(http_options={"host": args.host, "port": args.port})
        serve.run(app, name=APP_NAME, route_prefix="/")
        print(
            f"serving {args.checkpoint} at http://{args.host}:{args.port} (POST /act, GET /healthz, "
            f"GET /info; {args.replicas} replica(s)); Ctrl-C to stop",
            flush=True,
        )
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        stop.wait()
        serve.shutdown()
    print("stopped serving", flush=True)
    return 0
