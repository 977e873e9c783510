"""Options of ``massbench run``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sealed import SealedSeed

#: Executors ``--executor`` accepts; ``local`` is the old name of ``inline``.
EXECUTORS = ("process", "inline", "dask", "local")


@dataclass
class RunOptions:
    """Options of ``massbench run``.

    ``executor``: ``process`` (each unit in a fresh worker process, the default), ``inline``
    (in this process, for debugging; ``local`` is an alias) or ``dask``. ``retry_failed``:
    with ``resume``, run failed units again (by default ``--resume`` moves past them).
    ``overwrite``: replace the results of an earlier run in ``out`` (without it, and without
    ``resume``, such a directory is refused; see :mod:`massbench.outdir`). ``sealed``: set by
    ``--sealed``; run.json and messages show only its hash.
    """

    out: Path
    resume: bool = False
    only: list[str] | None = None
    device: str = "auto"
    cache_dir: Path | None = None
    debug: bool = False
    executor: str = "process"
    scheduler: str | None = None
    workers: int | None = None
    unit_retries: int = 2
    retry_failed: bool = False
    overwrite: bool = False
    sealed: SealedSeed | None = None  # --sealed: the dataset's secret seed (massbench.sealed); never printed
