"""What the CPU can do natively, read from ``/proc/cpuinfo`` (no framework import).

The built-in networks' ``precision: auto`` asks :func:`cpu_bf16_native` whether this CPU runs
bfloat16 matrix arithmetic in hardware: Intel AMX (``amx_bf16``, Sapphire Rapids and later) or
AVX512-BF16 (``avx512_bf16``, Cooper Lake, Zen 4 and later). Without either, TensorFlow and torch
still run bfloat16 on a CPU, but emulated, and slower than float32. Plugins use this module
instead of parsing ``/proc/cpuinfo`` themselves, so that the detection lives in one place and
tests can mock it (``MASSBENCH_CPUINFO`` names another file to read).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

BF16_FLAGS = ("amx_bf16", "avx512_bf16")
"""CPU flags (as Linux spells them in ``/proc/cpuinfo``) that mean native bfloat16 arithmetic."""

CPUINFO = "/proc/cpuinfo"


def parse_cpu_flags(text: str) -> frozenset[str]:
    """The flags of the first processor in a ``/proc/cpuinfo`` text (``flags`` on x86, ``Features`` on ARM)."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


@functools.lru_cache(maxsize=4)
def _flags_of(path: str) -> frozenset[str]:
    try:
        return parse_cpu_flags(Path(path).read_text(errors="replace"))
    except OSError:  # not Linux, or no /proc: nothing is known to be native
        return frozenset()


def cpu_flags() -> frozenset[str]:
    """This machine's CPU flags (empty when ``/proc/cpuinfo`` cannot be read, e.g. on macOS)."""
    return _flags_of(os.environ.get("MASSBENCH_CPUINFO") or CPUINFO)


def cpu_bf16_flags() -> tuple[str, ...]:
    """The native-bfloat16 flags this CPU has, of :data:`BF16_FLAGS` (empty: none)."""
    flags = cpu_flags()
    return tuple(f for f in BF16_FLAGS if f in flags)


def cpu_bf16_native() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AMX or AVX512-BF16)."""
    return bool(cpu_bf16_flags())
