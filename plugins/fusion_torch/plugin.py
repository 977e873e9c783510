"""massbench plugin: the PyTorch X-ray + spectroscopic fusion network (``fusion-xray-dyn``).

Only hook implementations live here; torch is imported when the estimator is used, never on import.
"""

from __future__ import annotations

from massbench import hookimpl


@hookimpl
def massbench_estimators() -> list[type]:
    from .estimator import FusionXrayDyn

    return [FusionXrayDyn]
