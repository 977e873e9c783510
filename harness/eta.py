"""Time-remaining estimate of a run from each estimator's finished units.

Units of one estimator take similar times (same network, folds of similar size), while estimators
differ by orders of magnitude (a proxy fit takes milliseconds, a CNN minutes). So the remaining time
is the sum, over estimators, of their pending units times the mean duration of their finished units;
an estimator none of whose units has finished yet counts with the mean of all finished units and
marks the estimate as a lower bound until one of its units is done.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable


class RunEstimate:
    """Remaining wall time [s] of the pending units of a run (serial execution)."""

    def __init__(self, labels: Iterable[str]):
        self.pending = Counter(labels)
        self.durations: dict[str, list[float]] = {}

    def finish(self, label: str, seconds: float) -> None:
        """Record a finished unit of estimator ``label`` that took ``seconds``."""
        if self.pending.get(label, 0) > 0:
            self.pending[label] -= 1
        self.durations.setdefault(label, []).append(max(0.0, float(seconds)))

    def remaining(self) -> tuple[float, bool] | None:
        """``(seconds, exact)``: ``exact`` False when some estimator has no finished unit yet; None before any."""
        done = [d for ds in self.durations.values() for d in ds]
        if not done:
            return None
        overall = sum(done) / len(done)
        total, exact = 0.0, True
        for label, n in self.pending.items():
            if n <= 0:
                continue
            ds = self.durations.get(label)
            if ds:
                total += n * sum(ds) / len(ds)
            else:
                total += n * overall
                exact = False
        return total, exact

    def text(self) -> str:
        """``about 4 min left`` / ``at least 20 s left`` / '' before the first unit."""
        r = self.remaining()
        if r is None:
            return ""
        secs, exact = r
        if secs <= 0:
            return ""
        return f"{'about' if exact else 'at least'} {human_duration(secs)} left"


def human_duration(seconds: float) -> str:
    """45 s, 12 min, 2 h 05 min."""
    s = int(round(seconds))
    if s < 90:
        return f"{s} s"
    if s < 5400:
        return f"{round(s / 60)} min"
    return f"{s // 3600} h {round((s % 3600) / 60):02d} min"
