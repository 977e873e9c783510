"""Published reference values a benchmark file may carry, shown beside the measured scatter.

In a benchmark file::

    reference:
      source: "Ho et al., Table 3 (scatter of log10 M500c, dex)"
      scatter_dex:
        proxy-n-phot: 0.1738
        CNN 0.5-10 keV: 0.0773

``scatter_dex`` maps estimator labels of the file to a scatter in dex (the paper's eq. 9);
``source`` says where the numbers come from and labels the column in report.md, leaderboard.md and
index.html. The values are copied into each leaderboard row as ``reference_scatter_dex`` and
``reference_source`` (so ``leaderboard build`` shows them without reading the benchmark file).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .records import LeaderboardRow


@dataclass
class Reference:
    """Reference scatter [dex] per estimator label, and where it comes from."""

    source: str
    scatter_dex: dict[str, float] = field(default_factory=dict)

    def annotate(self, rows: Iterable[LeaderboardRow]) -> None:
        """Put ``reference_scatter_dex`` / ``reference_source`` into the rows' extras (labels with a value)."""
        for r in rows:
            if r.label in self.scatter_dex:
                r.extra["reference_scatter_dex"] = self.scatter_dex[r.label]
                r.extra["reference_source"] = self.source


def parse_reference(
    c: Any, raw: Any, line: int, labels: list[str], misspelt: Callable[[str], str] | None = None
) -> Reference:
    """Check the ``reference:`` mapping of a benchmark file (``c`` is the config checker).

    An unknown label is collected (``c.soft``), explained by ``misspelt(label)`` when that says the
    label's estimator entry is misspelt.
    """
    m = c.keys(raw, {"source": True, "scatter_dex": True}, "reference", line)
    source = c.typed(m, "source", str, "reference.", "a non-empty string saying where the numbers come from")
    if not source.strip():
        c.fail(m.key_lines.get("source", m.line), "reference.source must say where the numbers come from")
    sd = m["scatter_dex"]
    sd_line = m.key_lines.get("scatter_dex", m.line)
    if not isinstance(sd, dict) or not sd:
        c.fail(sd_line, "reference.scatter_dex must map estimator labels to a scatter in dex, e.g. {proxy-t: 0.051}")
    out: dict[str, float] = {}
    for k, v in sd.items():
        kl = getattr(sd, "key_lines", {}).get(str(k), sd_line)
        if str(k) not in labels:
            why = misspelt(str(k)) if misspelt is not None else ""
            hint = difflib.get_close_matches(str(k), labels, n=1)
            c.soft(
                kl,
                f"reference.scatter_dex: {k!r} "
                + (
                    why
                    or "is not an estimator label of this benchmark"
                    + (f"; did you mean {hint[0]!r}?" if hint else f"; labels: {', '.join(labels)}")
                ),
            )
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            c.fail(kl, f"reference.scatter_dex[{k!r}] must be a non-negative number of dex, got {v!r}")
        out[str(k)] = float(v)
    return Reference(source.strip(), out)
