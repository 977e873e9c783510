"""Probabilistic fusion nets: ``loss: gaussian_nll`` and deep ensembles (``ensemble: N``), in PyTorch.

:class:`GaussianFusionNet` is the paper's :class:`~.network.FusionNet` unchanged (its body and mean
output layer ``head[-1]``) plus a ``log_sigma`` ``Linear(width, 1)`` head on the same last hidden
layer, as Krippendorf et al. (2023); ``forward`` returns ``(b, 2)``: the mean and log sigma of a
Gaussian in the scaled target t in [-1, 1]. :func:`gaussian_nll` is the per-cluster negative
log-likelihood, in float32::

    NLL = 0.5 ((t - mean) / sigma)^2 + log sigma        (+ 0.5 log 2 pi, dropped)

with log sigma clipped to :data:`LOG_SIGMA_CLIP` (also at prediction). Sigma in dex of log10 M500c
is ``sigma * (y_max - y_min) / 2`` (:meth:`~.network.FusionNet.log10_mass` is affine).

:class:`EnsembleNet` holds N members (point or Gaussian nets trained with
:func:`massbench.ensemble.member_seeds`) and returns ``(b, N, k)``; one state dict saves them all.
The numpy combination into a Gaussian is :func:`massbench.ensemble.combine`.

Imports torch at module level: import it only from methods that run the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .network import FusionConfig, FusionNet

#: log sigma (scaled-target units) is clipped to this range in the loss and at prediction.
LOG_SIGMA_CLIP = (-9.0, 5.0)


class GaussianFusionNet(FusionNet):
    """:class:`~.network.FusionNet` with a ``log_sigma`` head beside its mean output: ``forward`` -> (b, 2)."""

    def __init__(self, cfg: FusionConfig):
        super().__init__(cfg)  # draws the body's initial weights exactly as a point FusionNet
        width = cfg.head_dense[-1] if cfg.head_dense else cfg.xray_dense + cfg.dyn_dense
        self.log_sigma = nn.Linear(width, 1)
        nn.init.xavier_uniform_(self.log_sigma.weight)
        nn.init.zeros_(self.log_sigma.bias)

    def kernels(self, output: bool = True) -> list[torch.Tensor]:
        """As :meth:`FusionNet.kernels`; the log-sigma kernel counts as an output kernel."""
        ks = super().kernels(output)
        return ks if output else [w for w in ks if w is not self.log_sigma.weight]

    def forward(self, x: torch.Tensor, cube: torch.Tensor) -> torch.Tensor:
        h = self.hidden(x, cube)
        return torch.cat([self.head[-1](h), self.log_sigma(h)], dim=-1)


class EnsembleNet(nn.Module):
    """N fusion nets of one fold (same scalers): ``forward`` -> (b, N, k), k = 2 for Gaussian members."""

    def __init__(self, members: list[FusionNet]):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.cfg = members[0].cfg

    def forward(self, x: torch.Tensor, cube: torch.Tensor) -> torch.Tensor:
        outs = [m(x, cube) for m in self.members]
        return torch.stack([o.reshape(len(o), -1) for o in outs], dim=1)

    def l2_penalty(self, output: bool = True) -> torch.Tensor:
        return sum(m.l2_penalty(output) for m in self.members)  # type: ignore[return-value]

    def scalers(self) -> dict[str, float]:
        return self.members[0].scalers()  # type: ignore[operator]

    def scale_target(self, log10_m: torch.Tensor) -> torch.Tensor:
        return self.members[0].scale_target(log10_m)  # type: ignore[operator]

    def log10_mass(self, scaled: torch.Tensor) -> torch.Tensor:
        return self.members[0].log10_mass(scaled)  # type: ignore[operator]


def build_net(cfg: FusionConfig, gaussian: bool, n_members: int = 1) -> nn.Module:
    """An untrained net of the right kind (for :meth:`load`): point/Gaussian, single/ensemble."""
    cls = GaussianFusionNet if gaussian else FusionNet
    if n_members == 1:
        return cls(cfg)
    return EnsembleNet([cls(cfg) for _ in range(n_members)])


def gaussian_nll(out: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Gaussian NLL of the scaled target (float32); ``out[:, 0]`` mean, ``out[:, 1]`` log sigma."""
    out = out.float()
    log_sigma = out[:, 1].clamp(*LOG_SIGMA_CLIP)
    nll = 0.5 * ((target.float() - out[:, 0]) * torch.exp(-log_sigma)) ** 2 + log_sigma
    return nll.sum() if reduction == "sum" else nll.mean()


def mean_output(out: torch.Tensor, n_members: int, gaussian: bool) -> torch.Tensor:
    """The (ensemble-averaged) mean head, scaled target (b,): what saliency differentiates."""
    k = 2 if gaussian else 1
    return out.reshape(len(out), int(n_members), k)[..., 0].mean(dim=1)


def split_outputs(out: Any, n_members: int, gaussian: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Raw outputs (b, ...) -> ``(means, log_sigmas)``, each (N, b), scaled target; log sigmas clipped."""
    k = 2 if gaussian else 1
    arr = np.asarray(out, dtype=np.float64).reshape(-1, int(n_members), k)
    if not gaussian:
        return arr[..., 0].T, None
    return arr[..., 0].T, np.clip(arr[..., 1].T, *LOG_SIGMA_CLIP)
