"""Running one unit: an estimator fitted on a fold's train/val views and asked for its test predictions.

:func:`fit_predict` is the part every executor shares (the inline executor calls it in this
process on views of the catalogue; the process and dask executors call it in a worker
process, :mod:`massbench.worker`, on views of the unit's private copy of its declared
inputs). :func:`execute_unit` is the inline executor's whole unit: it writes the record.
"""

from __future__ import annotations

import shutil
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .catalogue import CatalogueView, InputArray
from .errors import ContractError, TestMassAccessError, UserError
from .estimator import RunContext, default_cache_dir, has_persistence
from .plan import Prepared, Unit
from .prediction import KINDS, Prediction, check_prediction
from .records import UnitRecord
from .results import atomic_write_json, atomic_write_text

#: The plausible range of a prediction, log10 M500c in h^-1 Msun (docs/plugins.md): anything outside is
#: not a cluster mass (a unit slip such as M instead of log10 M, or an attempt to break the metrics).
LOG10_M_RANGE = (10.0, 17.0)


def check_predictions(pred: Any, n: int, plausible: bool = True) -> np.ndarray:
    """Predictions as a float64 array of shape (n,), or a ContractError saying what is wrong.

    A :class:`~massbench.Prediction` is validated (:func:`massbench.prediction.check_prediction`)
    and its point estimate (:meth:`~massbench.Prediction.point`) checked as below; use
    :func:`check_output` to keep the distribution too.

    Accepted: a 1-d array, list or tuple of ``n`` finite real numbers (float or int) within
    :data:`LOG10_M_RANGE` (log10 M500c [h^-1 Msun]). Refused, never converted: strings, booleans,
    complex numbers, None or other objects, any other shape (also (1, n) and (n, 1)), NaN, inf and
    values outside the range. ``plausible=False`` leaves the range to the caller (``check-plugin``
    reports it as its own, stricter ``plausible-range`` check).
    """
    if isinstance(pred, Prediction):
        return check_output(pred, n, plausible)[0]
    if pred is None or isinstance(pred, (str, bytes, dict, set)):
        raise ContractError(f"predict() returned {type(pred).__name__}, not an array of numbers")
    try:
        arr = np.asarray(pred)
    except (TypeError, ValueError) as exc:
        raise ContractError(
            f"predict() returned {type(pred).__name__} that is not an array of numbers ({exc})"
        ) from None
    kind = arr.dtype.kind
    if kind == "b":
        raise ContractError("predict() returned booleans; expected one log10 M500c (a real number) per test cluster")
    if kind == "c":
        raise ContractError("predict() returned complex numbers; expected real log10 M500c values")
    if kind not in "fiu":
        example = next(iter(arr.ravel()), None) if arr.size else None
        raise ContractError(
            f"predict() returned values of type {type(example).__name__ if example is not None else arr.dtype} "
            f"(e.g. {str(example)[:40]!r}); expected real numbers, one log10 M500c per test cluster"
        )
    if arr.shape != (n,):
        raise ContractError(
            f"predict() returned shape {arr.shape} for {n} test clusters; "
            f"expected one log10 M500c per test cluster, shape ({n},)"
        )
    with np.errstate(all="ignore"):
        arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ContractError(f"predict() returned {int(bad.sum())} NaN or infinite values of {n}")
    lo, hi = LOG10_M_RANGE
    out = (arr < lo) | (arr > hi)
    if plausible and out.any():
        raise ContractError(
            f"predict() returned {int(out.sum())} of {n} values outside the plausible range of log10 M500c "
            f"[{lo:g}, {hi:g}] (h^-1 Msun), e.g. {float(arr[out][0]):.6g}; predictions are log10 masses"
        )
    return arr


