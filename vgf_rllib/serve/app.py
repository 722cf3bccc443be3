"""Building the Serve application: ``build_app(options)`` for Python, ``serve run`` and
``serve deploy`` (``import_path: vgf_rllib.serve:build_app`` with the options as ``args``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ray.serve import Application

from vgf_rllib.serve.acting import load_served_policy
from vgf_rllib.serve.deployment import PolicyServer
from vgf_rllib.serve.options import ServeOptions

#: the fewest requests a replica accepts at once (also unbatched)
MIN_ONGOING_REQUESTS = 256


def build_app(args: ServeOptions | dict[str, Any]) -> Application:
    """The policy server for ``args`` (:class:`ServeOptions` or a dict of its fields).

    The policy is loaded once here, so a bad path or budget fails before any replica starts;
    each replica then loads it from the (absolute) path, which must exist where it runs.
    """
    options = args if isinstance(args, ServeOptions) else ServeOptions.from_dict(args)
    options = replace(options, checkpoint=str(Path(options.checkpoint).expanduser().resolve()))
    load_served_policy(options.checkpoint, **options.budget_options())
    deployment = PolicyServer.options(
        num_replicas=options.replicas,
        # Serve needs max_ongoing_requests >= max_batch_size for a batch to fill; twice that
        # lets the next batch gather while one acts; at least MIN_ONGOING_REQUESTS so that
        # requests wait in the replica's queue, not in Serve's router, whose retries back off
        # (with a floor of 16, 64 unbatched clients of benchmarks/serve_load.py waited 5-10 s)
        max_ongoing_requests=max(2 * options.max_batch_size, MIN_ONGOING_REQUESTS),
        ray_actor_options={
            "num_cpus": options.threads if options.num_cpus is None else options.num_cpus,
            "num_gpus": 0 if options.device == "cpu" else 1,
        },
    )
    return deployment.bind(options)
