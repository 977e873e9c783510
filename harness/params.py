"""Checking a plugin's ``params`` from a benchmark file against its typed ``__init__``.

A plugin declares its parameters as keyword arguments of ``__init__`` with type hints,
or as dataclass fields (the class, or a base, is a ``@dataclass``: the generated
``__init__`` takes the fields; range checks go in ``__post_init__``; fields with a
``default_factory`` report the factory's value as their default). Unknown names get a
did-you-mean suggestion; values are checked against ``int``, ``float``, ``str``, ``bool``,
``list[...]``, ``tuple[...]``, ``dict``, ``Optional[...]``/``X | None``, ``Literal[...]``
and ``pathlib.Path``. An int is accepted for a float. Other annotations are not checked.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union, cast


def declared_params(cls: type) -> dict[str, inspect.Parameter]:
    """The keyword parameters of ``cls.__init__`` (``self`` and ``*args`` excluded)."""
    try:
        sig = inspect.signature(cast(Any, cls).__init__)
    except (TypeError, ValueError):
        return {}
    return {
        n: p for n, p in sig.parameters.items() if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def accepts_any(cls: type) -> bool:
    """Whether ``__init__`` takes ``**kwargs`` (then unknown names cannot be checked)."""
    try:
        sig = inspect.signature(cast(Any, cls).__init__)
    except (TypeError, ValueError):
        return True
    return any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())


def param_hints(cls: type) -> dict[str, Any]:
    """Resolved type hints of the params of ``cls`` (empty when they cannot be resolved).

    For a dataclass the class's own hints are used, so that fields inherited from a base
    defined in another module resolve in that module's namespace.
    """
    if dataclasses.is_dataclass(cls):
        try:
            return typing.get_type_hints(cls)
        except Exception:
            pass
    try:
        return typing.get_type_hints(cast(Any, cls).__init__)
    except Exception:
        return {}


def param_defaults(cls: type) -> dict[str, Any]:
    """Default value of each declared param that has one (a dataclass field's
    ``default_factory`` is called: ``<factory>`` is not a value)."""
    out = {n: p.default for n, p in declared_params(cls).items() if p.default is not inspect.Parameter.empty}
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            if f.name in out and f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
    return out


def _type_name(tp: Any) -> str:
    """A type as a user reads it: ``float | null``, ``one of 'a', 'b'``, ``list[int]``."""
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _matches(value: Any, tp: Any) -> bool:
    if tp is Any or tp is inspect.Parameter.empty:
        return True
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if origin is Literal:
        return value in args
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if tp in (Path,):
        return isinstance(value, (str, Path))
    if origin in (list, tuple, typing.Sequence, __import__("collections.abc").abc.Sequence) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        if not args:
            return True
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        if origin is tuple:
            return len(args) == len(value) and all(_matches(v, a) for v, a in zip(value, args))
        return all(_matches(v, args[0]) for v in value)
    if origin is dict or tp is dict:
        return isinstance(value, dict)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def check_params(cls: type, params: dict[str, Any]) -> list[str]:
    """Problems with ``params`` for ``cls``, one sentence each (empty when all is well)."""
    problems: list[str] = []
    declared = declared_params(cls)
    hints = param_hints(cls)
    for key, value in params.items():
        if key not in declared:
            if accepts_any(cls):
                continue
            hint = difflib.get_close_matches(key, list(declared), n=1)
            msg = f"unknown param {key!r}"
            msg += f"; did you mean {hint[0]!r}?" if hint else f"; it takes {', '.join(declared) or 'no params'}"
            problems.append(msg)
            continue
        tp = hints.get(key, declared[key].annotation)
        if tp is inspect.Parameter.empty and declared[key].default not in (inspect.Parameter.empty, None):
            tp = type(declared[key].default)
        if not _matches(value, tp):
            problems.append(f"param {key!r} must be {_type_name(tp)}, got {value!r}")
    missing = [n for n, p in declared.items() if p.default is inspect.Parameter.empty and n not in params]
    for n in missing:
        problems.append(f"param {n!r} is required")
    return problems


def describe_params(cls: type) -> list[dict[str, Any]]:
    """Name, type and default of each declared param (for ``massbench plugins --json``)."""
    hints = param_hints(cls)
    defaults = param_defaults(cls)
    out = []
    for n, p in declared_params(cls).items():
        tp = hints.get(n, p.annotation)
        default = defaults.get(n)
        if isinstance(default, (Path, tuple)):
            default = str(default) if isinstance(default, Path) else list(default)
        out.append(
            {
                "name": n,
                "type": "" if tp is inspect.Parameter.empty else _type_name(tp),
                "default": default if isinstance(default, (int, float, str, bool, list, type(None))) else repr(default),
                "required": getattr(p, "default", None) is inspect.Parameter.empty,
            }
        )
    return out
