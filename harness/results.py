"""Run outputs on disk: atomic writes, unit records, leaderboards (JSON, markdown, CSV).

Layout of a run directory (``results/<benchmark>@<version>/`` by default)::

    run.json                provenance (versions, git commit, seeds, device, benchmark hash, times)
    leaderboard.json        one row per estimator (see LEADERBOARD_KEYS)
    leaderboard.md / .csv   the same rows sorted by scatter, failed rows last
    predictions.csv         cluster_id, fold, label, estimator (plugin name), redshift, log10_m500c_true,
                            log10_m500c_pred, repeat, group (see collect.PREDICTION_COLUMNS)
    report.md               leaderboard plus explainer summaries in plain language
    units/<label>/fold<k>.json              one finished unit: status, config hash, predictions
    units/<label>/fold<k>-r<r>.json         training-seed repeat r >= 1 of it (``repeats: N``)
    units/<label>/fold<k>.traceback.txt     the traceback of a failed unit
    models/<label>/fold<k>/                 the trained model, when the estimator can save itself
    explanations/summary.json               explainer figures; per-fold arrays and PNGs beside it
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from .errors import UserError
from .escape import md_cell, one_line
from .fmt import cell
from .population_report import NATURAL_CSV_KEYS, NATURAL_CSV_PAIRS, natural_csv
from .prob_tables import CSV_COLUMNS, csv_values, markdown_section
from .records import SEED_AND_INTERVAL_KEYS, LeaderboardRow, as_rows

LEADERBOARD_KEYS = [
    "estimator",
    "label",
    "inputs",
    "scatter_dex",
    "scatter_percent",
    "bias_dex",
    "robust_scatter_dex",
    "scatter_ci95",
    "n_test",
    "status",
    "error",
]
EXTRA_KEYS = [
    "framework",
    "idealised",
    "bias_ci95",
    "per_fold",
    "mass_bins",
    "device_used",
    "train_seconds",
    "benchmark",
    "version",
    "run",
    *SEED_AND_INTERVAL_KEYS,
]


def _umask() -> int:
    """The process's file-creation mask (read without changing it for longer than two calls)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the user's usual mode
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)


