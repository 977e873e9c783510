"""``massbench check-plugin``: run an estimator through a tiny benchmark and check its contract.

The estimator is fitted on one octant fold of a small catalogue (the built-in ``erosita-mock`` with
120 clusters by default) exactly as the runner would fit it, through views that record what it
reads. Each check gives one line; a failing check names the problem and what to fix:

``loads``            the plugin module registered without errors
``imports-light``    importing the plugin module and calling its hooks (what every ``massbench``
                     command does) imports no tensorflow, torch, jax or keras (checked in a fresh
                     interpreter)
``params``           the params given match the estimator's typed ``__init__``
``inputs``           ``inputs`` is a tuple of names the dataset has, none truth-only
``fit``              ``fit(train, val)`` returns without raising
``predict``          ``predict(test)`` returns one finite value per test cluster, shape ``(n_test,)``
``plausible-range``  every prediction is a log10 M500c [h^-1 Msun] between 12 and 16
``prediction-form``  only when ``predict`` returns a :class:`massbench.Prediction`: exactly one of
                     sigma / quantiles / samples, shapes, finiteness, sigma > 0, ordered quantiles
                     (docs/plugins.md, "Probabilistic predictions"); the point checks use its mean
``declared-inputs``  it read no input it did not declare (even when it caught the error)
``no-test-masses``   it never read ``test.log10_m500c`` (even when it caught the error)
``repeatable``       a second instance fitted with the same ``RunContext`` seed predicts the same
``save-load``        when it has ``save``/``load``: the reloaded model predicts the same

Exit status of the command: 0 when nothing failed, 1 otherwise (2 for a user error).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .catalogue import CatalogueView
from .errors import ContractError, TestMassAccessError, UserError

HEAVY_MODULES = ("tensorflow", "torch", "jax", "keras")
PLAUSIBLE_LOG10_M500C = (12.0, 16.0)  # h^-1 Msun; the paper's clusters span 13.5-15.3
REPEAT_TOLERANCE_DEX = 1e-6
DEFAULT_DATASET = "erosita-mock"
DEFAULT_N_CLUSTERS = 120


@dataclass
class CheckResult:
    """One check: ``status`` is ``ok``, ``fail``, ``warn`` (not a failure) or ``skip``."""

    check: str
    status: str
    message: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def line(self) -> str:
        tag = {"ok": "ok  ", "fail": "FAIL", "warn": "warn", "skip": "skip"}[self.status]
        return f"  {tag}  {self.check}: {self.message}"


@dataclass
class EstimatorReport:
    """Every check of one estimator."""

    estimator: str
    plugin: str
    distribution: str
    version: str
    dataset: str
    n_clusters: int = 0
    fold: str = ""
    fit_seconds: float | None = None
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(r.failed for r in self.results)

    @property
    def problems(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed]

    def add(self, check: str, status: str, message: str) -> CheckResult:
        r = CheckResult(check, status, message)
        self.results.append(r)
        return r

    def header(self) -> str:
        where = f"{self.dataset}, {self.n_clusters} clusters" if self.n_clusters else self.dataset
        if self.fold:
            where += f", {self.fold}"
        dist = f"{self.distribution} {self.version}".strip()
        return f"check-plugin {self.estimator} (plugin {self.plugin}, distribution {dist}) on {where}"

    def text(self) -> str:
        n = len(self.problems)
        tail = "all checks passed" if n == 0 else f"{n} problem{'s' if n != 1 else ''}"
        return "\n".join([self.header(), *(r.line() for r in self.results), f"{self.estimator}: {tail}"])

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


class _Audit:
    """What an estimator read through its views."""

    def __init__(self) -> None:
        self.undeclared: list[str] = []
        self.test_mass_read = False


class AuditedView(CatalogueView):
    """A :class:`CatalogueView` that records undeclared reads and test-mass reads, including reads
    whose exception the estimator caught, and through ``subview``."""

    def __init__(self, view: CatalogueView, audit: _Audit):
        super().__init__(
            view.dataset,
            view.indices,
            view.cluster_id,
            view.redshift,
            view.arrays,
            view.log10_m500c_,
            view.role,
            view.all_inputs,
        )
        self._audit = audit

    def _input(self, name: str) -> Any:
        if name not in self.arrays and name not in self._audit.undeclared:
            self._audit.undeclared.append(name)
        return super()._input(name)

    @property
    def log10_m500c(self) -> np.ndarray:
        if self.log10_m500c_ is None:
            self._audit.test_mass_read = True
        return super().log10_m500c

    def subview(self, positions: Any) -> "AuditedView":
        return AuditedView(super().subview(positions), self._audit)


def plugin_module_name(registry: Any, plugin: str) -> str | None:
    """Import name of the module registered as ``plugin`` (None when it is not a module)."""
    if registry.pm is None:
        return None
    obj = registry.pm.get_plugin(plugin)
    name = getattr(obj, "__name__", None)
    return name if isinstance(name, str) and name in sys.modules else None


_IMPORT_PROBE = r"""
import importlib, json, sys, time
t = time.perf_counter()
err = None
try:
    m = importlib.import_module(sys.argv[1])
    for hook in ("massbench_datasets", "massbench_estimators", "massbench_explainers"):
        fn = getattr(m, hook, None)
        if fn is not None:
            fn()
