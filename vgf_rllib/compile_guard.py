"""``torch.compile`` made safe to interrupt and to resume after a broken compile cache.

- :class:`CompiledOrEager`: a compiled function that, when compiling fails (a corrupt or partial
  entry in torch's compile cache, such as a truncated ``.so`` or precompiled header left by a
  killed compiler, or a broken C++ toolchain), warns in one line and runs the same function
  eagerly for the rest of the process. The eager and compiled functions compute the same
  numbers (tests/test_compiled_update.py), so a run goes on, slower, instead of stopping.
- :func:`shielded_children`: the processes started while compiling (torch's C++ compiler and
  compile workers) do not receive the terminal's Ctrl-C, which goes to the whole process group;
  killed half-way they left partial files in the shared cache that broke later runs. The run's
  own process still gets the signal and stops as it does elsewhere (docs/runs.md, "Stopping").
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from vgf_rllib.logs import warn

#: exceptions torch raises when a graph cannot be compiled or its compiled code cannot be loaded
COMPILE_ERRORS: tuple[type[BaseException], ...] = (
    torch._dynamo.exc.BackendCompilerFailed,
    torch._inductor.exc.InductorError,
)


def compile_cache_dir() -> str:
    """Where torch keeps compiled code (``TORCHINDUCTOR_CACHE_DIR``, else a per-user /tmp folder)."""
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    return cache_dir()


class CompiledOrEager:
    """``torch.compile(fn, **options)`` that falls back to ``fn`` after a compile error."""

    def __init__(self, fn: Callable[..., Any], **options: Any) -> None:
        self._eager = fn
        self._call = torch.compile(fn, **options)

    @property
    def compiled(self) -> bool:
        """False once a compile error made this process run the function eagerly."""
        return self._call is not self._eager

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.compiled:
            return self._eager(*args, **kwargs)
        try:
            return self._call(*args, **kwargs)
        except COMPILE_ERRORS as error:
            warn(
                f"torch.compile failed ({_first_line(error)}); this run continues without compiling, "
                f"slower. If it repeats, delete torch's compile cache {compile_cache_dir()} or set "
                "compile_learner=false"
            )
            self._call = self._eager
            return self._eager(*args, **kwargs)


def _first_line(error: BaseException) -> str:
    """``Type: first line`` of the innermost error torch wrapped (e.g. the C++ compiler's)."""
    inner = getattr(error, "inner_exception", None) or error.__cause__ or error
    text = str(inner).strip()
    return f"{type(inner).__name__}: {text.splitlines()[0][:200]}" if text else type(inner).__name__


@contextmanager
def shielded_children() -> Iterator[None]:
    """Block SIGINT and SIGTERM in this thread while the body runs.

    Processes started in the body inherit the blocked signals, so a Ctrl-C sent to the process
    group does not kill them mid-write. This process still handles the signals: the kernel hands
    them to another of its threads (Python then runs the handler in the main thread), or they
    wait until the block ends. Outside the main thread, or without ``pthread_sigmask``, a no-op.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
