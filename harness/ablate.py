"""Ablation studies: ``massbench ablate DIR``, one comparison table across many benchmark files.

Every ``*.yaml`` in ``DIR`` is a normal benchmark file. Files named ``ABLATION--VARIANT.yaml`` form
one ablation, whose **reference** is its first file in name order (name it ``ABLATION--0-...``);
each row of every other file is compared with the row of the same label in the reference file
(the same estimator on the reference data). A file without ``--`` is an ablation on its own: its
rows are variants of one estimator (e.g. a param switched), and each row's reference is the first
row of the same estimator plugin in the file. ``baseline-mean`` rows are left out.

Each file runs into ``OUT/runs/<file stem>/`` with ``--resume`` semantics, so finished units
(same configuration hash) are reused and an interrupted ablation continues where it stopped.
Then ``OUT/ablations.md``, ``ablations.json`` and ``ablations.png`` give, for every row, its
scatter and bias [dex] and the paired difference scatter(row) - scatter(reference) and
bias(row) - bias(reference) [dex] on the clusters both predicted, with 95 % intervals from a
paired lineage bootstrap (the same resampled lineages for both, :class:`.metrics.LineageResampler`),
widened by the training-seed spread where rows have repeats (:func:`.metrics.paired_difference`).
Rows are paired by ``cluster_id`` only where both runs have the same true mass for it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from .compare import read_predictions
from .errors import DataError, UserError
from .metrics import LineageResampler, _percentile_interval, paired_difference, seed_halfwidth, widen

#: the marker of an ablation output folder (massbench never writes into a foreign non-empty folder)
MARKER = ".massbench-ablate"
SEPARATOR = "--"
SKIPPED_LABELS = ("baseline-mean",)


@dataclass
class AblationFile:
    """One benchmark file of an ablation directory: its ablation, variant name and header comment."""

    path: Path
    ablation: str
    variant: str
    description: str  # the file's leading comment block, without '#'

    @property
    def stem(self) -> str:
        return self.path.stem


@dataclass
class RunRows:
    """A finished run's residuals: {label: {repeat: {cluster_id: r}}}, truths, lineages, leaderboard rows."""

    residuals: dict[str, dict[int, dict[str, float]]]
    truth: dict[str, float]
    groups: dict[str, str]
    leaderboard: list[dict[str, Any]]

    def residual_matrix(self, label: str, clusters: list[str]) -> np.ndarray:
        """(repeats, len(clusters)) residuals log10 M_pred - log10 M_true [dex]."""
        return np.array([[rep[c] for c in clusters] for _, rep in sorted(self.residuals[label].items())])

    def clusters(self, label: str) -> set[str]:
        sets = [set(rep) for rep in self.residuals.get(label, {}).values()]
        return set.intersection(*sets) if sets else set()


@dataclass
class AblationRow:
    """One (file, estimator row) of the comparison table; differences are row minus reference [dex]."""

    ablation: str
    variant: str
    file: str
    label: str
    estimator: str
    idealised: bool
    status: str
    scatter_dex: Optional[float] = None
    bias_dex: Optional[float] = None
    n_test: int = 0
    repeats: int = 0
    reference: Optional[str] = None  # "<file stem>: <label>" of the reference row; None for a reference row
    delta_scatter_dex: Optional[float] = None
    delta_scatter_ci95: Optional[list[float]] = None
    delta_bias_dex: Optional[float] = None
    delta_bias_ci95: Optional[list[float]] = None
    n_paired: int = 0
    n_groups: int = 0
    note: str = ""

    @property
    def shown(self) -> str:
        """The row's name in the figure: "variant: label" (only the label when the variant is the row)."""
        name = self.label if self.variant == self.label else f"{self.variant}: {self.label}"
        return name + (" (idealised)" if self.idealised else "")

    @property
    def is_reference(self) -> bool:
        return self.reference is None

    @property
    def significant(self) -> Optional[bool]:
        ci = self.delta_scatter_ci95
        return None if ci is None else bool(ci[0] > 0 or ci[1] < 0)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "significant": self.significant}


