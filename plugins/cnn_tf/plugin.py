"""massbench plugin module of the TensorFlow CNN estimators (entry point ``cnn-tf``).

Only hook implementations live here; TensorFlow is imported when an estimator is used.
"""

from __future__ import annotations

from typing import Any

from massbench import hookimpl


@hookimpl
def massbench_estimators() -> list[type]:
    from .estimator import MultiBandCNN, SingleBandCNN

    return [SingleBandCNN, MultiBandCNN]


@hookimpl
def massbench_register_commands(cli: Any) -> None:
    from .cli import app

    cli.add_typer(app, name="cnn")
