"""Progress display for runs: a rich bar over units and one over the current unit's epochs.

Estimators report epochs through ``context.progress(epoch=e, total=n, loss=..., val_loss=...)``
(see :class:`massbench.estimator.ProgressCallback`); without a terminal the bars are replaced
by one log line per finished unit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .escape import rich_text

if TYPE_CHECKING:
    from .records import UnitRecord


class RunProgress:
    """Context manager wrapping ``rich.progress.Progress`` (or silence when ``console`` is None)."""

    def __init__(self, console: Any = None):
        self.console = console
        self._progress: Any = None
        self._units = None
        self._epochs = None

    def __enter__(self) -> "RunProgress":
        if self.console is not None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
                disable=not self.console.is_terminal,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def message(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, markup=False, highlight=False)

    def start_units(self, n: int, description: str = "units", labels: "list[str] | None" = None) -> None:
        """Start the bar over ``n`` units; ``labels`` (one per pending unit) enable the time-left estimate."""
        from .eta import RunEstimate

        self._estimate = RunEstimate(labels or [])
        self._description = description
        if self._progress is not None:
            self._units = self._progress.add_task(rich_text(description), total=n)

    def start_unit(self, description: str) -> None:
        if self._progress is not None:
            if self._epochs is not None:
                self._progress.remove_task(self._epochs)
            self._epochs = self._progress.add_task(f"  {rich_text(description)}", total=None)
        self._current = description

    def finish_unit(self, rec: "UnitRecord") -> None:
        secs = (rec.finished or 0) - (rec.started or 0)
        estimate = getattr(self, "_estimate", None)
        left = ""
        if estimate is not None:
            estimate.finish(rec.label, secs)
            left = estimate.text()
        if self._progress is not None and self._units is not None:
            self._progress.advance(self._units)
            self._progress.update(self._units, description=f"{self._description}" + (f" ({left})" if left else ""))
        if self.console is not None:
            status = rec.status
            colour = "green" if status == "ok" else "red"
            extra = "" if status == "ok" else f": {rec.error}"
            rep = f" repeat {rec.repeat}" if rec.repeat else ""
            text = rich_text(f"{rec.label} fold {rec.fold}{rep} ({secs:.1f} s){extra}")
            self.console.print(
                f"[{colour}]{rich_text(status)}[/{colour}] {text}" + (f"; {rich_text(left)}" if left else ""),
                highlight=False,
            )

    def epoch_callback(self) -> Callable[..., None]:
        def callback(*, epoch: int, total: int | None = None, **metrics: float) -> None:
            if self._progress is None or self._epochs is None:
                return
            shown = " ".join(f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, (int, float)))
            self._progress.update(
                self._epochs, completed=epoch, total=total, description=rich_text(f"  {self._current} {shown}")
            )

        return callback
