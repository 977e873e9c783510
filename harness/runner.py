"""Running a benchmark: plan the units, run the pending ones with an executor, collect, write outputs.

Planning is :mod:`massbench.plan`, one unit :mod:`massbench.unit`, executors
:mod:`massbench.executors` (``process`` by default), scoring and leaderboard rows
:mod:`massbench.collect`. Each finished unit is written atomically at once
(``units/<label>/fold<k>.json``), so an interrupted run loses at most the units in flight;
``--resume`` keeps units whose configuration hash is unchanged (failed ones too, unless
``--retry-failed``) and runs the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .collect import collect_rows, load_records, unit_summary, write_predictions
from .config import Benchmark
from .errors import RunInterrupted
from .executors import make_executor
from .options import RunOptions
from .plan import (
    BASELINE,
    Prepared,
    Unit,
    load_dataset,
    plan_units,
    prepare,
    resumable,
    unit_done,
    unit_seed,
    with_baseline,
)
from .records import LeaderboardRow, UnitRecord
from .registry import Registry
from .results import write_leaderboard
from .unit import check_predictions, execute_unit

__all__ = [
    "BASELINE",
    "Prepared",
    "RunOptions",
    "Unit",
    "check_predictions",
    "collect_rows",
    "execute_unit",
    "finalize",
    "load_dataset",
    "plan_units",
    "prepare",
    "run_benchmark",
    "unit_done",
    "unit_seed",
    "with_baseline",
    "write_predictions",
]


def finalize(p: Prepared, out: Path, records: dict[tuple[str, int], UnitRecord] | None = None) -> list[LeaderboardRow]:
    """Scores, leaderboard files and predictions.csv from the unit records (this run's, the rest from ``out``)."""
    rows, preds = collect_rows(p, load_records(p, out, records))
    if p.bench.reference is not None:
        p.bench.reference.annotate(rows)
    write_leaderboard(out, rows, title=f"{p.bench.key}")
    write_predictions(out, preds)
    return rows


def run_benchmark(bench: Benchmark, registry: Registry, options: RunOptions, console: Any = None) -> int:
    """Run every pending unit, then explainers, then write leaderboards. Returns the exit status.

    0 when every unit succeeded, 1 when any failed (all outputs are still written).
    """
    from .plan import check_frameworks, check_only
    from .progress import RunProgress
    from .provenance import now, write_run_json
    from .runs import new_call, previous_calls, stale_unit_folders

    check_only(bench, options.only)  # before the dataset loads: a typo is reported at once
    check_frameworks(bench, registry, options.only)  # a core-only install names the extra to add
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    started = now()
    calls = previous_calls(out, bench.key, options)
    call: dict[str, Any] | None = None
    p: Prepared | None = None
    units: list[Unit] = []
    everything: list[Unit] = []
    records: dict[tuple[str, int], UnitRecord] = {}
    try:
        with RunProgress(console) as prog:
            prog.message(f"loading dataset {bench.dataset.name} {bench.dataset.params}")
            p = prepare(bench, registry, options.device, options.cache_dir)
            units = plan_units(p, options.only)
            if options.resume:
                for u in units:
                    rec = resumable(out, u, options.retry_failed)
                    if rec is not None:
                        records[u.key] = rec
            else:
                for u in units:  # a fresh run must not mix with records of an earlier one
                    (out / u.path).unlink(missing_ok=True)
                if not options.only:  # estimators no longer in the benchmark: their old records go
                    import shutil

                    for stale in stale_unit_folders(out, [s.slug for s in with_baseline(bench)]):
                        shutil.rmtree(stale, ignore_errors=True)
            pending = [u for u in units if u.key not in records]
            prog.message(
                f"{len(p.catalogue)} clusters, {len(p.folds)} folds ({bench.cv.scheme}); "
                f"{len(units)} units, {len(units) - len(pending)} already done"
            )
            call = new_call(options, started, [f"{u.spec.label}/fold{u.fold}" for u in pending])
            calls.append(call)
            everything = plan_units(p) if options.only else units  # run.json covers every row, not only --only's
            write_run_json(
                p, out, options, started, None, unit_summary(everything, load_records(p, out, records)), calls
            )
            prog.start_units(len(pending), labels=[u.spec.label for u in pending])
            for rec in make_executor(p, out, options, prog).run(pending):
                records[rec.key] = rec
                prog.finish_unit(rec)
            rows = finalize(p, out, records)
            if bench.explainers:
                from .explain import run_explainers

                run_explainers(p, out, options, prog, only=options.only)
            from .report import write_report

            write_report(p, out, rows)
            call.update(finished=now(), status="finished")
            write_run_json(
                p, out, options, started, now(), unit_summary(everything, load_records(p, out, records)), calls
            )
    except KeyboardInterrupt:
        if p is not None and call is not None:
            call.update(finished=now(), status="interrupted")
            write_run_json(
                p, out, options, started, None, unit_summary(everything, load_records(p, out, records)), calls
            )
        raise RunInterrupted(resume_hint(bench, options, len(records), len(units))) from None
    failed = [r for r in rows if not r.ok]
    if console is not None:
        from .results import leaderboard_markdown

        console.print(leaderboard_markdown(rows, bench.key), markup=False, highlight=False, soft_wrap=True)
        if failed:
            console.print(f"[red]{len(failed)} estimator(s) failed[/red]; tracebacks under {out}/units/")
        console.print(f"results in {out}/", markup=False)
        console.print(f"report (tables and figures): {out / 'report.md'}", markup=False)
        console.print(
            f"leaderboard: {out / 'leaderboard.md'} (also .json, .csv); merge runs with "
            f"`massbench leaderboard build {out} --out DIR`",
            markup=False,
        )
    return 1 if failed else 0


def resume_hint(bench: Benchmark, options: RunOptions, n_done: int, n_units: int) -> str:
    """What Ctrl-C prints: how many units are saved and the exact command that continues the run."""
    import shlex

    cmd = ["massbench", "run", bench.path or "BENCH.yaml", "--out", str(options.out), "--resume"]
    if options.only:
        cmd += ["--only", ",".join(options.only)]
    if options.executor not in ("process",):
        cmd += ["--executor", options.executor]
    if options.device != "auto":
        cmd += ["--device", options.device]
    if options.cache_dir:
        cmd += ["--cache-dir", str(options.cache_dir)]
    done = f"{n_done} of {n_units} units are saved" if n_units else "no unit had finished"
    return f"interrupted; {done}. Continue with:\n  {shlex.join(cmd)}"
