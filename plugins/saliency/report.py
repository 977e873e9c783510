"""Plain-language paragraphs of the saliency study for a run's markdown report."""

from __future__ import annotations

from typing import Any, Iterator


def _summaries(obj: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if not isinstance(obj, dict) or depth > 3:
        return
    if obj.get("explainer") == "saliency" and "kind" in obj:
        yield obj
        return
    for value in obj.values():
        yield from _summaries(value, depth + 1)


def _f(v: Any, fmt: str = ".2f") -> str | None:
    return None if v is None else format(v, fmt)


def _g(v: float) -> str:
    """Two significant figures without exponents for ratios of order 0.01 to 10,000."""
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2g}"


def _paragraph(s: dict[str, Any]) -> str:
    label, kind, n = s.get("label", "?"), s.get("kind", "?"), s.get("n_clusters", 0)
    model = "the N_phot proxy" if kind == "nphot-proxy" else "the network"
    parts = [f"**{label}** ({kind}, {n} test clusters)."]
    radial = s.get("radial") or {}
    shape = (radial.get("normalised") or {}).get("ratio_nphot_to_cnn") or {}
    raw = radial.get("ratio_nphot_to_cnn") or {}
    wrt = (s.get("gradient") or {}).get("wrt", "")
    core, edge = raw.get("0.07"), raw.get("1")
    if core is not None:
        units = (
            "the paper's units (the network's gradient with respect to its standardised input, N_phot's by eq. 13)"
            if wrt == "standardised"
            else "raw units (both gradients with respect to x = log10(n + 1))"
        )
        text = (
            f"In {units}, the N_phot proxy's median per-pixel saliency at 0.07 R500c is {_g(core)} times "
            "the network's (the paper: about 10)"
        )
        if edge is not None and edge > 0:
            contrast = core / edge
            verdict = (
                "so, relative to R500c, the network weights the core "
                f"{_g(contrast)} times less than photon counting does"
                if contrast > 1.5
                else "so, relative to R500c, the network does not down-weight the core compared with counting photons"
            )
            text += f", and at R500c {_g(edge)} times (the paper: about 1): {verdict} (the paper: about 10 times)"
        if shape.get("0.07") is not None and shape.get("1") is not None:
            text += (
                f". With each saliency map divided by its sum first (not in the paper) the ratios are "
                f"{_g(shape['0.07'])} and {_g(shape['1'])}"
            )
        parts.append(text + ".")
    masks = s.get("masks") or {}
    agn, icm = (masks.get("agn") or {}).get("median_log10"), (masks.get("icm") or {}).get("median_log10")
    if agn is not None and icm is not None:
        paper = s.get("paper") or {}
        pa, pi = (paper.get("agn") or {}).get("median_log10"), (paper.get("icm") or {}).get("median_log10")
        ref = f" (the paper: 10^{pa} and 10^{pi})" if pa is not None and pi is not None else ""
        ratio = 10.0 ** (agn - icm)
        text = (
            f"Averaged over the pixels each source dominates (eq. 14), {model} gives AGN-dominated pixels a "
            f"median saliency of 10^{agn:.2f} and ICM-dominated pixels 10^{icm:.2f}{ref}: AGN pixels get "
            f"{ratio:.2g} times the attention of ICM pixels"
        )
        ph = masks.get("photon_ratio_agn_to_icm")
        if ph is not None:
            joint = ", although they" if ratio < 1 < ph else "; they"
            text += f"{joint} hold {ph:.3g} times the photons per pixel of ICM pixels (the paper: more than 13)"
        ref_block = masks.get("nphot_reference") or {}
        rr = ref_block.get("agn_to_icm_median_ratio")
        if rr is not None:
            text += f"; the N_phot proxy would give them {rr:.2g} times the ICM pixels' saliency"
        parts.append(text + ".")
    bands = s.get("bands") or {}
    meds = [(b, (bands.get(b) or {}).get("median_log10")) for b in ("soft", "medium", "hard")]
    if all(m is not None for _, m in meds):
        parts.append(
            "Per band, the median pixel saliency is "
            + ", ".join(f"10^{m:.2f} ({b})" for b, m in meds)
            + " (the paper: 10^-4.15, 10^-4.17, 10^-4.15: nearly identical)."
        )
    fusion = s.get("fusion") or {}
    share = fusion.get("share") or {}
    if share and all(v is not None for v in share.values()):
        text = "The absolute gradient splits between inputs as " + ", ".join(
            f"{100 * v:.1f} % {k}" for k, v in share.items()
        )
        gxi = fusion.get("share_grad_times_input") or {}
        if gxi and all(v is not None for v in gxi.values()):
            text += (
                "; weighted by the input values (|x d log10 M / d x|, independent of each input's units) "
                "it is " + ", ".join(f"{100 * v:.1f} % {k}" for k, v in gxi.items())
            )
        parts.append(text + ".")
    return " ".join(parts)


def plain_language_summary(summary: dict[str, Any]) -> str:
    """Markdown paragraphs, one per explained estimator, stating the section-6 findings in words.

    Accepts ``explanations/summary.json`` as a whole ({explainer: {label: summary}}), the saliency
    explainer's part ({label: summary}), or one estimator's summary (what the run report passes);
    several summaries get an introductory sentence. Returns "" when there is no saliency summary.
    """
    paragraphs = [_paragraph(s) for s in _summaries(summary)]
    if not paragraphs:
        return ""
    if len(paragraphs) == 1:
        return paragraphs[0] + "\n"
    head = (
        "Gradient saliency (eq. 10) measures how much each input pixel moves the predicted log10 M500c; "
        "the N_phot proxy's saliency (eq. 13) is proportional to the photons in a pixel, so it is the "
        "reference for a model that simply counts photons."
    )
    return "\n\n".join([head, *paragraphs]) + "\n"
