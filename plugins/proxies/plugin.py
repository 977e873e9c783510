"""massbench plugin: scalar mass proxies (paper section 3) -- the ``proxy-*`` estimators and ``massbench proxies``.

Only hook implementations live here; the real classes are imported when a hook is called.
"""

from __future__ import annotations

from typing import Any

from massbench import hookimpl


@hookimpl
def massbench_estimators() -> list[type]:
    from .estimators import ALL_ESTIMATORS

    return list(ALL_ESTIMATORS)


@hookimpl
def massbench_register_commands(cli: Any) -> None:
    from .cli import register

    register(cli)
