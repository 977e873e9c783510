"""Paired comparison of two estimators of one run: ``massbench compare RESULT_DIR A B``.

Reads the run's ``predictions.csv`` (one row per estimator, training-seed repeat and test
cluster) and gives scatter(A) - scatter(B) [dex] on the clusters both predicted, with a 95 %
interval from a paired lineage bootstrap (the same resampled lineages for both; the ``group``
column, else one lineage per cluster) widened by both estimators' training-seed spread where
they have repeats (:func:`massbench.metrics.paired_difference`). The interval excludes 0 when
the ranking of the two is significant at 95 %.
"""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError, UserError
from .metrics import PairedDifference, paired_difference


@dataclass
class Residuals:
    """One estimator's residuals log10 M_pred - log10 M_true per repeat: {repeat: {cluster_id: r}}."""

    label: str
    by_repeat: dict[int, dict[str, float]] = field(default_factory=dict)

    def matrix(self, clusters: list[str]) -> np.ndarray:
        """(repeats, len(clusters)) residuals of the given clusters (every repeat must cover them)."""
        return np.array([[rep[c] for c in clusters] for _, rep in sorted(self.by_repeat.items())])

    def clusters(self) -> set[str]:
        """Clusters predicted in every repeat."""
        sets = [set(rep) for rep in self.by_repeat.values()]
        return set.intersection(*sets) if sets else set()


def read_residuals(path: Path) -> tuple[dict[str, Residuals], dict[str, str]]:
    """``predictions.csv`` -> ({label: Residuals}, {cluster_id: lineage group}); DataError naming the file."""
    out, groups, _ = read_predictions(path)
    return out, groups


def read_predictions(path: Path) -> tuple[dict[str, Residuals], dict[str, str], dict[str, float]]:
    """``predictions.csv`` -> ({label: Residuals}, {cluster_id: lineage group}, {cluster_id: true log10
    M500c [h^-1 Msun]}); DataError naming the file."""
    out: dict[str, Residuals] = {}
    groups: dict[str, str] = {}
    truth: dict[str, float] = {}
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            need = {"cluster_id", "estimator", "log10_m500c_true", "log10_m500c_pred"}
            if not need <= set(reader.fieldnames or []):
                raise DataError(f"{path}: needs columns {', '.join(sorted(need))}; has {reader.fieldnames}")
            # rows are named by `label` (older files: `estimator` held the label)
            name_col = "label" if "label" in (reader.fieldnames or []) else "estimator"
            for i, row in enumerate(reader, start=2):
                try:
                    t = float(row["log10_m500c_true"])
                    r = float(row["log10_m500c_pred"]) - t
                    rep = int(row.get("repeat") or 0)
                except (TypeError, ValueError):
                    raise DataError(f"{path}:{i}: log10_m500c_true/_pred or repeat is not a number") from None
                cid = str(row["cluster_id"])
                res = out.setdefault(row[name_col], Residuals(row[name_col]))
                res.by_repeat.setdefault(rep, {})[cid] = r
                truth[cid] = t
                groups.setdefault(cid, str(row.get("group") or cid))
    except FileNotFoundError:
        raise DataError(f"{path}: predictions.csv is missing; run or --resume the benchmark first") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file") from None
    return out, groups, truth


def _pick(label: str, have: dict[str, Residuals], path: Path) -> Residuals:
    if label in have:
        return have[label]
    hint = difflib.get_close_matches(label, sorted(have), n=1)
    raise UserError(
        f"{path}: no estimator {label!r}"
        + (f"; did you mean {hint[0]!r}?" if hint else f"; it has {', '.join(sorted(have))}")
    )


def compare_run(result_dir: Path, a: str, b: str, n_boot: int = 1000, seed: int = 0) -> tuple[PairedDifference, int]:
    """scatter(A) - scatter(B) of run ``result_dir`` and the number of clusters left out (predicted by one only)."""
    path = Path(result_dir) / "predictions.csv"
    if not Path(result_dir).is_dir():
        raise UserError(f"{result_dir}: no such result directory")
    have, groups = read_residuals(path)
    ra, rb = _pick(a, have, path), _pick(b, have, path)
    ca, cb = ra.clusters(), rb.clusters()
    common = sorted(ca & cb)
    if len(common) < 2:
        raise UserError(f"{path}: {a!r} and {b!r} share {len(common)} test clusters; nothing to compare")
    left_out = len(ca | cb) - len(common)
    labels = [groups[c] for c in common]
    try:  # integer lineage ids sort as numbers, as the run's own comparison sorts them
        group_ids = np.unique(np.array(labels, dtype=np.int64), return_inverse=True)[1]
    except ValueError:
        group_ids = np.unique(labels, return_inverse=True)[1]
    d = paired_difference(ra.matrix(common), rb.matrix(common), group_ids, a=a, b=b, n_boot=n_boot, seed=seed)
    return d, left_out


def describe(d: PairedDifference, left_out: int = 0) -> str:
    """The comparison in words, for the terminal."""
    verdict = (
        f"{d.a} is significantly {'better' if d.delta_dex < 0 else 'worse'} than {d.b}"
        if d.significant
        else f"no significant difference between {d.a} and {d.b}"
    )
    lines = [
        f"scatter({d.a}) - scatter({d.b}) = {d.delta_dex:+.4f} dex, 95 % interval "
        f"[{d.ci95[0]:+.4f}, {d.ci95[1]:+.4f}]: {verdict}",
        f"  {d.a}: {d.scatter_a:.4f} dex ({d.repeats_a} repeat{'s' if d.repeats_a != 1 else ''}); "
        f"{d.b}: {d.scatter_b:.4f} dex ({d.repeats_b} repeat{'s' if d.repeats_b != 1 else ''})",
        f"  {d.n_clusters} clusters in {d.n_groups} lineages; paired lineage bootstrap "
        f"[{d.ci95_sampling[0]:+.4f}, {d.ci95_sampling[1]:+.4f}]"
        + (", widened by the training-seed spread" if max(d.repeats_a, d.repeats_b) > 1 else ""),
    ]
    if left_out:
        lines.append(f"  {left_out} clusters predicted by only one of the two were left out")
    return "\n".join(lines)
