"""The TensorFlow CNN estimators of Ho et al.: ``cnn-single-band`` (section 4) and ``cnn-multi-band`` (5.1).

Both predict log10 M500c [h^-1 Msun] from photon maps. Inside ``fit``, on the training view
only: equation 1's redshift normalisation is fitted (log10 sum m = gamma z + eta, N0 = 4000),
equation 2 (x = log10(n + 1)) applied, pixels standardised with the training mean and standard
deviation, and the target scaled to [-1, 1] with the training minimum and maximum (see
:mod:`.scaling`). The network (:mod:`.architecture`) is trained with Adam on the MSE of the
scaled target (equation 8) and early stopping on the harness's validation view, restoring the
best weights. TensorFlow is imported only when an estimator is used.

The params of both classes are the fields of one dataclass, :class:`CNNParams` (range checks
in its ``__post_init__``); :class:`MultiBandCNN` overrides only the default it changes.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, Literal, Optional

import numpy as np

from massbench import __version__ as massbench_version
from massbench.catalogue import CatalogueView
from massbench.ensemble import check_ensemble_size, ensemble_prediction, member_seeds
from massbench.errors import ConfigError, DataError
from massbench.estimator import Estimator, RunContext
from massbench.precision import DEFAULT_PRECISION, Precision, check_legacy_flag, check_precision
from massbench.prediction import Prediction
from massbench.preprocessing import N0_DEFAULT, fit_redshift_normalisation

from .architecture import ArchitectureConfig
from .pipeline import apply_equations_1_2_, check_rebin, map_shape, preprocess_view, read_counts, rebin_counts
from .scaling import INPUT_SCALINGS, TARGET_SCALINGS, MapScaling, fit_target_scaling, pixel_moments

MODEL_FILE = "model.keras"
SCALING_FILE = "preprocessing.json"
META_FILE = "estimator.json"
HISTORY_FILE = "history.json"


@dataclass(eq=False)
class CNNParams:
    """Params of the CNN estimators, one field list for both (the paper's values are the defaults).

    - ``epochs`` (max), ``patience`` (early stopping on the validation loss, best weights
      restored; 0 trains every epoch and still restores the best), ``batch_size``,
      ``learning_rate`` (Adam), ``l2`` (L2 strength on the kernels of every layer but the
      output), ``l2_output`` (L2 on the output layer's kernel too, as the paper's notebook; the
      paper's text leaves the last layer out), ``conv_filters``, ``conv_kernels``,
      ``pool_sizes``, ``dense_units``, ``dropout``, ``loss`` (``mse``: equation 8; ``mae``: the
      notebook's multi-band choice; ``gaussian_nll``: the paper's body with a mean and a
      log-sigma head trained on the Gaussian negative log-likelihood, :mod:`.probabilistic`;
      ``predict`` then returns a :class:`~massbench.Prediction` with sigma in dex);
    - ``n0``: equation 1's pivot photon count [photons]; ``input_scaling`` / ``target_scaling``:
      see :mod:`.scaling`;
    - ``precision`` (``auto``, ``float32``, ``bfloat16``, ``float16``; :mod:`massbench.precision`):
      the arithmetic of the network body, output layer and loss always float32 (:mod:`.precision`);
      ``auto`` is bfloat16 on a CPU with AMX or AVX512-BF16 or a bfloat16 GPU, else float32;
    - ``mixed_precision`` (the older flag: ``true`` is ``precision: float16``, GPU only), ``xla``
      (XLA-compiled training step: slower on this project's CPUs, try it on a GPU; off while
      deterministic), ``deterministic`` (``None``: follow the run's ``run.deterministic``, the
      harness's :attr:`~massbench.RunContext.deterministic`; ``true``/``false`` override it for
      this estimator). Deterministic means TensorFlow op determinism
      (:func:`~.tf_runtime.op_determinism`), for bit-identical GPU runs;
    - ``predict_batch_size``: batch of validation, prediction and gradient passes [clusters];
    - ``rebin``: sum the photon maps in ``rebin`` x ``rebin`` pixel blocks before equation 1
      (1 = the paper's 128x128; 2 gives 64x64 inputs, a quarter of the convolution work, for
      CPU-only runs);
    - ``ensemble``: N >= 2 trains a deep ensemble of N networks (seeds from the unit seed,
      :func:`massbench.ensemble.member_seeds`) and ``predict`` returns their mixture as a
      Gaussian :class:`~massbench.Prediction` (:func:`massbench.ensemble.combine`); 1 to 20.

    ``__post_init__`` copies the list params into lists, checks ranges (:class:`ConfigError`
    naming the estimator) and sets ``architecture`` (:class:`~.architecture.ArchitectureConfig`).
    """

    epochs: int = 200
    patience: int = 20
    batch_size: int = 50
    learning_rate: float = 1e-3
    l2: float = 1e-4
    l2_output: bool = False
    conv_filters: list[int] = field(default_factory=lambda: [24, 10, 24, 10])
    conv_kernels: list[int] = field(default_factory=lambda: [5, 3, 5, 3])
    pool_sizes: list[int] = field(default_factory=lambda: [4, 2])
    dense_units: list[int] = field(default_factory=lambda: [128, 128, 64])
    dropout: float = 0.0
    loss: Literal["mse", "mae", "gaussian_nll"] = "mse"
    n0: float = N0_DEFAULT
    input_scaling: Literal["standard", "none"] = "standard"
    target_scaling: Literal["minmax", "standard", "none"] = "minmax"
    mixed_precision: bool = False
    precision: Precision = DEFAULT_PRECISION
    xla: bool = False
    deterministic: Optional[bool] = None
    predict_batch_size: int = 256
    rebin: int = 1
    ensemble: int = 1

    def __post_init__(self) -> None:
        who = getattr(self, "name", "") or type(self).__name__
        for f in fields(self):  # lists and tuples are kept as list copies (never mutated)
            value = getattr(self, f.name)
            if isinstance(value, (list, tuple)):
                setattr(self, f.name, list(value))
        for key in ("epochs", "batch_size", "predict_batch_size", "rebin"):
            if int(getattr(self, key)) < 1:
                raise ConfigError(f"{who}: {key} must be >= 1, got {getattr(self, key)}")
        if int(self.patience) < 0:
            raise ConfigError(f"{who}: patience must be >= 0 (0 disables early stopping), got {self.patience}")
        if not float(self.learning_rate) > 0:
            raise ConfigError(f"{who}: learning_rate must be > 0, got {self.learning_rate}")
        if self.loss not in ("mse", "mae", "gaussian_nll"):
            raise ConfigError(
                f"{who}: loss must be 'mse' (paper, equation 8), 'mae' or 'gaussian_nll' (mean and log-sigma "
                f"heads, Gaussian negative log-likelihood), got {self.loss!r}"
            )
        self.ensemble = check_ensemble_size(self.ensemble, who)
        if self.input_scaling not in INPUT_SCALINGS:
            raise ConfigError(f"{who}: input_scaling must be one of {list(INPUT_SCALINGS)}, got {self.input_scaling!r}")
        if self.target_scaling not in TARGET_SCALINGS:
            raise ConfigError(
                f"{who}: target_scaling must be one of {list(TARGET_SCALINGS)}, got {self.target_scaling!r}"
            )
        check_precision(self.precision, who)
        check_legacy_flag(self.precision, "mixed_precision", bool(self.mixed_precision), who)
        if not float(self.n0) > 0:
            raise ConfigError(f"{who}: n0 (equation 1's pivot photon count) must be > 0, got {self.n0}")
        try:
            self.architecture = ArchitectureConfig(
                conv_filters=tuple(int(v) for v in self.conv_filters),
                conv_kernels=tuple(int(v) for v in self.conv_kernels),
                pool_sizes=tuple(int(v) for v in self.pool_sizes),
                dense_units=tuple(int(v) for v in self.dense_units),
                l2=float(self.l2),
                l2_output=bool(self.l2_output),
                dropout=float(self.dropout),
            )
        except ConfigError as exc:
            raise ConfigError(f"{who}: {exc}") from None

    @property
    def params(self) -> dict[str, Any]:
        """The params by name (list values copied): what ``estimator.json`` saves and ``load`` passes back."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), list) else v for f in fields(self)}


class CNNEstimator(CNNParams, Estimator):
    """Shared implementation; use :class:`SingleBandCNN` or :class:`MultiBandCNN`.

    Params: the fields of :class:`CNNParams` (attributes ``est.epochs``, ``est.dropout``, ...;
    ``est.params`` gives them as a dict).

    Fitted state: ``model_`` (Keras model, input ``(H, W, C)``), ``scaling_``
    (:class:`~.scaling.MapScaling`), ``history_`` (per-epoch Keras logs).
    """

    framework = "tensorflow"
    needs_gpu = True
    input_name: ClassVar[str] = ""
    channels: ClassVar[Optional[int]] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.model_: Any = None
        self.scaling_: Optional[MapScaling] = None
        self.history_: dict[str, list[float]] = {}
        self.input_shape_: Optional[tuple[int, int, int]] = None
        self._grad_fn: Any = None
        self._model_bytes: Optional[bytes] = None

    # ------------------------------------------------------------------ helpers
    def _require_fitted(self) -> None:
        if self.scaling_ is None or (self.model_ is None and self._model_bytes is None):
            raise RuntimeError(f"{self.name}: fit() or load() first")
        if self.model_ is None:
            self._restore_model_from_bytes()

    def _device(self) -> Any:
        from .tf_runtime import resolve_device

        return resolve_device(getattr(self.context, "device", "auto"))

    def _deterministic(self) -> bool:
        """Whether this estimator runs deterministically: its own ``deterministic`` param when set,
        else the run's setting (``context.deterministic``, from the benchmark's ``run.deterministic``)."""
        if self.deterministic is not None:
            return bool(self.deterministic)
        return bool(getattr(self.context, "deterministic", False))

    def _network_input(self, view: CatalogueView) -> np.ndarray:
        """Standardised network input z for ``view``: float32 (n, H, W, C)."""
        assert self.scaling_ is not None
        hwc = check_rebin(map_shape(view, self.input_name, self.channels), self.rebin, self.input_name)
        if self.input_shape_ is not None and tuple(hwc) != tuple(self.input_shape_):
            raise DataError(
                f"{self.name} was trained on network inputs of shape {tuple(self.input_shape_)} (H, W, C) but "
                f"input {self.input_name!r} of dataset {view.dataset!r} gives {tuple(hwc)} (rebin={self.rebin})"
            )
        x = preprocess_view(view, self.input_name, self.scaling_.redshift_norm, self.channels, rebin=self.rebin)
        return self.scaling_.standardise_(x)

    def _as_input_shape(self, arr: np.ndarray, view: CatalogueView) -> np.ndarray:
        """Drop the channel axis again where the dataset's input has none ((n, H, W) maps)."""
        if len(view.lazy(self.input_name).shape) == 3:
            return arr[..., 0]
        return arr

    # ------------------------------------------------------------------ training
    def fit(self, train: CatalogueView, val: CatalogueView) -> CNNEstimator:
        """Fit preprocessing on ``train``, then train the CNN with early stopping on ``val``."""
        t_start = time.perf_counter()
        from .tf_runtime import import_tf, op_determinism

        tf = import_tf()
        import keras

        from .architecture import build_cnn
        from .keras_callbacks import EpochTimer, HarnessProgress, StopOnNonFinite
        from .pipeline import evaluation_dataset, training_dataset
        from .precision import POLICIES, resolve

        ctx: RunContext = self.context
        device = self._device()
        if val is None or len(val) == 0:
            raise ConfigError(
                f"{self.name} needs a non-empty validation view for early stopping and best-weight restoring "
                "(paper section 4.1: 10% of the training folds); give the benchmark a validation fraction > 0"
            )
        if len(train) < 2:
            raise DataError(
                f"{self.name}: the training view of dataset {train.dataset!r} has {len(train)} "
                "clusters; at least 2 are needed"
            )

        # --- preprocessing constants from the training clusters only
        # one read of the training maps: raw counts, their totals for equation 1, then eq. 1-2 in place
        x_train = read_counts(train, self.input_name, self.channels, rebin=int(self.rebin))
        totals = x_train.reshape(len(x_train), -1).sum(axis=1, dtype=np.float64)
        try:
            norm = fit_redshift_normalisation(totals[:, None], train.redshift, n0=float(self.n0))
        except ValueError as exc:
            raise DataError(
                f"{self.name} on dataset {train.dataset!r}: {exc} (training view: {len(train)} clusters)"
            ) from None
        apply_equations_1_2_(x_train, train, self.input_name, norm)
        if self.input_scaling == "standard":
            mean, std = pixel_moments(x_train)
            std = std if std > 0 else 1.0
        else:
            mean, std = 0.0, 1.0
        y_train = np.asarray(train.log10_m500c, dtype=np.float64)
        offset, scale = fit_target_scaling(y_train, self.target_scaling)
        self.scaling_ = MapScaling(norm, mean, std, offset, scale, self.input_scaling, self.target_scaling)
        self.scaling_.standardise_(x_train)
        self.input_shape_ = tuple(int(s) for s in x_train.shape[1:])  # type: ignore[assignment]
        x_val = self._network_input(val)
        t_train = self.scaling_.scale_target(y_train)
        t_val = self.scaling_.scale_target(val.log10_m500c)

        # --- model, optimiser, pipeline: one network, or ``ensemble`` members with derived seeds
        deterministic = self._deterministic()
        precision = resolve(str(self.precision), bool(self.mixed_precision), device, deterministic, self.name)
        mixed = precision.used == "float16"
        xla = bool(self.xla) and not deterministic
        epochs = int(self.epochs)
        n_members = int(self.ensemble)
        gaussian = self.loss == "gaussian_nll"
        if gaussian or n_members > 1:
            from .probabilistic import MeanHeadRMS, add_gaussian_head, gaussian_nll, stack_members
        timer = EpochTimer()
        members: list[Any] = []
        histories: list[dict[str, list[float]]] = []
        n_train = len(x_train)
        nonfinite_epochs: list[int | None] = []
        with op_determinism(deterministic), tf.device(device.tf_name):
            ds_val = evaluation_dataset(x_val, t_val, int(self.predict_batch_size))
            del x_val  # the dataset holds its own copy
            for i, seed in enumerate(member_seeds(int(ctx.seed), n_members)):
                keras.utils.set_random_seed(int(seed) % (2**32))
                model = build_cnn(
                    self.input_shape_,
                    self.architecture,
                    name=self.name if n_members == 1 else f"member{i}",
                    seed=int(seed),
                    policy=POLICIES[precision.used],
                )
                if gaussian:
                    model = add_gaussian_head(model, float(self.l2), bool(self.l2_output), int(seed))
                optimizer: Any = keras.optimizers.Adam(learning_rate=float(self.learning_rate))
                if mixed:
                    optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
                model.compile(
                    optimizer=optimizer,
                    loss=gaussian_nll if gaussian else self.loss,
                    metrics=[MeanHeadRMS(name="rms") if gaussian else keras.metrics.RootMeanSquaredError(name="rms")],
                    jit_compile=xla,
                )
                ds_train = training_dataset(x_train, t_train, int(self.batch_size), int(seed))
                patience = int(self.patience)
                stopper = keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=patience if patience > 0 else epochs + 1, restore_best_weights=True
                )
                nonfinite = StopOnNonFinite()

                def progress(epoch: int, total: int, _i: int = i, **metrics: float) -> None:
                    ctx.progress(epoch=_i * epochs + epoch, total=n_members * epochs, **metrics)

                report = HarnessProgress(ctx.progress if n_members == 1 else progress, epochs, scale)
                history = model.fit(
                    ds_train,
                    validation_data=ds_val,
                    epochs=epochs,
                    verbose=0,
                    callbacks=[timer, nonfinite, stopper, report],
                    shuffle=False,
                )  # the pipeline shuffles (seeded)
                del ds_train
                members.append(model)
                histories.append({k: [float(v) for v in vals] for k, vals in history.history.items()})
                nonfinite_epochs.append(nonfinite.stopped_epoch)
            del x_train
            if n_members > 1:
                model = stack_members(members, self.input_shape_, self.name)
        self.model_ = model
        self._grad_fn = None
        self._model_bytes = None
        self.history_ = dict(histories[0])
        for i, h in enumerate(histories[1:], start=1):  # further members under "member<i>/<key>"
            self.history_.update({f"member{i}/{k}": v for k, v in h.items()})

        val_losses = self.history_.get("val_loss", [])
        best_epoch = int(np.argmin(val_losses)) + 1 if val_losses else len(self.history_.get("loss", []))
        ctx.info.update(
            {
                "device_used": device.label,
                "mixed_precision": mixed,
                **precision.info(),
                "xla": xla,
                "deterministic": deterministic,
                "epochs_trained": len(self.history_.get("loss", [])),
                "best_epoch": best_epoch,
                "best_val_loss": float(min(val_losses)) if val_losses else math.nan,
                "best_val_rms_dex": (
                    float(self.history_["val_rms"][best_epoch - 1]) * scale
                    if self.history_.get("val_rms")
                    else math.nan
                ),
                "train_images_per_s": timer.images_per_second(n_train),
                "fit_seconds": time.perf_counter() - t_start,
                "n_params": int(model.count_params()),
                "preprocessing": self.scaling_.to_dict(),
            }
        )
        if n_members > 1:
            ctx.info["ensemble"] = n_members
            ctx.info["ensemble_epochs_trained"] = [len(h.get("loss", [])) for h in histories]
            ctx.info["ensemble_best_val_loss"] = [float(min(h["val_loss"])) for h in histories if h.get("val_loss")]
        if nonfinite_epochs[0] is not None:
            ctx.info["stopped_on_nonfinite_loss"] = nonfinite_epochs[0]
        if any(e is not None for e in nonfinite_epochs[1:]):
            ctx.info["ensemble_stopped_on_nonfinite_loss"] = nonfinite_epochs
        if self.mixed_precision and not device.is_gpu:
            ctx.info["mixed_precision_note"] = "requested but ignored: mixed precision is for GPUs"
        elif self.mixed_precision and not mixed:
            ctx.info["mixed_precision_note"] = "requested but off: " + precision.note
        if self.xla and deterministic:
            ctx.info["xla_note"] = "requested but off: XLA is disabled while op determinism is on"
        return self

    # ------------------------------------------------------------------ inference
    @property
    def probabilistic(self) -> bool:
        """Whether :meth:`predict` returns a :class:`~massbench.Prediction` (``gaussian_nll`` or an ensemble)."""
        return self.loss == "gaussian_nll" or int(self.ensemble) > 1

    def predict(self, test: CatalogueView) -> np.ndarray | Prediction:
        """log10 M500c [h^-1 Msun] for every cluster of ``test``, in order (float64).

        With ``loss: gaussian_nll`` or ``ensemble`` > 1: a Gaussian :class:`~massbench.Prediction`
        (mean and sigma in dex): one member's mean and sigma head, or the mixture of the members
        (:func:`massbench.ensemble.combine`: mean of member variances + variance of member means).
        """
        self._require_fitted()
        from .tf_runtime import import_tf, op_determinism

        tf = import_tf()
        assert self.scaling_ is not None
        n_members, gaussian = int(self.ensemble), self.loss == "gaussian_nll"
        k = 2 if gaussian else 1
        raw = np.empty((len(test), n_members * k), dtype=np.float64)
        if len(test):
            device = self._device()
            bs = int(self.predict_batch_size)
            with op_determinism(self._deterministic()), tf.device(device.tf_name):
                for start in range(0, len(test), 1024):
                    sub = test.subview(np.arange(start, min(start + 1024, len(test))))
                    z = self._network_input(sub)
                    t = self.model_.predict(z, batch_size=bs, verbose=0)
                    raw[start : start + len(z)] = np.asarray(t, dtype=np.float64).reshape(len(z), -1)
        if not self.probabilistic:
            return self.scaling_.unscale_target(raw.reshape(-1))
        from .probabilistic import split_outputs

        means_t, log_sigmas = split_outputs(raw, n_members, gaussian)
        means = self.scaling_.unscale_target(means_t)
        sigmas = None if log_sigmas is None else np.exp(log_sigmas) * abs(self.scaling_.target_scale)
        return ensemble_prediction(means, sigmas)

    def transform(self, view: CatalogueView) -> dict[str, np.ndarray]:
        """Equation 2's x = log10(n + 1) of the redshift-normalised counts (eq. 1): the inputs explainers plot.

        Returned with the input's own shape ((n, H, W) for ``xray_map``, (n, H, W, 3) for
        ``xray_bands``), float32, at the input's resolution also when ``rebin`` > 1. Uses the
        fold's fitted equation-1 constants.
        """
        self._require_fitted()
        assert self.scaling_ is not None
        x = preprocess_view(view, self.input_name, self.scaling_.redshift_norm, self.channels)
        return {self.input_name: self._as_input_shape(x, view)}

    def input_standardisation(self) -> dict[str, float]:
        """The std of the pixel standardisation z = (x - mean) / std the network sees, in units of
        x = log10(n + 1) (1 with ``input_scaling: none``): d f / d z = std * :meth:`input_gradients`."""
        self._require_fitted()
        assert self.scaling_ is not None
        return {self.input_name: float(self.scaling_.pixel_std)}

    def input_gradients(self, view: CatalogueView, batch_size: int = 64) -> dict[str, np.ndarray]:
        """d(predicted log10 M500c) / d x, x = log10(n + 1) of the normalised counts (equations 1-2).

        For ``loss: gaussian_nll`` the gradient of the mean head; for an ensemble, of the members'
        average mean (the average of their gradients).

        Evaluated in inference mode (dropout off), batched; one array per cluster with the
        input's own shape, float32. The chain rule through the pixel standardisation and the
        target scaling is applied, so this is the gradient of the unscaled prediction in dex.
        With ``rebin`` = r > 1 the network sees X = log10(N + 1) of block sums N = sum n, and
        the gradient is carried to the input's pixels exactly: dX/dx = (n + 1) / (N + 1).
        Explainers take its absolute value (equation 10).
        """
        self._require_fitted()
        from .tf_runtime import import_tf, op_determinism

        tf = import_tf()
        assert self.scaling_ is not None and self.input_shape_ is not None
        device = self._device()
        r = int(self.rebin)
        hwc = map_shape(view, self.input_name, self.channels)
        check_rebin(hwc, r, self.input_name)
        grads = np.empty((len(view), *hwc), dtype=np.float32)
        factor = np.float32(self.scaling_.gradient_factor)
        norm = self.scaling_.redshift_norm
        with op_determinism(self._deterministic()), tf.device(device.tf_name):
            if self._grad_fn is None:
                model = self.model_
                probabilistic, n_members, gaussian = self.probabilistic, int(self.ensemble), self.loss == "gaussian_nll"
                if probabilistic:
                    from .probabilistic import mean_head

                @tf.function(
                    input_signature=[tf.TensorSpec((None, *self.input_shape_), tf.float32)], reduce_retracing=True
                )
                def grad_fn(z: Any) -> Any:
                    with tf.GradientTape() as tape:
                        tape.watch(z)
                        out = tf.cast(model(z, training=False), tf.float32)
                        if probabilistic:  # the mean head, averaged over the ensemble's members
                            out = mean_head(out, n_members, gaussian)
                        total = tf.reduce_sum(out)
                    return tape.gradient(total, z)

                self._grad_fn = grad_fn
            for start in range(0, len(view), 1024):
                sub = view.subview(np.arange(start, min(start + 1024, len(view))))
                z = self._network_input(sub)
                for b in range(0, len(z), batch_size):
                    g = self._grad_fn(tf.constant(z[b : b + batch_size])).numpy() * factor
                    if r > 1:  # chain rule through the block sums, back to the input's pixels
                        rows = np.arange(b, b + len(g))
                        n_fine = norm.apply(
                            np.asarray(sub.lazy(self.input_name)[rows], dtype=np.float32).reshape((-1, *hwc)),
                            sub.redshift[rows],
                        )
                        n_coarse = rebin_counts(n_fine, r)
                        g = np.repeat(np.repeat(g / (n_coarse + 1.0), r, axis=1), r, axis=2) * (n_fine + 1.0)
                    grads[start + b : start + b + len(g)] = g
        return {self.input_name: self._as_input_shape(grads, view)}

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """Write ``model.keras``, ``preprocessing.json``, ``estimator.json`` and ``history.json``."""
        self._require_fitted()
        from .tf_runtime import import_tf

        tf = import_tf()
        import keras

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model_.save(directory / MODEL_FILE)
        assert self.scaling_ is not None
        self.scaling_.save(directory / SCALING_FILE)
        meta = {
            "estimator": self.name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "params": self.params,
            "input_name": self.input_name,
            "input_shape": list(self.input_shape_ or ()),
            "versions": {"massbench": massbench_version, "tensorflow": tf.__version__, "keras": keras.__version__},
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        (directory / HISTORY_FILE).write_text(json.dumps(self.history_, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> "CNNEstimator":
        """Restore an estimator saved by :meth:`save`; it predicts exactly as the saved one did."""
        directory = Path(directory)
        meta_path = directory / META_FILE
        if not meta_path.is_file():
            raise DataError(f"{meta_path}: missing; {directory} is not a saved {cls.name} model")
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError as exc:
            raise DataError(f"{meta_path}: not valid JSON ({exc})") from None
        if meta.get("estimator") != cls.name:
            raise DataError(f"{meta_path}: holds a {meta.get('estimator')!r} model, not {cls.name!r}")
        try:
            est = cls(**meta["params"])
        except TypeError as exc:
            raise DataError(f"{meta_path}: its params no longer match {cls.name} ({exc}); re-run the fold") from None
        est.scaling_ = MapScaling.load(directory / SCALING_FILE)
        est.input_shape_ = tuple(int(s) for s in meta["input_shape"])  # type: ignore[assignment]
        model_path = directory / MODEL_FILE
        if not model_path.is_file():
            raise DataError(f"{model_path}: missing; re-run the fold")
        from .tf_runtime import import_tf

        import_tf()
        import keras

        est.model_ = keras.models.load_model(model_path, compile=False)
        history_path = directory / HISTORY_FILE
        if history_path.is_file():
            est.history_ = json.loads(history_path.read_text())
        return est

    # pickling (distributed executors ship estimators between processes): the Keras model
    # travels as the bytes of its ``.keras`` file and is rebuilt on first use.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_grad_fn"] = None
        model = state.pop("model_", None)
        if model is not None:
            tmp = Path(tempfile.mkdtemp(prefix="massbench-cnn-"))
            try:
                model.save(tmp / MODEL_FILE)
                state["_model_bytes"] = (tmp / MODEL_FILE).read_bytes()
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        state["model_"] = None
        ctx = state.get("context")
        if isinstance(ctx, RunContext):  # the progress callback may be a closure: leave it behind
            state["context"] = replace(ctx, progress=RunContext().progress)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        legacy = state.pop("params", None)  # pickles of the dict-of-params era
        if isinstance(legacy, dict):
            for key, value in legacy.items():
                state.setdefault(key, value)
        self.__dict__.update(state)

    def _restore_model_from_bytes(self) -> None:
        from .tf_runtime import import_tf

        import_tf()
        import keras

        assert self._model_bytes is not None
        tmp = Path(tempfile.mkdtemp(prefix="massbench-cnn-"))
        try:
            (tmp / MODEL_FILE).write_bytes(self._model_bytes)
            self.model_ = keras.models.load_model(tmp / MODEL_FILE, compile=False)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._model_bytes = None


class SingleBandCNN(CNNEstimator):
    """``cnn-single-band``: the CNN of section 4 on 0.5-10 keV photon maps (``xray_map``, 128x128x1).

    Paper defaults (:class:`CNNParams`): up to 200 epochs, early stopping patience 20, batch 50,
    Adam 1e-3, L2 1e-4, MSE loss, no dropout.
    """

    name = "cnn-single-band"
    inputs = ("xray_map",)
    input_name = "xray_map"
    channels = 1


@dataclass(eq=False)
class MultiBandCNN(CNNEstimator):
    """``cnn-multi-band``: the same CNN on soft/medium/hard band maps as channels (``xray_bands``, 128x128x3).

    Defaults as :class:`SingleBandCNN` except dropout 0.1 after each hidden dense layer (the
    paper's notebook). The notebook trained this model with MAE; the paper's text says MSE,
    which is the default here (``loss: mae`` reproduces the notebook).
    """

    name = "cnn-multi-band"
    inputs = ("xray_bands",)
    input_name = "xray_bands"
    channels = 3

    dropout: float = 0.1
