"""Collecting unit records into leaderboard rows (scored here, in the parent) and prediction rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Collection, Mapping

import numpy as np

from .metrics import LineageResampler, paired_difference, score
from .plan import Prepared, Unit, plan_units, read_record, with_baseline
from .population import catalogue_weights, natural_scores, prior_corrected_bias
from .prob_collect import DISTRIBUTION_COLUMNS, UnitDistributions, distribution_columns
from .records import LeaderboardRow, UnitKey, UnitRecord
from .results import atomic_write_text


def load_records(
    p: Prepared, out: Path, known: Mapping[UnitKey, UnitRecord] | None = None
) -> dict[UnitKey, UnitRecord]:
    """Records of every unit of the benchmark: ``known`` ones (this run's, in memory), the rest from ``out``.

    Records on disk whose configuration hash differs from the benchmark's (stale results of an
    earlier configuration) are left out.
    """
    known = dict(known or {})
    recs: dict[UnitKey, UnitRecord] = {}
    for u in plan_units(p):
        rec = known.get(u.key)
        if rec is None or rec.config_hash != u.config_hash:
            rec = read_record(out, u)
        if rec is not None:
            recs[u.key] = rec
    return recs


def collect_rows(
    p: Prepared,
    records: Path | Mapping[UnitKey, UnitRecord],
    expected: Collection[str] | None = None,
) -> tuple[list[LeaderboardRow], list[list]]:
    """Leaderboard rows and prediction rows from unit records (a mapping, or a run directory to read them from).

    An estimator with every fold (and every repeat) finished and ok gets scores; one with a failed
    unit gets status "failed" and the first error. An ``expected`` estimator (label; every estimator
    of the benchmark when None) with no unit record at all gets a "failed" row saying so, never a
    missing row; other estimators without records (left out by ``--only``) get no row. Scored rows
    get a paired comparison with the best realistic row (``vs_best``).
    """
    if isinstance(records, (str, Path)):  # a finished run's directory: rows of the estimators it ran
        records = load_records(p, Path(records))
        if expected is None:
            expected = {key[0] for key in records}
    bench = p.bench
    rows: list[LeaderboardRow] = []
    preds: list[list] = []
    cat = p.catalogue
    index_of = {cid: i for i, cid in enumerate(cat.cluster_id.tolist())}
    idealised_inputs = {n for n, a in cat.inputs.items() if a.idealised}
    groups = cat.groups()
    natural = catalogue_weights(cat.log10_m500c, cat.redshift)  # the whole catalogue is the sample
    residuals: dict[str, np.ndarray] = {}  # label -> (repeats, n) residuals in catalogue-index order
    scored_idx: dict[str, np.ndarray] = {}
    truth = np.asarray(cat.log10_m500c, dtype=np.float64)
    for spec in with_baseline(bench):
        info = p.registry.table("estimator").get(spec.name)
        keys = [(spec.label, f.k, r) for r in range(spec.repeats) for f in p.folds]
        recs = [_checked(records[k], index_of) for k in keys if k in records]
        if not recs and expected is not None and spec.label not in expected:
            continue
        inputs = list(recs[0].inputs) if recs else list(getattr(info.cls, "inputs", ()) or () if info else ())
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
        missing = len(keys) - len(recs)
        if not recs:
            row.status, row.n_test = "failed", 0
            row.error = (
                f"no unit record: none of its {len(keys)} units has a record in units/{spec.slug}/ for this "
                "configuration (removed, or overwritten by another entry or run); run it again"
            )
            rows.append(row)
            continue
        if failed or missing:
            if failed:
                f0 = failed[0]
                err = f"fold {f0.fold}" + (f" repeat {f0.repeat}" if spec.repeats > 1 else "") + f": {f0.error}"
            else:
                what = f"{len(p.folds)} folds" + (f" x {spec.repeats} repeats" if spec.repeats > 1 else "")
                err = f"{missing} of {what} not run"
            row.status, row.error = "failed", err
            row.n_test = sum(r.n_test for r in recs if r.ok and r.repeat == 0)
        per_repeat: dict[int, dict[int, float]] = {}  # repeat -> {catalogue index: prediction}
        fold_of: dict[int, int] = {}
        dists = UnitDistributions()
        for r in recs:
            if not r.ok:
                continue
            got = per_repeat.setdefault(r.repeat, {})
            rec_idx = [index_of[cid] for cid in r.cluster_id or []]
            cs = dists.add(r, rec_idx, truth)
            for j, (cid, v) in enumerate(zip(r.cluster_id or [], r.prediction or [])):
                i = index_of[cid]
                got[i] = float(v)
                fold_of[i] = r.fold
                preds.append(
                    [
                        cat.cluster_id[i].item() if hasattr(cat.cluster_id[i], "item") else cat.cluster_id[i],
                        r.fold,
                        spec.label,
                        spec.name,
                        float(cat.redshift[i]),
                        float(cat.log10_m500c[i]),
                        float(v),
                        r.repeat,
                        groups[i].item() if hasattr(groups[i], "item") else groups[i],
                        *distribution_columns(cs, j),
                    ]
                )
        if not (failed or missing):
            idx = np.asarray(sorted(per_repeat[0]), dtype=np.int64)
            pr = np.array([[per_repeat[k][i] for i in idx.tolist()] for k in sorted(per_repeat)])
            s = score(
                pr,
                cat.log10_m500c[idx],
                np.asarray([fold_of[i] for i in idx.tolist()]),
                seed=bench.cv.seed,
                groups=groups[idx],
            )
            row.status, row.error = "ok", None
            for key, val in s.as_dict().items():
                setattr(row, key, val)
            row.natural = natural_scores(pr, cat.log10_m500c[idx], natural, idx, groups[idx], bench.cv.seed)
            residuals[spec.label] = pr - cat.log10_m500c[idx][None, :]
            scored_idx[spec.label] = idx
            row.probabilistic = dists.scores(idx, sorted(per_repeat), residuals[spec.label], groups[idx], bench.cv.seed)
            sigmas = dists.sigmas(idx, sorted(per_repeat))
            if row.natural is not None and natural is not None and sigmas is not None:
                row.natural.prior_corrected_bias_dex = float(
                    np.mean(
                        [
                            prior_corrected_bias(m, sd, truth[idx], cat.redshift[idx], weights=natural.weights[idx])
                            for m, sd in zip(pr, sigmas)
                        ]
                    )
                )
        row.device_used = ", ".join(sorted({str(r.device_used) for r in recs if r.device_used}))
        row.train_seconds = float(sum(r.train_seconds or 0.0 for r in recs))
        rows.append(row)
    add_vs_best(rows, residuals, scored_idx, groups, seed=bench.cv.seed)
    return rows, preds


def add_vs_best(
    rows: list[LeaderboardRow],
    residuals: Mapping[str, np.ndarray],
    index: Mapping[str, np.ndarray],
    groups: np.ndarray,
    seed: int = 0,
) -> None:
    """Set each scored row's ``vs_best``: its scatter minus the best row's, paired on the same clusters.

    The best row is the lowest-scatter realistic one (idealised rows use information no observer
    has, so they would always win); with no realistic row, the lowest-scatter row.
    """
    scored = [r for r in rows if r.ok and r.label in residuals and r.scatter_dex is not None]
    if len(scored) < 2:
        return
    realistic = [r for r in scored if not r.idealised]
    best = min(realistic or scored, key=lambda r: float(r.scatter_dex or 0.0))
    resampler = LineageResampler(groups[index[best.label]], len(index[best.label]), seed=seed)
    for r in scored:
        if r is best or not np.array_equal(index[r.label], index[best.label]):
            continue
        d = paired_difference(residuals[r.label], residuals[best.label], a=r.label, b=best.label, resampler=resampler)
        r.vs_best = {
            "label": best.label,
            "delta_dex": d.delta_dex,
            "ci95": d.ci95,
            "significant": d.significant,
        }


#: Columns of ``predictions.csv``: one row per (estimator, repeat, test cluster). ``label`` is the
#: row's display label, ``estimator`` its plugin name (as in leaderboard.json). ``repeat`` is the
#: training-seed repeat (0 without repeats); ``group`` the cluster's lineage id (the dataset's
#: ``group``, else the catalogue row), which ``massbench compare`` resamples by.
PREDICTION_COLUMNS = [
    "cluster_id",
    "fold",
    "label",
    "estimator",
    "redshift",
    "log10_m500c_true",
    "log10_m500c_pred",
    "repeat",
    "group",
    *DISTRIBUTION_COLUMNS,
]


def _checked(rec: UnitRecord, index_of: Mapping[Any, int]) -> UnitRecord:
    """``rec``, or a failed copy of it when its stored predictions cannot be scored (edited or corrupt file)."""
    if not rec.ok:
        return rec
    from .errors import ContractError
    from .unit import check_predictions, stored_distribution

    problem = None
    ids = rec.cluster_id or []
    try:
        point = check_predictions(rec.prediction, rec.n_test)
        stored_distribution(point, rec.distribution, rec.n_test)
    except ContractError as exc:
        problem = str(exc).replace("predict() returned", "the record holds")
    if problem is None and (len(ids) != rec.n_test or not all(_hashable(c) and c in index_of for c in ids)):
        problem = "the record's cluster_id list does not match the test clusters of its fold"
    if problem is None:
        return rec
    bad = UnitRecord.from_json(rec.to_json())
    bad.status, bad.error = "failed", f"stored unit record is invalid (edited or corrupt?): {problem}; run it again"
    return bad


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def write_predictions(out: Path, preds: list[list]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(PREDICTION_COLUMNS)
    for row in sorted(preds, key=lambda r: (r[2], r[7], r[1], str(r[0]))):
        w.writerow(
            [row[0], row[1], row[2], row[3], f"{row[4]:.6f}", f"{row[5]:.6f}", f"{row[6]:.6f}", row[7], row[8]]
            + [x if isinstance(x, str) else ("" if x is None or not np.isfinite(x) else f"{x:.6f}") for x in row[9:]]
        )
    atomic_write_text(Path(out) / "predictions.csv", buf.getvalue())


def unit_summary(units: list[Unit], records: Mapping[UnitKey, UnitRecord]) -> dict[str, dict[str, Any]]:
    """``run.json``'s ``units``: status, seed, device and training time of each unit with a record, and
    the arithmetic precision its estimator reported using (``info["precision"]``, the built-in networks)."""
    out = {}
    for u in units:
        r = records.get(u.key)
        if r is not None:
            out[f"{u.spec.label}/{u.tag}"] = {
                "status": r.status,
                "seed": r.seed,
                "device_used": r.device_used,
                "train_seconds": r.train_seconds,
            }
            if isinstance(r.info, dict) and r.info.get("precision"):
                out[f"{u.spec.label}/{u.tag}"]["precision"] = str(r.info["precision"])
    return out


def precision_summary(units_summary: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """``run.json``'s ``precision``: per estimator label, the precisions its units used (sorted)."""
    out: dict[str, set[str]] = {}
    for key, entry in units_summary.items():
        if entry.get("precision"):
            out.setdefault(key.rsplit("/", 1)[0], set()).add(str(entry["precision"]))
    return {label: sorted(values) for label, values in out.items()}
