"""Preprocessing constants of the CNN estimators, fitted on a fold's training clusters only.

The network input is built in three steps:

1. equation 1, ``n = m N0 / 10**(gamma z + eta)`` (redshift normalisation of the raw counts m),
2. equation 2, ``x = log10(n + 1)``,
3. ``z = (x - pixel_mean) / pixel_std``: one scalar mean and standard deviation over every
   training pixel (the paper's notebook does the same over the *whole* data set, test
   clusters included; here it is the training fold only).

The target log10 M500c [h^-1 Msun] is scaled to ``t = (log10 M - target_offset) / target_scale``;
with the default ``"minmax"`` the training fold's masses span [-1, 1] (the notebook uses the
full set's minimum and maximum). All constants are saved with the model and applied unchanged
to validation and test clusters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from massbench.errors import ConfigError, DataError
from massbench.preprocessing import RedshiftNormalisation

INPUT_SCALINGS = ("standard", "none")
TARGET_SCALINGS = ("minmax", "standard", "none")


@dataclass(frozen=True)
class MapScaling:
    """Fitted constants: equation 1's normalisation, pixel standardisation, target scaling.

    ``pixel_mean``/``pixel_std`` are in units of x = log10(n + 1); ``target_offset`` and
    ``target_scale`` in dex of M500c [h^-1 Msun].
    """

    redshift_norm: RedshiftNormalisation
    pixel_mean: float = 0.0
    pixel_std: float = 1.0
    target_offset: float = 0.0
    target_scale: float = 1.0
    input_scaling: str = "standard"
    target_scaling: str = "minmax"

    def standardise_(self, x: np.ndarray) -> np.ndarray:
        """Step 3 in place on a float32 array of x values; returns it."""
        if self.pixel_mean != 0.0:
            x -= np.float32(self.pixel_mean)
        if self.pixel_std != 1.0:
            x *= np.float32(1.0 / self.pixel_std)
        return x

    def scale_target(self, log10_m: np.ndarray) -> np.ndarray:
        """log10 M500c [h^-1 Msun] -> network target (float32)."""
        return ((np.asarray(log10_m, dtype=np.float64) - self.target_offset) / self.target_scale).astype(np.float32)

    def unscale_target(self, t: np.ndarray) -> np.ndarray:
        """Network output -> log10 M500c [h^-1 Msun] (float64)."""
        return self.target_offset + self.target_scale * np.asarray(t, dtype=np.float64)

    @property
    def gradient_factor(self) -> float:
        """d log10 M / d x = gradient_factor * d(network output) / d(network input z)."""
        return self.target_scale / self.pixel_std

    def to_dict(self) -> dict[str, Any]:
        return {
            "equation_1": self.redshift_norm.to_dict(),
            "pixel_mean": self.pixel_mean,
            "pixel_std": self.pixel_std,
            "target_offset": self.target_offset,
            "target_scale": self.target_scale,
            "input_scaling": self.input_scaling,
            "target_scaling": self.target_scaling,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MapScaling":
        return cls(
            redshift_norm=RedshiftNormalisation.from_dict(d["equation_1"]),
            pixel_mean=float(d["pixel_mean"]),
            pixel_std=float(d["pixel_std"]),
            target_offset=float(d["target_offset"]),
            target_scale=float(d["target_scale"]),
            input_scaling=str(d.get("input_scaling", "standard")),
            target_scaling=str(d.get("target_scaling", "minmax")),
        )

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "MapScaling":
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: preprocessing constants are missing (the model directory is incomplete)")
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (KeyError, ValueError, TypeError) as exc:
            raise DataError(f"{path}: unreadable preprocessing constants ({exc}); re-run the fold") from exc


def pixel_moments(x: np.ndarray, chunk: int = 256) -> tuple[float, float]:
    """Mean and standard deviation over every pixel of ``x`` (float64 sums, streamed in chunks)."""
    n = 0
    s = 0.0
    s2 = 0.0
    for start in range(0, len(x), chunk):
        block = np.asarray(x[start : start + chunk])
        n += block.size
        s += float(block.sum(dtype=np.float64))
        s2 += float(np.square(block).sum(dtype=np.float64))
    if n == 0:
        raise DataError("no training pixels to standardise")
    mean = s / n
    var = max(s2 / n - mean * mean, 0.0)
    return mean, float(np.sqrt(var))


def fit_target_scaling(log10_m: np.ndarray, method: str) -> tuple[float, float]:
    """``(offset, scale)`` of the target scaling from training masses [log10 h^-1 Msun]."""
    y = np.asarray(log10_m, dtype=np.float64)
    if method == "none":
        return 0.0, 1.0
    if method == "minmax":
        lo, hi = float(y.min()), float(y.max())
        half = (hi - lo) / 2.0
        return (hi + lo) / 2.0, half if half > 0 else 1.0
    if method == "standard":
        sd = float(y.std())
        return float(y.mean()), sd if sd > 0 else 1.0
    raise ConfigError(f"target_scaling must be one of {list(TARGET_SCALINGS)}, got {method!r}")
