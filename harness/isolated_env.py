"""Fresh virtual environments for installing a third-party plugin without touching the current one.

:func:`layered_venv` creates a venv (no pip of its own) whose ``site-packages`` holds one ``.pth``
file adding the *current* environment's site directories after its own. The new environment
therefore sees massbench and its dependencies as installed, while whatever is installed into it
(the plugin under test and any dependency massbench lacks) lands only in the new environment and
disappears with its directory. This is how ``massbench leaderboard submit`` installs a
submission, locally and in CI, and how the tests install a generated plugin package.

Every command runs as an argument list (never through a shell).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any, Sequence

from .errors import UserError

PTH_NAME = "_massbench_parent_env.pth"


def _bin(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def venv_python(venv: Path) -> Path:
    """The interpreter of a virtual environment."""
    return _bin(Path(venv)) / ("python.exe" if os.name == "nt" else "python")


def parent_site_dirs() -> list[str]:
    """Site directories of the running environment (purelib and platlib, without duplicates)."""
    paths = sysconfig.get_paths()
    out: list[str] = []
    for key in ("purelib", "platlib"):
        p = paths.get(key)
        if p and p not in out and Path(p).is_dir():
            out.append(p)
    return out


def layered_venv(directory: Path, timeout: float = 300.0) -> Path:
    """Create a fresh venv at ``directory`` layered on the current environment; return its python.

    Refuses a directory that exists and is not already such a venv.
    """
    directory = Path(directory).resolve()
    py = venv_python(directory)
    if directory.exists() and any(directory.iterdir()):
        if py.exists() and any(directory.glob(f"**/site-packages/{PTH_NAME}")):
            return py
        raise UserError(f"{directory}: exists and is not a massbench layered environment; give a new --venv path")
    proc = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(directory)], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise UserError(
            f"could not create a virtual environment at {directory}: "
            f"{(proc.stderr.strip().splitlines() or ['python -m venv failed'])[-1]}"
        )
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if site.returncode != 0:
        raise UserError(f"the new environment's python {py} does not run: {site.stderr.strip()}")
    lines = [f"import site; site.addsitedir({d!r})" for d in parent_site_dirs()]
    Path(site.stdout.strip()).joinpath(PTH_NAME).write_text("\n".join(lines) + "\n")
    return py


def pip_install(
    python: Path,
    requirement: str,
    no_build_isolation: bool = False,
    no_deps: bool = False,
    editable: bool = False,
    log: Path | None = None,
    timeout: float = 1800.0,
) -> subprocess.CompletedProcess:
    """``python -m pip install [--no-build-isolation] [--no-deps] [-e] -- REQUIREMENT`` as an argument list.

    ``requirement`` must already be validated (see :func:`massbench.submissions.validate_requirement`);
    the ``--`` keeps it from being read as an option either way.
    """
    cmd: list[str] = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    if no_build_isolation:
        cmd.append("--no-build-isolation")
    if no_deps:
        cmd.append("--no-deps")
    cmd += ["-e", requirement] if editable else ["--", requirement]
    return run_logged(cmd, log, timeout)


#: Characters of a command's stdout and of its stderr kept in memory (the tail); the log file gets all of it.
MAX_CAPTURE = 1_000_000


def run_logged(
    cmd: Sequence[str], log: Path | None = None, timeout: float = 3600.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run an argument list (no shell); append its whole output to ``log`` when given.

    The output goes to temporary files, not to memory: the returned ``stdout``/``stderr`` hold at
    most the last :data:`MAX_CAPTURE` characters each (a note says how much was cut), so a plugin
    that prints without end cannot exhaust the memory of ``leaderboard submit``.
    """
    import shutil
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        note = ""
        try:
            rc = subprocess.run(list(cmd), stdout=out, stderr=err, timeout=timeout, env=env).returncode
        except subprocess.TimeoutExpired:  # run() has killed the process
            rc, note = 124, f"\ntimed out after {timeout:.0f} s"
        proc = subprocess.CompletedProcess(list(cmd), rc, _tail(out), _tail(err) + note)
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "ab") as fh:
                fh.write(("$ " + " ".join(cmd) + "\n").encode())
                last = b"\n"
                for f in (out, err):
                    f.seek(0)
                    shutil.copyfileobj(f, fh)
                    if f.tell():
                        f.seek(-1, 2)
                        last = f.read(1)
                if last != b"\n":
                    fh.write(b"\n")
                fh.write(f"{note.strip()}\n[exit status {rc}]\n\n".lstrip("\n").encode())
    return proc


def _tail(f: Any) -> str:
    """The last :data:`MAX_CAPTURE` bytes of the open file ``f`` as text (with a note when cut)."""
    f.seek(0, 2)
    size = f.tell()
    f.seek(max(0, size - MAX_CAPTURE))
    text = f.read().decode(errors="replace")
    return (
        f"[{size - MAX_CAPTURE:,} earlier bytes of output left out; the log has them]\n" + text
        if size > MAX_CAPTURE
        else text
    )


def massbench_command(python: Path | str, *args: str) -> list[str]:
    """The argument list running the massbench CLI with ``python``."""
    return [str(python), "-c", "from massbench.cli import main; main()", *args]
