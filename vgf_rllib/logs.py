"""VGF's own warnings (:func:`warn`), and silencing third-party log lines a VGF user cannot act on.

Each filter names one message and why it is noise here:
- RLlib's "You are running VGF on the new API stack!": VGF exists only on the new stack.
- RLlib's "RLModule(config=...) has been deprecated": RLlib passes that argument itself when it
  rebuilds a module from a checkpoint; no VGF or user code passes it.
- Ray Tune's "Install gputil for GPU system monitoring": VGF turns system-usage logging off.
- GLFW's "The DISPLAY environment variable is missing": MuJoCo imports GLFW for rendering, which
  VGF never does (evaluation runs without a display).
"""

from __future__ import annotations

import logging
import sys
import warnings

#: (logger name, message fragment) pairs that are dropped
NOISE = (
    ("ray.rllib.algorithms.algorithm_config", "on the new API stack!"),
    ("ray._common.deprecation", "RLModule(config=[RLModuleConfig object])"),
    ("ray.tune.utils.util", "Install gputil"),
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
    for name, fragment in NOISE:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessage) and f.fragment == fragment for f in logger.filters):
            logger.addFilter(_DropMessage(fragment))
    warnings.filterwarnings("ignore", message=".*DISPLAY environment variable is missing")
