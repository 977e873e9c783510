"""massbench: a plugin-based benchmark harness for galaxy-cluster mass estimation.

Plugins import ``hookimpl`` from here::

    from massbench import hookimpl

Public names: :class:`Catalogue`, :class:`CatalogueView`, :class:`InputArray`,
:class:`RunContext`, :class:`Estimator`, :class:`Prediction`, :class:`UserError`, ``hookimpl``.
Everything here imports quickly (no TensorFlow, no torch).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:  # the one source of the version is pyproject.toml, read from the installed metadata
    __version__ = version("massbench")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
    __version__ = "0+unknown"

from .catalogue import Catalogue, CatalogueView, InputArray, RowAccessor
from .errors import ConfigError, ContractError, DataError, TestMassAccessError, UserError
from .estimator import Estimator, RunContext
from .hookspecs import hookimpl
from .prediction import Prediction

__all__ = [
    "__version__",
    "hookimpl",
    "Catalogue",
    "CatalogueView",
    "InputArray",
    "RowAccessor",
    "RunContext",
    "Estimator",
    "Prediction",
    "UserError",
    "ConfigError",
    "DataError",
    "ContractError",
    "TestMassAccessError",
]
