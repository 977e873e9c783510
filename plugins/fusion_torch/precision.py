"""``precision`` for ``fusion-xray-dyn``: torch autocast with a float32 output layer (see :mod:`massbench.precision`).

bfloat16 runs the network under ``torch.autocast(device, dtype=torch.bfloat16)`` (oneDNN's
bfloat16 kernels on a CPU with AMX or AVX512-BF16, tensor cores on a GPU); float16 is the GPU's
``torch.autocast(dtype=torch.float16)`` with a gradient scaler (the older ``amp`` flag). In both
the output layer (the head's last ``Linear``) runs in float32 on float32 features
(:func:`float32_output`), and the loss is computed in float32 on that output. Weights and the
optimiser's state stay float32 (autocast casts copies). The input standardisation runs before the
first convolution, which autocast leaves to the convolution's own cast, so the standardised inputs
are rounded to bfloat16 once there.

No torch import at module level.
"""

from __future__ import annotations

import contextlib
from typing import Any

from massbench.precision import PrecisionChoice, choose_precision

DTYPES = {"bfloat16": "bfloat16", "float16": "float16"}


def resolve(precision: str, amp: bool, device: str, deterministic: bool) -> PrecisionChoice:
    """The precision a fusion unit uses on ``device`` (``"cpu"`` or ``"cuda"``).

    ``amp`` (the older flag, default true) keeps its meaning on a GPU under ``precision: auto``:
    true allows reduced precision there (bfloat16 where the GPU has it, else float16), false
    keeps float32. On a CPU it plays no part.
    """
    on_gpu = device == "cuda"
    requested = precision
    if precision == "auto" and on_gpu and not amp:
        requested = "float32"
    choice = choose_precision(
        requested,
        on_gpu=on_gpu,
        gpu_bf16=on_gpu and gpu_supports_bf16(),
        deterministic=deterministic,
        gpu_float16_for_auto=bool(amp),
    )
    if requested != precision:
        return PrecisionChoice(choice.used, precision, "amp: false keeps float32 on a GPU")
    return choice


def gpu_supports_bf16() -> bool:
    """torch's own report: ``torch.cuda.is_bf16_supported()`` (compute capability >= 8.0)."""
    import torch

    try:
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    except Exception:  # pragma: no cover - best effort
        return False


def autocast(device: str, used: str) -> Any:
    """The autocast context of a forward pass in precision ``used`` (a null context for float32)."""
    import torch

    if used not in DTYPES:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device, dtype=getattr(torch, DTYPES[used]))


def _output_pre_hook(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Inside autocast: switch it off for the output layer and give it its input in the layer's own
    dtype (float32); outside autocast: change nothing (float32 and float64 passes stay as they are)."""
    import torch

    device = args[0].device.type
    module._massbench_autocast = torch.is_autocast_enabled(device)
    if not module._massbench_autocast:
        return None
    torch.set_autocast_enabled(device, False)
    return (args[0].to(module.weight.dtype), *args[1:])


def _output_post_hook(module: Any, args: tuple[Any, ...], output: Any) -> Any:
    import torch

    if getattr(module, "_massbench_autocast", False):
        torch.set_autocast_enabled(args[0].device.type, True)
        module._massbench_autocast = False
    return output


def float32_output(net: Any, layer: Any = None) -> None:
    """Run the network's output layer (``layer``, default the head's last module) in float32, also
    inside autocast.

    Installed once per network (forward hooks, not saved with the weights); a forward pass
    outside autocast is unchanged by it.
    """
    out_layer = net.head[-1] if layer is None else layer
    if getattr(out_layer, "_massbench_float32_output", False):
        return
    out_layer.register_forward_pre_hook(_output_pre_hook)
    out_layer.register_forward_hook(_output_post_hook)
    out_layer._massbench_float32_output = True


def float32_outputs(net: Any) -> None:
    """:func:`float32_output` for every output layer of ``net``: each ensemble member's (or the
    single network's) mean output and, for a Gaussian network, its ``log_sigma`` head."""
    for member in getattr(net, "members", [net]):
        float32_output(member)
        if hasattr(member, "log_sigma"):
            float32_output(member, member.log_sigma)
