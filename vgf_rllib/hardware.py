"""What the processor offers that the learner's precision depends on (docs/algorithm.md,
"Precision"): bf16 autocast pays on a CPU only with bf16 dot-product instructions; without them
oneDNN emulates bf16 matmuls and they run slower than fp32."""

from __future__ import annotations

from pathlib import Path

#: Linux CPU flags of native bf16 dot products (AVX-512 BF16, Intel AMX)
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_model_and_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, frozenset[str]] | None:
    """The first processor's model name and flags from ``cpuinfo``; None where there is no such
    file (not Linux)."""
    if not cpuinfo.is_file():
        return None
    model, flags = "unknown processor", frozenset()
    for line in cpuinfo.read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown processor":
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = frozenset(value.split())
    return model, flags


def bf16_cpu_warning(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """A warning for ``precision="bf16"`` on a CPU learner whose processor lacks the
    instructions, or None (they are there, or the flags cannot be read)."""
    found = cpu_model_and_flags(cpuinfo)
    if found is None or found[1] & BF16_CPU_FLAGS:
        return None
    return (
        f"precision='bf16' on a CPU without bf16 dot-product instructions ({found[0]}: no "
        f"{' or '.join(sorted(BF16_CPU_FLAGS))} flag): bf16 matmuls are emulated and run slower "
        "than fp32; set precision='fp32' (docs/algorithm.md, \"Precision\")"
    )
