"""From catalogue views to network inputs, and the ``tf.data`` pipelines that feed Keras.

Preprocessing (equations 1 and 2, then standardisation) runs once per fit in numpy, streaming
the view's rows in chunks into one float32 array ``(n, H, W, C)`` (3,285 clusters of
128x128x3 are 0.6 GB). The training pipeline then shuffles *indices* (seeded, reshuffled
every epoch), gathers whole batches from that array and prefetches, so the accelerator never
waits on Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from massbench.errors import DataError
from massbench.preprocessing import RedshiftNormalisation

CHUNK_ROWS = 256


def map_shape(view: Any, input_name: str, channels: int | None) -> tuple[int, int, int]:
    """``(H, W, C)`` of the network input for ``view[input_name]``; checks the array's rank.

    ``channels`` is the expected channel count (1: a single map without channel axis,
    ``(n, H, W)``, or with one, ``(n, H, W, 1)``; 3: ``(n, H, W, 3)``), or ``None`` for any.
    """
    shape = tuple(view.lazy(input_name).shape)
    if len(shape) == 3:
        hwc = (shape[1], shape[2], 1)
    elif len(shape) == 4:
        hwc = (shape[1], shape[2], shape[3])
    else:
        raise DataError(
            f"input {input_name!r} of dataset {view.dataset!r} has shape {shape}; the CNN needs photon maps "
            "shaped (clusters, H, W) or (clusters, H, W, channels)"
        )
    if channels is not None and hwc[2] != channels:
        raise DataError(
            f"input {input_name!r} of dataset {view.dataset!r} has {hwc[2]} channels (shape {shape}); "
            f"this estimator expects {channels}"
        )
    return hwc  # type: ignore[return-value]


def rebin_counts(counts: np.ndarray, factor: int) -> np.ndarray:
    """Sum photon counts ``(n, H, W, C)`` in ``factor`` x ``factor`` pixel blocks: ``(n, H/f, W/f, C)``.

    Sums keep every photon (and equation 1's totals); ``H`` and ``W`` must be multiples of ``factor``.
    """
    if factor == 1:
        return counts
    n, h, w, c = counts.shape
    return counts.reshape(n, h // factor, factor, w // factor, factor, c).sum(axis=(2, 4), dtype=np.float32)


def check_rebin(hwc: tuple[int, int, int], factor: int, input_name: str) -> tuple[int, int, int]:
    """Network input shape after rebinning maps of shape ``hwc`` by ``factor``."""
    h, w, c = hwc
    if factor < 1 or h % factor or w % factor:
        raise DataError(
            f"rebin={factor} does not divide the {h}x{w} pixel maps of input {input_name!r}; "
            "use a divisor of the map size (1, 2, 4, ...)"
        )
    return h // factor, w // factor, c


def read_counts(
    view: Any, input_name: str, channels: int | None = None, rebin: int = 1, chunk: int = CHUNK_ROWS
) -> np.ndarray:
    """Raw photon counts of ``view[input_name]`` as float32 ``(n, H/rebin, W/rebin, C)``, streamed in chunks."""
    hwc = map_shape(view, input_name, channels)
    h, w, c = check_rebin(hwc, rebin, input_name)
    out = np.empty((len(view), h, w, c), dtype=np.float32)
    acc = view.lazy(input_name)
    for start in range(0, len(view), chunk):
        counts = np.asarray(acc[start : start + chunk], dtype=np.float32).reshape((-1, *hwc))
        out[start : start + len(counts)] = rebin_counts(counts, rebin)
    return out


def apply_equations_1_2_(
    counts: np.ndarray, view: Any, input_name: str, norm: RedshiftNormalisation, chunk: int = CHUNK_ROWS
) -> np.ndarray:
    """Equations 1 and 2 in place on float32 counts of ``view``'s clusters: x = log10(m N0 / 10**(gamma z + eta) + 1).

    The same float32 operations as :func:`massbench.preprocessing.preprocess_maps`, without its
    temporaries. Raw counts must be finite and non-negative; the first offending cluster is named.
    """
    for start in range(0, len(counts), chunk):
        x = counts[start : start + chunk]
        z = view.redshift[start : start + len(x)]
        np.multiply(x, norm.factor(z).astype(np.float32).reshape((-1,) + (1,) * (x.ndim - 1)), out=x)
        np.add(x, np.float32(1.0), out=x)
        np.log10(x, out=x)
        bad = ~np.isfinite(x).reshape(len(x), -1).all(axis=1)
        if bad.any():
            i = start + int(np.argmax(bad))
            raise DataError(
                f"input {input_name!r} of dataset {view.dataset!r}: cluster {view.cluster_id[i]} gives non-finite "
                "log10(n + 1) (negative or NaN counts?); photon maps must hold counts >= 0"
            )
    return counts


def preprocess_view(
    view: Any,
    input_name: str,
    norm: RedshiftNormalisation,
    channels: int | None = None,
    chunk: int = CHUNK_ROWS,
    rebin: int = 1,
) -> np.ndarray:
    """Equations 1 and 2 on every row of ``view[input_name]``: float32 ``(n, H, W, C)`` of x = log10(n + 1).

    With ``rebin`` > 1 the raw counts are first summed in ``rebin`` x ``rebin`` blocks
    (:func:`rebin_counts`).
    """
    counts = read_counts(view, input_name, channels, rebin, chunk)
    return apply_equations_1_2_(counts, view, input_name, norm, chunk)


def training_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> Any:
    """Shuffled (seeded, every epoch anew), batched, prefetched ``(x, y)`` pairs from in-memory arrays."""
    from .tf_runtime import import_tf

    tf = import_tf()
    with tf.device("/CPU:0"):
        xt = tf.constant(x)
        yt = tf.constant(np.asarray(y, dtype=np.float32).reshape(-1, 1))
    n = len(x)
    ds = tf.data.Dataset.range(n).shuffle(n, seed=int(seed) % (2**31), reshuffle_each_iteration=True)
    ds = ds.batch(int(batch_size)).map(
        lambda i: (tf.gather(xt, i), tf.gather(yt, i)), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return _lean(ds.prefetch(tf.data.AUTOTUNE))


def evaluation_dataset(x: np.ndarray, y: np.ndarray | None, batch_size: int) -> Any:
    """Batched, prefetched inputs (and targets) in view order."""
    from .tf_runtime import import_tf

    tf = import_tf()
    with tf.device("/CPU:0"):
        xt = tf.constant(x)
        yt = None if y is None else tf.constant(np.asarray(y, dtype=np.float32).reshape(-1, 1))
    ds = tf.data.Dataset.range(len(x)).batch(int(batch_size))
    if yt is None:
        ds = ds.map(lambda i: tf.gather(xt, i), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        ds = ds.map(
            lambda i: (tf.gather(xt, i), tf.gather(yt, i)), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
    return _lean(ds.prefetch(tf.data.AUTOTUNE))


def _lean(ds: Any) -> Any:
    """Skip tf.data's static graph rewrites (nothing to gain on a gather pipeline; as Keras does for arrays)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    return ds.with_options(options)
