"""Collecting the distributions of probabilistic estimators' unit records into scores and predictions.csv columns.

:mod:`massbench.collect` calls :meth:`UnitDistributions.add` for every finished unit of an
estimator and :meth:`UnitDistributions.scores` once all are in; the maths is :mod:`massbench.scoring`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .records import UnitRecord
from .scoring import ClusterScores, ProbabilisticScores, cluster_scores, score_distributions

#: Columns of predictions.csv after the point columns (empty for point estimators): the Prediction's
#: form, the predictive standard deviation [dex], the predictive 16 % and 84 % quantiles of
#: log10 M500c [h^-1 Msun] (empty where a quantile form does not reach them) and the PIT (the
#: predictive CDF at the true mass). See massbench.scoring for how each form defines them.
DISTRIBUTION_COLUMNS = [
    "pred_kind",
    "log10_m500c_sigma",
    "log10_m500c_q16",
    "log10_m500c_q84",
    "pit",
]


def distribution_columns(cs: ClusterScores | None, j: int) -> list[Any]:
    """The :data:`DISTRIBUTION_COLUMNS` values of the ``j``-th test cluster of a unit (Nones for a point unit)."""
    if cs is None:
        return [None] * len(DISTRIBUTION_COLUMNS)
    return [cs.kind, float(cs.sigma[j]), float(cs.q16[j]), float(cs.q84[j]), float(cs.pit[j])]


class UnitDistributions:
    """Per-cluster scores of one estimator's units, by repeat and catalogue index."""

    def __init__(self) -> None:
        self.by_repeat: dict[int, dict[int, tuple[ClusterScores, int]]] = {}
        self.point_units = 0

    def add(self, rec: UnitRecord, index: Sequence[int], truth: np.ndarray) -> ClusterScores | None:
        """Score a finished unit's distribution against the true masses (None for a point unit)."""
        pred = rec.prediction_object()
        if pred is None:
            self.point_units += 1
            return None
        idx = np.asarray(index, dtype=np.int64)
        cs = cluster_scores(pred, truth[idx])
        got = self.by_repeat.setdefault(rec.repeat, {})
        for j, i in enumerate(idx.tolist()):
            got[i] = (cs, j)
        return cs

    def scores(
        self, index: np.ndarray, repeats: Sequence[int], residuals: np.ndarray, groups: np.ndarray, seed: int
    ) -> ProbabilisticScores | None:
        """The row's scores over the clusters ``index`` (catalogue order of ``residuals``), or None unless
        every unit gave a distribution."""
        if self.point_units or not self.by_repeat or any(k not in self.by_repeat for k in repeats):
            return None
        per_repeat = []
        for k in repeats:
            got = self.by_repeat[k]
            if any(i not in got for i in index.tolist()):
                return None
            per_repeat.append(_gather([got[i] for i in index.tolist()]))
        return score_distributions(per_repeat, residuals, groups, seed=seed)

    def sigmas(self, index: np.ndarray, repeats: Sequence[int]) -> np.ndarray | None:
        """Predictive standard deviations [dex], shape (repeats, len(index)), or None unless every unit
        of those repeats gave a distribution for every cluster of ``index``."""
        if self.point_units or any(k not in self.by_repeat for k in repeats):
            return None
        out = []
        for k in repeats:
            got = self.by_repeat[k]
            if any(i not in got for i in index.tolist()):
                return None
            out.append([got[i][0].sigma[got[i][1]] for i in index.tolist()])
        return np.asarray(out, dtype=np.float64)


def _gather(items: list[tuple[ClusterScores, int]]) -> ClusterScores:
    """Cluster scores of several units, one cluster each, as one ClusterScores in the given order."""

    def col(name: str) -> np.ndarray:
        return np.array([getattr(cs, name)[j] for cs, j in items], dtype=np.float64)

    kinds = sorted({cs.kind for cs, _ in items})
    return ClusterScores(
        kind="+".join(kinds),
        pit=col("pit"),
        nll=col("nll"),
        crps=col("crps"),
        sigma=col("sigma"),
        q16=col("q16"),
        q84=col("q84"),
        pit_range=(max(cs.pit_range[0] for cs, _ in items), min(cs.pit_range[1] for cs, _ in items)),
    )
