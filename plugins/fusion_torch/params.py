"""The params of ``fusion-xray-dyn``, written once: the network's layer sizes and the estimator's params.

:class:`FusionLayers` holds the layer sizes of the fusion network (paper section 5.2, Figure 5);
:class:`~.network.FusionConfig` adds the input geometry to it, and :class:`FusionParams` (the
estimator's params, checked by the harness against a benchmark file) adds completeness and
training. This module imports no torch.

The layer fields are keyword-only so that the estimator's ``__init__`` keeps its documented order:
``completeness``, ``completeness_seed``, ``cube_size`` first, then the layers, then training.
"""

from __future__ import annotations

import typing
from dataclasses import KW_ONLY, Field, dataclass, field, fields
from typing import Any, Literal, Optional

from massbench.ensemble import check_ensemble_size
from massbench.errors import ConfigError
from massbench.precision import DEFAULT_PRECISION, Precision, check_precision

#: values of the ``branches`` param: both branches (the paper), the X-ray branch only, the dynamics branch only
BRANCHES = ("both", "xray", "dynamics")


@dataclass(kw_only=True, eq=False)
class FusionLayers:
    """Layer sizes of the fusion network (defaults: the paper's Figure 5 / the multi-band CNN).

    xray_filters, xray_kernels, xray_strides, xray_pools, xray_dense : the 2D branch (the multi-band
        CNN: filters 24, 10, 24, 10, kernels 5, 3, 5, 3 [pixels], strides 1, pools 4 and 2, dense 128;
        the paper's notebook used strides 2, 2, 2, 1 here, about 430k parameters in all).
    dyn_filters, dyn_kernels, dyn_pool, dyn_dense : the 3D branch (24, 16, 8; 5, 3, 1 [cells]; 2; 128).
    head_dense : hidden dense widths of the head (128, 64). dropout : after every hidden dense (0.1).
    branches : which branches feed the head, for ablations: "both" (default, the paper), "xray" (the
        2D branch only; no 3D branch) or "dynamics" (the 3D branch on the galaxy cube alone, without
        the tied X-ray channels; no 2D branch). The inputs are still read; the switched-off branch's
        are not used (docs/fusion.md "Switching a branch off").
    """

    xray_filters: list[int] = field(default_factory=lambda: [24, 10, 24, 10])
    xray_kernels: list[int] = field(default_factory=lambda: [5, 3, 5, 3])
    xray_strides: list[int] = field(default_factory=lambda: [1, 1, 1, 1])
    xray_pools: list[int] = field(default_factory=lambda: [4, 2])  # after conv 2 and conv 4
    xray_dense: int = 128
    dyn_filters: list[int] = field(default_factory=lambda: [24, 16, 8])
    dyn_kernels: list[int] = field(default_factory=lambda: [5, 3, 1])
    dyn_pool: int = 2  # after every 3D convolution
    dyn_dense: int = 128
    head_dense: list[int] = field(default_factory=lambda: [128, 64])
    dropout: float = 0.1
    branches: Literal["both", "xray", "dynamics"] = "both"


