"""Executors: how the units of a run are run. One protocol, three implementations.

- ``process`` (default, :mod:`.process`): each unit in a fresh worker process that sees only its
  declared inputs and no test masses; exits, crashes and timeouts become failed units.
- ``inline`` (:mod:`.inline`): in this process, for debugging (``local`` is its old name).
- ``dask`` (:mod:`.dask`): units as tasks on a dask.distributed cluster, each in its own worker
  process there; imported only when chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

from ..errors import UserError
from ..options import EXECUTORS, RunOptions
from ..plan import Prepared, Unit
from ..records import UnitRecord


class Executor(Protocol):
    """Runs units; yields each unit's record (also written to the run directory) as it finishes."""

    name: str

    def run(self, units: Sequence[Unit]) -> Iterator[UnitRecord]: ...


def make_executor(p: Prepared, out: Path, options: RunOptions, prog: Any = None) -> Executor:
    """The executor ``options.executor`` names."""
    name = options.executor
    if name in ("inline", "local"):
        from .inline import InlineExecutor

        return InlineExecutor(p, out, options, prog)
    if name == "process":
        from .process import ProcessExecutor

        return ProcessExecutor(p, out, options, prog)
    if name == "dask":
        from .dask import DaskExecutor

        return DaskExecutor(p, out, options, prog)
    raise UserError(f"--executor must be one of {', '.join(EXECUTORS[:3])}, not {name!r}")
