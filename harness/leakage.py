"""The leakage report: ``massbench leakage BENCH.yaml [--estimators ...]``.

How much do random cross-validation folds overstate performance? The benchmark's estimators are
run three times, once per fold scheme (:mod:`massbench.folds`), each a normal run directory:

    OUT/random/     cv.scheme: random   (clusters at random: one halo's progenitors and its
                                         neighbours are split between training and test)
    OUT/lineage/    cv.scheme: lineage  (whole lineages at random: no progenitor of a test halo is
                                         trained on, its neighbours may be)
    OUT/octants/    cv.scheme: octants  (the paper's spatial folds: neither)

with the benchmark's ``cv.seed`` and ``val_fraction``, k = ``cv.n_folds`` (8 by default, as the 8
octants) for the random schemes, and no explainers. Every cluster is tested exactly once in each
scheme, so the three runs predict the same clusters and each scheme's scatter [dex] is compared
with the octants' scatter of the same estimator on the same clusters:
Delta = scatter(scheme) - scatter(octants), with a paired lineage-bootstrap 95 % interval (the
same lineage resamples for both schemes, widened by both training-seed spreads where there are
repeats: :func:`massbench.metrics.paired_difference`, as ``massbench compare``). A negative Delta
whose interval excludes 0 is leakage: random folds look better than the spatial ones.

Outputs in OUT: ``leakage.md`` (the table), ``leakage.json`` (the same, with every interval) and
``leakage.png`` (Delta per estimator and scheme with its interval; needs matplotlib).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .compare import Residuals, read_residuals
from .config import Benchmark, EstimatorSpec
from .errors import UserError
from .escape import md_cell
from .fmt import fixed, interval
from .metrics import LineageResampler, PairedDifference, paired_difference
from .results import atomic_write_json, atomic_write_text

#: The schemes compared, octants (the reference) last.
LEAKAGE_SCHEMES = ("random", "lineage", "octants")
REFERENCE = "octants"


@dataclass
class LeakageRow:
    """One estimator: its scatter [dex] under each scheme and the paired difference with octants."""

    label: str
    estimator: str
    scatter: dict[str, float] = field(default_factory=dict)
    vs_octants: dict[str, PairedDifference] = field(default_factory=dict)
    n_clusters: int = 0
    n_groups: int = 0
    repeats: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "estimator": self.estimator,
            "scatter_dex": dict(self.scatter),
            "vs_octants": {s: d.as_dict() for s, d in self.vs_octants.items()},
            "n_clusters": self.n_clusters,
            "n_groups": self.n_groups,
            "repeats": self.repeats,
        }


@dataclass
class LeakageReport:
    """The table of one ``massbench leakage`` call."""

    benchmark: str
    version: str
    n_folds: int
    runs: dict[str, str]
    rows: list[LeakageRow]
    missing: list[str] = field(default_factory=list)  # labels not finished ("ok") under every scheme

    def as_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "version": self.version,
            "schemes": list(LEAKAGE_SCHEMES),
            "reference": REFERENCE,
            "n_folds": self.n_folds,
            "runs": self.runs,
            "rows": [r.as_dict() for r in self.rows],
            "missing": self.missing,
        }

    def markdown(self) -> str:
        head = (
            "| label | scatter random (dex) | scatter lineage (dex) | scatter octants (dex) | "
            "random - octants (dex) [95 %] | lineage - octants (dex) [95 %] |"
        )
        out = [
            f"## Leakage: {self.benchmark}@{self.version}, random and lineage folds against octants\n",
            f"Scatter of log10(M_pred / M_true) on the same clusters under each fold scheme ({self.n_folds} random "
            "and lineage folds, the 8 octants); differences are paired (the same lineage resamples for both "
            "schemes) with 95 % intervals widened by both training-seed spreads where rows have repeats. "
            "Negative: the scheme looks better than the spatial folds (leakage); *n.s.*: the interval contains 0.\n",
            head,
            "|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            cells = [md_cell(r.label)] + [fixed(r.scatter.get(s)) for s in LEAKAGE_SCHEMES]
            for s in LEAKAGE_SCHEMES[:-1]:
                d = r.vs_octants.get(s)
                cells.append(
                    ""
                    if d is None
                    else f"{fixed(d.delta_dex, sign=True)} {interval(d.ci95)}" + ("" if d.significant else " (n.s.)")
                )
            out.append("| " + " | ".join(cells) + " |")
        if self.rows:
            r0 = self.rows[0]
            out.append(
                f"\n{r0.n_clusters} clusters in {r0.n_groups} lineages. Runs: "
                + ", ".join(f"{s}: `{d}`" for s, d in self.runs.items())
            )
        if self.missing:
            out.append(
                "\nLeft out (not scored under every scheme; see the runs' leaderboards): " + ", ".join(self.missing)
            )
        return "\n".join(out) + "\n"


def selected(bench: Benchmark, patterns: Sequence[str] | None) -> list[EstimatorSpec]:
    """The estimator entries whose label or plugin name matches one of ``patterns`` (shell-style: ``proxy-*``)."""
    if not patterns:
        return list(bench.estimators)
    return [e for e in bench.estimators if any(fnmatchcase(e.label, p) or fnmatchcase(e.name, p) for p in patterns)]


def scheme_benchmark(bench: Benchmark, scheme: str, patterns: Sequence[str] | None) -> Benchmark:
    """A copy of ``bench`` with ``cv.scheme`` set to ``scheme``, only the selected estimators, no explainers."""
    cv = dataclasses.replace(bench.cv, scheme=scheme, n_folds=8 if scheme == "octants" else bench.cv.n_folds)
    return dataclasses.replace(bench, cv=cv, estimators=selected(bench, patterns), explainers=[], reference=None)


def check_estimators(bench: Benchmark, patterns: Sequence[str] | None) -> None:
    """A UserError naming the file when an ``--estimators`` entry matches no label or name of the benchmark."""
    if not patterns:
        return
    import difflib

    known = [e.label for e in bench.estimators] + [e.name for e in bench.estimators]
    for pat in patterns:
        if not any(fnmatchcase(k, pat) for k in known):
            hint = difflib.get_close_matches(pat, known, n=1)
            raise UserError(
                f"{bench.path}: --estimators {pat!r} matches no estimator label or name of this benchmark"
                + (
                    f"; did you mean {hint[0]!r}?"
                    if hint
                    else f"; it has {', '.join(e.label for e in bench.estimators)}"
                )
            )


def run_leakage(
    bench: Benchmark, registry: Any, options: Any, labels: Sequence[str] | None = None, console: Any = None
) -> tuple[LeakageReport, int]:
    """Run the three schemes into ``options.out``/<scheme>/ and write the table; returns (report, exit status).

    ``options`` are :class:`massbench.options.RunOptions` for the whole call (``out`` is the leakage
    folder; ``resume``/``overwrite`` apply to each scheme's run). Exit status 1 when a unit failed.
    """
    from .outdir import LEAKAGE_MARKER, claim
    from .runner import run_benchmark

    check_estimators(bench, labels)
    if bench.cv.n_folds < 2:
        raise UserError(f"{bench.path}: cv.n_folds must be at least 2")
    out = claim(Path(options.out), LEAKAGE_MARKER)
    code = 0
    runs: dict[str, str] = {}
    for i, scheme in enumerate(LEAKAGE_SCHEMES, 1):
        if console is not None:
            console.rule(f"leakage: scheme {i}/{len(LEAKAGE_SCHEMES)}: {scheme}")
        sub = dataclasses.replace(options, out=out / scheme, only=None)
        code = max(code, run_benchmark(scheme_benchmark(bench, scheme, labels), registry, sub, console))
        runs[scheme] = str(out / scheme)
    report = leakage_table(runs, scheme_benchmark(bench, REFERENCE, labels), seed=bench.cv.seed)
    write_leakage(out, report)
    return report, code


def leakage_table(runs: dict[str, str], bench: Benchmark, seed: int = 0, n_boot: int = 1000) -> LeakageReport:
    """The leakage table of three finished run directories ({scheme: dir}), from their predictions.csv."""
    from .results import read_json

    by_scheme: dict[str, dict[str, Residuals]] = {}
    groups: dict[str, str] = {}
    finished: list[set[str]] = []
    for scheme in LEAKAGE_SCHEMES:
        res, g = read_residuals(Path(runs[scheme]) / "predictions.csv")
        by_scheme[scheme] = res
        groups.update(g)
        lb = read_json(Path(runs[scheme]) / "leaderboard.json")
        finished.append({str(r.get("label")) for r in lb if isinstance(r, dict) and r.get("status") == "ok"})
    scored = set.intersection(*finished)  # a failed row's predictions cover only some folds: left out
    labels = ["baseline-mean"] + [e.label for e in bench.estimators]  # bench: the schemes' (selected) copy
    rows: list[LeakageRow] = []
    missing: list[str] = []
    resampler: LeakageResamplerCache = LeakageResamplerCache(groups, n_boot, seed)
    for label in labels:
        have = [by_scheme[s].get(label) for s in LEAKAGE_SCHEMES]
        if label not in scored or any(h is None for h in have):
            if label in {e.label for e in bench.estimators}:
                missing.append(label)
            continue
        common = sorted(set.intersection(*[h.clusters() for h in have if h is not None]))
        if len(common) < 2:
            missing.append(label)
            continue
        boot = resampler.get(common)
        mats = {s: h.matrix(common) for s, h in zip(LEAKAGE_SCHEMES, have) if h is not None}
        ref = mats[REFERENCE]
        name = next((e.name for e in bench.estimators if e.label == label), label)
        row = LeakageRow(
            label,
            name,
            scatter={s: float(m.std(axis=1).mean()) for s, m in mats.items()},
            n_clusters=len(common),
            n_groups=boot.n_groups,
            repeats=int(ref.shape[0]),
        )
        for s in LEAKAGE_SCHEMES[:-1]:
            row.vs_octants[s] = paired_difference(
                mats[s], ref, a=f"{label} ({s})", b=f"{label} ({REFERENCE})", resampler=boot
            )
        rows.append(row)
    return LeakageReport(bench.benchmark, bench.version, bench.cv.n_folds, dict(runs), rows, missing)


class LeakageResamplerCache:
    """One lineage resample per set of clusters, shared by every row predicting that set."""

    def __init__(self, groups: dict[str, str], n_boot: int, seed: int) -> None:
        self.groups, self.n_boot, self.seed = groups, n_boot, seed
        self._made: dict[tuple[str, ...], LineageResampler] = {}

    def get(self, clusters: list[str]) -> LineageResampler:
        key = tuple(clusters)
        if key not in self._made:
            labels = [self.groups[c] for c in clusters]
            try:  # integer lineage ids sort as numbers, as massbench compare sorts them
                ids = np.unique(np.array(labels, dtype=np.int64), return_inverse=True)[1]
            except ValueError:
                ids = np.unique(labels, return_inverse=True)[1]
            self._made[key] = LineageResampler(ids, len(clusters), self.n_boot, self.seed)
        return self._made[key]


def write_leakage(out: Path, report: LeakageReport) -> None:
    """leakage.md, leakage.json and (with matplotlib) leakage.png in ``out``."""
    text = report.markdown()
    fig = leakage_figure(report, Path(out) / "leakage.png")
    if fig is not None:
        text += "\n![scatter difference against octants](leakage.png)\n"
    atomic_write_text(Path(out) / "leakage.md", text)
    atomic_write_json(Path(out) / "leakage.json", report.as_dict())


def leakage_figure(report: LeakageReport, path: Path) -> Path | None:
    """Delta = scatter(scheme) - scatter(octants) [dex] per estimator with its 95 % interval; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = report.rows
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * max(len(rows), 2) + 1.4))
    y = np.arange(len(rows))
    for j, (scheme, colour) in enumerate(zip(LEAKAGE_SCHEMES[:-1], ("tab:red", "tab:blue"))):
        ds = [r.vs_octants[scheme] for r in rows]
        x = np.array([d.delta_dex for d in ds])
        lo = x - np.array([d.ci95[0] for d in ds])
        hi = np.array([d.ci95[1] for d in ds]) - x
        ax.errorbar(
            x, y + (j - 0.5) * 0.3, xerr=[lo, hi], fmt="o", color=colour, capsize=3, label=f"{scheme} - octants"
        )
    ax.axvline(0.0, color="0.4", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([r.label for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("scatter difference against octant folds (dex)")
    ax.set_title(f"{report.benchmark}@{report.version}: leakage of random folds")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
