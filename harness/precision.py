"""The ``precision`` param of the built-in networks: which arithmetic a unit trains and predicts in.

``precision: auto | float32 | bfloat16 | float16`` on ``cnn-single-band``, ``cnn-multi-band`` and
``fusion-xray-dyn``. Reduced precision applies to the network body only: the output layer, the
loss and the optimiser's weights stay float32 (Keras ``mixed_bfloat16`` / ``mixed_float16``
policies; torch autocast). This module decides, without importing a framework, what a request
becomes on the device at hand (:func:`choose_precision`); each plugin's ``precision`` module
applies it. The decision and its reason go into the unit's ``info`` (``precision``,
``precision_requested``, ``precision_note``) and ``run.json``.

- ``auto``: bfloat16 where the device computes it natively: a CPU with AMX or AVX512-BF16
  (:func:`massbench.hardware.cpu_bf16_native`), a GPU with bfloat16 support (compute capability
  >= 8.0, as the framework reports it); float32 elsewhere.
- ``bfloat16``: bfloat16 wherever asked (emulated, so slower than float32, on a CPU without the
  flags above; the note says so).
- ``float16``: GPUs only (with loss scaling); on a CPU it falls back to float32 with a note, as
  the old ``mixed_precision`` / ``amp`` flags did.
- ``float32``: the networks as before this param existed, bit for bit.

Deterministic runs (``run.deterministic``): bfloat16 on a CPU stays bit-reproducible in both
frameworks (same seed twice, in fresh processes, gives identical predictions:
``tests/test_precision.py``), so it is allowed; reduced precision on a GPU has not been tested
for determinism and falls back to float32 there, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import ConfigError

Precision = Literal["auto", "float32", "bfloat16", "float16"]
PRECISIONS: tuple[str, ...] = ("auto", "float32", "bfloat16", "float16")
DEFAULT_PRECISION: Precision = "auto"
"""The networks' default (chosen from the erosita-lite accuracy comparison in docs/cnn.md and docs/fusion.md)."""


@dataclass(frozen=True)
class PrecisionChoice:
    """What a ``precision`` request became on one device.

    ``used`` is ``"float32"``, ``"bfloat16"`` or ``"float16"``; ``requested`` the param as given;
    ``note`` says why ``used`` differs from the request, or what to expect (empty otherwise).
    """

    used: str
    requested: str
    note: str = ""

    @property
    def reduced(self) -> bool:
        """Whether the body runs in a 16-bit format."""
        return self.used != "float32"

    def info(self) -> dict[str, str]:
        """The keys a unit's ``info`` (and so the unit record and run.json) gets."""
        out = {"precision": self.used, "precision_requested": self.requested}
        if self.note:
            out["precision_note"] = self.note
        return out


def check_precision(value: object, who: str) -> str:
    """``value`` if it is one of :data:`PRECISIONS`, else a :class:`ConfigError` naming ``who``."""
    if value not in PRECISIONS:
        raise ConfigError(f"{who}: precision must be one of {list(PRECISIONS)}, got {value!r}")
    return str(value)


def choose_precision(
    requested: str,
    *,
    on_gpu: bool,
    gpu_bf16: bool = False,
    cpu_bf16: bool | None = None,
    deterministic: bool = False,
    gpu_float16_for_auto: bool = False,
) -> PrecisionChoice:
    """Resolve a ``precision`` request for one unit.

    ``on_gpu``: the unit runs on a GPU; ``gpu_bf16``: that GPU supports bfloat16 (framework
    report); ``cpu_bf16``: the CPU computes bfloat16 natively (default:
    :func:`massbench.hardware.cpu_bf16_native`); ``deterministic``: the run asks for bit-identical
    reruns; ``gpu_float16_for_auto``: ``auto`` on a GPU without bfloat16 uses float16 (the
    legacy ``mixed_precision`` / ``amp`` flags).
    """
    check_precision(requested, "precision")
    if cpu_bf16 is None:
        from .hardware import cpu_bf16_native

        cpu_bf16 = cpu_bf16_native()
    want = requested
    if requested == "auto":
        if on_gpu:
            want = "bfloat16" if gpu_bf16 else ("float16" if gpu_float16_for_auto else "float32")
        else:
            want = "bfloat16" if cpu_bf16 else "float32"
    if want == "float32":
        note = "" if requested != "auto" else ("no native bfloat16 on this " + ("GPU" if on_gpu else "CPU"))
        return PrecisionChoice("float32", requested, note)
    if on_gpu and deterministic:
        return PrecisionChoice(
            "float32",
            requested,
            f"{want} requested but float32 used: reduced precision on a GPU is not tested "
            "for determinism (run.deterministic)",
        )
    if want == "float16" and not on_gpu:
        return PrecisionChoice("float32", requested, "float16 requested but float32 used: float16 is for GPUs")
    if want == "bfloat16" and on_gpu and not gpu_bf16:
        return PrecisionChoice(
            "bfloat16", requested, "this GPU has no native bfloat16 (compute capability < 8.0): expect it slower"
        )
    if want == "bfloat16" and not on_gpu and not cpu_bf16:
        return PrecisionChoice(
            "bfloat16", requested, "this CPU has no AMX or AVX512-BF16: bfloat16 is emulated, expect it slower"
        )
    return PrecisionChoice(want, requested)


def check_legacy_flag(precision: str, flag: str, value: bool, who: str) -> None:
    """The old boolean (``mixed_precision`` of the CNNs) is an alias of ``precision: float16``:
    refuse it beside a different explicit precision."""
    if value and precision not in ("auto", "float16"):
        raise ConfigError(
            f"{who}: {flag}: true means precision float16 but precision is {precision!r}; "
            f"set only one of them (precision: float16 replaces {flag})"
        )