def _clean(o: Any) -> Any:
    """Replace NaN/inf by None so that the JSON is standard."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def dumps(obj: Any) -> str:
    return json.dumps(_clean(json.loads(json.dumps(obj, default=_json_default))), indent=2) + "\n"


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, dumps(obj))


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); delete it or re-run") from None


def sort_rows(rows: Iterable[LeaderboardRow | dict[str, Any]], population: str = "flat") -> list[LeaderboardRow]:
    """Rows sorted by scatter, failed rows last; ``population="natural"`` sorts by the natural scatter
    (the benchmark's ``evaluation.population``; rows without a natural block after those with one)."""

    def key(r: LeaderboardRow) -> tuple:
        s = r.scatter_dex
        if population == "natural":
            s = r.natural.scatter_dex if r.natural is not None else None
        return (r.status != "ok", s if isinstance(s, (int, float)) else math.inf, r.label)

    return sorted(as_rows(rows), key=key)


def leaderboard_markdown(
    rows: list[LeaderboardRow], title: str = "", population: str = "flat", natural: bool = True
) -> str:
    """The leaderboard table (sorted by the scatter of ``population``), then, with ``natural``, the
    natural-population table (massbench.population_report)."""
    rows = sort_rows(rows, population)
    head = [
        "#",
        "label",
        "estimator",
        "inputs",
        "scatter (dex)",
        "95% CI",
        "seed sd",
        "scatter (%)",
        "bias (dex)",
        "robust (dex)",
        "n",
        "status",
    ]
    sources = sorted({str(r.get("reference_source")) for r in rows if r.get("reference_scatter_dex") is not None})
    if sources:
        head.insert(head.index("scatter (%)") + 1, "reference (dex)")
    out = [f"## {one_line(title)}\n" if title else "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, r in enumerate(rows, 1):
        inputs = cell(r.inputs)
        if r.idealised:
            inputs += " (idealised)"
        status = str(r.status)
        if status != "ok" and r.error:
            status += ": " + one_line(str(r.error).splitlines()[0] if str(r.error).strip() else "")[:120]
        out.append(
            "| "
            + " | ".join(
                [
                    str(i),
                    md_cell(r.label),
                    md_cell(r.estimator),
                    md_cell(inputs),
                    cell(r.scatter_dex),
                    cell(r.scatter_ci95),
                    cell(r.scatter_seed_std),
                    cell(r.scatter_percent, 2),
                    *([_reference_cell(r, sources)] if sources else []),
                    cell(r.bias_dex),
                    cell(r.robust_scatter_dex),
                    cell(r.n_test),
                    md_cell(status),
                ]
            )
            + " |"
        )
    for j, src in enumerate(sources):
        out.append(f"\n[{j + 1}] reference: {src}" if len(sources) > 1 else f"\nReference column: {src}")
    from .population_report import natural_markdown

    if natural:
        out.append(natural_markdown(rows, population))
    out += markdown_section(rows)
    return "\n".join(x for x in out if x != "") + "\n"


def _reference_cell(r: LeaderboardRow, sources: list[str]) -> str:
    v = r.get("reference_scatter_dex")
    if v is None:
        return ""
    mark = f" [{sources.index(str(r.get('reference_source'))) + 1}]" if len(sources) > 1 else ""
    return cell(v) + mark


def leaderboard_csv(rows: list[LeaderboardRow], population: str = "flat") -> str:
    buf = io.StringIO()
    keys = LEADERBOARD_KEYS + [
        "framework",
        "idealised",
        "bias_ci95",
        "repeats",
        "scatter_seed_std",
        "scatter_ci95_sampling",
        "n_groups",
        "vs_best_dex",
        "vs_best_ci95",
        *NATURAL_CSV_KEYS,
    ]
    w = csv.writer(buf)
    w.writerow(keys + CSV_COLUMNS)
    for r in sort_rows(rows, population):
        d = r.to_json()
        if r.vs_best:
            d["vs_best_dex"] = r.vs_best["delta_dex"]
            d["vs_best_ci95"] = r.vs_best["ci95"]
        d.update(natural_csv(r))
        w.writerow(
            [
                ";".join(map(str, d.get(k) or []))
                if k in ("inputs",)
                else ";".join(cell(x, 6) for x in (d.get(k) or []))
                if k in ("scatter_ci95", "bias_ci95", "scatter_ci95_sampling", "vs_best_ci95", *NATURAL_CSV_PAIRS)
                else ""
                if d.get(k) is None
                else d.get(k)
                for k in keys
            ]
            + csv_values(r)
        )
    return buf.getvalue()


def write_leaderboard(out_dir: Path, rows: list[LeaderboardRow], title: str = "", population: str = "flat") -> None:
    """Write leaderboard.json, leaderboard.md and leaderboard.csv (sorted by the scatter of ``population``, failed last)."""
    rows = sort_rows(rows, population)
    atomic_write_json(Path(out_dir) / "leaderboard.json", [r.to_json() for r in rows])
    atomic_write_text(Path(out_dir) / "leaderboard.md", leaderboard_markdown(rows, title, population))
    atomic_write_text(Path(out_dir) / "leaderboard.csv", leaderboard_csv(rows, population))


def merge_runs(run_dirs: list[Path]) -> tuple[str, str, list[LeaderboardRow], list[dict[str, Any]]]:
    """Rows of several runs of one benchmark version; refuses mixed versions, missing provenance, duplicates.

    Returns (benchmark, version, rows, runs) where ``runs`` lists each run's provenance summary.
    """
    if not run_dirs:
        raise UserError("give at least one result directory")
    bench = version = None
    rows: list[LeaderboardRow] = []
    runs: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    selection: tuple[str, Path] | None = None
    for d in run_dirs:
        d = Path(d)
        prov_path = d / "run.json"
        if not d.is_dir():
            raise UserError(
                f"{d}: no such directory; give the output directories of `massbench run` "
                "(results/<benchmark>@<version>/ by default; `massbench runs` lists them)"
            )
        if not prov_path.exists():
            raise UserError(
                f"{d}: no run.json (provenance missing); only results written by `massbench run` can be merged"
            )
        prov = read_json(prov_path)
        b, v = prov.get("benchmark"), prov.get("version")
        if not b or not v:
            raise UserError(f"{prov_path}: provenance lacks the benchmark name or version")
        if bench is None:
            bench, version = b, v
        elif (b, v) != (bench, version):
            raise UserError(
                f"{d}: results of {b}@{v} cannot be merged with {bench}@{version} "
                "(results of different benchmark versions are never mixed)"
            )
        from .population import dataset_selection

        sel = dataset_selection(prov)
        if selection is None:
            selection = (sel, d)
        elif sel != selection[0]:
            raise UserError(
                f"{d}: its dataset has the {sel} selection and {selection[1]} the {selection[0]} one; results of "
                "different selections are never mixed (give the benchmark file with `selection:` its own version)"
            )
        lb = d / "leaderboard.json"
        if not lb.exists():
            raise UserError(f"{d}: no leaderboard.json; re-run `massbench run` or `--resume` it to finish")
        runs.append(
            {
                "dir": str(d),
                "git_commit": prov.get("massbench", {}).get("git_commit"),
                "massbench_version": prov.get("massbench", {}).get("version"),
                "started": prov.get("started"),
                "finished": prov.get("finished"),
                "benchmark_sha256": prov.get("benchmark_sha256"),
            }
        )
        for r in read_json(lb):
            label = r.get("label")
            if label in seen:
                if r.get("estimator") == "baseline-mean" and seen[label] != str(d):
                    continue  # every run carries the floor; keep the first one
                raise UserError(
                    f"{d}: estimator row {label!r} also appears in {seen[label]}; "
                    "remove one of the runs or relabel the estimator"
                )
            seen[label] = str(d)
            rows.append(LeaderboardRow.from_json({**r, "run": str(d)}))
    assert bench is not None and version is not None
    return bench, version, sort_rows(rows), runs
