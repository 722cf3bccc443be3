"""Start Ray for a CLI command only when it needs it, and never leave its processes behind.

An offline VGF run with a local learner (``num_learners=0``, no EnvRunners, evaluation in-process) on a VGF dataset
spec needs no Ray processes at all, so none are started. Otherwise Ray starts in this process together with
:mod:`vgf_rllib.cli.process_reaper`, which kills what is left of Ray when this process exits,
even by SIGKILL (docs/runs.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

REAPER_SCRIPT = Path(__file__).with_name("process_reaper.py")


def needs_ray(config: Any) -> bool:
    """Whether building ``config``'s algorithm starts Ray: remote learners, remote EnvRunners of
    an online phase (an offline config creates no collecting EnvRunners), evaluation EnvRunners
    (docs/algorithm.md, "Evaluation on EnvRunners"), or reading RLlib input through Ray Data."""
    return (
        bool(config.num_learners)
        or (config.is_online and bool(config.num_env_runners))
        or bool(config.evaluation_num_env_runners)
        or config.uses_rllib_input
    )


@contextmanager
def ray_session(required: bool) -> Iterator[None]:
    """Run the body with Ray started (if ``required``) and reaped afterwards; a Ray this
    process already runs (a caller's ``ray.init``) is used as it is and left running."""
    import ray

    if not required or ray.is_initialized():
        yield
        return

    reaper = subprocess.Popen(
        [sys.executable, str(REAPER_SCRIPT), str(os.getpid())],
        stdin=subprocess.PIPE,
        start_new_session=True,  # survives the Ctrl-C and SIGKILL that end this process group
    )
    try:
        ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
        yield
    finally:
        if ray.is_initialized():
            ray.shutdown()
        reaper.stdin.close()  # the reaper kills whatever Ray left and exits
        reaper.wait()
