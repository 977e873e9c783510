"""Keras callbacks of the CNN estimators (this module imports Keras: import it lazily, inside ``fit``)."""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import keras


class HarnessProgress(keras.callbacks.Callback):
    """Reports each finished epoch to the harness's progress callback.

    Calls ``progress(epoch=e, total=epochs, loss=..., val_loss=..., val_rms_dex=...)`` with the
    1-based epoch; losses are Keras's (scaled target, L2 term included); ``val_rms_dex`` is the
    validation root-mean-square error of log10 M500c in dex.
    """

    def __init__(self, progress: Callable[..., None], total: int, target_scale: float):
        super().__init__()
        self._progress = progress
        self._total = int(total)
        self._target_scale = float(target_scale)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        metrics: dict[str, float] = {}
        for key in ("loss", "val_loss"):
            if key in logs:
                metrics[key] = float(logs[key])
        if "val_rms" in logs:
            metrics["val_rms_dex"] = float(logs["val_rms"]) * self._target_scale
        self._progress(epoch=epoch + 1, total=self._total, **metrics)


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch's training steps: from epoch start to the start of validation.

    (No per-batch hook, so that timing adds no per-step synchronisation.)
    """

    def __init__(self) -> None:
        super().__init__()
        self.train_seconds: list[float] = []
        self._t0: float | None = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self._t0 is not None:
            self.train_seconds.append(time.perf_counter() - self._t0)
            self._t0 = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._t0 is not None:  # no validation this epoch
            self.train_seconds.append(time.perf_counter() - self._t0)
            self._t0 = None

    def images_per_second(self, n_train: int) -> float:
        """Training throughput: median over epochs after the first (which includes tracing)."""
        times = self.train_seconds[1:] or self.train_seconds
        times = sorted(t for t in times if t > 0)
        if not times:
            return math.nan
        return n_train / times[len(times) // 2]


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training after an epoch whose training loss is NaN or infinite (checked per epoch,
    so that no per-step synchronisation is added); early stopping then restores the best weights."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True
