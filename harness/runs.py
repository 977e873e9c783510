"""Past runs: the history of calls in ``run.json`` and ``massbench runs [DIR]``.

``run.json`` keeps ``calls``, one entry per ``massbench run`` call that contributed units to the
directory (a first run, then ``--only`` or ``--resume`` calls): when it started and finished, its
status (``running``, ``finished``, ``interrupted``), the command line, the options that select units
(``only``, ``resume``, ``retry_failed``), executor, device, massbench version and git commit, and the
units it ran. Each entry of run.json's ``units`` names the ``call`` that produced it, so every
leaderboard row can be traced to the call (and code version) behind it. A plain run (neither
``--resume`` nor ``--only``) starts a new history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

#: folders of a run directory that hold no run.json of another run
_SKIP = {"units", "models", "explanations", "figures", "provenance", "venv"}


def new_call(options: Any, started: str, units: Iterable[str]) -> dict[str, Any]:
    """The ``calls`` entry of this ``massbench run`` call (status ``running`` until it ends)."""
    import sys

    from .provenance import environment

    env = environment()
    return {
        "started": started,
        "finished": None,
        "status": "running",
        "argv": list(sys.argv),
        "resume": bool(options.resume),
        "only": list(options.only) if options.only else None,
        "retry_failed": bool(getattr(options, "retry_failed", False)),
        "executor": getattr(options, "executor", None),
        "device": getattr(options, "device", None),
        "massbench_version": env["massbench"]["version"],
        "git_commit": env["massbench"]["git_commit"],
        "units": sorted(units),
    }


def previous_calls(out: Path, bench_key: str, options: Any) -> list[dict[str, Any]]:
    """The calls recorded in ``out/run.json`` that this call builds on (``--resume`` or ``--only``).

    A run.json written before calls were recorded becomes one call made of its own fields.
    """
    if not (options.resume or options.only):
        return []
    path = Path(out) / "run.json"
    try:
        prov = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(prov, dict) or f"{prov.get('benchmark')}@{prov.get('version')}" != bench_key:
        return []
    calls = prov.get("calls")
    if isinstance(calls, list):
        return [c for c in calls if isinstance(c, dict)]
    mb = prov.get("massbench") or {}
    return [
        {
            "started": prov.get("started"),
            "finished": prov.get("finished"),
            "status": "finished" if prov.get("finished") else "interrupted",
            "argv": prov.get("command"),
            "resume": None,
            "only": None,
            "retry_failed": None,
            "executor": prov.get("executor"),
            "device": prov.get("device_requested"),
            "massbench_version": mb.get("version"),
            "git_commit": mb.get("git_commit"),
            "units": sorted((prov.get("units") or {}).keys()),
        }
    ]


def tag_units(units_summary: dict[str, dict[str, Any]], calls: list[dict[str, Any]]) -> None:
    """Set each unit's ``call``: the index of the last call that ran it (None when unknown)."""
    for key, entry in units_summary.items():
        entry["call"] = next((i for i in range(len(calls) - 1, -1, -1) if key in (calls[i].get("units") or [])), None)


class CallHistory:
    """This call's entry in run.json's ``calls``, written with the run's provenance as the run goes."""

    def __init__(self, out: Path, bench: Any, options: Any, started: str):
        self.out, self.bench, self.options, self.started = Path(out), bench, options, started
        self.calls = previous_calls(out, bench.key, options)
        self.call: dict[str, Any] | None = None
        self.units: list[Any] = []

    def begin(self, p: Any, pending: list[Any], records: dict) -> None:
        """Record the call (status running) with the units it will run; run.json covers every unit."""
        from .plan import plan_units

        self.call = new_call(self.options, self.started, [f"{u.spec.label}/{u.tag}" for u in pending])
        self.calls.append(self.call)
        self.units = plan_units(p)
        self.write(p, records, None)

    def end(self, p: Any, records: dict, status: str) -> None:
        """Close the call (``finished`` or ``interrupted``) and write run.json."""
        from .provenance import now

        if self.call is not None:
            self.call.update(finished=now(), status=status)
            self.write(p, records, now() if status == "finished" else None)

    def write(self, p: Any, records: dict, finished: str | None) -> None:
        from .collect import load_records, unit_summary
        from .provenance import write_run_json

        summary = unit_summary(self.units, load_records(p, self.out, records))
        tag_units(summary, self.calls)
        write_run_json(p, self.out, self.options, self.started, finished, summary, self.calls)


