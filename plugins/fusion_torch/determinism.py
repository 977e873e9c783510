"""Deterministic torch for ``fusion-xray-dyn``: the switches, set inside a block and restored after it.

No torch import at module level. What :func:`torch_determinism` turns on (the run's
``run.deterministic``, or the estimator's own ``deterministic`` param):

- ``torch.use_deterministic_algorithms(True)`` (not ``warn_only``): every op with a deterministic
  variant uses it (on CUDA: the convolutions, ``MaxPool3d``'s gradient, ``scatter_add_``,
  ``index_add``, ...), and an op without one raises ``RuntimeError`` instead of silently varying.
  The network avoids the ops that raise on CUDA in its forward and gradient passes: the cube's
  average pooling is a reshape-and-mean (:func:`~.network.block_mean_3d`), not ``AvgPool3d``;
- ``torch.backends.cudnn.deterministic = True`` and ``torch.backends.cudnn.benchmark = False``:
  cuDNN picks the same deterministic convolution algorithm every time (benchmarking can pick
  different ones from run to run);
- ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` when unset, the fixed cuBLAS workspace NVIDIA's cuBLAS
  documentation requires for run-to-run reproducible GEMMs on CUDA >= 10.2 (read when the
  process creates its cuBLAS handle, so it is set before the first CUDA op of a unit's worker);
- the estimator runs without float16 autocast and gradient scaling, and without any reduced
  precision on a GPU; bfloat16 autocast on a CPU is allowed (it repeats bit for bit:
  :mod:`massbench.precision`).

Seeds: ``fit`` seeds torch (``torch.manual_seed``, CPU and CUDA generators) and the data loader's
generator from the unit's seed, so dropout masks and batch order repeat.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

CUBLAS_WORKSPACE = ":4096:8"


@contextlib.contextmanager
def torch_determinism(enabled: bool) -> Iterator[None]:
    """Set torch's deterministic-algorithms mode and cuDNN's flags to ``enabled`` inside the block.

    ``enabled=False`` turns the mode off (torch's default) and leaves cuDNN's flags as they were.
    The previous settings are restored on exit.
    """
    import torch

    cudnn = torch.backends.cudnn
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn.deterministic,
        cudnn.benchmark,
    )
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.use_deterministic_algorithms(True)
        cudnn.deterministic = True
        cudnn.benchmark = False
    else:
        torch.use_deterministic_algorithms(False)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        cudnn.deterministic, cudnn.benchmark = before[2], before[3]
