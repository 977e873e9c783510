"""Escaping user-supplied strings (labels, params, error text, paths) for every renderer.

- Rich: :func:`rich_text` escapes ``[...]`` so that a label such as ``N_phot [/h Msun]`` or an
  error naming ``[/data/maps.npy]`` is printed as written, never parsed as markup
  (which raised ``rich.errors.MarkupError`` and ended the run).
- Markdown tables: :func:`md_cell` makes any text one table cell (``|`` and ``\\`` escaped,
  line breaks folded); :func:`md_split_row` is its inverse, used by ``leaderboard verify``.
- HTML links: :func:`safe_relpath` accepts only a relative path inside the output directory
  (no scheme such as ``javascript:``, no absolute path, no ``..``), for the ``figure`` and
  ``provenance`` values of a leaderboard.json that may have been tampered with.
"""

from __future__ import annotations

import re
from typing import Any

_NEWLINES = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def rich_text(text: Any) -> str:
    """``text`` safe to embed in a Rich markup string (square brackets escaped)."""
    from rich.markup import escape

    return escape(str(text))


def one_line(text: Any) -> str:
    """``text`` with line breaks folded into single spaces and other control characters dropped."""
    return _CONTROL.sub("", _NEWLINES.sub(" ", "" if text is None else str(text))).strip()


def md_cell(text: Any) -> str:
    """Any text as the content of one markdown table cell.

    Line breaks become spaces, a backslash becomes ``\\\\`` and ``|`` becomes ``\\|`` (GitHub-flavoured
    markdown shows both as the plain character), so a label can neither end its cell nor its row.
    """
    return one_line(text).replace("\\", "\\\\").replace("|", "\\|")


def md_split_row(line: str) -> list[str]:
    """The cells of one markdown table row written with :func:`md_cell` (escapes undone)."""
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    cells: list[str] = []
    buf: list[str] = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s) and s[i + 1] in "\\|":
            buf.append(s[i + 1])
            i += 2
            continue
        if ch == "|":
            cells.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        i += 1
    tail = "".join(buf).strip()
    if tail:
        cells.append(tail)
    return cells


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def safe_relpath(value: Any) -> str | None:
    """``value`` when it is a relative path inside the output directory, else None.

    Refuses URLs with a scheme (``javascript:``, ``data:``, ``http:``), absolute paths, ``..``
    components, backslashes, protocol-relative ``//host`` links and control characters.
    """
    if not isinstance(value, str) or not value or len(value) > 500:
        return None
    if _SCHEME.match(value) or value.startswith(("/", "~")) or "\\" in value or _CONTROL.search(value):
        return None
    if any(ch in value for ch in "\r\n\t\"'<>` ") or "?" in value or "#" in value:
        return None
    parts = value.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    return value
