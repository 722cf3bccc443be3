"""The processor check behind the bf16-on-CPU warning (vgf_rllib/hardware.py)."""

from __future__ import annotations

from pathlib import Path

from vgf_rllib.hardware import bf16_cpu_warning, cpu_model_and_flags

CPUINFO = """processor\t: 0
model name\t: Example CPU @ 2.50GHz
flags\t\t: fpu sse avx512f {extra}

processor\t: 1
model name\t: Example CPU @ 2.50GHz
flags\t\t: fpu sse avx512f {extra}
"""


def write_cpuinfo(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra=extra))
    return path


def test_model_and_flags_are_read_from_the_first_processor(tmp_path):
    model, flags = cpu_model_and_flags(write_cpuinfo(tmp_path, "avx512_bf16"))
    assert model == "Example CPU @ 2.50GHz"
    assert {"avx512f", "avx512_bf16"} <= flags


def test_no_bf16_instructions_gives_a_warning_naming_the_processor(tmp_path):
    message = bf16_cpu_warning(write_cpuinfo(tmp_path, "avx512_vnni"))
    assert "Example CPU @ 2.50GHz" in message
    assert "amx_bf16 or avx512_bf16" in message and "precision='fp32'" in message


def test_bf16_instructions_or_an_unreadable_processor_give_none(tmp_path):
    assert bf16_cpu_warning(write_cpuinfo(tmp_path, "avx512_bf16")) is None
    assert bf16_cpu_warning(write_cpuinfo(tmp_path, "amx_bf16")) is None
    assert bf16_cpu_warning(tmp_path / "missing") is None
