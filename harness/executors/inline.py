"""The inline executor (``--executor inline``, old name ``local``): units one after another in this process.

For debugging (breakpoints, monkeypatching in tests): no isolation and no containment, so a
unit's ``timeout`` is not enforced and an estimator that exits or crashes ends the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

from ..options import RunOptions
from ..plan import Prepared, Unit
from ..records import UnitRecord
from ..unit import execute_unit


class InlineExecutor:
    name = "inline"

    def __init__(self, p: Prepared, out: Path, options: RunOptions, prog: Any = None):
        self.p, self.out, self.options, self.prog = p, Path(out), options, prog

    def run(self, units: Sequence[Unit]) -> Iterator[UnitRecord]:
        for u in units:
            callback = None
            if self.prog is not None:
                self.prog.start_unit(u.title)
                callback = self.prog.epoch_callback()
            yield execute_unit(self.p, u, self.out, self.options.device, callback, self.options.cache_dir)
