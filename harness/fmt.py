"""Number formatting shared by every renderer (markdown, CSV, HTML, report.md, the pull-request comment)."""

from __future__ import annotations

import math
from typing import Any


def is_number(v: Any) -> bool:
    """A finite int or float (not a bool)."""
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)


def fixed(v: Any, digits: int = 4, sign: bool = False) -> str:
    """``v`` with ``digits`` decimals (``+`` for positive values with ``sign``); '' when not a finite number."""
    if not is_number(v):
        return ""
    return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"


def interval(v: Any, digits: int = 4) -> str:
    """A 95 % interval ``[lo, hi]``; '' unless ``v`` is a pair of numbers."""
    if not isinstance(v, (list, tuple)) or len(v) != 2 or not all(is_number(x) for x in v):
        return ""
    return f"[{v[0]:.{digits}f}, {v[1]:.{digits}f}]"


def cell(v: Any, digits: int = 4) -> str:
    """A markdown table cell: floats with ``digits`` decimals, pairs as intervals, lists joined, True as 'yes'."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    if isinstance(v, (list, tuple)):
        if len(v) == 2 and all(isinstance(x, (int, float)) or x is None for x in v):
            return "[" + ", ".join(cell(x, digits) for x in v) + "]"
        return ", ".join(str(x) for x in v)
    if isinstance(v, bool):
        return "yes" if v else ""
    return str(v)


def first_line(text: Any, width: int) -> str:
    """The first line of an error message, cut to ``width`` characters, safe inside a markdown table."""
    return str(text).splitlines()[0][:width].replace("|", "/") if str(text) else ""
