"""Planning a run: the dataset loaded, folds drawn, and the units (estimator x fold) to run.

The unit of work is one estimator on one fold, once per training-seed repeat (``repeats: N`` on
the estimator's entry). Its configuration hash (benchmark, dataset, folds, estimator, params,
plugin version, repeat and seed) decides whether ``--resume`` may keep a finished record of it.
A unit's seed depends on the cv seed, the estimator's name and params, the fold and the repeat,
never on its display label, so relabelling a row does not change its results.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .catalogue import Catalogue
from .config import Benchmark, EstimatorSpec, config_hash
from .errors import UserError
from .estimator import RunContext, default_cache_dir
from .folds import Fold, fold_labels, make_folds
from .records import UnitKey, UnitRecord
from .registry import Registry
from .results import read_json

BASELINE = "baseline-mean"


@dataclass
class Unit:
    """One (estimator, fold, repeat) job: everything needed to run it and to recognise it on resume.

    Files of repeat 0 are ``units/<label>/fold<k>.json`` and ``models/<label>/fold<k>``, as they
    have always been; further repeats add ``-r<repeat>`` (``fold<k>-r1.json``).
    """

    spec: EstimatorSpec
    fold: int
    config_hash: str
    seed: int
    needs_gpu: bool = False
    timeout: float | None = None  # seconds; None: no limit
    repeat: int = 0

    @property
    def tag(self) -> str:
        """``fold<k>``, or ``fold<k>-r<repeat>`` for repeats after the first."""
        return unit_tag(self.fold, self.repeat)

    @property
    def path(self) -> str:
        return f"units/{self.spec.slug}/{self.tag}.json"

    @property
    def model_dir(self) -> str:
        return f"models/{self.spec.slug}/{self.tag}"

    @property
    def traceback_path(self) -> str:
        return f"units/{self.spec.slug}/{self.tag}.traceback.txt"

    @property
    def key(self) -> UnitKey:
        return (self.spec.label, self.fold, self.repeat)

    @property
    def title(self) -> str:
        """How progress output names the unit: ``label fold k`` (``repeat r/N`` when repeated)."""
        rep = f" repeat {self.repeat + 1}/{self.spec.repeats}" if self.spec.repeats > 1 else ""
        return f"{self.spec.label} fold {self.fold}{rep}"


@dataclass
class Prepared:
    """A benchmark with its dataset loaded and folds drawn."""

    bench: Benchmark
    registry: Registry
    catalogue: Catalogue
    folds: list[Fold]
    fold_of: np.ndarray
    dataset_meta: dict[str, Any] = field(default_factory=dict)

    def fold(self, k: int) -> Fold:
        return next(f for f in self.folds if f.k == k)


def with_baseline(bench: Benchmark) -> list[EstimatorSpec]:
    """The benchmark's estimators plus the built-in floor ``baseline-mean`` (unless already listed)."""
    specs = list(bench.estimators)
    if not any(s.name == BASELINE for s in specs):
        specs.append(EstimatorSpec(BASELINE, BASELINE, {}))
    return specs


def unit_tag(fold: int, repeat: int = 0) -> str:
    """File stem of a unit: ``fold<k>`` for the first repeat, ``fold<k>-r<repeat>`` after it."""
    return f"fold{fold}" if repeat == 0 else f"fold{fold}-r{repeat}"


