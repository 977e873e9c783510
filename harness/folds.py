"""Cross-validation folds, owned by the harness so that every estimator is judged alike.

``octants`` (paper section 4.1): the periodic box is cut into 2 x 2 x 2 octants; fold
``k = 4 i + 2 j + l`` holds the clusters whose wrapped box position (x, y, z) falls in octant
(i, j, l) with i = floor(x / (L/2)). Neighbouring clusters, and the progenitors of one halo seen
at several snapshots near the same position, stay in one fold, so no test cluster's environment
is trained on. ``random`` (k folds) assigns clusters uniformly at random; comparing the two
measures the leakage spatial folds avoid. ``lineage`` (k folds) assigns whole lineages (the
dataset's ``group``, Magneticum's ``tree_id``) at random, so the progenitors of one halo are never
split between training and test, while neighbouring halos still are: comparing ``random``,
``lineage`` and ``octants`` separates the leakage through one halo's own history from the
leakage through its environment (``massbench leakage``).

Within the training folds a seeded random ``val_fraction`` is kept for validation (early
stopping); the estimator never draws its own split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fold:
    """Indices (into the catalogue) of one fold's train, validation and test clusters."""

    k: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def octant_labels(positions: np.ndarray, box_size: float) -> np.ndarray:
    """Octant index 0..7 of each (periodically wrapped) comoving position [h^-1 Mpc]."""
    pos = np.mod(np.asarray(positions, dtype=float), box_size)
    half = box_size / 2.0
    ijk = np.minimum((pos // half).astype(np.int64), 1)  # guard the x == L rounding edge
    return 4 * ijk[:, 0] + 2 * ijk[:, 1] + ijk[:, 2]


def random_labels(n: int, n_folds: int, seed: int) -> np.ndarray:
    """Balanced random fold labels 0..n_folds-1 (sizes differ by at most one)."""
    rng = np.random.default_rng([seed, 0xF01D])
    labels = np.arange(n) % n_folds
    rng.shuffle(labels)
    return labels


def lineage_labels(groups: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Random fold labels 0..n_folds-1 that never split a lineage (clusters with one ``groups`` id).

    Lineages are visited in a seeded random order and each goes whole to the fold holding the
    fewest clusters so far (the lowest such fold on ties), so fold sizes differ by less than the
    largest lineage. With every cluster its own lineage this is a balanced random split.
    """
    groups = np.asarray(groups)
    _, member = np.unique(groups, return_inverse=True)
    sizes = np.bincount(member)
    rng = np.random.default_rng([seed, 0x11AE])
    fold_of_group = np.empty(len(sizes), dtype=np.int64)
    filled = np.zeros(n_folds, dtype=np.int64)
    for g in rng.permutation(len(sizes)):
        k = int(np.argmin(filled))
        fold_of_group[g] = k
        filled[k] += sizes[g]
    return fold_of_group[member]


#: The cross-validation schemes of ``cv.scheme``.
SCHEMES = ("octants", "random", "lineage")


def fold_labels(
    scheme: str,
    positions: np.ndarray,
    box_size: float,
    seed: int = 0,
    n_folds: int = 8,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Fold label of every cluster for ``scheme`` ('octants', 'random' or 'lineage').

    ``groups`` (lineage id per cluster) is used by 'lineage' only; None: one lineage per cluster.
    """
    if scheme == "octants":
        return octant_labels(positions, box_size)
    if scheme == "random":
        return random_labels(len(positions), n_folds, seed)
    if scheme == "lineage":
        return lineage_labels(np.arange(len(positions)) if groups is None else groups, n_folds, seed)
    raise ValueError(f"unknown cv scheme {scheme!r}")


def make_folds(labels: np.ndarray, val_fraction: float, seed: int) -> list[Fold]:
    """One :class:`Fold` per label value; validation drawn per fold with a seeded generator.

    The validation set of fold k is ``round(val_fraction * n_train_pool)`` clusters drawn from
    the other folds with ``default_rng([seed, k])``, so it depends only on the seed and the fold.
    """
    labels = np.asarray(labels)
    folds = []
    for k in np.unique(labels):
        test = np.flatnonzero(labels == k)
        pool = np.flatnonzero(labels != k)
        rng = np.random.default_rng([seed, int(k)])
        n_val = int(round(val_fraction * len(pool)))
        n_val = min(max(n_val, 1 if len(pool) > 1 else 0), max(len(pool) - 1, 0))
        chosen = np.zeros(len(pool), dtype=bool)
        chosen[rng.choice(len(pool), size=n_val, replace=False)] = True
        folds.append(Fold(int(k), train=pool[~chosen], val=pool[chosen], test=test))
    return folds
