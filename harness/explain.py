"""Running explainers on each fold's trained model and test clusters.

For every ``explainers:`` entry of a benchmark and every estimator it names, each fold's model
is reloaded from ``models/<label>/fold<k>/`` with the estimator class's ``load`` and handed,
with the fold's test view (declared inputs only, no masses), a truth view of the same
clusters and a truth view of the fold's training clusters, to ``explain_fold``. Per-fold
arrays go to ``explanations/<explainer>/<label>/fold<k>.npz``; ``summarize`` then sees them
concatenated over folds, and its figures land in ``explanations/summary.json`` as
``{explainer: {label: summary}}``. Saved per-fold arrays are reused while the estimator's config
hash, the explainer's params and, when the explainer has one, its ``fingerprint()`` (effective
settings, defaults included) are unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .config import slugify
from .errors import UserError
from .estimator import RunContext, default_cache_dir
from .results import atomic_write_json, read_json


def _save_npz(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    payload: dict[str, Any] = {"__meta__": np.array(json.dumps(meta)), **{k: np.asarray(v) for k, v in arrays.items()}}
    np.savez_compressed(tmp, **payload)
    tmp.replace(path)


def _load_npz(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"])) if "__meta__" in z else {}
        return {k: z[k] for k in z.files if k != "__meta__"}, meta


def run_explainers(
    p: Any,
    out: Path,
    options: Any,
    prog: Any = None,
    only: Sequence[str] | None = None,
    failures: list[tuple[str, str, str]] | None = None,
) -> dict:
    """Run every explainer of the benchmark; returns the summary written to summary.json.

    A failed explanation never replaces an earlier successful one in summary.json (the good result
    and its report section stay); each failure is appended to ``failures`` as (explainer, label, error).
    """
    from .plan import plan_units

    bench, registry = p.bench, p.registry
    out = Path(out)
    summary_path = out / "explanations" / "summary.json"
    summary: dict[str, Any] = read_json(summary_path) if summary_path.exists() else {}
    hashes = {(u.spec.label, u.fold): u.config_hash for u in plan_units(p) if u.repeat == 0}
    for xspec in bench.explainers:
        xinfo = registry.get("explainer", xspec.name, where=f"{bench.path}: ")
        explainer = xinfo.cls(**xspec.params)
        for target in xspec.estimators:
            spec = next((e for e in bench.estimators if e.label == target), None) or next(
                (e for e in bench.estimators if e.name == target), None
            )
            if spec is None:
                raise UserError(f"{bench.path}: explainer {xspec.name!r} names unknown estimator {target!r}")
            if only and spec.label not in only and spec.name not in only:
                continue
            einfo = registry.get("estimator", spec.name)
            xdir = out / "explanations" / slugify(xspec.name) / spec.slug
            entry: dict[str, Any]
            try:
                entry = _explain_estimator(p, out, explainer, xspec, spec, einfo, xdir, hashes, options, prog)
            except Exception as exc:
                if getattr(options, "debug", False):
                    raise
                msg = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
                if isinstance(exc, ModuleNotFoundError) and exc.name and exc.name.split(".")[0] == "matplotlib":
                    msg += ": install it with pip install 'massbench[plot]'"
                entry = {"status": "failed", "error": msg}
                if failures is not None:
                    failures.append((xspec.name, spec.label, msg))
                if prog is not None:
                    prog.message(f"explainer {xspec.name} on {spec.label} failed: {msg}")
                previous = summary.get(xspec.name, {}).get(spec.label)
                if isinstance(previous, dict) and previous.get("status") == "ok":
                    continue  # keep the earlier good result
            summary.setdefault(xspec.name, {})[spec.label] = entry
            atomic_write_json(summary_path, summary)
    return summary


def _explain_estimator(
    p: Any,
    out: Path,
    explainer: Any,
    xspec: Any,
    spec: Any,
    einfo: Any,
    xdir: Path,
    hashes: dict,
    options: Any,
    prog: Any,
) -> dict[str, Any]:
    cat = p.catalogue
    cls = einfo.cls
    inputs = tuple(getattr(cls, "inputs", ()) or ())
    all_arrays: dict[str, list[np.ndarray]] = {}
    order: list[np.ndarray] = []
    if prog is not None:
        prog.message(f"explaining {spec.label} with {xspec.name}")
    for fold in p.folds:
        model_dir = out / "models" / spec.slug / f"fold{fold.k}"
        npz = xdir / f"fold{fold.k}.npz"
        want = {"config_hash": hashes.get((spec.label, fold.k)), "explainer": xspec.name, "params": xspec.params}
        fingerprint = getattr(explainer, "fingerprint", None)
        if callable(fingerprint):  # effective settings, defaults included: a changed default re-explains
            want["settings"] = fingerprint()
        arrays = None
        if npz.exists():
            arrays, meta = _load_npz(npz)
            if meta != json.loads(json.dumps(want)):
                arrays = None
        if arrays is None:
            if not model_dir.exists():
                raise UserError(
                    f"{model_dir}: no saved model for {spec.label} fold {fold.k}; "
                    "run the benchmark first (estimators must implement save/load to be explained)"
                )
            if not callable(getattr(cls, "load", None)):
                raise UserError(f"estimator {spec.name!r} cannot reload its models (no classmethod load)")
            est = cls.load(model_dir)
            est.context = RunContext(
                seed=0,
                device=getattr(options, "device", "auto"),
                cache_dir=Path(getattr(options, "cache_dir", None) or default_cache_dir()),
                deterministic=p.bench.run.deterministic,
            )
            if not explainer.supports(est):
                return {"status": "skipped", "error": f"explainer {xspec.name!r} does not support {spec.name!r}"}
            test = cat.view(fold.test, tuple(getattr(est, "inputs", inputs) or ()), role="test")
            truth = cat.view(fold.test, None, role="truth", allow_truth=True)
            train_truth = cat.view(np.concatenate([fold.train, fold.val]), None, role="truth", allow_truth=True)
            arrays = explainer.explain_fold(est, test, truth, train_truth, est.context)
            _save_npz(npz, arrays, want)
        for k, v in arrays.items():
            all_arrays.setdefault(k, []).append(np.asarray(v))
        order.append(fold.test)
    idx = np.concatenate(order)
    merged = {k: np.concatenate(v, axis=0) for k, v in all_arrays.items()}
    truth_all = cat.view(idx, None, role="truth", allow_truth=True)
    res = explainer.summarize(spec.label, merged, truth_all, xdir)
    return {"status": "ok", **(res or {})}
