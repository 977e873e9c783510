"""Benchmark files: YAML read with safe loading into typed records.

Format (exactly these keys; ``cv.n_folds`` and explainer ``params`` are optional extensions)::

    benchmark: erosita            # name
    version: "1.0"                # results of different versions are never mixed
    dataset:
      name: erosita-mock          # a dataset plugin
      params: {n_clusters: 3285, seed: 0}
    cv:
      scheme: octants             # the paper's 8 spatial folds; also `random` or `lineage` (k folds; leakage)
      val_fraction: 0.1           # random share of the training folds kept for validation
      seed: 0
      n_folds: 8                  # random and lineage schemes only
    estimators:
      - name: cnn-single-band     # an estimator plugin
        label: CNN 0.5-10 keV     # optional display name; one plugin may appear twice with other params
        params: {epochs: 150, patience: 20}
        timeout: 7200             # optional: this estimator's own unit timeout
        repeats: 3                # optional: train every fold 3 times with derived seeds (default 1)
    run:                          # optional
      timeout: 3600               # seconds one unit may run (fit + predict) before it is killed
      deterministic: true         # frameworks run deterministically (default true; see RunSpec)
    explainers:                   # optional
      - name: saliency
        estimators: [cnn-single-band]   # estimator labels or names
        params: {}
    evaluation:                   # optional
      population: flat            # flat (default) or natural: which population ranks the leaderboard

Every error names the file, the line and the key, with a did-you-mean suggestion where
one applies; plugin params are checked against each plugin's typed ``__init__``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import yaml

from .errors import ConfigError
from .folds import SCHEMES

if TYPE_CHECKING:
    from .reference import Reference


class _Map(dict):
    line: int = 0
    key_lines: dict[str, int]


class _Seq(list):
    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping key and sequence item (1-based)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    out = _Map()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise ConfigError(f"{loader.name}:{key_node.start_mark.line + 1}: key {key!r} appears twice")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[str(key)] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(n, deep=True) for n in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [n.start_mark.line + 1 for n in node.value]
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


@dataclass
class DatasetSpec:
    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class CVSpec:
    scheme: str = "octants"
    val_fraction: float = 0.1
    seed: int = 0
    n_folds: int = 8


@dataclass
class EstimatorSpec:
    name: str
    label: str
    params: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None  # seconds per unit; None: the benchmark's ``run.timeout``
    repeats: int = 1  # training-seed repeats of every fold (seed spread in the leaderboard)

    @property
    def slug(self) -> str:
        """File-system-safe form of the label (unique within a benchmark)."""
        return slugify(self.label)


@dataclass
class RunSpec:
    """The ``run:`` section: how units are run (never part of a unit's configuration hash)."""

    timeout: float | None = None  # seconds per unit (fit + predict) before its worker is killed; None: no limit
    #: Estimators make their framework deterministic (``RunContext.deterministic``): TensorFlow op
    #: determinism, torch ``use_deterministic_algorithms`` with cuDNN's deterministic flags, no
    #: mixed precision. Same seed, hardware and software: bit-identical predictions, also on a GPU
    #: (slower there). ``false`` trades that for speed. Recorded in ``run.json``.
    deterministic: bool = True


@dataclass
class EvaluationSpec:
    """The ``evaluation:`` section: which population ranks the leaderboard.

    Both populations are always scored and reported side by side (massbench.population): ``flat``
    (the default) is the test sample as drawn, the paper's metrics; ``natural`` importance-weights
    the test clusters to the halo mass function. ``population`` picks the one that sorts
    leaderboard.json/.md/.csv and the HTML page and that report.md puts first; nothing else (not
    training, folds, ``vs_best``, nor a unit's configuration hash) depends on it.
    """

    population: str = "flat"


@dataclass
class ExplainerSpec:
    name: str
    estimators: list[str]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Benchmark:
    """A parsed, checked benchmark file."""

    benchmark: str
    version: str
    dataset: DatasetSpec
    cv: CVSpec
    estimators: list[EstimatorSpec]
    explainers: list[ExplainerSpec] = field(default_factory=list)
    path: str = ""
    sha256: str = ""
    run: RunSpec = field(default_factory=RunSpec)
    reference: Optional["Reference"] = None  # published values shown beside the scores (massbench.reference)
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)

    @property
    def key(self) -> str:
        return f"{self.benchmark}@{self.version}"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("path")
        d.pop("sha256")
        if self.run.timeout is None:  # unset extensions are left out: older readers see the same layout
            d["run"].pop("timeout")
        if self.run.deterministic:  # the default (run.json records the setting at its top level)
            d["run"].pop("deterministic")
        if not d["run"]:
            d.pop("run")
        if self.reference is None:
            d.pop("reference")
        if self.evaluation == EvaluationSpec():  # the default: older readers see the same layout
            d.pop("evaluation")
        for e in d["estimators"]:
            if e.get("timeout") is None:
                e.pop("timeout", None)
            if e.get("repeats") == 1:
                e.pop("repeats", None)
        return d

    def unit_timeout(self, spec: EstimatorSpec) -> float | None:
        """Seconds one unit of ``spec`` may run: its own ``timeout``, else ``run.timeout``, else None."""
        return spec.timeout if spec.timeout is not None else self.run.timeout

    def estimator(self, label: str) -> EstimatorSpec:
        for e in self.estimators:
            if e.label == label:
                return e
        raise KeyError(label)