def reusable_records(out: Path, units: list[Any], bench: Any, options: Any) -> dict:
    """With ``--resume``, the finished units' records; otherwise the old records of the units to run are
    removed (``--only`` reruns into an existing run), so a fresh unit never mixes with them. A whole
    rerun needs ``--overwrite``, which has already removed every unit and model folder (:mod:`.outdir`)."""
    from .plan import resumable

    records = {}
    if options.resume:
        for u in units:
            rec = resumable(out, u, options.retry_failed)
            if rec is not None:
                records[u.key] = rec
        return records
    for u in units:
        (Path(out) / u.path).unlink(missing_ok=True)
    return records


def resume_hint(bench: Any, options: Any, n_done: int, n_units: int) -> str:
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


def print_run_end(console: Any, rows: list[Any], bench: Any, out: Path) -> None:
    """The end of a run: the leaderboard table, failures, and where report.md and the leaderboard are."""
    from .results import leaderboard_markdown

    failed = [r for r in rows if not r.ok]
    console.print(
        leaderboard_markdown(rows, bench.key, bench.evaluation.population),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if failed:
        console.print(f"[red]{len(failed)} estimator(s) failed[/red]; tracebacks under {out}/units/")
    console.print(f"results in {out}/", markup=False)
    console.print(f"report (tables and figures): {Path(out) / 'report.md'}", markup=False)
    console.print(
        f"leaderboard: {Path(out) / 'leaderboard.md'} (also .json, .csv); merge runs with "
        f"`massbench leaderboard build {out} --out DIR`",
        markup=False,
    )


# ------------------------------------------------------------------------------------------ massbench runs


@dataclass
class RunSummary:
    """One run directory as ``massbench runs`` lists it."""

    path: Path
    benchmark: str
    version: str
    started: Optional[str]
    finished: Optional[str]
    estimators: list[str] = field(default_factory=list)
    n_units: int = 0
    n_planned: int = 0
    n_failed: int = 0
    n_calls: int = 1
    status: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "benchmark": self.benchmark,
            "version": self.version,
            "started": self.started,
            "finished": self.finished,
            "estimators": self.estimators,
            "units": self.n_units,
            "units_planned": self.n_planned,
            "units_failed": self.n_failed,
            "calls": self.n_calls,
            "status": self.status,
        }


def summarise_run(run_json: Path) -> RunSummary | None:
    """A :class:`RunSummary` of the run whose ``run.json`` this is (None when it is not one)."""
    try:
        prov = json.loads(Path(run_json).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(prov, dict) or "benchmark" not in prov or "units" not in prov:
        return None
    units = prov.get("units") or {}
    labels = [e.get("label") or e.get("name") for e in (prov.get("config") or {}).get("estimators") or []]
    labels = [str(x) for x in labels if x]
    n_folds = len(prov.get("folds") or [])
    raw_calls = prov.get("calls")
    calls: list[dict[str, Any]] = [c for c in raw_calls if isinstance(c, dict)] if isinstance(raw_calls, list) else []
    started = (calls[0].get("started") if calls else None) or prov.get("started")
    n_failed = sum(1 for u in units.values() if isinstance(u, dict) and u.get("status") != "ok")
    planned = (len(labels) + 1) * n_folds  # + baseline-mean
    last = calls[-1].get("status") if calls else ("finished" if prov.get("finished") else "interrupted")
    if last == "running":
        status = "running or killed"
    elif last == "interrupted" or not prov.get("finished"):
        status = "interrupted"
    elif len(units) < planned:
        status = f"partial ({len(units)}/{planned} units)"
    elif n_failed:
        status = f"finished, {n_failed} unit(s) failed"
    else:
        status = "finished"
    return RunSummary(
        path=Path(run_json).parent,
        benchmark=str(prov.get("benchmark")),
        version=str(prov.get("version")),
        started=started,
        finished=prov.get("finished"),
        estimators=labels,
        n_units=len(units),
        n_planned=planned,
        n_failed=n_failed,
        n_calls=max(1, len(calls)),
        status=status,
    )


def find_runs(root: Path, max_depth: int = 4) -> list[RunSummary]:
    """Every run under ``root`` (``root`` itself may be one), newest first."""
    root = Path(root)
    found: list[RunSummary] = []

    def walk(d: Path, depth: int) -> None:
        rj = d / "run.json"
        if rj.is_file():
            s = summarise_run(rj)
            if s is not None:
                found.append(s)
                return
        if depth >= max_depth:
            return
        try:
            subs = sorted(p for p in d.iterdir() if p.is_dir() and not p.is_symlink() and p.name not in _SKIP)
        except OSError:
            return
        for p in subs:
            walk(p, depth + 1)

    walk(root, 0)
    return sorted(found, key=lambda s: s.started or "", reverse=True)
