"""A broken compile never stops a run, and a Ctrl-C while compiling does not kill the compiler's
child processes half-way (vgf_rllib/compile_guard.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from vgf_rllib.compile_guard import CompiledOrEager


def double(x: torch.Tensor) -> torch.Tensor:
    return 2 * x


def corrupt_cache_error() -> Exception:
    """What torch raised here after a Ctrl-C had left a partial precompiled header in its cache."""
    from torch._inductor.exc import CppCompileError

    inner = CppCompileError(["g++", "kernel.main.cpp"], "error: 'at::vec' has not been declared")
    return torch._dynamo.exc.BackendCompilerFailed(double, inner, None)


def test_a_compile_error_falls_back_to_eager_with_one_warning(monkeypatch, capsys):
    calls = []

    def broken_compile(fn, **options):
        def call(*args, **kwargs):
            calls.append(options)
            raise corrupt_cache_error()
        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    guarded = CompiledOrEager(double, dynamic=False)
    x = torch.arange(3.0)
    assert torch.equal(guarded(x), 2 * x) and torch.equal(guarded(x), 2 * x)
    assert calls == [{"dynamic": False}] and not guarded.compiled  # compiled once, then eager
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: torch.compile failed"), err
    assert "(CppCompileError: C++ compile error)" in err[0], err[0]
    assert "continues without compiling" in err[0] and "compile cache" in err[0]


def test_errors_of_the_function_itself_are_not_swallowed(monkeypatch):
    def fails(x):
        raise ValueError("bad input")

    monkeypatch.setattr(torch, "compile", lambda fn, **options: fn)
    with pytest.raises(ValueError, match="bad input"):
        CompiledOrEager(fails)(torch.zeros(1))


CHILD = textwrap.dedent("""
    import signal, subprocess, sys
    from contextlib import nullcontext
    from vgf_rllib.compile_guard import shielded_children
    got = []
    signal.signal(signal.SIGINT, lambda *_: got.append("SIGINT"))
    with (shielded_children() if sys.argv[1] == "shielded" else nullcontext()):
        compiler = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3); print('finished')"],
                                    stdout=subprocess.PIPE, text=True)
    print("ready", flush=True)
    out, _ = compiler.communicate()
    print(repr(out.strip()), compiler.returncode, got, flush=True)
""")


@pytest.mark.parametrize("mode", ["shielded", "bare"])
def test_ctrl_c_to_the_group_spares_children_started_while_shielded(mode):
    child = subprocess.Popen([sys.executable, "-c", CHILD, mode], stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
    assert child.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    os.killpg(child.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    out, _ = child.communicate(timeout=30)
    if mode == "shielded":
        assert out.strip() == "'finished' 0 ['SIGINT']"  # the compiler finished, the run saw Ctrl-C
    else:
        assert out.strip() == "'' -2 ['SIGINT']"  # without the shield the compiler dies mid-way