def check_output(pred: Any, n: int, plausible: bool = True) -> tuple[np.ndarray, Prediction | None]:
    """(point predictions, validated distribution or None) of what ``predict`` returned.

    A point prediction is checked by :func:`check_predictions`; a :class:`~massbench.Prediction` by
    :func:`~massbench.prediction.check_prediction` (shapes, finiteness, sigma > 0, ordered quantiles)
    and its point estimate (``mean``, or the samples' mean) by :func:`check_predictions` (plausible
    range included). The returned distribution holds that point estimate as its ``mean``.
    """
    if not isinstance(pred, Prediction):
        return check_predictions(pred, n, plausible), None
    dist = check_prediction(pred, n)
    try:
        point = check_predictions(dist.point(), n, plausible)
    except ContractError as exc:
        raise ContractError(
            str(exc).replace("predict() returned", "predict() returned a Prediction whose mean has")
        ) from None
    return point, Prediction(mean=point, sigma=dist.sigma, quantiles=dist.quantiles, samples=dist.samples)


def stored_distribution(point: np.ndarray, data: Any, n: int) -> dict[str, Any] | None:
    """A distribution as stored (``Prediction.to_json`` form, or None), checked again against its point
    predictions: what a worker's result.json or a unit record holds is re-validated, never trusted."""
    if data is None:
        return None
    if not isinstance(data, Mapping) or data.get("kind") not in KINDS:
        raise ContractError(f"the stored distribution is not a Prediction's JSON form (kind one of {', '.join(KINDS)})")
    try:
        pred = Prediction.from_json(point, data)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ContractError(f"the stored distribution cannot be read ({exc})") from None
    if pred.kind != data["kind"]:
        raise ContractError(f"the stored distribution says kind {data['kind']!r} but holds a {pred.kind} form")
    return check_prediction(pred, n).to_json()


def check_inputs(estimator: str, inputs: Sequence[str], dataset: str, available: Mapping[str, InputArray]) -> None:
    """ContractError unless every declared input exists in the dataset and is not truth-only."""
    for name in inputs:
        if name not in available:
            raise ContractError(
                f"estimator {estimator!r} reads input {name!r}, which dataset "
                f"{dataset!r} does not have (it has {sorted(available)})"
            )
        if available[name].truth_only:
            raise ContractError(f"estimator {estimator!r} declares truth-only input {name!r}")


def declared_inputs(est: Any, cls: Any) -> tuple[str, ...]:
    """An estimator's inputs: the instance's (it may set them from its params), else the class's."""
    return tuple(getattr(est, "inputs", getattr(cls, "inputs", ())) or ())


def fit_predict(
    est: Any, train: CatalogueView, val: CatalogueView, test: CatalogueView, ctx: RunContext, inputs: Sequence[str]
) -> tuple[np.ndarray, Prediction | None, float, float]:
    """Fit, predict and check the contract; returns (point predictions, distribution or None, train seconds,
    predict seconds)."""
    est.context = ctx
    t0 = time.perf_counter()
    est.fit(train, val)
    t1 = time.perf_counter()
    pred = est.predict(test)
    t2 = time.perf_counter()
    if test.mass_read:
        raise TestMassAccessError(
            "the estimator read its test clusters' masses (view.log10_m500c on the "
            "test view); estimators may use masses only in fit(train, val)"
        )
    undeclared = sorted(train.audit.undeclared | val.audit.undeclared | test.audit.undeclared)
    if undeclared:
        raise ContractError(
            f"the estimator read input(s) {undeclared}, which it did not declare "
            f"(declared: {list(inputs)}); add them to the estimator's `inputs`"
        )
    point, dist = check_output(pred, len(test))
    return point, dist, t1 - t0, t2 - t1


