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
from typing import Any, Collection

from .collect import collect_rows, load_records, write_predictions
from .config import Benchmark
from .errors import RunInterrupted
from .executors import make_executor
from .options import RunOptions
from .plan import BASELINE, Prepared, Unit, load_dataset, plan_units, prepare, unit_done, unit_seed, with_baseline
from .records import LeaderboardRow, UnitKey, UnitRecord
from .registry import Registry
from .results import write_leaderboard
from .sealed import redact
from .unit import check_predictions, execute_unit

Records = dict[UnitKey, UnitRecord]
Labels = Collection[str] | None

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


def finalize(p: Prepared, out: Path, records: Records | None = None, expected: Labels = None) -> list[LeaderboardRow]:
    """Scores, leaderboard files and predictions.csv from the records (this run's, the rest from ``out``);
    an ``expected`` label (all when None) without records is a failed row."""
    rows, preds = collect_rows(p, load_records(p, out, records), expected)
    if p.bench.reference is not None:
        p.bench.reference.annotate(rows)
    write_leaderboard(out, rows, title=p.bench.key, population=p.bench.evaluation.population)
    write_predictions(out, preds)
    return rows


def run_benchmark(bench: Benchmark, registry: Registry, options: RunOptions, console: Any = None) -> int:
    """Run every pending unit, then explainers, then write leaderboards. Returns the exit status.

    0 when every unit succeeded, 1 when any failed (outputs still written); ``out`` is locked
    (:mod:`.outdir`). Ctrl-C raises :class:`RunInterrupted` with the ``--resume`` command; run.json
    records each call (:mod:`.runs`).
    """
    from .outdir import open_run_dir
    from .plan import check_frameworks, check_only
    from .progress import RunProgress
    from .provenance import now
    from .runs import CallHistory, print_run_end, resume_hint, reusable_records

    check_only(bench, options.only)  # before the dataset loads: a typo is reported at once
    check_frameworks(bench, registry, options.only)  # a core-only install names the extra to add
    out = Path(options.out)
    p: Prepared | None = None
    units: list[Unit] = []
    records: Records = {}
    with open_run_dir(options):
        history = CallHistory(out, bench, options, now())
        try:
            with RunProgress(console) as prog:
                prog.message(f"loading dataset {bench.dataset.name} {redact(bench.dataset.params, options.sealed)}")
                p = prepare(bench, registry, options.device, options.cache_dir)
                units = plan_units(p, options.only)
                records.update(reusable_records(out, units, bench, options))
                pending = [u for u in units if u.key not in records]
                prog.message(
                    f"{len(p.catalogue)} clusters, {len(p.folds)} folds ({bench.cv.scheme}); "
                    f"{len(units)} units, {len(units) - len(pending)} already done"
                )
                history.begin(p, pending, records)
                prog.start_units(len(pending), labels=[u.spec.label for u in pending])
                for rec in make_executor(p, out, options, prog).run(pending):
                    records[rec.key] = rec
                    prog.finish_unit(rec)
                planned = {u.spec.label for u in units}
                rows = finalize(p, out, records, planned)
                if bench.explainers:
                    from .explain import run_explainers

                    run_explainers(p, out, options, prog, only=options.only)
                from .report import write_report

                write_report(p, out, rows)
                history.end(p, records, "finished")
        except KeyboardInterrupt:
            if p is not None:
                history.end(p, records, "interrupted")
            raise RunInterrupted(resume_hint(bench, options, len(records), len(units))) from None
    if console is not None:
        print_run_end(console, rows, bench, out)
    return 1 if any(not r.ok and r.label in planned for r in rows) else 0
