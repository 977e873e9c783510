"""Exhaustive search over combinations of observables (paper section 3, Table 3).

Every subset of 1 to K observables gets its equation-7 scatter from one fitted
:class:`~.model.ScalingModel`; subsets of one size are solved together as a batch of small
linear systems (no loop over clusters or subsets).
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from .model import ScalingModel, Scatter, subset_sigma2


def all_combinations(p: int, max_k: int) -> list[np.ndarray]:
    """Index arrays (m_k, k) of every subset of ``range(p)`` of size k = 1 .. min(max_k, p)."""
    return [
        np.array(list(itertools.combinations(range(p), k)), dtype=np.int64).reshape(-1, k)
        for k in range(1, min(max_k, p) + 1)
    ]


def combination_scatters(model: ScalingModel, max_k: int = 3, restrict: Sequence[str] | None = None) -> list[Scatter]:
    """Equation-7 scatter of every subset of up to ``max_k`` observables, sorted by scatter.

    ``restrict`` limits the search to those observables (all fitted ones when None).
    """
    names = list(model.observables if restrict is None else restrict)
    cols = model.columns(names)
    alpha = model.alpha[:, cols]
    cov = model.cov[:, cols[:, None], cols[None, :]]
    out: list[Scatter] = []
    for subsets in all_combinations(len(names), max_k):
        sig2 = subset_sigma2(alpha, cov, subsets)  # (B, m)
        for i, sub in enumerate(subsets):
            out.append(Scatter(tuple(names[j] for j in sub), sig2[:, i]))
    out.sort(key=lambda c: (c.sigma_ln, len(c.observables)))
    return out


def best_per_size(scatters: Sequence[Scatter], kind: str | None = None, min_k: int = 2) -> list[Scatter]:
    """The lowest-scatter set for each size >= ``min_k`` (as Table 3 lists), optionally of one kind only."""
    best: dict[int, Scatter] = {}
    for c in scatters:
        k = len(c.observables)
        if k < min_k or (kind is not None and c.kind != kind):
            continue
        if k not in best or c.sigma_ln < best[k].sigma_ln:
            best[k] = c
    return [best[k] for k in sorted(best)]
