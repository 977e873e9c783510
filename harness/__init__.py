"""massbench: a plugin-based benchmark harness for galaxy-cluster mass estimation.

Plugins import ``hookimpl`` from here::

    from massbench import hookimpl

Public names: :class:`Catalogue`, :class:`CatalogueView`, :class:`InputArray`,
:class:`RunContext`, :class:`Estimator`, :class:`UserError`, ``hookimpl``.
Everything here imports quickly (no TensorFlow, no torch).
"""

from __future__ import annotations

__version__ = "0.1.0"

from .catalogue import Catalogue, CatalogueView, InputArray, RowAccessor
from .errors import ConfigError, ContractError, DataError, TestMassAccessError, UserError
from .estimator import Estimator, RunContext
from .hookspecs import hookimpl

__all__ = [
    "__version__",
    "hookimpl",
    "Catalogue",
    "CatalogueView",
    "InputArray",
    "RowAccessor",
    "RunContext",
    "Estimator",
    "UserError",
    "ConfigError",
    "DataError",
    "ContractError",
    "TestMassAccessError",
]
