"""``precision`` for the TensorFlow CNNs: the Keras dtype policy of a unit (see :mod:`massbench.precision`).

The body of the network (convolutions, pooling, hidden dense layers, dropout) gets the policy
``mixed_bfloat16`` or ``mixed_float16`` (variables float32, arithmetic in 16 bits); the output
layer is built float32 and the loss is computed on its float32 output
(:func:`~.architecture.build_cnn`). float16 also wraps Adam in Keras' ``LossScaleOptimizer``;
bfloat16 has float32's exponent range and needs no loss scaling.
"""

from __future__ import annotations

from typing import Any

from massbench.precision import PrecisionChoice, check_legacy_flag, choose_precision

POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
"""Keras dtype policy of the network body, by precision used."""


def gpu_supports_bf16(device: Any) -> bool:
    """Whether the TensorFlow GPU of ``device`` (a :class:`~.tf_runtime.DeviceChoice`) has native
    bfloat16: compute capability >= 8.0 (Ampere and later), as TensorFlow reports it."""
    if not device.is_gpu:
        return False
    from .tf_runtime import import_tf

    tf = import_tf()
    try:
        gpu = tf.config.list_physical_devices("GPU")[0]
        cc = tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0)
    except Exception:  # pragma: no cover - details are best effort
        return False
    return tuple(cc) >= (8, 0)


def resolve(precision: str, mixed_precision: bool, device: Any, deterministic: bool, who: str) -> PrecisionChoice:
    """The precision a CNN unit uses on ``device``; ``mixed_precision: true`` is ``precision: float16``."""
    check_legacy_flag(precision, "mixed_precision", bool(mixed_precision), who)
    requested = "float16" if mixed_precision else precision
    choice = choose_precision(
        requested, on_gpu=device.is_gpu, gpu_bf16=gpu_supports_bf16(device), deterministic=deterministic
    )
    if mixed_precision:
        return PrecisionChoice(choice.used, "float16 (mixed_precision: true)", choice.note)
    return choice
