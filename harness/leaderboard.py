"""Merged leaderboards across runs of one benchmark version (``massbench leaderboard build``)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .results import atomic_write_json, merge_runs, write_leaderboard


def build_leaderboard(result_dirs: Sequence[Path], out: Path) -> Path:
    """Merge run directories into ``out``: leaderboard.json/.md/.csv and runs.json (provenance links).

    Refuses results of different benchmark versions, runs without provenance and duplicate
    estimator rows (a UserError naming the directory).
    """
    bench, version, rows, runs = merge_runs([Path(d) for d in result_dirs])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_leaderboard(out, rows, title=f"{bench}@{version}")
    atomic_write_json(out / "runs.json", {"benchmark": bench, "version": version, "runs": runs})
    return out
