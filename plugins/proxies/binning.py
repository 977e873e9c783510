"""Redshift bins for the per-bin scaling fits of section 3 ("distinct pi and alpha for each
redshift bin of our mock catalogue").

A binning is given as a short spec string (the ``--z-bins`` option of ``massbench proxies``
and the ``redshift_bins`` param of the proxy estimators):

``"snapshot"`` (default)
    one bin per distinct redshift after rounding to ``decimals`` places (4 by default):
    the 11 Magneticum snapshots of the paper. A cluster whose rounded redshift has no
    training bin (a test cluster of an unseen snapshot) goes to the nearest bin in redshift.
``"none"``
    a single bin holding every cluster.
``"<N>"`` (an integer, e.g. ``"4"``)
    N bins of (nearly) equal counts, edges at the training redshifts' quantiles.
``"<z1>,<z2>,...,<zk>"`` (at least two increasing numbers)
    bins ``[z_i, z_{i+1})``; a redshift below ``z1`` joins the first bin, one at or above
    ``zk`` the last.

Each bin is represented by the mean redshift of its training clusters (for snapshot bins, the
snapshot redshift itself; the rounded value is kept as the bin's key in ``z_lo``/``z_hi``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from massbench.errors import ConfigError


@dataclass(frozen=True)
class BinScheme:
    """How to cut clusters into redshift bins (see the module docstring for the spec grammar)."""

    kind: str  # "snapshot" | "none" | "quantile" | "edges"
    decimals: int = 4
    n_bins: int = 0  # quantile
    edges: tuple[float, ...] = ()  # edges

    @classmethod
    def parse(cls, spec: str | int | None, decimals: int = 4) -> "BinScheme":
        """Parse a spec string; bad specs raise a ConfigError saying what is accepted."""
        if spec is None:
            spec = "snapshot"
        text = str(spec).strip().lower()
        usage = (
            "use 'snapshot' (one bin per distinct rounded redshift), 'none' (one bin), an integer N "
            "(N equal-count bins) or increasing comma-separated edges such as '0.1,0.2,0.3'"
        )
        if text in ("snapshot", "snapshots", ""):
            return cls("snapshot", decimals=int(decimals))
        if text in ("none", "1", "all"):
            return cls("none", decimals=int(decimals))
        if "," in text:
            try:
                edges = tuple(float(t) for t in text.split(",") if t.strip())
            except ValueError:
                raise ConfigError(f"redshift bins {spec!r}: not a list of numbers; {usage}") from None
            if len(edges) < 2 or np.any(np.diff(edges) <= 0):
                raise ConfigError(f"redshift bins {spec!r}: edges must be at least two increasing numbers; {usage}")
            return cls("edges", decimals=int(decimals), edges=edges)
        try:
            n = int(text)
        except ValueError:
            raise ConfigError(f"redshift bins {spec!r} not understood; {usage}") from None
        if n < 1:
            raise ConfigError(f"redshift bins {spec!r}: the number of bins must be at least 1; {usage}")
        return cls("quantile", decimals=int(decimals), n_bins=n)

    def spec(self) -> str:
        """The spec string that parses back to this scheme."""
        if self.kind == "quantile":
            return str(self.n_bins)
        if self.kind == "edges":
            return ",".join(repr(float(e)) for e in self.edges)
        return self.kind

    def fit(self, redshift: np.ndarray) -> "RedshiftBins":
        """The bins of a (training) sample and each cluster's bin index."""
        z = np.asarray(redshift, dtype=float)
        if self.kind == "snapshot":
            keys, inverse = np.unique(np.round(z, self.decimals), return_inverse=True)
            rep = np.bincount(inverse, weights=z, minlength=len(keys)) / np.bincount(inverse, minlength=len(keys))
            return RedshiftBins(self.kind, rep, keys.copy(), keys.copy(), decimals=self.decimals)
        if self.kind == "none":
            return RedshiftBins(
                self.kind,
                np.array([float(np.mean(z)) if len(z) else 0.0]),
                np.array([-np.inf]),
                np.array([np.inf]),
                decimals=self.decimals,
            )
        if self.kind == "quantile":
            inner = np.quantile(z, np.linspace(0.0, 1.0, self.n_bins + 1)[1:-1]) if len(z) else np.zeros(0)
            edges = np.concatenate([[-np.inf], inner, [np.inf]])
        else:
            edges = np.concatenate([[-np.inf], np.asarray(self.edges[1:-1], dtype=float), [np.inf]])
        lo, hi = edges[:-1], edges[1:]
        idx = np.clip(np.searchsorted(edges[1:-1], z, side="right"), 0, len(lo) - 1)
        rep = np.array([float(np.mean(z[idx == b])) if np.any(idx == b) else float("nan") for b in range(len(lo))])
        if self.kind == "edges":
            # display the user's outer edges rather than infinities
            lo = lo.copy()
            hi = hi.copy()
            lo[0], hi[-1] = self.edges[0], self.edges[-1]
        return RedshiftBins(self.kind, rep, lo, hi, decimals=self.decimals, inner_edges=edges[1:-1])


