"""Hook implementations that ship with the core: the ``baseline-mean`` floor estimator."""

from __future__ import annotations

from .hookspecs import hookimpl


@hookimpl
def massbench_estimators() -> list[type]:
    from .estimator import BaselineMean

    return [BaselineMean]