@dataclass(eq=False)
class FusionParams(FusionLayers):
    """Params of ``fusion-xray-dyn`` (defaults reproduce the paper's design; see docs/fusion.md).

    completeness : spectroscopic completeness, the fraction of each cluster's galaxies with a
        measured redshift, in (0, 1]. Below 1 the cubes are rebuilt from a seeded subset.
    completeness_seed : seed of that subset (shared by all folds so they share the cached cubes).
    cube_size : cells per axis seen by the 3D branch; 64 is the paper, 32 average-pools the cube
        2x2x2 (and the tied X-ray map 4x4), about 10x cheaper on a CPU.
    the layer sizes : see :class:`FusionLayers`.
    learning_rate, l2, loss, batch_size [clusters], epochs, patience [epochs] : training, as the CNNs.
    l2_output : L2 on the output layer's kernel too (default, as the paper's notebook; false: every
        kernel but the output's, as the paper's text and the CNNs' default).
    amp : automatic mixed precision (float16 autocast + gradient scaling) when on a GPU; off
        while deterministic. Under ``precision: auto`` on a GPU, ``amp: false`` keeps float32.
    precision : ``auto``, ``float32``, ``bfloat16`` or ``float16`` (:mod:`massbench.precision`):
        autocast of the network body, output layer and loss float32 (:mod:`.precision`).
    deterministic : None follows the run (``run.deterministic`` of the benchmark file, seen as
        ``context.deterministic``); true/false override it for this estimator. Deterministic is
        torch ``use_deterministic_algorithms(True)`` with cuDNN's deterministic flags and no
        autocast (:mod:`.determinism`).
    num_workers : DataLoader worker processes (0 reads batches in the training process).
    num_threads : torch CPU threads (0 keeps torch's default).
    predict_batch_size : batch size of predict / input_gradients [clusters].
    loss : ``mse`` (default), ``mae`` or ``gaussian_nll`` (a mean and a log-sigma head on the
        Gaussian negative log-likelihood, :mod:`.probabilistic`; predict returns a Gaussian
        :class:`~massbench.Prediction`, sigma in dex).
    ensemble : N >= 2 trains a deep ensemble of N nets with seeds from the unit seed and predicts
        their mixture as a Gaussian (:mod:`massbench.ensemble`); 1 to 20.

    ``__post_init__`` checks the ranges (:class:`ConfigError`) and stores every value as its
    declared type (``int``, ``float``, ``bool``, ``list``), as saved in ``params.json``.
    """

    completeness: float = 1.0
    completeness_seed: int = 0
    cube_size: int = 64
    _: KW_ONLY  # the layer fields of FusionLayers come here, then:
    learning_rate: float = 1e-3
    l2: float = 1e-4
    l2_output: bool = True
    loss: Literal["mse", "mae", "gaussian_nll"] = "mse"
    batch_size: int = 50
    epochs: int = 200
    patience: int = 20
    amp: bool = True
    precision: Precision = DEFAULT_PRECISION
    deterministic: Optional[bool] = None
    num_workers: int = 0
    num_threads: int = 0
    predict_batch_size: int = 50
    ensemble: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.completeness <= 1.0:
            raise ConfigError(f"fusion-xray-dyn: completeness must be in (0, 1], got {self.completeness}")
        for key in ("batch_size", "epochs", "predict_batch_size", "cube_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"fusion-xray-dyn: {key} must be a positive integer, got {getattr(self, key)}")
        if self.patience < 0 or self.num_workers < 0 or self.num_threads < 0 or self.l2 < 0 or self.learning_rate <= 0:
            raise ConfigError(
                "fusion-xray-dyn: patience, num_workers, num_threads and l2 must be >= 0 and learning_rate > 0"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"fusion-xray-dyn: dropout must be in [0, 1), got {self.dropout}")
        for f in fields(FusionParams):
            convert = _CONVERT.get(f.name)
            if convert is not None:
                setattr(self, f.name, convert(getattr(self, f.name)))
        if self.branches not in BRANCHES:
            raise ConfigError(
                f"fusion-xray-dyn: branches must be one of {', '.join(map(repr, BRANCHES))}, got {self.branches!r}"
            )
        if self.loss not in ("mse", "mae", "gaussian_nll"):
            raise ConfigError(
                "fusion-xray-dyn: loss must be 'mse', 'mae' or 'gaussian_nll' (mean and log-sigma heads, "
                f"Gaussian negative log-likelihood), got {self.loss!r}"
            )
        self.ensemble = check_ensemble_size(self.ensemble, "fusion-xray-dyn")
        check_precision(self.precision, "fusion-xray-dyn")
        if self.deterministic is not None and not isinstance(self.deterministic, bool):
            raise ConfigError(
                f"fusion-xray-dyn: deterministic must be true, false or null (follow the run), got {self.deterministic!r}"
            )

    @property
    def params(self) -> dict[str, Any]:
        """The params by name, in ``__init__`` order (list values copied): ``params.json``."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), list) else v for f in _init_order(self)}

    def layers(self) -> dict[str, Any]:
        """The :class:`FusionLayers` fields by name (list values copied)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), list) else v for f in fields(FusionLayers)}


def _init_order(obj: Any) -> list[Field[Any]]:
    """Fields in the order of the generated ``__init__`` (positional ones, then keyword-only ones)."""
    fs = fields(obj)
    return [f for f in fs if not f.kw_only] + [f for f in fs if f.kw_only]


def _converter(tp: Any) -> Any:
    if tp in (int, float, bool):
        return tp
    if typing.get_origin(tp) is list:
        return list
    return None  # Literal etc.: kept as given


_CONVERT: dict[str, Any] = {
    name: conv
    for name, tp in typing.get_type_hints(FusionParams).items()
    if name in {f.name for f in fields(FusionParams)} and (conv := _converter(tp))
}