@dataclass
class RedshiftBins:
    """Fitted redshift bins: a representative redshift and the range of each bin.

    ``assign(z)`` gives each redshift its bin index: the nearest bin redshift for snapshot
    bins, the enclosing range (clipped to the outer bins) for quantile and edge bins.
    """

    kind: str
    redshift: np.ndarray  # (n_bins,) mean redshift of each bin's clusters
    z_lo: np.ndarray  # (n_bins,) lower edge (snapshot bins: the rounded snapshot redshift)
    z_hi: np.ndarray  # (n_bins,) upper edge (snapshot bins: the rounded snapshot redshift)
    decimals: int = 4
    inner_edges: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.redshift)

    def assign(self, redshift: np.ndarray) -> np.ndarray:
        """Bin index (int64) of each redshift."""
        z = np.asarray(redshift, dtype=float)
        if self.kind == "none" or len(self) == 1:
            return np.zeros(len(z), dtype=np.int64)
        if self.kind == "snapshot":
            # z_lo == z_hi == the rounded snapshot redshift of the bin
            zr = np.round(z, self.decimals)
            return np.argmin(np.abs(zr[:, None] - self.z_lo[None, :]), axis=1).astype(np.int64)
        return np.clip(np.searchsorted(self.inner_edges, z, side="right"), 0, len(self) - 1).astype(np.int64)

    def describe(self, b: int) -> str:
        """``z=0.1742`` for a snapshot bin, ``z in [0.10, 0.20) (mean 0.1534)`` otherwise."""
        if self.kind == "snapshot":
            return f"z={self.z_lo[b]:.{self.decimals}f}"
        if self.kind == "none":
            return "the single redshift bin"
        lo = "-inf" if not np.isfinite(self.z_lo[b]) else f"{self.z_lo[b]:.4g}"
        hi = "inf" if not np.isfinite(self.z_hi[b]) else f"{self.z_hi[b]:.4g}"
        return f"z in [{lo}, {hi}) (mean z={self.redshift[b]:.4f})"

    def to_dict(self) -> dict[str, Any]:
        def fl(a: np.ndarray) -> list[float | str]:
            return [float(v) if np.isfinite(v) else ("inf" if v > 0 else "-inf") for v in np.asarray(a, float)]

        return {
            "kind": self.kind,
            "redshift": fl(self.redshift),
            "z_lo": fl(self.z_lo),
            "z_hi": fl(self.z_hi),
            "decimals": self.decimals,
            "inner_edges": fl(self.inner_edges),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RedshiftBins":
        def arr(v: list[Any]) -> np.ndarray:
            return np.array([float(x) for x in v], dtype=float)

        return cls(
            d["kind"],
            arr(d["redshift"]),
            arr(d["z_lo"]),
            arr(d["z_hi"]),
            int(d.get("decimals", 4)),
            arr(d.get("inner_edges", [])),
        )
