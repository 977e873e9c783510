"""Provenance for ``run.json``: versions, git commit, platform."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

LIBRARIES = (
    "numpy",
    "scipy",
    "astropy",
    "pyyaml",
    "pluggy",
    "typer",
    "rich",
    "matplotlib",
    "tensorflow",
    "keras",
    "torch",
    "dask",
    "distributed",
)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def library_versions() -> dict[str, str | None]:
    """Installed versions (read from metadata: nothing is imported)."""
    out: dict[str, str | None] = {}
    for lib in LIBRARIES:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            out[lib] = None
    return out


def git_commit(path: Path | None = None) -> dict[str, Any]:
    """Commit and dirty flag of the git checkout holding ``path`` (massbench's source by default)."""
    path = path or Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def environment() -> dict[str, Any]:
    from . import __version__

    g = git_commit()
    return {
        "massbench": {"version": __version__, "git_commit": g["commit"], "git_dirty": g["dirty"]},
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "hostname": socket.gethostname(),
        "libraries": library_versions(),
        "command": sys.argv,
    }


def write_run_json(
    p: Any,
    out: Path,
    options: Any,
    started: str,
    finished: str | None,
    units_summary: dict[str, dict[str, Any]],
    calls: list[dict[str, Any]] | None = None,
) -> None:
    """``run.json``: versions, plugins, seeds, dataset, folds, the units' status and the run's times.

    ``calls`` is the history of calls that contributed units (:class:`massbench.runs.CallHistory`).
    """
    from .collect import precision_summary
    from .results import atomic_write_json

    plugins = [{"plugin": n, "distribution": d, "version": v} for n, d, v in p.registry.plugins]
    prov = {
        "benchmark": p.bench.benchmark,
        "version": p.bench.version,
        "benchmark_file": p.bench.path,
        "benchmark_sha256": p.bench.sha256,
        "config": p.bench.as_dict(),
        **environment(),
        "plugins": plugins,
        "plugin_errors": [e.as_dict() for e in p.registry.errors],
        "device_requested": options.device,
        "deterministic": p.bench.run.deterministic,
        "precision": precision_summary(units_summary),
        "executor": options.executor,
        "executor_options": (
            {"scheduler": options.scheduler, "workers": options.workers, "unit_retries": options.unit_retries}
            if options.executor == "dask"
            else {}
        ),
        "seeds": {"cv": p.bench.cv.seed, "units": {k: v["seed"] for k, v in units_summary.items()}},
        "dataset": {
            "name": p.bench.dataset.name,
            "params": p.bench.dataset.params,
            "n_clusters": len(p.catalogue),
            "meta": p.dataset_meta,
        },
        "folds": [{"fold": f.k, "n_train": len(f.train), "n_val": len(f.val), "n_test": len(f.test)} for f in p.folds],
        "units": units_summary,
        "started": started,
        "finished": finished,
    }
    sealed = getattr(options, "sealed", None)
    if sealed is not None:  # the secret seed never reaches run.json: only its hash (massbench.sealed)
        from .sealed import redact

        prov = redact(prov, sealed)
        prov["sealed_seed"] = sealed.tag
    if calls is not None:
        prov["calls"] = calls
    atomic_write_json(Path(out) / "run.json", prov)