except BaseException as exc:
    err = f"{type(exc).__name__}: {exc}"
heavy = [h for h in sys.argv[2].split(",") if h in sys.modules]
print("MASSBENCH_PROBE " + json.dumps({"seconds": time.perf_counter() - t, "heavy": heavy, "error": err}))
"""


def check_import_light(
    module: str, python: str | None = None, timeout: float = 120.0, env: dict[str, str] | None = None
) -> CheckResult:
    """Import ``module`` and call its dataset/estimator/explainer hooks in a fresh interpreter
    (``python``, this one by default, with ``env``); fail when tensorflow, torch, jax or keras got imported."""
    try:
        proc = subprocess.run(
            [python or sys.executable, "-c", _IMPORT_PROBE, module, ",".join(HEAVY_MODULES)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return CheckResult("imports-light", "fail", f"importing plugin module {module!r} took over {timeout:.0f} s")
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("MASSBENCH_PROBE ")), None)
    if line is None:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return CheckResult(
            "imports-light", "fail", f"could not import plugin module {module!r} in a fresh interpreter: {tail}"
        )
    probe = json.loads(line.split(" ", 1)[1])
    if probe["error"]:
        return CheckResult(
            "imports-light",
            "fail",
            f"importing plugin module {module!r} or calling its hooks failed in a fresh interpreter: {probe['error']}",
        )
    if probe["heavy"]:
        return CheckResult(
            "imports-light",
            "fail",
            f"importing plugin module {module!r} and calling its hooks imported "
            f"{', '.join(probe['heavy'])}; every massbench command loads every plugin, so import "
            "frameworks inside fit/predict (or in a module the hook does not import)",
        )
    secs = probe["seconds"]
    if secs > 1.0:
        return CheckResult(
            "imports-light",
            "warn",
            f"plugin module {module!r} took {secs:.2f} s to import (keep it under a second: it loads on every command)",
        )
    return CheckResult(
        "imports-light",
        "ok",
        f"plugin module {module!r} loads in {secs:.2f} s and imports no {'/'.join(HEAVY_MODULES)}",
    )


def resolve_estimators(registry: Any, name: str) -> list[Any]:
    """The estimators ``name`` stands for: an estimator name, or a plugin (entry-point) name
    standing for every estimator that plugin registers."""
    table = registry.table("estimator")
    if name in table:
        return [table[name]]
    of_plugin = [info for info in table.values() if info.plugin == name]
    if of_plugin:
        return sorted(of_plugin, key=lambda i: i.name)
    failed = [e for e in registry.errors if e.plugin == name]
    if failed:
        raise UserError(
            f"plugin {name!r} ({failed[0].distribution} {failed[0].version}) did not load: {failed[0].error}"
        )
    registry.get("estimator", name)  # raises a UserError with a suggestion
    raise AssertionError("unreachable")


def _dataset_params(info: Any, params: dict[str, Any], n_clusters: int | None) -> dict[str, Any]:
    from .params import declared_params

    out = dict(params)
    if n_clusters and "n_clusters" in declared_params(info.cls):
        out["n_clusters"] = n_clusters
    return out


def check_estimator(
    registry: Any,
    name: str,
    dataset: str = DEFAULT_DATASET,
    dataset_params: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    n_clusters: int | None = DEFAULT_N_CLUSTERS,
    seed: int = 0,
    device: str = "cpu",
    cache_dir: Path | None = None,
    fold: int = 0,
    import_check: bool = True,
) -> EstimatorReport:
    """Run every check on estimator ``name`` (see the module docstring) and return the report.

    Raises :class:`UserError` for an unknown estimator or dataset, or dataset params that do not fit.
    """
    from .config import Benchmark, CVSpec, DatasetSpec, EstimatorSpec
    from .estimator import default_cache_dir, has_persistence
    from .params import check_params

    info = registry.get("estimator", name)
    ds_info = registry.get("dataset", dataset, where="check-plugin --dataset: ")
    ds_params = _dataset_params(ds_info, dataset_params or {}, n_clusters)
    for msg in check_params(ds_info.cls, ds_params):
        raise UserError(f"check-plugin: dataset {dataset!r}: {msg}")
    params = dict(params or {})
    rep = EstimatorReport(info.name, info.plugin, info.distribution, info.version, dataset)

    load_errors = [e for e in registry.errors if e.plugin == info.plugin]
    if load_errors:
        for e in load_errors:
            rep.add("loads", "fail", e.error)
    else:
        rep.add("loads", "ok", f"plugin {info.plugin!r} registered without errors")

    module = plugin_module_name(registry, info.plugin)
    if not import_check:
        rep.add("imports-light", "skip", "not checked (--no-import-check)")
    elif module is None:
        rep.add("imports-light", "skip", f"plugin {info.plugin!r} is not an importable module")
    else:
        rep.results.append(check_import_light(module))

    problems = check_params(info.cls, params)
    for msg in problems:
        rep.add("params", "fail", f"{msg} (params must match the typed keyword arguments of __init__)")
    if not problems:
        rep.add("params", "ok", f"{json.dumps(params) if params else 'default params'} accepted by __init__")
    untyped = _untyped_params(info.cls)
    if untyped:
        rep.add(
            "params",
            "warn",
            f"__init__ params without a type hint are not checked in benchmark files: {', '.join(untyped)}",
        )
    if not getattr(info.cls, "framework", ""):
        rep.add("framework", "warn", "no `framework` class attribute (shown in leaderboards, e.g. 'numpy', 'torch')")

    bench = Benchmark(
        benchmark="check-plugin",
        version="0",
        dataset=DatasetSpec(dataset, ds_params),
        cv=CVSpec(scheme="octants", val_fraction=0.1, seed=seed),
        estimators=[EstimatorSpec(info.name, info.name, params)],
        path="check-plugin",
    )
    from .plan import prepare, unit_seed

    prep = prepare(bench, registry, device=device, cache_dir=cache_dir)
    rep.n_clusters = len(prep.catalogue)
    f = next((x for x in prep.folds if x.k == fold), prep.folds[0])
    rep.fold = f"fold {f.k}: {len(f.train)} train, {len(f.val)} val, {len(f.test)} test"

    inputs = getattr(info.cls, "inputs", ())
    if isinstance(inputs, str) or not isinstance(inputs, (tuple, list)) or not all(isinstance(i, str) for i in inputs):
        rep.add("inputs", "fail", f"`inputs` must be a tuple of input names, got {inputs!r}")
        return _skip_rest(rep, "inputs are invalid")
    cat = prep.catalogue
    bad = [i for i in inputs if i not in cat.inputs]
    truth = [i for i in inputs if i in cat.inputs and cat.inputs[i].truth_only]
    if bad:
        rep.add(
            "inputs",
            "fail",
            f"declares {', '.join(map(repr, bad))}, which dataset {cat.name!r} does not have "
            f"(it has {', '.join(sorted(n for n, a in cat.inputs.items() if not a.truth_only))})",
        )
    if truth:
        rep.add(
            "inputs",
            "fail",
            f"declares truth-only input(s) {', '.join(map(repr, truth))}: only explainers may read them",
        )
    if bad or truth:
        return _skip_rest(rep, "inputs are invalid")
    ideal = [i for i in inputs if cat.inputs[i].idealised]
    rep.add(
        "inputs",
        "ok",
        f"declares {list(inputs)}"
        + (f" (idealised: {', '.join(ideal)}; the leaderboard marks it idealised)" if ideal else ""),
    )
    if problems:
        return _skip_rest(rep, "params are invalid")

    cache = Path(cache_dir or default_cache_dir())
    seed_u = unit_seed(seed, info.name, f.k)
    with tempfile.TemporaryDirectory(prefix="massbench-check-") as tmp:
        tmpd = Path(tmp)
        first = _fit_predict(info, params, prep, f, inputs, seed_u, device, tmpd / "run1", cache)
        rep.fit_seconds = first.fit_seconds
        fit_ok = first.error is None or first.error[0] in ("predict", "prediction-form")
        if fit_ok:
            rep.add(
                "fit", "ok", f"fit on {len(f.train)} train + {len(f.val)} val clusters in {first.fit_seconds:.2f} s"
            )
        if first.error is not None:
            check, msg = first.error
            contract = isinstance(first.exc, TestMassAccessError) or (
                isinstance(first.exc, ContractError) and bool(first.audit.undeclared)
            )
            if not contract:  # a broken contract gets its own line below
                rep.add(check, "fail", msg)
            _audit_lines(rep, first)
            return _skip_rest(rep, f"{check} failed" if not contract else "the contract was broken")
        pred = first.pred
        assert pred is not None
        rep.add("predict", "ok", f"shape ({len(f.test)},), all finite")
        if first.dist is not None:
            rep.add("prediction-form", "ok", _describe_prediction(first.dist))
        lo, hi = PLAUSIBLE_LOG10_M500C
        out = (pred < lo) | (pred > hi)
        if out.any():
            rep.add(
                "plausible-range",
                "fail",
                f"{int(out.sum())} of {len(pred)} predictions outside {lo:g}-{hi:g} (range {pred.min():.3g} to "
                f"{pred.max():.3g}); predict log10 M500c in h^-1 Msun, not M, ln M or scaled targets",
            )
        else:
            rep.add(
                "plausible-range", "ok", f"predictions {pred.min():.2f} to {pred.max():.2f} (log10 M500c [h^-1 Msun])"
            )
        _audit_lines(rep, first)
        if first.audit.test_mass_read or first.audit.undeclared:
            return _skip_rest(rep, "the contract was broken", ("repeatable", "save-load"))

        second = _fit_predict(info, params, prep, f, inputs, seed_u, device, tmpd / "run2", cache)
        if second.error is not None or second.pred is None:
            rep.add(
                "repeatable",
                "fail",
                f"a second fit with the same seed failed: {second.error[1] if second.error else ''}",
            )
        else:
            diff = float(np.max(np.abs(second.pred - pred))) if len(pred) else 0.0
            if diff > REPEAT_TOLERANCE_DEX:
                rep.add(
                    "repeatable",
                    "fail",
                    f"two fits with the same RunContext seed ({seed_u}) differ by up to {diff:.3g} dex; seed every "
                    "random generator from self.context.seed (self.context.rng(), torch.manual_seed, "
                    "keras.utils.set_random_seed) and use deterministic operations when self.context.deterministic is set",
                )
            else:
                rep.add("repeatable", "ok", f"two fits with seed {seed_u} agree to {diff:.1e} dex")

        est = first.estimator
        has_save = callable(getattr(est, "save", None))
        has_load = callable(getattr(type(est), "load", None))
        if has_persistence(est):
            rep.results.append(_check_save_load(est, first, prep, f, inputs, tmpd, device, cache, seed_u))
        elif has_save or has_load:
            rep.add(
                "save-load",
                "fail",
                f"defines {'save' if has_save else 'load'} but not "
                f"{'load' if has_save else 'save'}; define both (load as a classmethod) "
                "or neither",
            )
        else:
            rep.add(
                "save-load",
                "skip",
                "no save/load: trained models are not kept, so `massbench explain` cannot reload them",
            )
    return rep


@dataclass
class _FitOutcome:
    estimator: Any = None
    pred: np.ndarray | None = None
    dist: Any = None
    error: tuple[str, str] | None = None
    audit: _Audit = field(default_factory=_Audit)
    fit_seconds: float = 0.0
    views: tuple = ()
    exc: BaseException | None = None


def _views(p: Any, f: Any, inputs: Sequence[str], audit: _Audit) -> tuple[AuditedView, AuditedView, AuditedView]:
    cat = p.catalogue
    return (
        AuditedView(cat.view(f.train, inputs, role="train"), audit),
        AuditedView(cat.view(f.val, inputs, role="val"), audit),
        AuditedView(cat.view(f.test, inputs, role="test"), audit),
    )


def _context(seed: int, device: str, workdir: Path, cache: Path) -> Any:
    from .estimator import RunContext

    workdir.mkdir(parents=True, exist_ok=True)
    # deterministic as under a benchmark file's default ``run.deterministic: true``
    return RunContext(seed=seed, device=device, workdir=workdir, cache_dir=cache, deterministic=True)


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, (ContractError, UserError)) else f"{type(exc).__name__}: {exc}"


def _fit_predict(
    info: Any,
    params: dict[str, Any],
    p: Any,
    f: Any,
    inputs: Sequence[str],
    seed: int,
    device: str,
    workdir: Path,
    cache: Path,
) -> _FitOutcome:
    from .prediction import Prediction, check_prediction
    from .unit import check_output

    out = _FitOutcome()
    train, val, test = out.views = _views(p, f, inputs, out.audit)
    try:
        est = info.cls(**params)
    except Exception as exc:
        out.error = ("fit", f"{info.name}(**params) raised {_describe(exc)}")
        return out
    est.context = _context(seed, device, workdir, cache)
    out.estimator = est
    t0 = time.perf_counter()
    try:
        est.fit(train, val)
    except Exception as exc:
        out.error, out.exc = ("fit", f"fit(train, val) raised {_describe(exc)}"), exc
        return out
    out.fit_seconds = time.perf_counter() - t0
    try:
        raw = est.predict(test)
    except Exception as exc:
        out.error, out.exc = ("predict", f"predict(test) raised {_describe(exc)}"), exc
        return out
    if isinstance(raw, Prediction):
        try:
            check_prediction(raw, len(f.test))
        except ContractError as exc:
            out.error = ("prediction-form", str(exc))
            return out
    try:
        out.pred, out.dist = check_output(raw, len(f.test), plausible=False)
    except ContractError as exc:
        out.error = ("predict", str(exc))
    return out


def _describe_prediction(dist: Any) -> str:
    """One line about a validated Prediction: its form and the width of its distributions [dex]."""
    if dist.kind == "gaussian":
        s = np.asarray(dist.sigma)
        return f"Gaussian (mean, sigma): sigma {s.min():.3g} to {s.max():.3g} dex"
    if dist.kind == "quantiles":
        levels = ", ".join(f"{q:g}" for q in sorted(dist.quantiles))
        return f"quantiles at levels {levels}, ordered"
    k = np.asarray(dist.samples).shape[1]
    sd = np.asarray(dist.samples).std(axis=1, ddof=1)
    return f"{k} samples per cluster: standard deviation {sd.min():.3g} to {sd.max():.3g} dex"


def _audit_lines(rep: EstimatorReport, o: _FitOutcome) -> None:
    a = o.audit
    if a.undeclared:
        rep.add(
            "declared-inputs",
            "fail",
            f"read undeclared input(s) {', '.join(map(repr, a.undeclared))}; add them "
            "to the estimator's `inputs` (the runner fails the unit otherwise)",
        )
    elif o.estimator is not None:
        rep.add("declared-inputs", "ok", "read only its declared inputs")
    if a.test_mass_read:
        rep.add(
            "no-test-masses",
            "fail",
            "read test.log10_m500c (the test clusters' true masses); use masses only in fit(train, val)",
        )
    elif o.estimator is not None and o.error is None:
        rep.add("no-test-masses", "ok", "never read the test masses")


def _check_save_load(
    est: Any, first: _FitOutcome, p: Any, f: Any, inputs: Sequence[str], tmpd: Path, device: str, cache: Path, seed: int
) -> CheckResult:
    from .unit import check_predictions

    model = tmpd / "model"
    model.mkdir()
    try:
        est.save(model)
    except Exception as exc:
        return CheckResult("save-load", "fail", f"save(directory) raised {_describe(exc)}")
    if not any(model.iterdir()):
        return CheckResult("save-load", "fail", "save(directory) wrote nothing into the directory")
    try:
        loaded = type(est).load(model)
    except Exception as exc:
        return CheckResult("save-load", "fail", f"load(directory) raised {_describe(exc)}")
    try:
        loaded.context = _context(seed, device, tmpd / "reload", cache)
    except Exception:
        pass
    audit = _Audit()
    test = _views(p, f, inputs, audit)[2]
    try:
        pred = check_predictions(loaded.predict(test), len(f.test), plausible=False)
    except Exception as exc:
        return CheckResult("save-load", "fail", f"the reloaded model's predict(test) raised {_describe(exc)}")
    assert first.pred is not None
    diff = float(np.max(np.abs(pred - first.pred))) if len(pred) else 0.0
    if audit.test_mass_read or audit.undeclared:
        return CheckResult("save-load", "fail", "the reloaded model read test masses or undeclared inputs")
    if diff > REPEAT_TOLERANCE_DEX:
        return CheckResult(
            "save-load",
            "fail",
            f"the reloaded model's predictions differ by up to {diff:.3g} dex; save "
            "every fitted parameter (including preprocessing fitted in fit)",
        )
    n_files = sum(1 for x in model.rglob("*") if x.is_file())
    return CheckResult("save-load", "ok", f"saved ({n_files} file(s)), reloaded, predictions agree to {diff:.1e} dex")


def _skip_rest(
    rep: EstimatorReport,
    why: str,
    checks: Sequence[str] = (
        "fit",
        "predict",
        "plausible-range",
        "declared-inputs",
        "no-test-masses",
        "repeatable",
        "save-load",
    ),
) -> EstimatorReport:
    done = {r.check for r in rep.results}
    for c in checks:
        if c not in done:
            rep.add(c, "skip", f"not run ({why})")
    return rep


def _untyped_params(cls: type) -> list[str]:
    import inspect

    from .params import declared_params, param_hints

    hints = param_hints(cls)
    return [
        n for n, prm in declared_params(cls).items() if n not in hints and prm.annotation is inspect.Parameter.empty
    ]


def parse_param_options(values: Sequence[str] | None, what: str = "--param") -> dict[str, Any]:
    """``key=value`` options into a dict; values are read as YAML scalars/lists (``epochs=3``, ``bands=[a, b]``)."""
    import yaml

    out: dict[str, Any] = {}
    for item in values or []:
        if "=" not in item:
            raise UserError(f"{what} {item!r}: write key=value, e.g. {what} epochs=3")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key.isidentifier():
            raise UserError(f"{what} {item!r}: {key!r} is not a parameter name")
        try:
            out[key] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            out[key] = raw
    return out
