"""massbench plugin: the ``erosita-mock`` and ``magneticum-sixte`` datasets and the ``massbench mock`` and ``massbench data`` commands."""

from __future__ import annotations

from typing import Any

from massbench import hookimpl


@hookimpl
def massbench_datasets() -> list[type]:
    from .datasets import ErositaMock, MagneticumSixte

    return [ErositaMock, MagneticumSixte]


@hookimpl
def massbench_register_commands(cli: Any) -> None:
    from .cli import app, data_app

    cli.add_typer(app, name="mock")
    cli.add_typer(data_app, name="data")
