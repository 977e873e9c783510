"""massbench built-in plugin: gradient saliency explainers and the paper's interpretability study (section 6).

Public names: :class:`~massbench.plugins.saliency.explainer.GradientSaliency` (explainer ``saliency``)
and :func:`~massbench.plugins.saliency.report.plain_language_summary` (markdown paragraph for run
reports). Importing this package is cheap; the numerical modules are imported on use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["plain_language_summary", "GradientSaliency"]


def plain_language_summary(summary: dict[str, Any]) -> str:
    """See :func:`massbench.plugins.saliency.report.plain_language_summary`."""
    from .report import plain_language_summary as _pls

    return _pls(summary)


def __getattr__(name: str) -> Any:
    if name == "GradientSaliency":
        from .explainer import GradientSaliency

        return GradientSaliency
    raise AttributeError(name)