@dataclass
class AblationTable:
    """The comparison table of one ``massbench ablate`` call."""

    directory: str
    files: list[AblationFile]
    rows: list[AblationRow] = field(default_factory=list)
    n_boot: int = 1000
    seed: int = 0
    left_out: list[str] = field(default_factory=list)  # files whose run (or whose reference's) has not finished

    def as_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "left_out": self.left_out,
            "bootstrap": {"n_boot": self.n_boot, "seed": self.seed, "resamples": "lineages (predictions.csv group)"},
            "ablations": [
                {
                    "ablation": f.ablation,
                    "variant": f.variant,
                    "file": f.path.name,
                    "description": f.description,
                }
                for f in self.files
            ],
            "rows": [r.as_dict() for r in self.rows],
        }


# ----------------------------------------------------------------------------------------- files


def find_files(directory: Path) -> list[AblationFile]:
    """The benchmark files of ``directory`` (``*.yaml``/``*.yml``, name order); UserError when there are none."""
    d = Path(directory)
    if not d.is_dir():
        raise UserError(f"{d}: no such directory (massbench ablate takes a directory of benchmark files)")
    paths = sorted(p for p in d.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not paths:
        raise UserError(f"{d}: no benchmark files (*.yaml) to run; e.g. massbench ablate benchmarks/ablations/")
    out = []
    for p in paths:
        stem = p.stem
        ablation, _, variant = stem.partition(SEPARATOR)
        if SEPARATOR in stem and (not ablation or not variant):
            raise UserError(f"{p}: name it ABLATION{SEPARATOR}VARIANT.yaml, both parts non-empty")
        out.append(AblationFile(p, ablation, variant or "", header_comment(p)))
    return out


def header_comment(path: Path) -> str:
    """The first paragraph of the file's leading comment block (what the file isolates), as one line."""
    lines: list[str] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    for line in text.splitlines():
        s = line.strip()
        if not s.startswith("#") or (lines and not s.lstrip("#").strip()):
            break  # the first paragraph: up to the first empty comment line
        lines.append(s.lstrip("#").strip())
    return " ".join(x for x in lines if x)


def groups_of(files: list[AblationFile]) -> dict[str, list[AblationFile]]:
    """Ablation name -> its files in name order (the first is the reference)."""
    out: dict[str, list[AblationFile]] = {}
    for f in files:
        out.setdefault(f.ablation, []).append(f)
    return out


# ------------------------------------------------------------------------------------------ reading


def read_run(run_dir: Path) -> RunRows:
    """``predictions.csv`` and ``leaderboard.json`` of a finished run; DataError naming the file."""
    path = Path(run_dir) / "predictions.csv"
    if not path.is_file():
        raise DataError(f"{path}: missing; the run did not finish (run massbench ablate again to resume it)")
    found, groups, truth = read_predictions(path)
    residuals = {label: res.by_repeat for label, res in found.items()}
    lb_path = Path(run_dir) / "leaderboard.json"
    try:
        leaderboard = json.loads(lb_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{lb_path}: cannot read the leaderboard ({exc})") from None
    if isinstance(leaderboard, dict):
        leaderboard = leaderboard.get("rows", [])
    return RunRows(residuals, truth, groups, list(leaderboard))


def _group_ids(labels: list[str]) -> np.ndarray:
    try:  # integer lineage ids sort as numbers, as the run's own comparison sorts them
        return np.unique(np.array(labels, dtype=np.int64), return_inverse=True)[1]
    except ValueError:
        return np.unique(labels, return_inverse=True)[1]


def paired_bias_difference(
    ra: np.ndarray, rb: np.ndarray, res: LineageResampler, level: float = 0.95
) -> tuple[float, list[float]]:
    """bias(A) - bias(B) [dex] (mean residuals, averaged over repeats) and its paired lineage-bootstrap interval,
    widened by both rows' training-seed spread of the bias."""
    ba, bb = ra.mean(axis=1), rb.mean(axis=1)
    delta = float(ba.mean() - bb.mean())
    boot = res.std_mean(ra)[1].mean(axis=1) - res.std_mean(rb)[1].mean(axis=1)
    half = float(np.hypot(seed_halfwidth(ba, level), seed_halfwidth(bb, level)))
    return delta, widen(delta, _percentile_interval(boot, level), half)


def compare_rows(row: AblationRow, a: RunRows, b: RunRows, ref_label: str, n_boot: int, seed: int) -> None:
    """Fill ``row``'s paired differences: row (label ``row.label`` of run ``a``) minus ``ref_label`` of run ``b``."""
    common = sorted(a.clusters(row.label) & b.clusters(ref_label))
    same = [c for c in common if abs(a.truth[c] - b.truth[c]) < 1e-6]
    if len(same) < len(common):
        row.note = f"{len(common) - len(same)} clusters with other true masses in the two runs left out"
    if len(same) < 2:
        row.note = f"shares {len(same)} test clusters with its reference: no paired difference"
        return
    ra, rb = a.residual_matrix(row.label, same), b.residual_matrix(ref_label, same)
    res = LineageResampler(_group_ids([a.groups[c] for c in same]), len(same), n_boot, seed)
    d = paired_difference(ra, rb, a=row.label, b=ref_label, resampler=res)
    row.delta_scatter_dex, row.delta_scatter_ci95 = d.delta_dex, d.ci95
    row.delta_bias_dex, row.delta_bias_ci95 = paired_bias_difference(ra, rb, res)
    row.n_paired, row.n_groups = len(same), res.n_groups


def build_table(
    files: list[AblationFile],
    run_dirs: dict[str, Path],
    directory: str,
    n_boot: int = 1000,
    seed: int = 0,
    label_order: Optional[dict[str, list[str]]] = None,
) -> AblationTable:
    """The comparison table from the finished runs (``run_dirs``: file stem -> run directory).

    Rows are ordered by ablation, then by estimator in the order of the benchmark files
    (``label_order``: file stem -> labels; else the leaderboard's order), then by file.
    """
    table = AblationTable(directory, files, n_boot=n_boot, seed=seed)
    runs = {f.stem: read_run(run_dirs[f.stem]) for f in files}
    for name, members in groups_of(files).items():
        ref_file = members[0]
        for f in members:
            run = runs[f.stem]
            first_of_plugin: dict[str, str] = {}
            for lb in run.leaderboard:
                label = str(lb.get("label") or lb.get("estimator"))
                plugin = str(lb.get("estimator"))
                if label in SKIPPED_LABELS or plugin in SKIPPED_LABELS:
                    continue
                row = AblationRow(
                    ablation=name,
                    variant=f.variant or label,
                    file=f.path.name,
                    label=label,
                    estimator=plugin,
                    idealised=bool(lb.get("idealised")),
                    status=str(lb.get("status", "ok")),
                    scatter_dex=lb.get("scatter_dex"),
                    bias_dex=lb.get("bias_dex"),
                    n_test=int(lb.get("n_test") or 0),
                    repeats=int(lb.get("repeats") or 1),
                )
                if len(members) > 1:
                    ref_run, ref_label = runs[ref_file.stem], label
                    if f is not ref_file:
                        row.reference = f"{ref_file.stem}: {label}"
                else:
                    ref_run, ref_label = run, first_of_plugin.setdefault(plugin, label)
                    if ref_label != label:
                        row.reference = f"{f.stem}: {ref_label}"
                table.rows.append(row)
                if row.reference is None:
                    continue
                if row.status != "ok":
                    row.note = "failed run row: no paired difference"
                elif ref_label not in ref_run.residuals:
                    row.note = f"the reference file has no row {ref_label!r}: no paired difference"
                else:
                    compare_rows(row, run, ref_run, ref_label, n_boot, seed)
    rank: dict[str, int] = {}
    for f in files:
        for lab in (label_order or {}).get(f.stem, []):
            rank.setdefault(lab, len(rank))
    for r in table.rows:
        rank.setdefault(r.label, len(rank))
    file_rank = {f.path.name: i for i, f in enumerate(files)}
    group_rank = {name: i for i, name in enumerate(groups_of(files))}
    table.rows.sort(key=lambda r: (group_rank[r.ablation], rank[r.label], file_rank[r.file]))
    return table


# ------------------------------------------------------------------------------------------ writing


def _f(x: Optional[float], sign: bool = False) -> str:
    if x is None:
        return ""
    return f"{x:+.4f}" if sign else f"{x:.4f}"


def _ci(ci: Optional[list[float]]) -> str:
    return "" if ci is None else f"[{ci[0]:+.4f}, {ci[1]:+.4f}]"


def to_markdown(table: AblationTable, command: str = "") -> str:
    """The table as markdown: one row per (file, estimator), then what each file isolates."""
    from .escape import md_cell

    lines = [
        "## Ablations",
        "",
        "Scatter and bias of log10 M500c residuals [dex]; Δ = row minus its reference row on the same "
        f"clusters, 95 % paired lineage-bootstrap interval ({table.n_boot} resamples, seed {table.seed}); "
        "* = interval excludes 0. Idealised rows read an input no observer has (e.g. core excision at "
        "the true R500c).",
        "",
        "| ablation | variant | estimator | scatter | bias | n | Δ scatter [95 % CI] | Δ bias [95 % CI] | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.rows:
        name = r.estimator if r.variant == r.label else r.label
        label = md_cell(name) + (" (idealised)" if r.idealised else "")
        if r.is_reference:
            ds, db = "reference", "reference"
        elif r.delta_scatter_dex is None:
            ds = db = "n/a"
        else:
            ds = f"{_f(r.delta_scatter_dex, True)} {_ci(r.delta_scatter_ci95)}" + (" *" if r.significant else "")
            db = f"{_f(r.delta_bias_dex, True)} {_ci(r.delta_bias_ci95)}"
        note = r.note if r.status == "ok" else f"{r.status}: {r.note}".rstrip(": ")
        lines.append(
            f"| {md_cell(r.ablation)} | {md_cell(r.variant)} | {label} | {_f(r.scatter_dex)} | "
            f"{_f(r.bias_dex, True)} | {r.n_test} | {ds} | {db} | {md_cell(note)} |"
        )
    lines += ["", "What each file isolates:", ""]
    for f in table.files:
        lines.append(f"- `{f.path.name}`: {md_cell(f.description) or '(no header comment)'}")
    if table.left_out:
        lines += ["", f"Left out (run not finished): {', '.join(md_cell(x) for x in table.left_out)}."]
    if command:
        lines += ["", f"Command: `{command}`"]
    return "\n".join(lines) + "\n"


def write_figure(table: AblationTable, path: Path) -> bool:
    """Δ scatter with its interval for every compared row, one panel per ablation (PNG); False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = list(dict.fromkeys(r.ablation for r in table.rows))
    rows_by = {n: [r for r in table.rows if r.ablation == n and r.delta_scatter_dex is not None] for n in names}
    names = [n for n in names if rows_by[n]]
    if not names:
        return False
    heights = [max(1.2, 0.45 * len(rows_by[n]) + 0.8) for n in names]
    fig, axes = plt.subplots(len(names), 1, figsize=(7.5, sum(heights)), squeeze=False, height_ratios=heights)
    for ax, n in zip(axes[:, 0], names):
        rs = rows_by[n]
        y = np.arange(len(rs))[::-1]
        d = np.array([r.delta_scatter_dex for r in rs], dtype=float)
        lo = np.array([r.delta_scatter_ci95[0] for r in rs if r.delta_scatter_ci95], dtype=float)
        hi = np.array([r.delta_scatter_ci95[1] for r in rs if r.delta_scatter_ci95], dtype=float)
        colours = ["tab:red" if r.significant else "tab:blue" for r in rs]
        ax.errorbar(d, y, xerr=[d - lo, hi - d], fmt="none", ecolor="0.4", capsize=3)
        ax.scatter(d, y, c=colours, zorder=3)
        ax.axvline(0.0, color="0.3", lw=0.8, ls="--")
        ax.set_yticks(y, [r.shown for r in rs])
        ax.set_title(f"{n}: scatter minus the reference's, 95 % paired interval", fontsize=9)
    axes[-1, 0].set_xlabel("Δ scatter of log10 M500c [dex] (red: interval excludes 0)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write_outputs(table: AblationTable, out: Path, command: str = "") -> list[Path]:
    """``ablations.md``, ``ablations.json`` and (with matplotlib) ``ablations.png`` in ``out``."""
    out = Path(out)
    written = []
    md = out / "ablations.md"
    md.write_text(to_markdown(table, command) + ("" if _has_mpl() else "\n(ablations.png needs matplotlib)\n"))
    written.append(md)
    js = out / "ablations.json"
    js.write_text(json.dumps({**table.as_dict(), "command": command}, indent=2))
    written.append(js)
    png = out / "ablations.png"
    if write_figure(table, png):
        written.append(png)
    return written


def _has_mpl() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------------------------------ running


def prepare_out(out: Path) -> None:
    """Create ``out`` (marked as massbench's); refuse a file or a foreign non-empty folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file; give a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise UserError(
            f"--out {out}: is a non-empty folder that massbench ablate did not create; give a new or empty --out"
        )
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("massbench ablate output folder\n")
    except OSError as exc:
        raise UserError(f"--out {out}: cannot be created ({exc.strerror})") from None


def run_ablations(
    directory: Path,
    out: Path,
    registry: Any,
    make_options: Callable[[Path], Any],
    say: Callable[[str], None],
    run: Optional[Callable[[Any, Any, Any], int]] = None,
    table_only: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    command: str = "",
) -> tuple[int, list[Path]]:
    """Check every file, run each (resuming), write the table; (exit status, files written).

    Every file is loaded and checked before anything runs, so a bad fifth file is reported at once.
    The status is 1 when any run had failed units (the table is still written, their rows say so).
    """
    from .config import load_benchmark

    files = find_files(directory)
    benches = {f.stem: load_benchmark(f.path, registry) for f in files}
    if run is None:
        from .runner import run_benchmark

        run = run_benchmark
    prepare_out(out)
    run_dirs = {f.stem: Path(out) / "runs" / f.stem for f in files}
    status = 0
    for i, f in enumerate(files, start=1):
        if table_only:
            continue
        say(f"[{i}/{len(files)}] {f.path.name} -> {run_dirs[f.stem]} (finished units are reused)")
        code = run(benches[f.stem], registry, make_options(run_dirs[f.stem])) if run is not None else 0
        status = max(status, int(code))
    done = {f.stem for f in files if (run_dirs[f.stem] / "predictions.csv").is_file()}
    # a file is left out when its run has not finished, or when its ablation's reference has not
    usable = [f for f in files if f.stem in done and groups_of(files)[f.ablation][0].stem in done]
    if not usable:
        raise UserError(
            f"{out}: no finished run for {', '.join(f.path.name for f in files)}; run massbench ablate {directory} "
            "without --table-only"
        )
    left_out = [f.path.name for f in files if f not in usable]
    if left_out:
        say(f"left out of the table (run not finished, or its reference's): {', '.join(left_out)}")
    order = {stem: [e.label for e in b.estimators] for stem, b in benches.items()}
    table = build_table(usable, run_dirs, str(directory), n_boot=n_boot, seed=seed, label_order=order)
    table.left_out = left_out
    return status, write_outputs(table, Path(out), command)
