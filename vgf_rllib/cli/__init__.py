"""The ``vgf-rllib`` command line: one module per sub-command, each with ``register(subparsers)``.

Sub-command modules import Ray/torch lazily inside their handlers so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: sub-command modules (relative to this package), in the order ``--help`` lists them
COMMAND_MODULES = ("train", "evaluate", "export", "serve", "data", "sweep", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vgf-rllib",
        description="Value Gradient Flow (VGF) offline RL on Ray RLlib.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"vgf_rllib.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a sub-command; bad input (ValueError) and file-system errors end in one
    ``error:`` line and exit code 2, never a traceback. Ctrl-C where a command does not handle
    it (while a run is being built, or a second Ctrl-C in training) ends in one line and 130."""
    from vgf_rllib.cli.output import report_error

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as error:
        return report_error(error)
    except KeyboardInterrupt:
        print("\nstopped by SIGINT (Ctrl-C)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
