"""Reading YAML that may be careless or hostile: benchmark files and leaderboard submissions.

Limits (each breach is a :class:`~massbench.errors.ConfigError`, exit 2, naming the file and line):

- :data:`MAX_BYTES`: the file's size, checked before it is read;
- the bytes must be UTF-8 text (no NUL bytes or other binary content);
- :data:`MAX_DEPTH`: nesting depth of mappings and sequences (also what PyYAML's recursive
  composer would overflow on);
- :data:`MAX_NODES`: the number of nodes *after alias expansion*. YAML aliases (``*a``) repeat
  an anchored node; nesting them ("billion laughs") makes a small file expand to billions of
  nodes, which used to grow ``massbench validate`` to gigabytes. The count is taken on the
  composed node graph, before any Python object is built;
- mapping keys must be scalars (a list or mapping used as a key is refused).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

MAX_BYTES = 1_000_000  # a benchmark or submission file is a few kB
MAX_DEPTH = 32
MAX_NODES = 100_000  # after alias expansion


def read_text(path: Path, what: str) -> str:
    """The text of a YAML file ``path`` (``what``: e.g. "benchmark file"), within the size limit and UTF-8."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ConfigError(f"{path}: is a directory, not a {what}")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(
                f"{path}: the {what} is {size:,} bytes; at most {MAX_BYTES:,} are read (is this the right file?)"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    return decode(data, str(path), what)


def decode(data: bytes, path: str, what: str = "YAML file") -> str:
    """``data`` decoded as UTF-8 text, or a ConfigError with the line of the first undecodable byte."""
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: the {what} is {len(data):,} bytes; at most {MAX_BYTES:,} are read")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            f"a {what} must be a UTF-8 YAML file"
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ConfigError(f"{path}:{line}: contains NUL bytes (binary data); a {what} must be a UTF-8 YAML file")
    return text.removeprefix("\ufeff")


def load(text: str, path: str, loader_cls: type = yaml.SafeLoader) -> Any:
    """Parse one YAML document with ``loader_cls`` after checking the composed nodes against the limits."""
    if len(text) > MAX_BYTES:
        raise ConfigError(f"{path}: {len(text):,} characters; at most {MAX_BYTES:,} are read")
    loader = loader_cls(text)
    loader.name = path
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise ConfigError(
                f"{path}: nested too deeply to parse (at most {MAX_DEPTH} levels of mappings and lists)"
            ) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"{path}{line}: not valid YAML: {problem}") from None
        if node is None:
            return None
        check_node(node, path)
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise ConfigError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise ConfigError(f"{path}: a value cannot be read ({exc})") from None
    finally:
        loader.dispose()


def check_node(root: yaml.Node, path: str) -> int:
    """The expanded node count of ``root``; ConfigError when a limit is broken (see the module docstring).

    Iterative (no recursion), and each distinct node is expanded once: the count of a node reached
    again through an alias is reused, so checking costs the size of the file, not of its expansion.
    """
    expanded: dict[int, int] = {}
    depth_of: dict[int, int] = {}
    # post-order walk: (node, depth, children_done)
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    on_path: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        nid = id(node)
        line = node.start_mark.line + 1
        if not done:
            if nid in expanded:
                continue
            if depth > MAX_DEPTH:
                raise ConfigError(f"{path}:{line}: nested more than {MAX_DEPTH} levels deep; flatten the file")
            if nid in on_path:
                raise ConfigError(f"{path}:{line}: an alias refers to a node that contains it (recursive YAML)")
            if isinstance(node, yaml.ScalarNode):
                expanded[nid], depth_of[nid] = 1, 1
                continue
            on_path.add(nid)
            stack.append((node, depth, True))
            for child in _children(node, path):
                if id(child) not in expanded:
                    stack.append((child, depth + 1, False))
            continue
        on_path.discard(nid)
        kids = _children(node, path)
        total = 1 + sum(expanded[id(c)] for c in kids)
        sub_depth = 1 + max((depth_of[id(c)] for c in kids), default=0)
        if depth - 1 + sub_depth > MAX_DEPTH:
            raise ConfigError(
                f"{path}:{line}: nested more than {MAX_DEPTH} levels deep (through aliases); flatten the file"
            )
        if total > MAX_NODES:
            raise ConfigError(
                f"{path}:{line}: expands to more than {MAX_NODES:,} values (YAML aliases `*name` repeat "
                "anchored content; nested aliases grow exponentially); write the values out instead"
            )
        expanded[nid], depth_of[nid] = total, sub_depth
    return expanded[id(root)]


def _children(node: yaml.Node, path: str) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        out: list[yaml.Node] = []
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                kind = "list" if isinstance(key, yaml.SequenceNode) else "mapping"
                raise ConfigError(
                    f"{path}:{key.start_mark.line + 1}: a {kind} is used as a mapping key; keys must be plain "
                    "names (a `? ` complex key or `[a, b]: ...` is not allowed)"
                )
            out.append(key)
            out.append(value)
        return out
    return []
