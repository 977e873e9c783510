"""Running a benchmark: units of (estimator, fold), resumable, then scores and leaderboards.

The unit of work is one estimator on one fold. Each finished unit is written atomically at
once (``units/<label>/fold<k>.json``: status, configuration hash, predictions), so an
interrupted run loses at most the units in flight, and ``--resume`` skips units whose
configuration hash is unchanged and that succeeded, and redoes the rest. A unit that raises
is recorded as failed with its message (traceback beside it) and the other units still run.

:func:`execute_unit` needs only a :class:`Prepared` benchmark, so distributed executors call it on
workers too (``massbench.dask_executor.run_unit_task`` re-creates ``Prepared`` there from the
benchmark configuration and the shared dataset cache).
"""

from __future__ import annotations

import hashlib
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .catalogue import Catalogue
from .config import Benchmark, EstimatorSpec, config_hash, slugify
from .errors import ContractError, TestMassAccessError, UserError
from .estimator import RunContext, default_cache_dir, has_persistence
from .folds import Fold, fold_labels, make_folds
from .metrics import score
from .registry import Registry
from .results import atomic_write_json, atomic_write_text, read_json, write_leaderboard

BASELINE = "baseline-mean"


@dataclass
class RunOptions:
    """Options of ``massbench run``."""

    out: Path
    resume: bool = False
    only: list[str] | None = None
    device: str = "auto"
    cache_dir: Path | None = None
    debug: bool = False
    executor: str = "local"
    scheduler: str | None = None
    workers: int | None = None
    unit_retries: int = 2


@dataclass
class Unit:
    """One (estimator, fold) job: everything needed to run it and to recognise it on resume."""

    spec: EstimatorSpec
    fold: int
    config_hash: str
    seed: int
    needs_gpu: bool = False

    @property
    def path(self) -> str:
        return f"units/{self.spec.slug}/fold{self.fold}.json"

    @property
    def model_dir(self) -> str:
        return f"models/{self.spec.slug}/fold{self.fold}"


@dataclass
class Prepared:
    """A benchmark with its dataset loaded and folds drawn."""

    bench: Benchmark
    registry: Registry
    catalogue: Catalogue
    folds: list[Fold]
    fold_of: np.ndarray
    dataset_meta: dict[str, Any] = field(default_factory=dict)


def with_baseline(bench: Benchmark) -> list[EstimatorSpec]:
    """The benchmark's estimators plus the built-in floor ``baseline-mean`` (unless already listed)."""
    specs = list(bench.estimators)
    if not any(s.name == BASELINE for s in specs):
        specs.append(EstimatorSpec(BASELINE, BASELINE, {}))
    return specs


