"""Collecting unit records into leaderboard rows (scored here, in the parent) and prediction rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .metrics import score
from .plan import Prepared, Unit, plan_units, read_record, with_baseline
from .records import LeaderboardRow, UnitRecord
from .results import atomic_write_text


def load_records(
    p: Prepared, out: Path, known: Mapping[tuple[str, int], UnitRecord] | None = None
) -> dict[tuple[str, int], UnitRecord]:
    """Records of every unit of the benchmark: ``known`` ones (this run's, in memory), the rest from ``out``.

    Records on disk whose configuration hash differs from the benchmark's (stale results of an
    earlier configuration) are left out.
    """
    known = dict(known or {})
    recs: dict[tuple[str, int], UnitRecord] = {}
    for u in plan_units(p):
        rec = known.get(u.key)
        if rec is None or rec.config_hash != u.config_hash:
            rec = read_record(out, u)
        if rec is not None:
            recs[u.key] = rec
    return recs


def collect_rows(
    p: Prepared, records: Path | Mapping[tuple[str, int], UnitRecord]
) -> tuple[list[LeaderboardRow], list[list]]:
    """Leaderboard rows and prediction rows from unit records (a mapping, or a run directory to read them from).

    An estimator with every fold finished and ok gets scores; one with a failed fold gets
    status "failed" and the first error; estimators with no unit records are left out.
    """
    if isinstance(records, (str, Path)):
        records = load_records(p, Path(records))
    bench = p.bench
    rows: list[LeaderboardRow] = []
    preds: list[list] = []
    cat = p.catalogue
    index_of = {cid: i for i, cid in enumerate(cat.cluster_id.tolist())}
    idealised_inputs = {n for n, a in cat.inputs.items() if a.idealised}
    for spec in with_baseline(bench):
        info = p.registry.table("estimator").get(spec.name)
        recs = [records[(spec.label, f.k)] for f in p.folds if (spec.label, f.k) in records]
        if not recs:
            continue
        inputs = list(recs[0].inputs)
        row = LeaderboardRow(
            estimator=spec.name,
            label=spec.label,
            inputs=inputs,
            framework=getattr(info.cls, "framework", "") if info else "",
            idealised=bool(idealised_inputs & set(inputs)),
            benchmark=bench.benchmark,
            version=bench.version,
        )
        failed = [r for r in recs if not r.ok]
        missing = len(p.folds) - len(recs)
        if failed or missing:
            err = (
                f"fold {failed[0].fold}: {failed[0].error}" if failed else f"{missing} of {len(p.folds)} folds not run"
            )
            row.status, row.error = "failed", err
            row.n_test = sum(r.n_test for r in recs if r.ok)
        idx, pr, fk = [], [], []
        for r in recs:
            if not r.ok:
                continue
            for cid, v in zip(r.cluster_id or [], r.prediction or []):
                idx.append(index_of[cid])
                pr.append(v)
                fk.append(r.fold)
        for i, v, k in zip(idx, pr, fk):
            preds.append(
                [
                    cat.cluster_id[i].item() if hasattr(cat.cluster_id[i], "item") else cat.cluster_id[i],
                    k,
                    spec.label,
                    spec.name,
                    float(cat.redshift[i]),
                    float(cat.log10_m500c[i]),
                    float(v),
                ]
            )
        if not (failed or missing):
            s = score(
                np.asarray(pr, dtype=float),
                cat.log10_m500c[np.asarray(idx, dtype=np.int64)],
                np.asarray(fk),
                seed=bench.cv.seed,
            )
            row.status, row.error = "ok", None
            for key, val in s.as_dict().items():
                setattr(row, key, val)
        row.device_used = ", ".join(sorted({str(r.device_used) for r in recs if r.device_used}))
        row.train_seconds = float(sum(r.train_seconds or 0.0 for r in recs))
        rows.append(row)
    return rows, preds


def write_predictions(out: Path, preds: list[list]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["cluster_id", "fold", "label", "estimator", "redshift", "log10_m500c_true", "log10_m500c_pred"])
    for row in sorted(preds, key=lambda r: (r[2], r[1], str(r[0]))):
        w.writerow([row[0], row[1], row[2], row[3], f"{row[4]:.6f}", f"{row[5]:.6f}", f"{row[6]:.6f}"])
    atomic_write_text(Path(out) / "predictions.csv", buf.getvalue())


def unit_summary(units: list[Unit], records: Mapping[tuple[str, int], UnitRecord]) -> dict[str, dict[str, Any]]:
    """``run.json``'s ``units``: status, seed, device and training time of each unit with a record."""
    out = {}
    for u in units:
        r = records.get(u.key)
        if r is not None:
            out[f"{u.spec.label}/fold{u.fold}"] = {
                "status": r.status,
                "seed": r.seed,
                "device_used": r.device_used,
                "train_seconds": r.train_seconds,
            }
    return out
