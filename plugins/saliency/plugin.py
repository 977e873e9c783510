"""massbench plugin entry point for the saliency explainers (imports nothing heavy)."""

from __future__ import annotations

from massbench import hookimpl


@hookimpl
def massbench_explainers() -> list[type]:
    from massbench.plugins.saliency.explainer import GradientSaliency

    return [GradientSaliency]