def unit_seed(cv_seed: int, label: str, fold: int) -> int:
    """Seed of one unit, derived from the benchmark seed, the estimator label and the fold."""
    h = hashlib.sha256(f"{cv_seed}/{label}/{fold}".encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


def load_dataset(bench: Benchmark, registry: Registry, device: str = "auto", cache_dir: Path | None = None,
                 progress: Callable[..., None] | None = None) -> Catalogue:
    info = registry.get("dataset", bench.dataset.name, where=f"{bench.path}: ")
    ctx = RunContext(seed=bench.cv.seed, device=device, cache_dir=Path(cache_dir or default_cache_dir()))
    if progress is not None:
        ctx.progress = progress
    try:
        dataset = info.cls(**bench.dataset.params)
    except UserError:
        raise
    except TypeError as exc:
        raise UserError(f"{bench.path}: dataset {bench.dataset.name!r}: {exc}") from None
    cat = dataset.load(ctx)
    if not isinstance(cat, Catalogue):
        raise UserError(f"dataset plugin {bench.dataset.name!r} returned {type(cat).__name__}, not a Catalogue")
    return cat


def prepare(bench: Benchmark, registry: Registry, device: str = "auto", cache_dir: Path | None = None,
            catalogue: Catalogue | None = None) -> Prepared:
    """Load the dataset (unless given) and draw the folds."""
    cat = catalogue if catalogue is not None else load_dataset(bench, registry, device, cache_dir)
    labels = fold_labels(bench.cv.scheme, cat.positions, cat.box_size, bench.cv.seed, bench.cv.n_folds)
    folds = make_folds(labels, bench.cv.val_fraction, bench.cv.seed)
    return Prepared(bench, registry, cat, folds, labels, dict(cat.meta))


def plan_units(p: Prepared, only: Sequence[str] | None = None) -> list[Unit]:
    """All units of the benchmark (restricted to ``only`` labels/names, baseline always kept)."""
    bench = p.bench
    specs = with_baseline(bench)
    if only:
        wanted = set(only)
        known = {s.label for s in specs} | {s.name for s in specs}
        unknown = sorted(wanted - known)
        if unknown:
            import difflib

            hint = difflib.get_close_matches(unknown[0], sorted(known), n=1)
            raise UserError(f"--only {unknown[0]!r} is not an estimator of {bench.path}"
                            + (f"; did you mean {hint[0]!r}?" if hint else f"; it has {', '.join(sorted(known))}"))
        specs = [s for s in specs if s.label in wanted or s.name in wanted or s.name == BASELINE]
    cat_key = p.dataset_meta.get("cache_key") or config_hash([len(p.catalogue), p.catalogue.cluster_id.tolist()])
    units = []
    for spec in specs:
        info = p.registry.get("estimator", spec.name, where=f"{bench.path}: ")
        for f in p.folds:
            h = config_hash({
                "benchmark": bench.key, "dataset": bench.dataset.__dict__, "dataset_key": cat_key,
                "cv": bench.cv.__dict__, "estimator": spec.name, "params": spec.params, "fold": f.k,
                "plugin_version": info.version, "n_train": len(f.train), "n_test": len(f.test),
            })
            units.append(Unit(spec, f.k, h, unit_seed(bench.cv.seed, spec.label, f.k),
                              bool(getattr(info.cls, "needs_gpu", False))))
    return units


def unit_done(out: Path, unit: Unit) -> bool:
    """Whether a unit already succeeded with the same configuration (resume skips it)."""
    path = out / unit.path
    if not path.exists():
        return False
    try:
        rec = read_json(path)
    except UserError:
        return False
    return rec.get("status") == "ok" and rec.get("config_hash") == unit.config_hash


def check_predictions(pred: Any, n: int) -> np.ndarray:
    """Predictions as a float array of shape (n,), or a ContractError saying what is wrong."""
    try:
        arr = np.asarray(pred, dtype=float).reshape(-1) if np.ndim(pred) <= 1 or np.size(pred) == n else None
    except (TypeError, ValueError):
        raise ContractError(f"predict() returned {type(pred).__name__}, not an array of numbers") from None
    if arr is None or arr.shape != (n,):
        raise ContractError(f"predict() returned shape {np.shape(pred)} for {n} test clusters; "
                            f"expected one log10 M500c per test cluster, shape ({n},)")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ContractError(f"predict() returned {int(bad.sum())} NaN or infinite values of {n}")
    return arr


def execute_unit(p: Prepared, unit: Unit, out: Path, device: str = "auto",
                 progress: Callable[..., None] | None = None, cache_dir: Path | None = None) -> dict[str, Any]:
    """Run one unit and write its record atomically; never raises for an estimator's failure."""
    out = Path(out)
    fold = next(f for f in p.folds if f.k == unit.fold)
    info = p.registry.get("estimator", unit.spec.name)
    inputs = tuple(getattr(info.cls, "inputs", ()) or ())
    est = None
    workdir = out / "work" / unit.spec.slug / f"fold{unit.fold}"
    ctx = RunContext(seed=unit.seed, device=device, workdir=workdir,
                     cache_dir=Path(cache_dir or default_cache_dir()))
    if progress is not None:
        ctx.progress = progress
    rec: dict[str, Any] = {
        "label": unit.spec.label, "estimator": unit.spec.name, "params": unit.spec.params, "fold": unit.fold,
        "config_hash": unit.config_hash, "seed": unit.seed, "inputs": list(inputs),
        "n_train": int(len(fold.train)), "n_val": int(len(fold.val)), "n_test": int(len(fold.test)),
        "started": time.time(),
    }
    tb_path = out / f"units/{unit.spec.slug}/fold{unit.fold}.traceback.txt"
    try:
        est = info.cls(**unit.spec.params)
        inputs = tuple(getattr(est, "inputs", inputs) or ())  # an instance may set its inputs from params
        rec["inputs"] = list(inputs)
        for name in inputs:
            if name not in p.catalogue.inputs:
                raise ContractError(f"estimator {unit.spec.name!r} reads input {name!r}, which dataset "
                                    f"{p.catalogue.name!r} does not have (it has {sorted(p.catalogue.inputs)})")
            if p.catalogue.inputs[name].truth_only:
                raise ContractError(f"estimator {unit.spec.name!r} declares truth-only input {name!r}")
        train = p.catalogue.view(fold.train, inputs, role="train")
        val = p.catalogue.view(fold.val, inputs, role="val")
        test = p.catalogue.view(fold.test, inputs, role="test")
        est.context = ctx
        workdir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        est.fit(train, val)
        t1 = time.perf_counter()
        pred = est.predict(test)
        t2 = time.perf_counter()
        if test.mass_read:
            raise TestMassAccessError("the estimator read its test clusters' masses (view.log10_m500c on the "
                                      "test view); estimators may use masses only in fit(train, val)")
        undeclared = sorted(train.audit.undeclared | val.audit.undeclared | test.audit.undeclared)
        if undeclared:
            raise ContractError(f"the estimator read input(s) {undeclared}, which it did not declare "
                                f"(declared: {list(inputs)}); add them to the estimator's `inputs`")
        pred = check_predictions(pred, len(fold.test))
        if has_persistence(est):
            _save_model(est, out / unit.model_dir)
        rec.update(status="ok", error=None, cluster_id=p.catalogue.cluster_id[fold.test].tolist(),
                   prediction=pred.tolist(), train_seconds=t1 - t0, predict_seconds=t2 - t1,
                   device_used=ctx.info.get("device_used", "cpu"), info=ctx.info)
        if tb_path.exists():
            tb_path.unlink()
    except Exception as exc:  # noqa: BLE001 - a failing unit must not stop the others
        msg = f"{type(exc).__name__}: {exc}" if not isinstance(exc, (ContractError, UserError)) else str(exc)
        atomic_write_text(tb_path, traceback.format_exc())
        rec.update(status="failed", error=msg, traceback_file=str(tb_path.relative_to(out)),
                   device_used=ctx.info.get("device_used"), info=ctx.info)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rec["finished"] = time.time()
    atomic_write_json(out / unit.path, rec)
    return rec


def _save_model(est: Any, directory: Path) -> None:
    tmp = directory.parent / f".{directory.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    est.save(tmp)
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)