def plain(o: Any) -> Any:
    """Plain dict/list copies of the line-tracking loader's containers (safe to dump as YAML/JSON)."""
    if isinstance(o, dict):
        return {k: plain(v) for k, v in o.items()}
    if isinstance(o, list):
        return [plain(v) for v in o]
    return o


#: Rows every run adds by itself (folded slug -> estimator name); no other entry may take these labels.
RESERVED_LABELS = {"baseline-mean": "baseline-mean"}
MAX_LABEL = 120  # characters; the label's slug is a folder name (at most 255 bytes on most file systems)


def slugify(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return s or "estimator"


def config_hash(obj: Any) -> str:
    """Stable short hash of a JSON-able object (used to decide whether a unit can be resumed)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


_TOP = {
    "benchmark": True,
    "version": True,
    "dataset": True,
    "cv": True,
    "estimators": True,
    "explainers": False,
    "run": False,
    "reference": False,
    "evaluation": False,
}
_DATASET = {"name": True, "params": False}
_CV = {"scheme": False, "val_fraction": False, "seed": False, "n_folds": False}
_EST = {"name": True, "label": False, "params": False, "timeout": False, "repeats": False}

#: Most training-seed repeats an estimator entry may ask for.
MAX_REPEATS = 50
_RUN = {"timeout": False, "deterministic": False}
_EVAL = {"population": False}
_EXPL = {"name": True, "estimators": True, "params": False}


class _Checker:
    """Checks of one file: ``fail`` stops at once (later checks depend on it), ``soft`` collects a
    problem so that :meth:`raise_collected` reports every independent problem of the file in one go."""

    def __init__(self, path: str):
        self.path = path
        self.problems: list[tuple[int, str]] = []

    def fail(self, line: int, msg: str) -> None:
        if self.problems:  # report what was collected so far too
            self.soft(line, msg)
            self.raise_collected()
        raise ConfigError(f"{self.path}:{line}: {msg}")

    def soft(self, line: int, msg: str) -> None:
        self.problems.append((line, msg))

    def raise_collected(self) -> None:
        if not self.problems:
            return
        probs = sorted(set(self.problems))
        if len(probs) == 1:
            raise ConfigError(f"{self.path}:{probs[0][0]}: {probs[0][1]}")
        raise ConfigError(
            f"{len(probs)} problems in {self.path}:\n" + "\n".join(f"{self.path}:{ln}: {m}" for ln, m in probs)
        )

    def keys(self, m: Any, allowed: dict[str, bool], where: str, line: int) -> _Map:
        if not isinstance(m, dict):
            self.fail(line, f"{where} must be a mapping, got {type(m).__name__}")
        for k in m:
            if k not in allowed:
                hint = difflib.get_close_matches(str(k), list(allowed), n=1)
                self.fail(
                    m.key_lines.get(str(k), m.line),
                    f"unknown key {where + '.' if where else ''}{k}"
                    + (f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(allowed)}"),
                )
        for k, required in allowed.items():
            if required and k not in m:
                self.fail(m.line, f"missing key {where + '.' if where else ''}{k}")
        return m

    def typed(self, m: _Map, key: str, tp: type | tuple[type, ...], where: str, what: str) -> Any:
        v = m[key]
        ok = isinstance(v, tp) and not (isinstance(v, bool) and bool not in (tp if isinstance(tp, tuple) else (tp,)))
        if not ok:
            extra = ' (quote it: version: "1.0")' if key == "version" else ""
            self.fail(m.key_lines.get(key, m.line), f"{where}{key} must be {what}, got {v!r}{extra}")
        return v


def parse_estimator_entries(c: "_Checker", ests_raw: Any, line: int, check: Any = None) -> list[EstimatorSpec]:
    """The ``estimators:`` list of a benchmark or submission file as :class:`EstimatorSpec` records.

    Entries are ``{name, label?, params?}`` mappings or bare names; labels must be distinct.
    ``check(i, entry_map, name, label)`` may add checks of its own (it calls ``c.fail``).
    """
    if not isinstance(ests_raw, list) or not ests_raw:
        c.fail(line, "estimators must be a non-empty list of {name, label, params}")
    estimators: list[EstimatorSpec] = []
    seen: dict[str, tuple[int, str, int]] = {}
    for i, e in enumerate(ests_raw):
        line = ests_raw.item_lines[i]
        if isinstance(e, str):
            e = _Map(name=e)
            e.line, e.key_lines = line, {"name": line}
        em = c.keys(e, _EST, f"estimators[{i}]", line)
        ename = c.typed(em, "name", str, f"estimators[{i}].", "a string")
        label = c.typed(em, "label", str, f"estimators[{i}].", "a string") if "label" in em else ename
        params = em.get("params") or {}
        if not isinstance(params, dict):
            c.fail(em.key_lines.get("params", em.line), f"estimators[{i}].params must be a mapping")
        timeout = parse_timeout(c, em, f"estimators[{i}].") if "timeout" in em else None
        repeats = 1
        if "repeats" in em:
            repeats = em["repeats"]
            if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
                c.fail(
                    em.key_lines.get("repeats", em.line),
                    f"estimators[{i}].repeats must be an integer from 1 to {MAX_REPEATS}, got {repeats!r}",
                )
        if not label.strip() or len(label) > MAX_LABEL:
            c.fail(
                em.key_lines.get("label", em.line),
                f"estimators[{i}].label must be 1 to {MAX_LABEL} characters, not blank, got {len(label)}",
            )
        if check is not None:
            check(i, em, ename, label)
        slug = EstimatorSpec(ename, label).slug
        folded = slug.lower()  # units/<slug>/ of two labels differing only in case are one folder on macOS/Windows
        reserved = RESERVED_LABELS.get(folded)
        if reserved is not None and ename != reserved:
            c.fail(
                em.key_lines.get("label", em.line),
                f"estimators[{i}] (name {ename!r}, label {label!r}) collides with the built-in row {reserved!r} "
                f"(both would write units/{reserved}/); built-in row names are reserved, compared "
                "case-insensitively: choose another `label`",
            )
        if folded in seen:
            j, first_label, first_line = seen[folded]
            c.fail(
                em.line,
                f"estimator label {label!r} is used twice: estimators[{i}] and estimators[{j}] (label "
                f"{first_label!r}, line {first_line}) would both write units/{slug}/ (labels are compared as "
                "folder names, ignoring case); give each entry a distinct `label`",
            )
        seen[folded] = (i, label, em.line)
        estimators.append(EstimatorSpec(ename, label, plain(params), timeout, repeats))
    return estimators


def parse_timeout(c: "_Checker", m: Any, where: str) -> float | None:
    """A ``timeout`` value: a positive number of seconds (or null for none)."""
    v = m["timeout"]
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
        c.fail(m.key_lines.get("timeout", m.line), f"{where}timeout must be a positive number of seconds, got {v!r}")
    return float(v)


def load_benchmark(path: str | Path, registry: Any | None = None) -> Benchmark:
    """Read and check a benchmark file; with a registry, check plugin names and params too."""
    from .safeyaml import read_text

    path = Path(path)
    text = read_text(path, "benchmark file")  # size limit, UTF-8 (massbench.safeyaml)
    return parse_benchmark(text, str(path), registry)


def parse_benchmark(text: str, path: str = "<string>", registry: Any | None = None) -> Benchmark:
    from .safeyaml import load

    data = load(text, path, _LineLoader)  # depth, alias-expansion and key limits (massbench.safeyaml)
    c = _Checker(path)
    if not isinstance(data, dict):
        c.fail(1, "a benchmark file must be a mapping with keys benchmark, version, dataset, cv, estimators")
    c.keys(data, _TOP, "", 1)
    name = c.typed(data, "benchmark", str, "", "a string")
    version = c.typed(data, "version", str, "", "a string")

    ds = c.keys(data["dataset"], _DATASET, "dataset", data.key_lines["dataset"])
    ds_name = c.typed(ds, "name", str, "dataset.", "a string")
    ds_params = ds.get("params") or {}
    if not isinstance(ds_params, dict):
        c.fail(ds.key_lines.get("params", ds.line), "dataset.params must be a mapping")
    dataset = DatasetSpec(ds_name, plain(ds_params))

    cv_raw = data["cv"] if data["cv"] is not None else _Map()
    if not hasattr(cv_raw, "key_lines"):
        cv_raw = _Map(cv_raw) if isinstance(cv_raw, dict) else cv_raw
    cvm = c.keys(cv_raw, _CV, "cv", data.key_lines["cv"])
    cv = CVSpec()
    if "scheme" in cvm:
        cv.scheme = c.typed(cvm, "scheme", str, "cv.", "a string")
        if cv.scheme not in SCHEMES:
            hint = difflib.get_close_matches(cv.scheme, list(SCHEMES), n=1)
            c.fail(
                cvm.key_lines["scheme"],
                f"cv.scheme must be 'octants', 'random' or 'lineage', got {cv.scheme!r}"
                + (f"; did you mean {hint[0]!r}?" if hint else ""),
            )
    if "val_fraction" in cvm:
        cv.val_fraction = float(c.typed(cvm, "val_fraction", (int, float), "cv.", "a number"))
        if not 0.0 < cv.val_fraction < 1.0:
            c.fail(cvm.key_lines["val_fraction"], f"cv.val_fraction must be between 0 and 1, got {cv.val_fraction}")
    if "seed" in cvm:
        cv.seed = c.typed(cvm, "seed", int, "cv.", "an integer")
    if "n_folds" in cvm:
        cv.n_folds = c.typed(cvm, "n_folds", int, "cv.", "an integer")
        if cv.scheme == "octants" and cv.n_folds != 8:
            c.fail(
                cvm.key_lines["n_folds"],
                "cv.n_folds applies to schemes 'random' and 'lineage' (octants always make 8 folds)",
            )
        if cv.n_folds < 2:
            c.fail(cvm.key_lines["n_folds"], "cv.n_folds must be at least 2")

    estimators = parse_estimator_entries(c, data["estimators"], data.key_lines["estimators"])

    explainers: list[ExplainerSpec] = []
    ex_raw = data.get("explainers") or []
    if ex_raw and not isinstance(ex_raw, list):
        c.fail(data.key_lines["explainers"], "explainers must be a list")
    labels = {e.label for e in estimators} | {e.name for e in estimators}
    # estimator entries naming no registered plugin: an explainer target may be the name they misspell
    unregistered: dict[int, EstimatorSpec] = {}
    if registry is not None:
        known = registry.table("estimator")
        unregistered = {i: e for i, e in enumerate(estimators) if e.name not in known}

    def misspelt_entry(target: str) -> str:
        """Why ``target`` names no entry when the reason is a misspelt estimator entry ('' otherwise)."""
        for j, e in unregistered.items():
            if difflib.get_close_matches(e.name, [target], n=1, cutoff=0.75):
                return (
                    f"matches no entry because estimators[{j}] (line {data['estimators'].item_lines[j]}) "
                    f"spells the estimator {e.name!r}; fix that entry"
                )
        return ""

    ex_lines = getattr(ex_raw, "item_lines", [0] * len(ex_raw))
    for i, x in enumerate(ex_raw):
        line = ex_lines[i]
        xm = c.keys(x, _EXPL, f"explainers[{i}]", line)
        xname = c.typed(xm, "name", str, f"explainers[{i}].", "a string")
        targets = xm["estimators"]
        if isinstance(targets, str):
            targets = [targets]
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            c.fail(xm.key_lines["estimators"], f"explainers[{i}].estimators must be a list of estimator labels")
        for t in targets:
            if t not in labels:
                why = misspelt_entry(t)
                if why:
                    c.soft(xm.key_lines["estimators"], f"explainers[{i}].estimators: {t!r} {why}")
                    continue
                hint = difflib.get_close_matches(t, sorted(labels), n=1)
                c.soft(
                    xm.key_lines["estimators"],
                    f"explainers[{i}].estimators: {t!r} is not an estimator of this "
                    "benchmark" + (f"; did you mean {hint[0]!r}?" if hint else ""),
                )
        xparams = xm.get("params") or {}
        if not isinstance(xparams, dict):
            c.fail(xm.key_lines.get("params", xm.line), f"explainers[{i}].params must be a mapping")
        explainers.append(ExplainerSpec(xname, list(targets), plain(xparams)))

    run = RunSpec()
    if data.get("run") is not None:
        rm = c.keys(data["run"], _RUN, "run", data.key_lines["run"])
        if "timeout" in rm:
            run.timeout = parse_timeout(c, rm, "run.")
        if "deterministic" in rm:
            run.deterministic = c.typed(rm, "deterministic", bool, "run.", "true or false")

    evaluation = EvaluationSpec()
    if data.get("evaluation") is not None:
        from .population import POPULATIONS

        em = c.keys(data["evaluation"], _EVAL, "evaluation", data.key_lines["evaluation"])
        if "population" in em:
            pop = c.typed(em, "population", str, "evaluation.", "a string")
            if pop not in POPULATIONS:
                hint = difflib.get_close_matches(pop, list(POPULATIONS), n=1)
                c.soft(
                    em.key_lines["population"],
                    f"evaluation.population must be 'flat' or 'natural', got {pop!r}"
                    + (f"; did you mean {hint[0]!r}?" if hint else ""),
                )
            evaluation.population = pop

    reference = None
    if data.get("reference") is not None:
        from .reference import parse_reference

        reference = parse_reference(
            c, data["reference"], data.key_lines["reference"], [e.label for e in estimators], misspelt_entry
        )

    bench = Benchmark(
        name,
        version,
        dataset,
        cv,
        estimators,
        explainers,
        path=path,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        run=run,
        reference=reference,
        evaluation=evaluation,
    )
    if registry is not None:
        check_plugins(bench, data, registry, c)
    c.raise_collected()
    return bench


def check_plugins(bench: Benchmark, data: _Map, registry: Any, c: _Checker | None = None) -> None:
    """Check every plugin name and its params against the registry."""
    from .params import check_params

    c = c or _Checker(bench.path)
    ds_line = data["dataset"].key_lines.get("name", data["dataset"].line)
    info = _lookup(registry, "dataset", bench.dataset.name, c, ds_line, "dataset: ")
    for p in check_params(info.cls, bench.dataset.params) if info is not None else []:
        c.soft(data["dataset"].key_lines.get("params", ds_line), f"dataset {bench.dataset.name!r}: {p}")
    if info is not None:
        _check_dataset_values(info, bench, c, data["dataset"].key_lines.get("params", ds_line))
    ests_raw = data["estimators"]
    for i, spec in enumerate(bench.estimators):
        line = ests_raw.item_lines[i]
        where = f"estimators[{i}]" + (f" (label {spec.label!r})" if spec.label != spec.name else "") + ": "
        info = _lookup(registry, "estimator", spec.name, c, line, where)
        for p in check_params(info.cls, spec.params) if info is not None else []:
            c.soft(line, f"estimator {spec.name!r}: {p}")
    ex_lines = getattr(data.get("explainers") or [], "item_lines", [0] * len(bench.explainers))
    for i, xspec in enumerate(bench.explainers):
        line = ex_lines[i]
        info = _lookup(registry, "explainer", xspec.name, c, line, f"explainers[{i}]: ")
        for p in check_params(info.cls, xspec.params) if info is not None else []:
            c.soft(line, f"explainer {xspec.name!r}: {p}")
    c.raise_collected()


def _check_dataset_values(info: Any, bench: Benchmark, c: _Checker, line: int) -> None:
    """The dataset's own range checks (its ``__init__``; datasets load nothing until ``load``), at validate time.

    So that e.g. ``n_clusters`` beyond what the generator supports is an error of the file, not a
    failure at run time.
    """
    from .errors import UserError

    try:
        info.cls(**bench.dataset.params)
    except UserError as exc:
        c.fail(line, str(exc))
    except (TypeError, ValueError, OverflowError) as exc:
        c.fail(line, f"dataset {bench.dataset.name!r}: {exc}")


def _lookup(registry: Any, kind: str, name: str, c: _Checker, line: int, where: str = "") -> Any:
    """The plugin, or None after collecting the problem (a misspelt name, with the registered suggestion)."""
    from .errors import UserError

    try:
        return registry.get(kind, name)
    except UserError as exc:
        c.soft(line, where + str(exc))
        return None