def unit_seed(cv_seed: int, estimator: str, fold: int, params: dict[str, Any] | None = None, repeat: int = 0) -> int:
    """Seed of one unit (31 bits) from the cv seed, the estimator's plugin name, its params, the fold and the repeat.

    The display label plays no part: relabelling a row leaves its seeds, so its results, unchanged;
    the same plugin with other params, or another repeat, gets independent seeds.
    """
    params_hash = config_hash(params or {})
    h = hashlib.sha256(f"{cv_seed}/{estimator}/{params_hash}/{fold}/{repeat}".encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


def load_dataset(
    bench: Benchmark,
    registry: Registry,
    device: str = "auto",
    cache_dir: Path | None = None,
    progress: Callable[..., None] | None = None,
) -> Catalogue:
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
    try:
        cat = dataset.load(ctx)
    except (PermissionError, NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
        raise UserError(
            f"dataset {bench.dataset.name!r} could not read or write {exc.filename or ctx.cache_dir}: "
            f"{exc.strerror or exc}; check the permissions of the dataset cache ({ctx.cache_dir}, "
            "--cache-dir or $MASSBENCH_CACHE)"
        ) from None
    if not isinstance(cat, Catalogue):
        raise UserError(f"dataset plugin {bench.dataset.name!r} returned {type(cat).__name__}, not a Catalogue")
    return cat


def make_read_only(data: Any) -> None:
    """Make an input array read-only in place; for an object array, every array it holds too."""
    if not isinstance(data, np.ndarray):
        return
    if data.dtype == object:
        for item in data.ravel():
            if isinstance(item, np.ndarray):
                item.flags.writeable = False
    data.flags.writeable = False


def prepare(
    bench: Benchmark,
    registry: Registry,
    device: str = "auto",
    cache_dir: Path | None = None,
    catalogue: Catalogue | None = None,
) -> Prepared:
    """Load the dataset (unless given), make its inputs read-only and draw the folds."""
    cat = catalogue if catalogue is not None else load_dataset(bench, registry, device, cache_dir)
    for inp in cat.inputs.values():
        make_read_only(inp.data)
    labels = fold_labels(
        bench.cv.scheme, cat.positions, cat.box_size, bench.cv.seed, bench.cv.n_folds, groups=cat.groups()
    )
    folds = make_folds(labels, bench.cv.val_fraction, bench.cv.seed)
    return Prepared(bench, registry, cat, folds, labels, dict(cat.meta))


#: framework of an estimator -> (module to find, the extra that installs it)
FRAMEWORK_EXTRAS = {"tensorflow": ("tensorflow", "tf"), "torch": ("torch", "torch")}


def check_frameworks(bench: Benchmark, registry: Registry, only: Sequence[str] | None = None) -> None:
    """A UserError naming the pip extra when an estimator to run needs a framework that is not installed.

    Checked before the dataset loads (``importlib.util.find_spec``: nothing is imported).
    """
    import importlib.util

    missing: dict[str, list[str]] = {}
    for spec in bench.estimators:
        if only and spec.label not in only and spec.name not in only:
            continue
        info = registry.table("estimator").get(spec.name)
        fw = str(getattr(info.cls, "framework", "") or "") if info is not None else ""
        if fw in FRAMEWORK_EXTRAS and importlib.util.find_spec(FRAMEWORK_EXTRAS[fw][0]) is None:
            missing.setdefault(fw, []).append(spec.label)
    if missing:
        parts = [
            f"{', '.join(labels)} need{'s' if len(labels) == 1 else ''} {fw}, which is not installed"
            for fw, labels in missing.items()
        ]
        extras = ",".join(FRAMEWORK_EXTRAS[fw][1] for fw in missing)
        raise UserError(
            f"{bench.path}: " + "; ".join(parts) + f". Install it with pip install 'massbench[{extras}]' "
            "(from a clone: pip install -e '.[" + extras + "]'), or leave those estimators out with --only"
        )


def check_only(bench: Benchmark, only: Sequence[str] | None) -> None:
    """Raise a UserError for an ``--only`` name that is no estimator label or name of ``bench``.

    Called before the dataset loads, so a typo is reported at once.
    """
    if not only:
        return
    specs = with_baseline(bench)
    known = {s.label for s in specs} | {s.name for s in specs}
    unknown = sorted(set(only) - known)
    if unknown:
        import difflib

        hint = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        raise UserError(
            f"--only {unknown[0]!r} is not an estimator of {bench.path}"
            + (f"; did you mean {hint[0]!r}?" if hint else f"; it has {', '.join(sorted(known))}")
        )


def plan_units(p: Prepared, only: Sequence[str] | None = None) -> list[Unit]:
    """All units of the benchmark (restricted to ``only`` labels/names, baseline always kept)."""
    bench = p.bench
    specs = with_baseline(bench)
    if only:
        check_only(bench, only)
        wanted = set(only)
        known = {s.label for s in specs} | {s.name for s in specs}
        unknown = sorted(wanted - known)
        if unknown:
            import difflib

            hint = difflib.get_close_matches(unknown[0], sorted(known), n=1)
            raise UserError(
                f"--only {unknown[0]!r} is not an estimator of {bench.path}"
                + (f"; did you mean {hint[0]!r}?" if hint else f"; it has {', '.join(sorted(known))}")
            )
        specs = [s for s in specs if s.label in wanted or s.name in wanted or s.name == BASELINE]
    cat_key = p.dataset_meta.get("cache_key") or config_hash([len(p.catalogue), p.catalogue.cluster_id.tolist()])
    units = []
    for spec in specs:
        info = p.registry.get("estimator", spec.name, where=f"{bench.path}: ")
        for repeat in range(spec.repeats):
            for f in p.folds:
                seed = unit_seed(bench.cv.seed, spec.name, f.k, spec.params, repeat)
                h = config_hash(
                    {
                        "benchmark": bench.key,
                        "dataset": bench.dataset.__dict__,
                        "dataset_key": cat_key,
                        "cv": bench.cv.__dict__,
                        "estimator": spec.name,
                        "params": spec.params,
                        "fold": f.k,
                        "repeat": repeat,
                        "seed": seed,
                        "plugin_version": info.version,
                        "n_train": len(f.train),
                        "n_test": len(f.test),
                    }
                )
                units.append(
                    Unit(
                        spec,
                        f.k,
                        h,
                        seed,
                        bool(getattr(info.cls, "needs_gpu", False)),
                        bench.unit_timeout(spec),
                        repeat,
                    )
                )
    return units


def read_record(out: Path, unit: Unit) -> UnitRecord | None:
    """The unit's record in ``out`` when it has this configuration (None when missing, unreadable or stale)."""
    path = Path(out) / unit.path
    if not path.exists():
        return None
    try:
        rec = UnitRecord.from_json(read_json(path))
    except (UserError, OSError, TypeError):
        return None
    return rec if rec.config_hash == unit.config_hash else None


def unit_done(out: Path, unit: Unit) -> bool:
    """Whether a unit already succeeded with the same configuration."""
    rec = read_record(out, unit)
    return rec is not None and rec.ok


def resumable(out: Path, unit: Unit, retry_failed: bool = False) -> UnitRecord | None:
    """The record ``--resume`` keeps for ``unit``: ok ones, and failed ones unless ``retry_failed``."""
    rec = read_record(out, unit)
    if rec is None or (not rec.ok and retry_failed):
        return None
    return rec
