"""VGF's own warnings (:func:`warn`), and silencing third-party log lines a VGF user cannot act on.

Each filter names one message and why it is noise here:
- RLlib's "You are running VGF on the new API stack!": VGF exists only on the new stack.
- RLlib's "RLModule(config=...) has been deprecated": RLlib passes that argument itself when it
  rebuilds a module from a checkpoint; no VGF or user code passes it.
- Ray Tune's "Install gputil for GPU system monitoring": VGF turns system-usage logging off.
- Ray Tune's "Experiment state snapshotting has been triggered multiple times": it counts
  snapshots, not their cost; short sweep iterations with ``checkpoint.num_to_keep`` trigger it on
  every checkpoint. Tune's own warning for a snapshot that is slow ("Saving the experiment state
  ... took") is kept.
- Ray Tune's "Trainable.setup took ... consider setting reuse_actors=True": VGF's setup loads the
  dataset onto the learner; an RLlib algorithm cannot be reused for another trial's config
  (its ``reset_config`` returns False), so the advice never applies.
- RLlib's "You have specified k evaluation workers, but your `evaluation_interval` is 0 or None":
  VGF evaluates on its evaluation EnvRunners every ``eval_interval`` iterations with its own loop
  (``evaluation_interval`` is refused; docs/algorithm.md, "Evaluation on EnvRunners"), so the
  advice to call ``Algorithm.evaluate()`` does not apply.
- GLFW's "The DISPLAY environment variable is missing": MuJoCo imports GLFW for rendering, which
  VGF never does (evaluation runs without a display).
- Gymnasium's "Box low's/high's precision lowered by casting to float32": OGBench's manipulation
  environments declare float64 action bounds of float32 spaces; the bounds are exact in float32.
- Gymnasium's "Overriding environment rllib-single-agent-env-v0": RLlib registers its env wrapper
  again for each online algorithm built in one process (e.g. a checkpoint restored into an online
  config in the process that trained it).
"""

from __future__ import annotations

import logging
import sys
import warnings

#: (logger name, message fragment) pairs that are dropped
LOG_NOISE = (
    ("ray.rllib.algorithms.algorithm_config", "on the new API stack!"),
    ("ray._common.deprecation", "RLModule(config=[RLModuleConfig object])"),
    ("ray.tune.utils.util", "Install gputil"),
    ("ray.tune.execution.experiment_state", "Experiment state snapshotting has been triggered"),
    ("ray.tune.trainable.trainable", "consider setting reuse_actors=True"),
    ("ray.rllib.algorithms.algorithm_config", "evaluation workers, but your `evaluation_interval`"),
)

#: regular expressions of Python warnings that are ignored (colour codes may precede the text)
WARNING_NOISE = (
    ".*DISPLAY environment variable is missing",
    ".*Box (low|high)'s precision lowered by casting to float32",
    ".*Overriding environment rllib-single-agent-env-v0 already in registry",
)


def warn(message: str) -> None:
    """A warning the user can act on, on standard error as ``warning: <message>``."""
    print(f"warning: {message}", file=sys.stderr)


class _DropMessage(logging.Filter):
    def __init__(self, fragment: str) -> None:
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()


def quiet_third_party_noise() -> None:
    """Install the filters above (idempotent)."""
    for name, fragment in LOG_NOISE:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessage) and f.fragment == fragment for f in logger.filters):
            logger.addFilter(_DropMessage(fragment))
    for message in WARNING_NOISE:
        warnings.filterwarnings("ignore", message=message)
