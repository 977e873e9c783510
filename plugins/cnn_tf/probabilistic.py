"""Probabilistic heads for the CNNs: ``loss: gaussian_nll`` and deep ensembles (``ensemble: N``).

``loss: gaussian_nll`` keeps the paper's body (:func:`~.architecture.build_cnn`, its mean output
layer ``output`` included) and adds a second float32 ``Dense(1)`` head, ``log_sigma``, on the last
hidden layer, as Krippendorf et al. (2023). The model's output is ``(n, 2)``: the mean and
log sigma of a Gaussian in the *scaled* target t (:mod:`.scaling`). The loss is the Gaussian
negative log-likelihood per cluster, in float32::

    NLL = 0.5 ((t - mean) / sigma)^2 + log sigma        (+ 0.5 log 2 pi, dropped)

with log sigma clipped to :data:`LOG_SIGMA_CLIP` for stability (the same clip is applied at
prediction). The predictive sigma in dex of log10 M500c is ``sigma * |target_scale|``.

A deep ensemble of N members (Lakshminarayanan et al. 2017) is one Keras model,
:func:`stack_members`: the N trained member models applied to the same input, their outputs
stacked to ``(n, N, k)`` (k = 1 for a point loss, 2 for ``gaussian_nll``), so that saving,
loading, pickling and gradients go through one ``model.keras``. :func:`split_outputs` turns
any of these outputs into per-member means and log sigmas; the numpy combination is
:mod:`massbench.ensemble`.

Imports Keras at module level: import this module lazily, inside ``fit`` / ``predict``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

GAUSSIAN_NLL = "gaussian_nll"
#: log sigma (scaled-target units) is clipped to this range in the loss and at prediction.
LOG_SIGMA_CLIP = (-9.0, 5.0)


@keras.saving.register_keras_serializable(package="massbench")
def gaussian_nll(y_true: Any, y_pred: Any) -> Any:
    """Per-cluster Gaussian NLL of the scaled target (float32); ``y_pred[:, 0]`` mean, ``[:, 1]`` log sigma."""
    ops = keras.ops
    y = ops.cast(ops.reshape(y_true, (-1,)), "float32")
    pred = ops.cast(y_pred, "float32")
    mean = pred[:, 0]
    log_sigma = ops.clip(pred[:, 1], LOG_SIGMA_CLIP[0], LOG_SIGMA_CLIP[1])
    return 0.5 * ops.square((y - mean) * ops.exp(-log_sigma)) + log_sigma


@keras.saving.register_keras_serializable(package="massbench")
class MeanHeadRMS(keras.metrics.RootMeanSquaredError):
    """Root-mean-square error of the mean head only (column 0 of a ``(n, 2)`` output), scaled target."""

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        return super().update_state(y_true, y_pred[:, :1], sample_weight=sample_weight)


def add_gaussian_head(model: Any, l2: float, l2_output: bool, seed: int | None) -> Any:
    """The model of :func:`~.architecture.build_cnn` with a ``log_sigma`` head beside its ``output``.

    The new head is ``Dense(1)``, linear, float32, on the input of ``output`` (the last hidden
    layer), Glorot-initialised with a seed derived from ``seed``, bias 0 (sigma starts near 1 in
    scaled units), with L2 on its kernel exactly when the output layer has it (``l2_output``).
    Returns an uncompiled model with output ``(n, 2)``: [mean, log sigma].
    """
    L = keras.layers
    hidden = model.get_layer("output").input
    init_seed = None if seed is None else int(np.random.SeedSequence([int(seed) % 2**63, 7]).generate_state(1)[0] >> 1)
    log_sigma = L.Dense(
        1,
        activation="linear",
        kernel_regularizer=keras.regularizers.L2(l2) if (l2_output and l2 > 0) else None,
        kernel_initializer=keras.initializers.GlorotUniform(seed=init_seed),
        name="log_sigma",
        dtype="float32",
    )(hidden)
    out = L.Concatenate(axis=-1, name="mean_log_sigma", dtype="float32")([model.output, log_sigma])
    return keras.Model(model.input, out, name=model.name)


def stack_members(members: list[Any], input_shape: tuple[int, ...], name: str) -> Any:
    """One model applying every member to the same input: output ``(n, N, k)`` (float32)."""
    L = keras.layers
    inputs = keras.Input(shape=tuple(int(s) for s in input_shape), name="x")
    outs = [m(inputs) for m in members]
    k = int(outs[0].shape[-1])
    joined = L.Concatenate(axis=-1, name="members", dtype="float32")(outs) if len(outs) > 1 else outs[0]
    stacked = L.Reshape((len(members), k), name="stack", dtype="float32")(joined)
    return keras.Model(inputs, stacked, name=name)


def split_outputs(out: np.ndarray, n_members: int, gaussian: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Raw model outputs -> ``(means, log_sigmas)``, each ``(N, n)`` in scaled-target units
    (``log_sigmas`` None for a point loss; clipped to :data:`LOG_SIGMA_CLIP`)."""
    k = 2 if gaussian else 1
    arr = np.asarray(out, dtype=np.float64).reshape(-1, int(n_members), k)
    means = arr[..., 0].T
    if not gaussian:
        return means, None
    return means, np.clip(arr[..., 1].T, *LOG_SIGMA_CLIP)


def mean_head(out: Any, n_members: int, gaussian: bool) -> Any:
    """The ensemble's mean prediction (scaled target) as a tensor ``(n,)``: the average of the
    members' mean heads, whose gradient is the saliency of a probabilistic or ensemble CNN."""
    ops = keras.ops
    k = 2 if gaussian else 1
    arr = ops.reshape(ops.cast(out, "float32"), (-1, int(n_members), k))
    return ops.mean(arr[..., 0], axis=1)
