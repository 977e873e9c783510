"""Output directories massbench owns: marker files, refusal of foreign directories, exclusive locks.

Every directory ``massbench run`` writes into holds the marker file ``.massbench-run``; every
directory ``massbench leaderboard build`` writes into holds ``.massbench-leaderboard``. The rules:

- A missing or empty directory is created and marked.
- An existing, non-empty directory without the marker is refused (exit 2): massbench never writes
  into, or deletes anything from, a directory it did not create. (Directories written by massbench
  versions older than the marker are recognised by their ``run.json`` / ``runs.json`` and adopted.)
- A run directory that already holds results is refused unless ``--resume`` (continue it),
  ``--overwrite`` (replace it) or ``--only`` (rerun the named estimators, keep the other rows) is
  given. ``--overwrite`` deletes only the files and folders a run
  writes (:data:`RUN_OUTPUTS`); anything else in the directory is left alone.
- A run holds an exclusive ``fcntl`` lock on ``.massbench-run.lock`` while it runs; a second run
  into the same directory is refused with the first one's PID, host and start time.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import UserError

RUN_MARKER = ".massbench-run"
LEADERBOARD_MARKER = ".massbench-leaderboard"
LEAKAGE_MARKER = ".massbench-leakage"
LOCK_FILE = ".massbench-run.lock"

#: What ``massbench run`` writes into its output directory (the only paths ``--overwrite`` deletes).
RUN_OUTPUTS = (
    "run.json",
    "leaderboard.json",
    "leaderboard.md",
    "leaderboard.csv",
    "predictions.csv",
    "report.md",
    "units",
    "models",
    "explanations",
    "work",
    "figures",
)
#: What ``massbench leaderboard build`` writes (its generated sub-folders are rebuilt on every build).
LEADERBOARD_OUTPUTS = (
    "leaderboard.json",
    "leaderboard.md",
    "leaderboard.csv",
    "runs.json",
    "index.html",
    "provenance",
    "figures",
)
_KINDS = {
    RUN_MARKER: "massbench run",
    LEADERBOARD_MARKER: "massbench leaderboard build",
    LEAKAGE_MARKER: "massbench leakage",
}


def _marker_text(marker: str) -> str:
    from . import __version__
    from .provenance import now

    return (
        json.dumps(
            {
                "written_by": _KINDS[marker],
                "massbench_version": __version__,
                "created": now(),
                "note": "massbench writes into and deletes from this directory only because this file is here",
            },
            indent=2,
        )
        + "\n"
    )


def _legacy(directory: Path, marker: str) -> bool:
    """Whether ``directory`` was written by a massbench version older than the marker files."""
    try:
        if marker == RUN_MARKER:
            prov = json.loads((directory / "run.json").read_text())
            return isinstance(prov, dict) and {"benchmark", "version", "config"} <= set(prov)
        runs = json.loads((directory / "runs.json").read_text())
        return isinstance(runs, dict) and runs.get("generated_by") == "massbench leaderboard build"
    except (OSError, ValueError):
        return False


def ensure_writable_dir(path: Path, option: str) -> Path:
    """``path`` created as a directory (with parents) and checked writable, else a UserError naming ``option``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path}: is a file, not a directory; give a directory path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{option} {path}: cannot create the directory ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: the directory is not writable; choose another path or fix its permissions")
    return path


def claim(directory: Path, marker: str, option: str = "--out") -> Path:
    """Create or adopt ``directory`` for massbench output carrying ``marker``; refuse a foreign one.

    Raises UserError (exit 2) when ``directory`` is a file, cannot be created, is not writable, or
    is an existing non-empty directory without ``marker`` (nor a legacy massbench directory of that kind).
    """
    directory = Path(directory)
    try:
        foreign = directory.is_dir() and any(directory.iterdir()) and not (directory / marker).is_file()
    except OSError as exc:
        raise UserError(f"{option} {directory}: cannot read the directory ({exc.strerror or exc})") from None
    if foreign:
        other = next((m for m in _KINDS if m != marker and (directory / m).is_file()), None)
        if other is not None:
            raise UserError(
                f"{option} {directory}: this directory belongs to `{_KINDS[other]}` ({other}), not to "
                f"`{_KINDS[marker]}`; choose another {option}"
            )
        if not _legacy(directory, marker):
            raise UserError(
                f"{option} {directory}: the directory exists, is not empty and was not created by massbench "
                f"(no {marker} file in it); massbench does not write into or delete from other directories. "
                f"Choose a new or empty {option}"
            )
    ensure_writable_dir(directory, option)
    if not (directory / marker).is_file():
        from .results import atomic_write_text

        atomic_write_text(directory / marker, _marker_text(marker))
    return directory


