"""The X-ray + dynamics fusion network of paper section 5.2 (Figure 5), in PyTorch.

This module imports torch at module level: import it only from methods that run the model
(``massbench.plugins.fusion_torch.estimator`` does so lazily).

Architecture (defaults; every size is a field of :class:`FusionConfig`)::

    map x (3, 128, 128)  -- eq. 2 output, standardised with training-fold mean/std
      2D branch: Conv 24@5 -> Conv 10@3 -> MaxPool 4 -> Conv 24@5 -> Conv 10@3 -> MaxPool 2
                 -> Flatten -> Dense 128 -> Dropout 0.1               ("same" padding, the multi-band CNN)
    cube (64, 64, 64)    -- KDE of (x, y, v_los), standardised with training-fold mean/std
      (optionally average-pooled to cube_size^3)
      + the standardised map average-pooled to the cube's sky grid (3, s, s) and repeated along
        the velocity axis: (4, s, s, s)
      3D branch: Conv3D 24@5 -> MaxPool 2 -> Conv3D 16@3 -> MaxPool 2 -> Conv3D 8@1 -> MaxPool 2
                 -> Flatten -> Dense 128 -> Dropout 0.1               ("valid" padding, Kodi Ramanah+21)
    head: concat (256) -> Dense 128 -> Dropout 0.1 -> Dense 64 -> Dropout 0.1 -> Dense 1

ReLU after every convolution and hidden dense layer. Kernels are Glorot-uniform and biases zero,
as Keras initialises them. The output is the target scaled to [-1, 1] with the training fold's
min/max of log10 M500c; :meth:`FusionNet.log10_mass` undoes it (log10 M500c [h^-1 Msun]).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .params import FusionLayers


@dataclass
class FusionConfig(FusionLayers):
    """Layer sizes (the fields of :class:`~.params.FusionLayers`, keyword-only) and input geometry
    of the fusion network (defaults: the paper's Figure 5 / the multi-band CNN)."""

    map_size: int = 128
    map_channels: int = 3
    cube_input: int = 64  # cells per axis of the cube the dataset provides
    cube_size: int = 64  # cells per axis the 3D branch sees (cube_input / cube_size must be an integer)

    def to_dict(self) -> dict:
        return asdict(self)


def block_mean_3d(cube: torch.Tensor, factor: int) -> torch.Tensor:
    """Average-pool ``(b, n, n, n)`` cubes in ``factor``^3 blocks: ``(b, n/f, n/f, n/f)`` (``n % f == 0``).

    The same values as ``F.avg_pool3d(cube.unsqueeze(1), factor).squeeze(1)`` (to float rounding),
    written as a reshape and a mean so that its gradient has a deterministic CUDA implementation
    (``AvgPool3d``'s CUDA gradient raises under ``torch.use_deterministic_algorithms(True)``).
    """
    b, n = cube.shape[0], cube.shape[1]
    s = n // factor
    return cube.reshape(b, s, factor, s, factor, s, factor).mean(dim=(2, 4, 6))


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Keras/TensorFlow "same" padding (before, after) for one axis: output ceil(size / stride)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """A 2D convolution with Keras "same" padding (asymmetric when the stride is > 1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ph = same_pads(x.shape[-2], self.kernel_size[0], self.stride[0])
        pw = same_pads(x.shape[-1], self.kernel_size[1], self.stride[1])
        if any(ph + pw):
            x = F.pad(x, (pw[0], pw[1], ph[0], ph[1]))
        return super().forward(x)


def _check(cfg: FusionConfig) -> None:
    if not (len(cfg.xray_filters) == len(cfg.xray_kernels) == len(cfg.xray_strides) == 2 * len(cfg.xray_pools)):
        raise ValueError(
            "xray_filters, xray_kernels and xray_strides need the same length, "
            "twice that of xray_pools (two convolutions per pooling stage)"
        )
    if len(cfg.dyn_filters) != len(cfg.dyn_kernels):
        raise ValueError("dyn_filters and dyn_kernels need the same length")
    if cfg.cube_size <= 0 or cfg.cube_input % cfg.cube_size:
        raise ValueError(f"cube_size must divide the input cube's {cfg.cube_input} cells, got {cfg.cube_size}")
    if cfg.map_size % cfg.cube_size:
        raise ValueError(f"cube_size must divide the map's {cfg.map_size} pixels, got {cfg.cube_size}")


class FusionNet(nn.Module):
    """Paper Figure 5: 2D X-ray extractor + 3D (dynamics + tied X-ray) extractor + dense head.

    ``forward(x, cube)`` takes ``x`` (b, 3, 128, 128): the equation-2 map x = log10(n + 1)
    (channels first), and ``cube`` (b, 64, 64, 64): the phase-space KDE (axes x, y, v). It returns
    the scaled target (b,). Input standardisation and target scaling are fixed buffers set from
    the training fold by :meth:`set_scalers`, so gradients taken through ``forward`` are with
    respect to the unstandardised inputs.
    """

    def __init__(self, cfg: FusionConfig):
        super().__init__()
        _check(cfg)
        self.cfg = cfg
        for name, value in (
            ("map_mean", 0.0),
            ("map_std", 1.0),
            ("cube_mean", 0.0),
            ("cube_std", 1.0),
            ("y_min", -1.0),
            ("y_max", 1.0),
        ):
            self.register_buffer(name, torch.tensor(value, dtype=torch.float32))

        # 2D branch (the multi-band CNN's convolutional stages)
        layers: list[nn.Module] = []
        ch, size = cfg.map_channels, cfg.map_size
        for i, (f, k, s) in enumerate(zip(cfg.xray_filters, cfg.xray_kernels, cfg.xray_strides)):
            layers += [SameConv2d(ch, f, k, stride=s), nn.ReLU()]
            ch, size = f, -(-size // s)
            if i % 2 == 1:
                p = cfg.xray_pools[i // 2]
                layers.append(nn.MaxPool2d(p))
                size //= p
        if size < 1:
            raise ValueError("the X-ray branch pools the map below one pixel: reduce strides or pools")
        xray = nn.Sequential(
            *layers, nn.Flatten(), nn.Linear(ch * size * size, cfg.xray_dense), nn.ReLU(), nn.Dropout(cfg.dropout)
        )
        # ablations (cfg.branches): a switched-off branch is not built, so it has no parameters
        self.use_xray = cfg.branches in ("both", "xray")
        self.use_dyn = cfg.branches in ("both", "dynamics")
        self.tied_channels = cfg.map_channels if cfg.branches == "both" else 0
        self.xray = xray if self.use_xray else None

        # 3D branch (dynamics tied to the X-ray map at the same sky positions)
        self.cube_pool = cfg.cube_input // cfg.cube_size
        self.map_pool = cfg.map_size // cfg.cube_size
        layers = []
        ch, size = 1 + self.tied_channels, cfg.cube_size
        for f, k in zip(cfg.dyn_filters, cfg.dyn_kernels):
            layers += [nn.Conv3d(ch, f, k), nn.ReLU(), nn.MaxPool3d(cfg.dyn_pool)]
            ch, size = f, (size - k + 1) // cfg.dyn_pool
            if size < 1:
                raise ValueError(
                    f"the 3D branch shrinks a {cfg.cube_size}^3 cube below one cell: "
                    "use a larger cube_size or smaller kernels"
                )
        dyn = nn.Sequential(
            *layers, nn.Flatten(), nn.Linear(ch * size**3, cfg.dyn_dense), nn.ReLU(), nn.Dropout(cfg.dropout)
        )
        self.dyn = dyn if self.use_dyn else None

        # dense head on the concatenated features
        layers = []
        width = cfg.xray_dense * self.use_xray + cfg.dyn_dense * self.use_dyn
        for w in cfg.head_dense:
            layers += [nn.Linear(width, w), nn.ReLU(), nn.Dropout(cfg.dropout)]
            width = w
        layers.append(nn.Linear(width, 1))
        self.head = nn.Sequential(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Keras defaults: Glorot-uniform kernels, zero biases."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def kernels(self, output: bool = True) -> list[torch.Tensor]:
        """Every convolution and dense kernel (the L2-regularised weights); ``output=False`` leaves
        out the output layer's kernel (the last ``Linear`` of the head)."""
        last = self.head[-1].weight
        return [
            m.weight
            for m in self.modules()
            if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear)) and (output or m.weight is not last)
        ]

    def l2_penalty(self, output: bool = True) -> torch.Tensor:
        """sum_w w^2 over all kernels, the output layer's too unless ``output=False`` (Keras' L2
        regulariser adds l2 * this to the loss)."""
        return sum((w.float() ** 2).sum() for w in self.kernels(output))  # type: ignore[return-value]

    def set_scalers(
        self, map_mean: float, map_std: float, cube_mean: float, cube_std: float, y_min: float, y_max: float
    ) -> None:
        """Set the training-fold standardisation of x and the cube and the target range [log10 h^-1 Msun]."""
        for name, value in (
            ("map_mean", map_mean),
            ("map_std", map_std),
            ("cube_mean", cube_mean),
            ("cube_std", cube_std),
            ("y_min", y_min),
            ("y_max", y_max),
        ):
            getattr(self, name).fill_(float(value))

    def scalers(self) -> dict[str, float]:
        return {n: float(getattr(self, n)) for n in ("map_mean", "map_std", "cube_mean", "cube_std", "y_min", "y_max")}

    def scale_target(self, log10_m: torch.Tensor) -> torch.Tensor:
        """log10 M500c [h^-1 Msun] -> [-1, 1] on the training fold's range."""
        return 2.0 * (log10_m - self.y_min) / (self.y_max - self.y_min) - 1.0

    def log10_mass(self, scaled: torch.Tensor) -> torch.Tensor:
        """Network output -> log10 M500c [h^-1 Msun]."""
        return self.y_min + 0.5 * (scaled + 1.0) * (self.y_max - self.y_min)

    def forward(self, x: torch.Tensor, cube: torch.Tensor) -> torch.Tensor:
        return self.head[-1](self.hidden(x, cube)).squeeze(-1)

    def hidden(self, x: torch.Tensor, cube: torch.Tensor) -> torch.Tensor:
        """The last hidden layer of the head (b, width): what the output layer (and a probabilistic
        model's log-sigma head, :mod:`.probabilistic`) sees."""
        xs = (x - self.map_mean) / self.map_std
        feats = []
        if self.xray is not None:
            feats.append(self.xray(xs))
        if self.dyn is not None:
            if self.cube_pool > 1:  # average pooling commutes with the affine standardisation: pool first
                cube = block_mean_3d(cube, self.cube_pool)
            cs = (cube - self.cube_mean) / self.cube_std
            dyn_in = cs.unsqueeze(1)  # (b, 1, s, s, s), axes (x, y, v)
            if self.tied_channels:
                tied = F.avg_pool2d(xs, self.map_pool) if self.map_pool > 1 else xs  # (b, 3, s, s)
                s = tied.shape[-1]
                tied = tied.unsqueeze(-1).expand(-1, -1, -1, -1, s)  # repeat along the velocity axis
                dyn_in = torch.cat([dyn_in, tied], dim=1)  # (b, 4, s, s, s)
            feats.append(self.dyn(dyn_in))
        return self.head[:-1](torch.cat(feats, dim=1))


def count_parameters(net: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