def collect_rows(p: Prepared, out: Path) -> tuple[list[dict], list[list]]:
    """Leaderboard rows and prediction rows from the unit records in ``out``.

    An estimator with every fold finished and ok gets scores; one with a failed fold gets
    status "failed" and the first error; estimators with no unit records are left out.
    Records whose configuration hash differs from the benchmark's (stale results of an
    earlier configuration) are ignored.
    """
    bench = p.bench
    specs = with_baseline(bench)
    valid = {(u.spec.label, u.fold): u.config_hash for u in plan_units(p)}
    rows, preds = [], []
    cat = p.catalogue
    index_of = {cid: i for i, cid in enumerate(cat.cluster_id.tolist())}
    idealised_inputs = {n for n, a in cat.inputs.items() if a.idealised}
    for spec in specs:
        info = p.registry.table("estimator").get(spec.name)
        inputs = list(getattr(info.cls, "inputs", ()) or ()) if info else []
        recs = []
        for f in p.folds:
            path = out / f"units/{spec.slug}/fold{f.k}.json"
            if path.exists():
                r = read_json(path)
                if r.get("config_hash") == valid.get((spec.label, f.k)):
                    recs.append(r)
        if not recs:
            continue
        inputs = recs[0].get("inputs", inputs)
        row: dict[str, Any] = {"estimator": spec.name, "label": spec.label, "inputs": inputs,
                               "framework": getattr(info.cls, "framework", "") if info else "",
                               "idealised": bool(idealised_inputs & set(inputs)),
                               "benchmark": bench.benchmark, "version": bench.version}
        failed = [r for r in recs if r.get("status") != "ok"]
        missing = len(p.folds) - len(recs)
        if failed or missing:
            err = failed[0]["error"] if failed else f"{missing} of {len(p.folds)} folds not run"
            if failed:
                err = f"fold {failed[0]['fold']}: {err}"
            row.update(status="failed", error=err, n_test=sum(r.get("n_test", 0) for r in recs if r.get("status") == "ok"),
                       scatter_dex=None, scatter_percent=None, bias_dex=None, robust_scatter_dex=None,
                       scatter_ci95=None, bias_ci95=None)
        idx, pr, fk = [], [], []
        for r in recs:
            if r.get("status") != "ok":
                continue
            for cid, v in zip(r["cluster_id"], r["prediction"]):
                idx.append(index_of[cid])
                pr.append(v)
                fk.append(r["fold"])
        idx_a = np.asarray(idx, dtype=np.int64)
        pred_a = np.asarray(pr, dtype=float)
        for i, v, k in zip(idx, pr, fk):
            preds.append([cat.cluster_id[i].item() if hasattr(cat.cluster_id[i], "item") else cat.cluster_id[i],
                          k, spec.label, float(cat.redshift[i]), float(cat.log10_m500c[i]), float(v)])
        if not (failed or missing):
            s = score(pred_a, cat.log10_m500c[idx_a], np.asarray(fk), seed=bench.cv.seed)
            row.update(status="ok", error=None, **s.as_dict())
        devices = sorted({str(r.get("device_used")) for r in recs if r.get("device_used")})
        row["device_used"] = ", ".join(devices)
        row["train_seconds"] = float(sum(r.get("train_seconds", 0.0) or 0.0 for r in recs))
        rows.append(row)
    return rows, preds


