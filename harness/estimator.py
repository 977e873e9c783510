"""The estimator contract, a convenience base class, and the run context.

Minimal estimator (no base class needed)::

    class MyEstimator:
        name = "my-estimator"          # unique
        inputs = ("xray_map",)         # dataset inputs it reads
        def __init__(self, **params): ...  # typed keyword params, or the fields of a @dataclass
        def fit(self, train: CatalogueView, val: CatalogueView) -> None: ...
        def predict(self, test: CatalogueView) -> np.ndarray:  # log10 M500c [h^-1 Msun], one per test cluster

``CatalogueView`` is :class:`massbench.CatalogueView`.

Optional members the harness uses when present:

``framework: str``
    Shown in leaderboards ("numpy", "tensorflow", "torch", ...).
``needs_gpu: bool``
    Distributed executors give such units a ``GPU: 1`` worker resource.
``save(self, directory: Path) -> None`` and ``@classmethod load(cls, directory: Path)``
    Persist and restore a trained model (and its fitted preprocessing). The runner
    saves each fold's model into ``models/<label>/fold<k>/``; ``massbench explain``
    reloads them.
``input_gradients(self, view: CatalogueView) -> dict[str, np.ndarray]``
    d(predicted log10 M500c) / d(network input) for each declared input, with a
    leading cluster axis, evaluated in inference mode. The network input is the
    estimator's preprocessed input (for the CNNs: equation 2's x = log10(n + 1) of
    the redshift-normalised counts of equation 1). Explainers take ``abs``
    (equation 10).
``context``
    Set by the runner before ``fit``: a :class:`RunContext`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from .catalogue import CatalogueView


class ProgressCallback(Protocol):
    """Progress of an estimator's training, shown by the runner as a progress bar.

    Call ``context.progress(epoch=e, total=n_epochs, loss=..., val_loss=...)`` once per
    epoch (1-based). Extra keyword metrics are displayed as given. ``total`` may be the
    maximum epoch count when early stopping may end training sooner.
    """

    def __call__(self, *, epoch: int, total: int | None = None, **metrics: float) -> None: ...


def _no_progress(**_: Any) -> None:
    return None


@dataclass
class RunContext:
    """Information the runner gives plugins for one unit of work.

    Attributes
    ----------
    seed : integer seed for this unit (derived from the benchmark's seed, the estimator and the fold)
    device : requested device, ``"auto"``, ``"cpu"`` or ``"gpu"``
    workdir : scratch directory for this unit (inside the run's output directory)
    cache_dir : shared cache directory for datasets
    progress : :class:`ProgressCallback`
    info : filled by the plugin with facts for ``run.json`` (e.g. ``{"device_used": "GPU:0"}``)
    deterministic : the benchmark's ``run.deterministic``: the estimator should make its framework
        run deterministically (TensorFlow op determinism; torch ``use_deterministic_algorithms``
        with cuDNN's deterministic flags and no float16 autocast), so that the same seed on the same
        hardware and software gives bit-identical predictions, also on a GPU. False outside a run.
    """

    seed: int = 0
    device: str = "auto"
    workdir: Path | None = None
    cache_dir: Path = field(default_factory=lambda: default_cache_dir())
    progress: Callable[..., None] = _no_progress
    info: dict[str, Any] = field(default_factory=dict)
    deterministic: bool = False

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)


def default_cache_dir() -> Path:
    """``$MASSBENCH_CACHE`` or ``~/.cache/massbench``: where datasets keep processed arrays."""
    env = os.environ.get("MASSBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "massbench"


class Estimator:
    """Optional base class: sets defaults for the optional members.

    Subclasses define ``name``, ``inputs``, a typed ``__init__`` and ``fit``/``predict``.
    """

    name: str = ""
    inputs: tuple[str, ...] = ()
    framework: str = "numpy"
    needs_gpu: bool = False
    context: RunContext

    def __new__(cls, *args: Any, **kwargs: Any):
        self = super().__new__(cls)
        self.context = RunContext()
        return self

    def fit(self, train: CatalogueView, val: CatalogueView) -> None:  # pragma: no cover - interface
        """Train on ``train`` (early stopping, if any, on ``val``); both expose ``log10_m500c``."""
        raise NotImplementedError

    def predict(self, test: CatalogueView) -> np.ndarray:  # pragma: no cover - interface
        """log10 M500c [h^-1 Msun] of each cluster of ``test``, in order, shape ``(len(test),)``."""
        raise NotImplementedError


def has_persistence(estimator: Any) -> bool:
    """Whether an estimator implements ``save`` and ``load``."""
    return callable(getattr(estimator, "save", None)) and callable(getattr(type(estimator), "load", None))


def has_gradients(estimator: Any) -> bool:
    """Whether an estimator implements ``input_gradients``."""
    return callable(getattr(estimator, "input_gradients", None))


class BaselineMean(Estimator):
    """Built-in floor of every leaderboard: predicts the mean training log10 M500c [h^-1 Msun]."""

    name = "baseline-mean"
    inputs: tuple[str, ...] = ()
    framework = "numpy"

    def __init__(self) -> None:
        self.mean_: float | None = None

    def fit(self, train: CatalogueView, val: CatalogueView) -> None:
        self.mean_ = float(np.mean(train.log10_m500c))

    def predict(self, test: CatalogueView) -> np.ndarray:
        assert self.mean_ is not None, "fit() first"
        return np.full(len(test), self.mean_)

    def save(self, directory: Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "mean.txt").write_text(repr(self.mean_))

    @classmethod
    def load(cls, directory: Path) -> "BaselineMean":
        est = cls()
        est.mean_ = float((Path(directory) / "mean.txt").read_text())
        return est