def error_message(exc: BaseException) -> str:
    """The one-line message of a failed unit."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        extra = {"tensorflow": "tf", "keras": "tf", "torch": "torch", "matplotlib": "plot", "dask": "dask"}.get(
            exc.name.split(".")[0]
        )
        if extra:
            return f"{exc}: install it with pip install 'massbench[{extra}]'"
    return str(exc) if isinstance(exc, (ContractError, UserError)) else f"{type(exc).__name__}: {exc}"


def new_record(p: Prepared, unit: Unit, inputs: Sequence[str] | None = None) -> UnitRecord:
    """A unit's record before it runs (status failed until it succeeds)."""
    fold = p.fold(unit.fold)
    if inputs is None:
        info = p.registry.table("estimator").get(unit.spec.name)
        inputs = tuple(getattr(info.cls, "inputs", ()) or ()) if info else ()
    return UnitRecord(
        label=unit.spec.label,
        estimator=unit.spec.name,
        params=unit.spec.params,
        fold=unit.fold,
        repeat=unit.repeat,
        config_hash=unit.config_hash,
        seed=unit.seed,
        inputs=list(inputs),
        n_train=int(len(fold.train)),
        n_val=int(len(fold.val)),
        n_test=int(len(fold.test)),
        started=time.time(),
    )


def finish_record(out: Path, unit: Unit, rec: UnitRecord, tb: str | None = None) -> UnitRecord:
    """Write the traceback of a failed unit (or remove a stale one) and the record, atomically."""
    out = Path(out)
    tb_path = out / unit.traceback_path
    if rec.ok:
        tb_path.unlink(missing_ok=True)
    else:
        atomic_write_text(tb_path, tb if tb is not None else (rec.error or "") + "\n")
        rec.traceback_file = unit.traceback_path
    if rec.finished is None:
        rec.finished = time.time()
    atomic_write_json(out / unit.path, rec.to_json())
    return rec


def save_model(est: Any, directory: Path) -> None:
    """``est.save`` into ``directory``, replacing it only once the save finished."""
    tmp = directory.parent / f".{directory.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    est.save(tmp)
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)


def execute_unit(
    p: Prepared,
    unit: Unit,
    out: Path,
    device: str = "auto",
    progress: Callable[..., None] | None = None,
    cache_dir: Path | None = None,
) -> UnitRecord:
    """Run one unit in this process and write its record; never raises for an estimator's failure."""
    out = Path(out)
    fold = p.fold(unit.fold)
    info = p.registry.get("estimator", unit.spec.name)
    rec = new_record(p, unit)
    workdir = out / "work" / unit.spec.slug / unit.tag
    ctx = RunContext(
        seed=unit.seed,
        device=device,
        workdir=workdir,
        cache_dir=Path(cache_dir or default_cache_dir()),
        deterministic=p.bench.run.deterministic,
    )
    if progress is not None:
        ctx.progress = progress
    tb = None
    try:
        est = info.cls(**unit.spec.params)
        inputs = declared_inputs(est, info.cls)
        rec.inputs = list(inputs)
        check_inputs(unit.spec.name, inputs, p.catalogue.name, p.catalogue.inputs)
        train = p.catalogue.view(fold.train, inputs, role="train")
        val = p.catalogue.view(fold.val, inputs, role="val")
        test = p.catalogue.view(fold.test, inputs, role="test")
        workdir.mkdir(parents=True, exist_ok=True)
        pred, dist, t_fit, t_pred = fit_predict(est, train, val, test, ctx, inputs)
        if has_persistence(est):
            save_model(est, out / unit.model_dir)
        rec.status, rec.error = "ok", None
        rec.cluster_id = p.catalogue.cluster_id[fold.test].tolist()
        rec.prediction = pred.tolist()
        rec.distribution = None if dist is None else dist.to_json()
        rec.train_seconds, rec.predict_seconds = t_fit, t_pred
        rec.device_used = ctx.info.get("device_used", "cpu")
    except Exception as exc:
        rec.status, rec.error = "failed", error_message(exc)
        tb = traceback.format_exc()
        rec.device_used = ctx.info.get("device_used")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rec.info = ctx.info
    return finish_record(out, unit, rec, tb)
