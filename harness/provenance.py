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

LIBRARIES = ("numpy", "scipy", "astropy", "pyyaml", "pluggy", "typer", "rich", "matplotlib",
             "tensorflow", "keras", "torch", "dask", "distributed")


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
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=path,
                               capture_output=True, text=True, timeout=10)
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