def write_predictions(out: Path, preds: list[list]) -> None:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["cluster_id", "fold", "estimator", "redshift", "log10_m500c_true", "log10_m500c_pred"])
    for row in sorted(preds, key=lambda r: (r[2], r[1], str(r[0]))):
        w.writerow([row[0], row[1], row[2], f"{row[3]:.6f}", f"{row[4]:.6f}", f"{row[5]:.6f}"])
    atomic_write_text(out / "predictions.csv", buf.getvalue())


def write_provenance(p: Prepared, out: Path, options: RunOptions, started: str, finished: str | None,
                     units: Sequence[Unit]) -> None:
    from .provenance import environment

    recs = {}
    for u in units:
        path = out / u.path
        if path.exists():
            try:
                r = read_json(path)
            except UserError:
                continue
            recs[f"{u.spec.label}/fold{u.fold}"] = {"status": r.get("status"), "seed": r.get("seed"),
                                                   "device_used": r.get("device_used"),
                                                   "train_seconds": r.get("train_seconds")}
    plugins = [{"plugin": n, "distribution": d, "version": v} for n, d, v in p.registry.plugins]
    prov = {
        "benchmark": p.bench.benchmark, "version": p.bench.version, "benchmark_file": p.bench.path,
        "benchmark_sha256": p.bench.sha256, "config": p.bench.as_dict(),
        **environment(),
        "plugins": plugins, "plugin_errors": [e.as_dict() for e in p.registry.errors],
        "device_requested": options.device, "executor": options.executor,
        "executor_options": ({"scheduler": options.scheduler, "workers": options.workers,
                              "unit_retries": options.unit_retries} if options.executor == "dask" else {}),
        "seeds": {"cv": p.bench.cv.seed, "units": {k: v["seed"] for k, v in recs.items()}},
        "dataset": {"name": p.bench.dataset.name, "params": p.bench.dataset.params, "n_clusters": len(p.catalogue),
                    "meta": p.dataset_meta},
        "folds": [{"fold": f.k, "n_train": len(f.train), "n_val": len(f.val), "n_test": len(f.test)} for f in p.folds],
        "units": recs, "started": started, "finished": finished,
    }
    atomic_write_json(out / "run.json", prov)


def finalize(p: Prepared, out: Path) -> list[dict[str, Any]]:
    """Scores, leaderboard files and predictions.csv from the unit records in ``out``."""
    rows, preds = collect_rows(p, out)
    write_leaderboard(out, rows, title=f"{p.bench.key}")
    write_predictions(out, preds)
    return rows


def run_benchmark(bench: Benchmark, registry: Registry, options: RunOptions, console: Any = None) -> int:
    """Run every pending unit, then explainers, then write leaderboards. Returns the exit status.

    0 when every unit succeeded, 1 when any failed (all outputs are still written).
    """
    from .progress import RunProgress
    from .provenance import now

    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    started = now()
    with RunProgress(console) as prog:
        prog.message(f"loading dataset {bench.dataset.name} {bench.dataset.params}")
        p = prepare(bench, registry, options.device, options.cache_dir)
        units = plan_units(p, options.only)
        pending = [u for u in units if not (options.resume and unit_done(out, u))]
        if not options.resume:
            for u in units:  # a fresh run must not mix with records of an earlier one
                (out / u.path).unlink(missing_ok=True)
        prog.message(f"{len(p.catalogue)} clusters, {len(p.folds)} folds ({bench.cv.scheme}); "
                     f"{len(units)} units, {len(units) - len(pending)} already done")
        write_provenance(p, out, options, started, None, units)
        if options.executor == "dask":
            from .dask_executor import run_units_dask

            run_units_dask(p, pending, out, options, prog)
        else:
            prog.start_units(len(pending))
            for u in pending:
                prog.start_unit(f"{u.spec.label} fold {u.fold}")
                rec = execute_unit(p, u, out, options.device, prog.epoch_callback(), options.cache_dir)
                prog.finish_unit(rec)
        rows = finalize(p, out)
        if bench.explainers:
            from .explain import run_explainers

            run_explainers(p, out, options, prog, only=options.only)
        from .report import write_report

        write_report(p, out, rows)
        write_provenance(p, out, options, started, now(), units)
    failed = [r for r in rows if r.get("status") != "ok"]
    if console is not None:
        from .results import leaderboard_markdown

        console.print(leaderboard_markdown(rows, bench.key), markup=False, highlight=False, soft_wrap=True)
        if failed:
            console.print(f"[red]{len(failed)} estimator(s) failed[/red]; tracebacks under {out}/units/")
        console.print(f"results in {out}/", markup=False)
    return 1 if failed else 0


_check_predictions = check_predictions  # backwards-compatible name
