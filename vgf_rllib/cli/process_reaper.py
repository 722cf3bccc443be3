"""Kill a driver's leftover child processes once the driver is gone (Linux ``/proc``).

Ray started by ``ray.init()`` in a driver keeps some of its processes (dashboard and runtime-env
agents) alive when the driver is killed with SIGKILL. ``vgf-rllib train`` therefore starts this
script beside Ray (run by file path, so it imports nothing of vgf_rllib or Ray): it remembers the
driver's process tree every half second and, when the pipe from the driver closes (the driver
exited in any way), kills whatever of that tree is still alive. See docs/runs.md.
"""

from __future__ import annotations

import os
import select
import signal
import sys
from pathlib import Path

POLL_SECONDS = 0.5


def parents() -> dict[int, int]:
    """``{pid: parent pid}`` of every process in /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # exited meanwhile
            table[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return table


def descendants(root: int) -> set[int]:
    """Every process below ``root`` in the process tree."""
    table = parents()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in table.items() if parent in frontier} - found
        found |= frontier
    return found


def reap(driver: int) -> None:
    """Track ``driver``'s tree until stdin closes, then SIGKILL the tree's survivors."""
    tree: set[int] = set()
    own = os.getpid()
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], POLL_SECONDS)
        if ready and not sys.stdin.buffer.read1(1):  # EOF: the driver is gone
            break
        tree |= descendants(driver) - {own}
    tree |= set().union(*(descendants(pid) for pid in tree)) if tree else set()
    for pid in tree - {own}:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: let the driver handle it
    reap(int(sys.argv[1]))