def remove_outputs(directory: Path, names: tuple[str, ...]) -> list[str]:
    """Delete the massbench-written ``names`` under a claimed ``directory``; returns what was deleted."""
    gone = []
    for name in names:
        p = Path(directory) / name
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)
        else:
            continue
        gone.append(name)
    return gone


def has_run_results(directory: Path) -> bool:
    """Whether a run directory holds results of an earlier run (run.json or unit records)."""
    directory = Path(directory)
    units = directory / "units"
    return (directory / "run.json").exists() or (units.is_dir() and any(units.iterdir()))


@dataclass
class RunLock:
    """The exclusive lock of one run on its output directory (released by :meth:`release` or at exit)."""

    path: Path
    handle: IO[str] | None = None

    def release(self) -> None:
        if self.handle is not None:
            import fcntl

            try:
                fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            finally:
                self.handle.close()
                self.handle = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def lock_run_dir(directory: Path) -> RunLock:
    """Take the exclusive lock of a run directory, or a UserError naming the holder's PID."""
    import fcntl

    from .provenance import now

    path = Path(directory) / LOCK_FILE
    try:
        handle = open(path, "a+")
    except OSError as exc:
        raise UserError(f"{path}: cannot open the run's lock file ({exc.strerror or exc})") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        try:
            info = json.loads(holder)
            who = f"PID {info.get('pid')} on {info.get('host')}, running since {info.get('since')}"
        except ValueError:
            who = "another process"
        raise UserError(
            f"--out {directory}: another massbench run is writing into this directory ({who}); wait for it "
            "to finish, or give this run another --out"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": now()}) + "\n")
    handle.flush()
    return RunLock(path, handle)


def prepare_run_dir(directory: Path, resume: bool, overwrite: bool, partial: bool = False) -> RunLock:
    """Claim, lock and (with ``overwrite``) clear a run's output directory; see the module docstring.

    ``partial`` (``--only``): the call reruns only the named estimators of the run already there,
    replacing their units and keeping every other row, so it needs neither flag.
    """
    directory = Path(directory)
    if resume and overwrite:
        raise UserError("give --resume (continue the run in --out) or --overwrite (replace it), not both")
    claim(directory, RUN_MARKER)
    lock = lock_run_dir(directory)
    try:
        if has_run_results(directory) and not resume and not (partial and not overwrite):
            if not overwrite:
                what = _describe_run(directory)
                raise UserError(
                    f"--out {directory}: holds the results of an earlier run{what}; pass --resume to continue "
                    "it (finished units are kept), or --overwrite to replace it, or choose another --out"
                )
            remove_outputs(directory, RUN_OUTPUTS)
    except BaseException:
        lock.release()
        raise
    return lock


def _describe_run(directory: Path) -> str:
    try:
        prov = json.loads((Path(directory) / "run.json").read_text())
        return f" ({prov.get('benchmark')}@{prov.get('version')}, started {prov.get('started')})"
    except (OSError, ValueError, AttributeError):
        return ""


def open_run_dir(options: Any) -> RunLock:
    """For ``massbench run``: check ``--cache-dir``, then claim, lock and prepare ``--out`` (see above)."""
    from .estimator import default_cache_dir

    ensure_writable_dir(Path(options.cache_dir or default_cache_dir()), "--cache-dir")
    return prepare_run_dir(Path(options.out), options.resume, options.overwrite, bool(options.only))
