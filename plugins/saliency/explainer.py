"""The ``saliency`` explainer: gradient saliency (eq. 10) of any estimator exposing input
gradients, with the N_phot proxy's analytic saliency (eq. 13) as the reference, radial profiles
in R500c (Figure 7), source-mask saliency (eq. 14), per-band and fusion splits (section 6).

The harness calls, for each fold and each estimator the benchmark file names::

    arrays = explainer.explain_fold(estimator, test, truth, train_truth, context)
    # saved as explanations/saliency/<label>/fold<k>.npz

and once per estimator, with the arrays of every fold concatenated::

    summary = explainer.summarize(label, arrays, truth, out_dir)   # -> explanations/summary.json

The explainer only calls the estimator's ``input_gradients(view)`` and, when present,
``transform(view)`` (the preprocessed network input x); it never imports a framework. An
estimator reading ``n_phot`` alone (the N_phot scaling proxy) has no gradients; its saliency
with respect to the photon map is computed analytically (eq. 13).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from massbench.errors import ConfigError, ContractError, DataError
from massbench.estimator import has_gradients
from massbench.preprocessing import fit_redshift_normalisation, preprocess_maps

from . import figures
from .geometry import RadialBins, aperture_mask, scaled_radii
from .masks import mask_mean, masked_values, photon_means, source_masks, summarise_photon_means
from .nphot import (
    SlopeLookup,
    fit_reference_slopes,
    normalisation_factor,
    nphot_saliency_from_counts,
    slopes_from_proxy,
)
from .stats import BinnedPool, interp_profile, jsonable, log10_interval

XRAY_MAP_INPUTS = ("xray_map", "xray_bands")
COMPONENTS = {"xray_map": ("xray_icm_map", "xray_agn_map"), "xray_bands": ("xray_icm_bands", "xray_agn_bands")}
BAND_NAMES = ("soft", "medium", "hard")
CUBE_INPUTS = ("dyn_cube",)
WRT_CHOICES = ("standardised", "input")

# The paper's values (Ho et al., section 6), quoted beside the measured ones; never used in computing.
PAPER = {
    "single-band": {
        "agn": {"median_log10": -3.85, "plus": 0.71, "minus": 0.74},
        "icm": {"median_log10": -3.53, "plus": 0.47, "minus": 0.67},
        "photon_ratio_agn_to_icm": "> 13",
        "ratio_nphot_to_cnn": {"0.07": "about 10", "1": "about 1"},
    },
    "multi-band": {
        "agn": {"median_log10": -3.91, "plus": 0.61, "minus": 0.74},
        "icm": {"median_log10": -3.77, "plus": 0.49, "minus": 0.63},
        "bands": {
            "soft": {"median_log10": -4.15, "plus": 0.56, "minus": 0.68},
            "medium": {"median_log10": -4.17, "plus": 0.59, "minus": 0.68},
            "hard": {"median_log10": -4.15, "plus": 0.60, "minus": 0.72},
        },
    },
}


def is_nphot_proxy(estimator: Any) -> bool:
    """An estimator that reads only ``n_phot`` (the N_phot scaling relation): explained analytically."""
    return tuple(getattr(estimator, "inputs", ()) or ()) == ("n_phot",)


def _chunks(n: int, size: int):
    for a in range(0, n, size):
        yield a, min(n, a + size)


def _as_input_shape(arr: Any, shape: tuple[int, ...], what: str, estimator: Any) -> np.ndarray:
    a = np.asarray(arr)
    if a.shape == shape:
        return a
    if a.size == int(np.prod(shape)):
        return a.reshape(shape)
    raise ContractError(
        f"estimator {getattr(estimator, 'name', estimator)!r}: {what} has shape {a.shape}, "
        f"expected {shape} (one row per test cluster, the input's own shape)"
    )


class GradientSaliency:
    """Gradient saliency S = |d log10 M / d x| (eq. 10) and the paper's section-6 study.

    Parameters (all optional in a benchmark file's ``explainers[].params``):

    chunk_size
        clusters per ``input_gradients`` call (bounds memory; the estimator batches inside).
    radial_bins, radial_max, radial_spacing
        bins in r / R500c for Figure 7 (default: the notebook's 100 linear bins to 3 R500c).
    ratio_radii
        radii [R500c] where the CNN-to-N_phot median saliency ratio is reported (default 0.07, 1).
    nphot_aperture
        ``"map"``: N of eq. 13 sums every map pixel, as the paper writes it; ``"circle"``: only
        pixels with centres within 2.3 h^-1 Mpc (the aperture of the ``n_phot`` input).
    reference_redshift_bins, reference_min_per_bin
        redshift bins of the N_phot reference proxy fitted on each training fold (the ``proxies``
        plugin's ``redshift_bins`` spec: ``snapshot``, ``none``, N equal-count bins or edges); a fold
        with too few clusters per bin falls back to one bin.
    band_masks
        multi-band masks for ``agn``/``icm``: ``"summed"`` (band-summed ICM and AGN maps, applied
        to all three channels, as the paper's notebook) or ``"per_band"`` (each band's own masks).
        Per-band masks are always reported under ``bands``.
    wrt
        ``"standardised"`` (default, as the paper): S is the gradient with respect to the network's
        standardised input z = (x - mean) / std, i.e. the estimator's ``input_gradients`` (d/dx)
        times the std the estimator declares in ``input_standardisation()``; ``"input"``: with
        respect to x itself. The N_phot reference (eq. 13) is d g / d x in both cases, as in the
        paper's Figure 7; ``grad_x_input_sum`` always uses d/dx.
    n_examples, figure_seed, figures
        Figure 6's number of example clusters, their random choice, and whether to draw PNGs.
    """

    #: bump when explain_fold's arrays change meaning (the harness re-explains saved folds)
    version = 2

    name = "saliency"

    def __init__(
        self,
        chunk_size: int = 256,
        radial_bins: int = 100,
        radial_max: float = 3.0,
        radial_spacing: Literal["linear", "log"] = "linear",
        ratio_radii: list[float] | None = None,
        nphot_aperture: Literal["map", "circle"] = "map",
        band_masks: Literal["summed", "per_band"] = "summed",
        wrt: Literal["input", "standardised"] = "standardised",
        reference_redshift_bins: str = "snapshot",
        reference_min_per_bin: int = 10,
        n_examples: int = 4,
        figure_seed: int = 0,
        figures: bool = True,
    ) -> None:
        problems = [
            msg
            for bad, msg in (
                (chunk_size < 1, f"chunk_size must be at least 1, got {chunk_size}"),
                (radial_bins < 1, f"radial_bins must be at least 1, got {radial_bins}"),
                (not radial_max > 0, f"radial_max must be > 0 (in R500c), got {radial_max}"),
                (
                    ratio_radii is not None and not all(r > 0 for r in ratio_radii),
                    f"ratio_radii must be positive radii in R500c, got {ratio_radii}",
                ),
                (reference_min_per_bin < 3, f"reference_min_per_bin must be at least 3, got {reference_min_per_bin}"),
                (n_examples < 0, f"n_examples must be >= 0, got {n_examples}"),
                (wrt not in WRT_CHOICES, f"wrt must be one of {', '.join(WRT_CHOICES)}, got {wrt!r}"),
                (
                    nphot_aperture not in ("map", "circle"),
                    f"nphot_aperture must be 'map' or 'circle', got {nphot_aperture!r}",
                ),
                (
                    band_masks not in ("summed", "per_band"),
                    f"band_masks must be 'summed' or 'per_band', got {band_masks!r}",
                ),
            )
            if bad
        ]
        if problems:
            raise ConfigError(f"explainer 'saliency': {problems[0]}")
        from massbench.plugins.proxies.binning import BinScheme

        try:
            BinScheme.parse(reference_redshift_bins)
        except Exception as exc:
            raise ConfigError(
                f"explainer 'saliency': reference_redshift_bins {reference_redshift_bins!r}: {exc}"
            ) from None
        self.chunk_size = chunk_size
        self.bins = RadialBins(n_bins=radial_bins, r_max=radial_max, spacing=radial_spacing)
        self.ratio_radii = list(ratio_radii) if ratio_radii is not None else [0.07, 1.0]
        self.nphot_aperture = nphot_aperture
        self.band_masks = band_masks
        self.wrt = wrt
        self.reference_redshift_bins = reference_redshift_bins
        self.reference_min_per_bin = reference_min_per_bin
        self.n_examples = n_examples
        self.figure_seed = figure_seed
        self.figures = figures

    # ------------------------------------------------------------------ harness API
    def fingerprint(self) -> dict[str, Any]:
        """The settings that change :meth:`explain_fold`'s arrays, defaults included: the harness
        keeps saved per-fold arrays only while this is unchanged (so a new default re-explains)."""
        return {
            "version": self.version,
            "wrt": self.wrt,
            "nphot_aperture": self.nphot_aperture,
            "reference_redshift_bins": self.reference_redshift_bins,
            "reference_min_per_bin": self.reference_min_per_bin,
        }

    def supports(self, estimator: Any) -> bool:
        """Estimators with ``input_gradients``, and the N_phot proxy (analytic saliency)."""
        return has_gradients(estimator) or is_nphot_proxy(estimator)

    def explain_fold(
        self, estimator: Any, test: Any, truth: Any, train_truth: Any, context: Any = None
    ) -> dict[str, np.ndarray]:
        """Per-cluster arrays for one fold's test clusters (leading axis in test order).

        ``saliency_<input>``: S = |gradient| for map inputs (n, 128, 128[, 3]) and small inputs,
        with respect to the standardised input (``wrt: standardised``) or the input x (``wrt: input``);
        ``input_std_<input>``: the std s of z = (x - mean) / s that S was multiplied by (1 with
        ``wrt: input``, or when the estimator declares no standardisation for that input);
        ``saliency_<cube>_sky`` / ``saliency_<cube>_vlos``: a 64^3 cube's saliency summed over the
        velocity axis / over the sky axes; ``abs_grad_sum_<input>`` / ``abs_grad_mean_<input>``: sum
        and mean of S over each input's elements; ``nphot_alpha``: the training fold's N_phot slope
        at each cluster's redshift; ``nphot_factor``: the eq. 1 factor f with x = log10(f m + 1)
        (per channel for bands); ``nphot_input_residual``: max |x - log10(f m + 1)| (~0 when the
        estimator's input is eqs. 1-2).
        """
        n = len(test)
        slopes = self._slopes(estimator, train_truth)
        if context is not None and hasattr(context, "info"):
            context.info["saliency_nphot_reference"] = slopes.source
        out: dict[str, list[np.ndarray]] = {}

        def put(key: str, value: np.ndarray) -> None:
            out.setdefault(key, []).append(np.asarray(value))

        put("nphot_alpha", slopes.alpha_for(test.redshift))
        if not has_gradients(estimator):
            if not is_nphot_proxy(estimator):
                raise ContractError(f"estimator {getattr(estimator, 'name', estimator)!r} has no input_gradients")
            self._explain_nphot_proxy(truth, train_truth, slopes, put)
        else:
            std = self._input_std(estimator, context)
            if self.wrt == "standardised":
                put("input_std_declared", np.full(n, "__undeclared__" not in std))
            norm = None
            for a, b in _chunks(n, self.chunk_size):
                pos = np.arange(a, b)
                sub, tsub = test.subview(pos), truth.subview(pos)
                grads = estimator.input_gradients(sub)
                if not isinstance(grads, dict) or not grads:
                    raise ContractError(
                        f"estimator {getattr(estimator, 'name', estimator)!r}: input_gradients "
                        "must return a dict of arrays, one per declared input"
                    )
                x_in = next((k for k in XRAY_MAP_INPUTS if k in grads), None)
                x_map = None
                if x_in is not None:
                    counts = tsub[x_in]
                    transform = getattr(estimator, "transform", None)
                    if callable(transform):
                        tx = transform(sub)
                        tx = tx[x_in] if isinstance(tx, dict) else tx
                        x_map = _as_input_shape(tx, counts.shape, f"transform()[{x_in!r}]", estimator)
                        f, resid = normalisation_factor(x_map, counts)
                    else:
                        if norm is None:
                            norm = fit_redshift_normalisation(train_truth.lazy(x_in), train_truth.redshift)
                        f = norm.factor(tsub.redshift)
                        x_map = preprocess_maps(counts, tsub.redshift, norm)
                        resid = np.full(b - a, np.nan)
                    put("nphot_factor", f)
                    put("nphot_input_residual", resid)
                for name, g in grads.items():
                    shape = (b - a, *tsub.lazy(name).shape[1:]) if name in tsub.inputs else np.shape(g)
                    s = np.abs(_as_input_shape(g, shape, f"input_gradients()[{name!r}]", estimator)).astype(np.float32)
                    if not np.isfinite(s).all():
                        raise ContractError(
                            f"estimator {getattr(estimator, 'name', estimator)!r}: gradient of "
                            f"{name!r} is not finite for some test clusters"
                        )
                    # gradient x input with d/dx: unchanged when an input is rescaled
                    xv = x_map if name == x_in else _input_values(sub, name, s.shape)
                    put(
                        f"grad_x_input_sum_{name}",
                        np.abs(xv * s).reshape(len(s), -1).sum(axis=1, dtype=np.float64)
                        if xv is not None
                        else np.full(len(s), np.nan),
                    )
                    scale = std.get(name, 1.0)
                    if scale != 1.0:  # chain rule: d f / d z = s d f / d x for z = (x - mean) / s
                        s *= np.float32(scale)
                    put(f"input_std_{name}", np.full(b - a, scale))
                    flat = s.reshape(len(s), -1)
                    put(f"abs_grad_sum_{name}", flat.sum(axis=1, dtype=np.float64))
                    put(f"abs_grad_mean_{name}", flat.mean(axis=1, dtype=np.float64))
                    if s.ndim == 4 and (name in CUBE_INPUTS or s.shape[-1] > 4):
                        put(f"saliency_{name}_sky", s.sum(axis=3))
                        put(f"saliency_{name}_vlos", s.sum(axis=(1, 2)))
                    elif name in XRAY_MAP_INPUTS or flat.shape[1] <= 128 * 128 * 4:
                        put(f"saliency_{name}", s)
        return {k: np.concatenate(v) for k, v in out.items()}

    def summarize(self, label: str, arrays: dict[str, np.ndarray], truth: Any, out_dir: Path) -> dict[str, Any]:
        """Figures of section 6 for one estimator (every fold's test clusters), as a JSON-able dict.

        Writes PNGs into ``out_dir``. See docs/explain.md for every key.
        """
        out_dir = Path(out_dir)
        n = len(truth)
        for key, arr in arrays.items():
            if len(arr) != n:
                raise DataError(f"explanations for {label!r}: array {key!r} has {len(arr)} rows for {n} clusters")
        x_in = next((k for k in XRAY_MAP_INPUTS if f"saliency_{k}" in arrays), None)
        inputs = sorted({k[len("abs_grad_sum_") :] for k in arrays if k.startswith("abs_grad_sum_")})
        kind = "nphot-proxy" if "analytic_nphot" in arrays else self._kind(inputs, x_in)
        summary: dict[str, Any] = {
            "explainer": self.name,
            "label": label,
            "kind": kind,
            "n_clusters": n,
            "inputs": inputs or [x_in],
            "definition": self._definition(kind, arrays),
        }
        if kind != "nphot-proxy":
            summary["gradient"] = self._gradient_block(arrays, inputs)
        if "nphot_alpha" in arrays:
            summary["nphot_alpha_median"] = float(np.median(arrays["nphot_alpha"]))
        if inputs:
            summary["per_input"] = self._per_input(arrays, inputs)
        if len(inputs) > 1:
            summary["fusion"] = self._fusion(summary["per_input"], inputs)
        figs: list[str] = []
        if x_in is not None:
            summary.update(self._map_study(label, arrays, truth, x_in, kind, out_dir, figs))
        if any(f"saliency_{c}_sky" in arrays for c in inputs) and self.figures:
            cube = next(c for c in inputs if f"saliency_{c}_sky" in arrays)
            figs.append(figures.fusion_split(out_dir, label, arrays, x_in, cube, summary.get("fusion")))
        if kind in PAPER:
            summary["paper"] = PAPER[kind]
        summary["headline"] = _headline(summary)
        summary["figures"] = [f for f in figs if f]
        return jsonable(summary)

    # ------------------------------------------------------------------ pieces
    def _effective_wrt(self, arrays: dict[str, np.ndarray]) -> str:
        """``standardised`` / ``input`` as the arrays were made (saved folds carry their own)."""
        if any(k.startswith("input_std_") and k != "input_std_declared" for k in arrays):
            declared = arrays.get("input_std_declared")
            if declared is not None:
                return "standardised" if bool(np.all(declared)) else "standardised (undeclared: s = 1)"
            return "input"
        return self.wrt

    def _definition(self, kind: str, arrays: dict[str, np.ndarray]) -> str:
        ref = "N_phot reference: eq. 13, S = 10^x / (alpha N) = d g / d x (the paper's Figure 7 units)."
        if kind == "nphot-proxy":
            return "S = eq. 13 = |d g / d x| with x = log10(n + 1) of the redshift-normalised counts (eqs. 1-2)."
        wrt = self._effective_wrt(arrays)
        if wrt.startswith("standardised"):
            head = (
                "S = |d log10 M500c / d z| (eq. 10) with z = (x - mean) / std the network's standardised input "
                "(training-fold constants; the paper's choice), x = log10(n + 1) of the redshift-normalised "
                "counts (eqs. 1-2)"
            )
            if wrt != "standardised":
                head += "; this estimator declares no standardisation, so std = 1 (S = |d log10 M / d x|)"
        else:
            head = (
                "S = |d log10 M500c / d x| (eq. 10) with x = log10(n + 1) of the redshift-normalised counts "
                "(eqs. 1-2), the network's input before its standardisation"
            )
        return head + ". " + ref

    def _gradient_block(self, arrays: dict[str, np.ndarray], inputs: list[str]) -> dict[str, Any]:
        stds = {}
        for k in inputs:
            v = arrays.get(f"input_std_{k}")
            if v is not None and len(v):
                stds[k] = {"median": float(np.median(v)), "min": float(np.min(v)), "max": float(np.max(v))}
        wrt = self._effective_wrt(arrays)
        return {
            "wrt": wrt,
            "input_std": stds,
            "note": "wrt 'standardised': S = std x |d log10 M / d x|, std being the training fold's "
            "standardisation of each input (input_std: its median and range over folds); 'input': "
            "S = |d log10 M / d x|. The N_phot-to-model ratios with 'standardised' are those with 'input' "
            "divided by std (eq. 13 is d g / d x under both).",
        }

    def _input_std(self, estimator: Any, context: Any = None) -> dict[str, float]:
        """Per input, the std s of the estimator's standardisation z = (x - mean) / s, when
        ``wrt: standardised``; empty (every s = 1) for ``wrt: input``. An estimator declares s
        with ``input_standardisation() -> {input: s}``; one that declares nothing is taken to
        feed x to its network unstandardised (recorded in ``context.info``)."""
        if self.wrt == "input":
            return {}
        who = getattr(estimator, "name", type(estimator).__name__)
        fn = getattr(estimator, "input_standardisation", None)
        if not callable(fn):
            if context is not None and hasattr(context, "info"):
                context.info["saliency_wrt"] = f"estimator {who!r} declares no input_standardisation(): s = 1"
            return {"__undeclared__": 1.0}
        raw = fn()
        if not isinstance(raw, dict):
            raise ContractError(f"estimator {who!r}: input_standardisation() must return a dict {{input: std}}")
        out = {}
        for name, value in raw.items():
            v = float(value)
            if not (np.isfinite(v) and v > 0):
                raise ContractError(
                    f"estimator {who!r}: input_standardisation()[{name!r}] = {value!r}; a standard "
                    "deviation must be finite and > 0"
                )
            out[str(name)] = v
        return out

    def _slopes(self, estimator: Any, train_truth: Any) -> SlopeLookup:
        """The N_phot proxy's own fit when explaining it, else the reference fitted on the training fold."""
        if (
            not has_gradients(estimator)
            and callable(getattr(estimator, "alpha", None))
            and getattr(estimator, "model_", None) is not None
        ):
            return slopes_from_proxy(estimator)
        return fit_reference_slopes(train_truth, self.reference_redshift_bins, self.reference_min_per_bin)

    def _aperture(self, shape: tuple[int, int]) -> np.ndarray | None:
        return aperture_mask(shape=shape) if self.nphot_aperture == "circle" else None

    def _explain_nphot_proxy(self, truth: Any, train_truth: Any, slopes: SlopeLookup, put) -> None:
        if "xray_map" not in truth.inputs:
            raise DataError("the N_phot proxy's saliency (eq. 13) needs the dataset's xray_map")
        norm = fit_redshift_normalisation(train_truth.lazy("xray_map"), train_truth.redshift)
        alpha = slopes.alpha_for(truth.redshift)
        acc = truth.lazy("xray_map")
        f_all = norm.factor(truth.redshift)
        for a, b in _chunks(len(truth), self.chunk_size):
            counts = acc[a:b]
            s = nphot_saliency_from_counts(counts, f_all[a:b], alpha[a:b], self._aperture(counts.shape[1:3]))
            flat = s.reshape(len(s), -1)
            put("saliency_xray_map", s)
            put("abs_grad_sum_xray_map", np.nansum(flat, axis=1, dtype=np.float64))
            put("abs_grad_mean_xray_map", np.nanmean(flat, axis=1, dtype=np.float64))
            put("nphot_factor", f_all[a:b])
            put("nphot_input_residual", np.zeros(b - a))
            put("analytic_nphot", np.ones(b - a, dtype=bool))

    @staticmethod
    def _kind(inputs: list[str], x_in: str | None) -> str:
        if x_in is None:
            return "generic"
        if any(c in inputs for c in CUBE_INPUTS):
            return "fusion"
        if x_in == "xray_bands":
            return "multi-band"
        return "single-band"

    @staticmethod
    def _per_input(arrays: dict[str, np.ndarray], inputs: list[str]) -> dict[str, Any]:
        sums = np.stack([arrays[f"abs_grad_sum_{k}"] for k in inputs], axis=1)
        total = sums.sum(axis=1, keepdims=True)
        share = np.divide(sums, total, out=np.full_like(sums, np.nan), where=total > 0)
        gxi = np.stack([arrays.get(f"grad_x_input_sum_{k}", np.full(len(sums), np.nan)) for k in inputs], axis=1)
        gxi_ok = np.isfinite(gxi).all(axis=0)
        gxi_total = gxi[:, gxi_ok].sum() if gxi_ok.all() else np.nan
        out = {}
        for j, k in enumerate(inputs):
            out[k] = {
                "grad_times_input_share_of_total": float(gxi[:, j].sum() / gxi_total)
                if gxi_ok.all() and gxi_total > 0
                else None,
                "sum_abs_gradient_median": float(np.median(sums[:, j])),
                "mean_abs_gradient_median": float(np.median(arrays[f"abs_grad_mean_{k}"])),
                "share_median": float(np.nanmedian(share[:, j])) if np.isfinite(share[:, j]).any() else None,
                "share_of_total": float(sums[:, j].sum() / sums.sum()) if sums.sum() > 0 else None,
            }
        return out

    @staticmethod
    def _fusion(per_input: dict[str, Any], inputs: list[str]) -> dict[str, Any]:
        return {
            "share": {k: per_input[k]["share_of_total"] for k in inputs},
            "share_grad_times_input": {k: per_input[k]["grad_times_input_share_of_total"] for k in inputs},
            "share_median": {k: per_input[k]["share_median"] for k in inputs},
            "mean_abs_gradient_median": {k: per_input[k]["mean_abs_gradient_median"] for k in inputs},
            "note": "share: each input's sum of |d log10 M / d x| over its elements, as a fraction of the "
            "sum over all inputs (pooled over clusters; share_median: median of per-cluster shares). "
            "Raw gradients depend on each input's units (a KDE cube summing to 1 has tiny cells and "
            "large gradients); share_grad_times_input uses |x d log10 M / d x| instead, which does "
            "not change when an input is rescaled (x: the map the network sees, the dataset's cube)",
        }

    def _map_study(
        self,
        label: str,
        arrays: dict[str, np.ndarray],
        truth: Any,
        x_in: str,
        kind: str,
        out_dir: Path,
        figs: list[str],
    ) -> dict[str, Any]:
        sal = arrays[f"saliency_{x_in}"]
        n = len(sal)
        multi = sal.ndim == 4
        shape2d = sal.shape[1:3]
        aperture = self._aperture(shape2d)
        alpha = arrays.get("nphot_alpha")
        factor = arrays.get("nphot_factor")
        has_ref = alpha is not None and factor is not None and x_in in truth.inputs and kind != "nphot-proxy"
        model = "nphot" if kind == "nphot-proxy" else "cnn"
        has_r500 = "r500c" in truth.inputs
        comp = COMPONENTS[x_in]
        has_comp = all(c in truth.inputs for c in comp)
        r500 = truth["r500c"] if has_r500 else None
        bins = self.bins
        pool = BinnedPool(bins.n_bins, n_series=4) if has_r500 else None
        res: dict[str, Any] = {}
        mm = {k: np.full(n, np.nan) for k in ("agn", "icm", "ref_agn", "ref_icm", "ph_agn", "ph_icm", "total")}
        pooled: dict[str, list[np.ndarray]] = {"agn": [], "icm": []}
        n_bands = sal.shape[-1] if multi else 0
        band_mm = {(b, k): np.full(n, np.nan) for b in range(n_bands) for k in ("agn", "icm")}
        counts_acc = truth.lazy(x_in) if x_in in truth.inputs else None
        comp_acc = [truth.lazy(c) for c in comp] if has_comp else None
        for a, b in _chunks(n, self.chunk_size):
            s = sal[a:b].astype(np.float32)
            ref = None
            if has_ref and counts_acc is not None:
                ref = nphot_saliency_from_counts(counts_acc[a:b], factor[a:b], alpha[a:b], aperture)
            s_pix = s.mean(axis=-1) if multi else s
            mm["total"][a:b] = s_pix.reshape(len(s_pix), -1).sum(axis=1, dtype=np.float64)
            if pool is not None:
                idx = bins.index(scaled_radii(r500[a:b], shape2d))
                ref_pix = (ref.mean(axis=-1) if multi else ref) if ref is not None else np.full_like(s_pix, np.nan)
                pool.add(idx, s_pix, ref_pix, _unit_sum(s_pix), _unit_sum(ref_pix))
            if comp_acc is not None:
                icm, agn = comp_acc[0][a:b], comp_acc[1][a:b]
                if multi:
                    for j in range(n_bands):
                        bi, ba = source_masks(icm[..., j], agn[..., j])
                        band_mm[(j, "icm")][a:b] = mask_mean(s[..., j], bi)
                        band_mm[(j, "agn")][a:b] = mask_mean(s[..., j], ba)
                    if self.band_masks == "summed":
                        m_icm, m_agn = source_masks(icm.sum(axis=-1), agn.sum(axis=-1))
                    else:
                        m_icm, m_agn = source_masks(icm, agn)
                    ph = photon_means(icm.sum(axis=-1), agn.sum(axis=-1))
                else:
                    m_icm, m_agn = source_masks(icm, agn)
                    ph = photon_means(icm, agn)
                mm["icm"][a:b] = mask_mean(s, m_icm)
                mm["agn"][a:b] = mask_mean(s, m_agn)
                mm["ph_agn"][a:b], mm["ph_icm"][a:b] = ph
                if ref is not None:
                    mm["ref_icm"][a:b] = mask_mean(ref, m_icm)
                    mm["ref_agn"][a:b] = mask_mean(ref, m_agn)
                for key, m in (("agn", m_agn), ("icm", m_icm)):
                    v = masked_values(s, m)
                    pooled[key].append(v[v > 0])
        if pool is not None:
            res["radial"] = self._radial(pool, has_ref, model)
            wrt = self._effective_wrt(arrays)
            res["radial"]["units"] = {
                "nphot": "eq. 13: d g / d x, x = log10(n + 1)",
                **(
                    {}
                    if model == "nphot"
                    else {
                        model: "d log10 M500c / d z, z the standardised network input"
                        if wrt.startswith("standardised")
                        else "d log10 M500c / d x, x = log10(n + 1)"
                    }
                ),
            }
        if comp_acc is not None:
            res["masks"] = self._masks(mm, pooled, has_ref, multi)
        if multi:
            res["bands"] = self._bands(sal, band_mm, n_bands, comp_acc is not None)
        if self.figures:
            figs.extend(self._figures(label, arrays, truth, x_in, out_dir, res, mm))
        return res

    def _radial(self, pool: BinnedPool, has_ref: bool, model: str = "cnn") -> dict[str, Any]:
        bins = self.bins
        centres, edges = bins.centres, bins.edges
        counts = pool.counts()

        def prof(series: int) -> dict[str, Any]:
            q = pool.quantiles(series)
            return {"median": q[:, 1], "p16": q[:, 0], "p84": q[:, 2]}

        out: dict[str, Any] = {
            "r_over_r500c": centres,
            "edges": edges,
            "spacing": bins.spacing,
            "n_pixels": counts,
            model: prof(0),
        }
        norm = {model: prof(2)}
        if has_ref:
            out["nphot"] = prof(1)
            norm["nphot"] = prof(3)
            for _tag, block in (("raw", out), ("normalised", norm)):
                ratios, inv = {}, {}
                for r in self.ratio_radii:
                    c = interp_profile(edges, centres, block["cnn"]["median"], r)
                    p = interp_profile(edges, centres, block["nphot"]["median"], r)
                    key = f"{r:g}"
                    ratios[key] = c / p if c is not None and p not in (None, 0.0) else None
                    inv[key] = p / c if p is not None and c not in (None, 0.0) else None
                block["ratio_cnn_to_nphot"] = ratios
                block["ratio_nphot_to_cnn"] = inv
        out["normalised"] = norm
        out["note"] = (
            "pixel saliency pooled over all clusters per r/R500c bin (the mean over channels for "
            "multi-band maps); 'normalised' divides each cluster's map by its sum first (the paper "
            "compares shapes; raw, the N_phot map sums to (N + N_pixels) / (alpha N))"
        )
        return out

    def _masks(
        self, mm: dict[str, np.ndarray], pooled: dict[str, list[np.ndarray]], has_ref: bool, multi: bool
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"agn": log10_interval(mm["agn"]), "icm": log10_interval(mm["icm"])}
        for key in ("agn", "icm"):
            out[key]["n_empty"] = int(np.isnan(mm[key]).sum())
        a, i = out["agn"]["median_log10"], out["icm"]["median_log10"]
        out["agn_to_icm_median_ratio"] = 10.0 ** (a - i) if a is not None and i is not None else None
        ph = summarise_photon_means(mm["ph_agn"], mm["ph_icm"])
        out["photon_ratio_agn_to_icm"] = ph["ratio_of_means"]
        out["photon_ratio_agn_to_icm_median"] = ph["median_ratio"]
        out["photon_ratio_n_clusters"] = ph["n_clusters"]
        if has_ref:
            out["nphot_reference"] = {"agn": log10_interval(mm["ref_agn"]), "icm": log10_interval(mm["ref_icm"])}
            ra = out["nphot_reference"]["agn"]["median_log10"]
            ri = out["nphot_reference"]["icm"]["median_log10"]
            out["nphot_reference"]["agn_to_icm_median_ratio"] = (
                10.0 ** (ra - ri) if ra is not None and ri is not None else None
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            total = np.where(mm["total"] > 0, mm["total"], np.nan)
            out["normalised"] = {"agn": log10_interval(mm["agn"] / total), "icm": log10_interval(mm["icm"] / total)}
        na, ni = out["normalised"]["agn"]["median_log10"], out["normalised"]["icm"]["median_log10"]
        out["normalised"]["agn_to_icm_median_ratio"] = 10.0 ** (na - ni) if na is not None and ni is not None else None
        out["pooled_pixels"] = {k: log10_interval(np.concatenate(v) if v else np.zeros(0)) for k, v in pooled.items()}
        out["note"] = (
            "agn/icm: per-cluster mean saliency over the mask (eq. 14), median and 16-84 % over clusters "
            "in log10; clusters with an empty mask are excluded (n_empty). pooled_pixels: the paper's "
            "notebook statistic, every masked pixel with S > 0 of every cluster pooled. "
            + (
                "Multi-band masks: "
                + (
                    "band-summed ICM/AGN maps on every channel."
                    if self.band_masks == "summed"
                    else "each band's own maps."
                )
                if multi
                else ""
            )
            + " photon_ratio: mean photons per AGN-dominated pixel over mean per ICM-dominated pixel."
            + " normalised: the same after dividing each cluster's saliency map by its sum (the per-pixel map"
            " of the radial profiles); agn/icm are in the units of S (see 'gradient')."
        )
        return out

    @staticmethod
    def _bands(sal: np.ndarray, band_mm: dict, n_bands: int, has_comp: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for j in range(n_bands):
            name = BAND_NAMES[j] if j < len(BAND_NAMES) else f"band{j}"
            v = sal[..., j]
            entry = log10_interval(v[v > 0])
            entry["n_zero"] = int(v.size - entry["n"])
            if has_comp:
                entry["agn"] = log10_interval(band_mm[(j, "agn")])
                entry["icm"] = log10_interval(band_mm[(j, "icm")])
            out[name] = entry
        out["note"] = (
            "per band: every pixel's saliency with S > 0, pooled over clusters (the paper's statistic); "
            "agn/icm: eq. 14 with that band's own ICM/AGN masks"
        )
        return out

    def _figures(
        self,
        label: str,
        arrays: dict[str, np.ndarray],
        truth: Any,
        x_in: str,
        out_dir: Path,
        res: dict[str, Any],
        mm: dict[str, np.ndarray],
    ) -> list[str]:
        """Figures 6-9 (PNG) into ``out_dir``; returns the file names written."""
        out_dir.mkdir(parents=True, exist_ok=True)
        sal = arrays[f"saliency_{x_in}"]
        n = len(sal)
        rng = np.random.default_rng(self.figure_seed)
        ex = np.sort(rng.choice(n, size=min(self.n_examples, n), replace=False))
        has_counts = x_in in truth.inputs
        r500_all = truth["r500c"] if "r500c" in truth.inputs else None
        files = []
        if len(ex):
            files.append(
                figures.saliency_examples(
                    out_dir,
                    label,
                    truth.lazy(x_in)[ex] if has_counts else None,
                    sal[ex],
                    None if r500_all is None else r500_all[ex],
                )
            )
        if "radial" in res:
            files.append(figures.radial_profiles(out_dir, label, res["radial"]))
        comp = COMPONENTS[x_in]
        if "masks" in res and all(c in truth.inputs for c in comp):
            frac = mm["ph_agn"] / (mm["ph_agn"] + mm["ph_icm"])
            ok = np.isfinite(frac) & np.isfinite(mm["agn"]) & np.isfinite(mm["icm"])
            j = int(np.flatnonzero(ok)[np.argsort(frac[ok])[int(0.9 * (ok.sum() - 1))]]) if ok.any() else 0
            icm, agn = truth.lazy(comp[0])[j], truth.lazy(comp[1])[j]
            files.append(
                figures.source_mask_example(out_dir, label, icm, agn, sal[j], None if r500_all is None else r500_all[j])
            )
            files.append(figures.mask_distributions(out_dir, label, mm))
        if sal.ndim == 4 and has_counts:
            k = int(ex[0]) if len(ex) else 0
            files.append(
                figures.band_maps(
                    out_dir, label, truth.lazy(x_in)[k], sal[k], None if r500_all is None else r500_all[k]
                )
            )
        return files


def _ratio_of(a: Any, b: Any) -> float | None:
    return a / b if a is not None and b not in (None, 0.0) else None


def _headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The section-6 numbers a reader compares with the paper, in raw units (the paper's: S as
    defined in ``definition``, N_phot by eq. 13) beside the per-map normalised ones."""
    radial = summary.get("radial") or {}
    norm = radial.get("normalised") or {}
    masks = summary.get("masks") or {}
    out: dict[str, Any] = {"units": (summary.get("gradient") or {}).get("wrt", "eq. 13")}
    if "ratio_nphot_to_cnn" in radial:
        raw_r, norm_r = radial["ratio_nphot_to_cnn"], norm.get("ratio_nphot_to_cnn") or {}
        out["ratio_nphot_to_cnn"] = {"raw": raw_r, "normalised": norm_r}
        keys = list(raw_r)
        if len(keys) >= 2:  # how much more the proxy weights the innermost radius than the outermost
            out["core_contrast"] = {
                "radii": [keys[0], keys[-1]],
                "raw": _ratio_of(raw_r.get(keys[0]), raw_r.get(keys[-1])),
                "normalised": _ratio_of(norm_r.get(keys[0]), norm_r.get(keys[-1])),
            }
    if "agn" in masks:
        nm = masks.get("normalised") or {}
        out["masks"] = {
            "raw": {
                "agn_median_log10": masks["agn"].get("median_log10"),
                "icm_median_log10": masks["icm"].get("median_log10"),
                "agn_to_icm_median_ratio": masks.get("agn_to_icm_median_ratio"),
            },
            "normalised": {
                "agn_median_log10": (nm.get("agn") or {}).get("median_log10"),
                "icm_median_log10": (nm.get("icm") or {}).get("median_log10"),
                "agn_to_icm_median_ratio": nm.get("agn_to_icm_median_ratio"),
            },
        }
    paper = summary.get("paper") or {}
    if paper:
        p: dict[str, Any] = {}
        if "ratio_nphot_to_cnn" in paper:
            p["ratio_nphot_to_cnn"] = {"0.07": 10.0, "1": 1.0}
            p["core_contrast"] = 10.0
        if "agn" in paper:
            p["masks"] = {
                "agn_median_log10": paper["agn"]["median_log10"],
                "icm_median_log10": paper["icm"]["median_log10"],
                "agn_to_icm_median_ratio": 10.0 ** (paper["agn"]["median_log10"] - paper["icm"]["median_log10"]),
            }
        out["paper"] = p
    out["note"] = (
        "raw: S as defined in 'definition' (the paper's units with wrt 'standardised'); normalised: "
        "each cluster's map divided by its sum first (not in the paper). ratio_nphot_to_cnn: median "
        "N_phot over median model saliency at r / R500c; core_contrast: that ratio at the first radius "
        "over the ratio at the last (the paper's Figure 7: ~10 / ~1)."
    )
    return out


def _input_values(view: Any, name: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """The view's own values of a (non-map) input when numeric and of the gradient's shape, else None."""
    if name not in view.inputs:
        return None
    acc = view.lazy(name)
    if not np.issubdtype(acc.dtype, np.number) or tuple(acc.shape) != tuple(shape):
        return None
    return np.asarray(acc[:], dtype=np.float32)


def _unit_sum(s: np.ndarray) -> np.ndarray:
    tot = s.reshape(len(s), -1).sum(axis=1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (s / np.where(tot > 0, tot, np.nan).reshape((-1,) + (1,) * (s.ndim - 1))).astype(np.float32)
