"""End-to-end tests of the ``saliency`` explainer: explain_fold over folds, summarize, summary JSON
keys, figures, the plain-language paragraph, and gradient saliency of models with known weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from massbench import Estimator
from massbench.errors import ContractError
from massbench.plugins.proxies.estimators import ProxyNPhot, fit_proxy
from massbench.plugins.saliency import plain_language_summary
from massbench.plugins.saliency.explainer import GradientSaliency
from massbench.plugins.saliency.nphot import slopes_from_proxy
from massbench.plugins.saliency.synthetic import synthetic_catalogue
from massbench.preprocessing import fit_redshift_normalisation, preprocess_maps


class LinearMap(Estimator):
    """log10 M = sum_ij w_ij x_ij + b on the eq. 1-2 input: its saliency is |w| exactly."""

    name = "linear-map"
    inputs = ("xray_map",)

    def __init__(self, seed: int = 0, channels: int = 0) -> None:
        rng = np.random.default_rng(seed)
        shape = (128, 128, channels) if channels else (128, 128)
        self.inputs = ("xray_bands",) if channels else ("xray_map",)
        self.w = rng.normal(0.0, 1e-4, shape)
        self.b = 0.0

    def fit(self, train, val):
        name = self.inputs[0]
        self.norm = fit_redshift_normalisation(train.lazy(name), train.redshift)
        x = self.transform(train)[name]
        self.b = float(np.mean(train.log10_m500c - (x * self.w).reshape(len(x), -1).sum(axis=1)))

    def transform(self, view):
        name = self.inputs[0]
        return {name: preprocess_maps(view[name], view.redshift, self.norm)}

    def predict(self, test):
        x = self.transform(test)[self.inputs[0]]
        return (x * self.w).reshape(len(x), -1).sum(axis=1) + self.b

    def input_gradients(self, view):
        return {self.inputs[0]: np.broadcast_to(self.w, (len(view), *self.w.shape)).copy()}


class LinearFusion(LinearMap):
    """Linear in the multi-band map and in the dynamical cube."""

    name = "linear-fusion"

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed, channels=3)
        self.inputs = ("xray_bands", "dyn_cube")
        self.wc = np.random.default_rng(seed + 1).normal(0.0, 1e-3, (64, 64, 64))

    def input_gradients(self, view):
        n = len(view)
        return {
            "xray_bands": np.broadcast_to(self.w, (n, 128, 128, 3)).copy(),
            "dyn_cube": np.broadcast_to(self.wc, (n, 64, 64, 64)).copy(),
        }


def _run(cat, est, explainer, n_folds=2, out_dir=None):
    """Emulate the runner: k folds, explain each, concatenate, summarize."""
    n = len(cat)
    folds = np.array_split(np.arange(n), n_folds)
    per_fold, order = [], []
    for k in range(n_folds):
        te = folds[k]
        tr = np.concatenate([folds[j] for j in range(n_folds) if j != k])
        est.fit(cat.view(tr, est.inputs, "train"), cat.view(tr[:2], est.inputs, "val"))
        test = cat.view(te, est.inputs, "test")
        truth = cat.view(te, None, "truth", allow_truth=True)
        train_truth = cat.view(tr, None, "train", allow_truth=True)
        arrays = explainer.explain_fold(est, test, truth, train_truth, None)
        for key, arr in arrays.items():
            assert len(arr) == len(te), key
        per_fold.append(arrays)
        order.append(te)
    arrays = {k: np.concatenate([a[k] for a in per_fold]) for k in per_fold[0]}
    truth_all = cat.view(np.concatenate(order), None, "truth", allow_truth=True)
    summary = explainer.summarize(est.name, arrays, truth_all, out_dir) if out_dir is not None else None
    return arrays, summary


@pytest.fixture(scope="module")
def cat():
    return synthetic_catalogue(n=48, seed=3)


def test_linear_model_saliency_equals_weights(cat, tmp_path):
    est = LinearMap(seed=5)
    arrays, summary = _run(cat, est, GradientSaliency(chunk_size=10, figures=False), out_dir=tmp_path)
    s = arrays["saliency_xray_map"]
    assert s.shape == (48, 128, 128)
    np.testing.assert_allclose(s, np.broadcast_to(np.abs(est.w), s.shape), rtol=1e-6)
    np.testing.assert_allclose(arrays["abs_grad_sum_xray_map"], np.abs(est.w).sum(), rtol=1e-5)
    # the linear model's input is eqs. 1-2: the explainer recovers its factor exactly
    assert np.nanmax(arrays["nphot_input_residual"]) < 1e-3
    assert summary["kind"] == "single-band"


def test_estimator_that_is_the_nphot_proxy_reproduces_the_reference(cat, tmp_path):
    """A model whose gradient is eq. 13 itself (autograd-free: computed from its own x) must give a
    CNN/N_phot ratio of 1 at every radius and mask statistics equal to the reference's."""

    class ProxyOnX(LinearMap):
        name = "proxy-on-x"
        inputs = ("xray_map", "n_phot")

        def __init__(self):
            super().__init__()
            self.inputs = ("xray_map", "n_phot")

        def fit(self, train, val):
            super().fit(train, val)
            self.s = slopes_from_proxy(fit_proxy(train, ("N_phot",), redshift_bins="none"))

        def input_gradients(self, view):
            x = self.transform(view)["xray_map"].astype(np.float64)
            p = 10.0**x
            tot = (p - 1).reshape(len(x), -1).sum(axis=1)
            return {"xray_map": p / (self.s.alpha_for(view.redshift) * tot)[:, None, None]}

    arrays, summary = _run(cat, ProxyOnX(), GradientSaliency(figures=False), out_dir=tmp_path)
    ratios = summary["radial"]["ratio_cnn_to_nphot"]
    assert ratios["0.07"] == pytest.approx(1.0, rel=1e-3)
    assert ratios["1"] == pytest.approx(1.0, rel=1e-3)
    m = summary["masks"]
    for key in ("agn", "icm"):
        assert m[key]["median_log10"] == pytest.approx(m["nphot_reference"][key]["median_log10"], abs=1e-4)
    # the reference's AGN pixels are brighter, so eq. 13 weights them more
    assert m["nphot_reference"]["agn_to_icm_median_ratio"] > 1


@pytest.mark.torch
def test_torch_autograd_linear_model_saliency_equals_weights(cat, tmp_path):
    torch = pytest.importorskip("torch")

    class TorchLinear(LinearMap):
        name = "torch-linear"
        framework = "torch"

        def input_gradients(self, view):
            x = torch.tensor(self.transform(view)["xray_map"], dtype=torch.float64, requires_grad=True)
            w = torch.tensor(self.w)
            y = (x * w).sum(dim=(1, 2)) + self.b
            (g,) = torch.autograd.grad(y.sum(), x)
            return {"xray_map": g.numpy()}

    est = TorchLinear(seed=9)
    arrays, _ = _run(cat, est, GradientSaliency(figures=False))
    np.testing.assert_allclose(arrays["saliency_xray_map"], np.broadcast_to(np.abs(est.w), (48, 128, 128)), rtol=1e-6)


def _strict_json(summary):
    return json.loads(json.dumps(summary, allow_nan=False))


def test_single_band_summary_keys_and_figures(cat, tmp_path):
    summary = _strict_json(_run(cat, LinearMap(seed=1), GradientSaliency(n_examples=2), out_dir=tmp_path)[1])
    masks = summary["masks"]
    for key in ("agn", "icm"):
        for field in ("median_log10", "p16_log10", "p84_log10", "plus", "minus", "n", "n_empty"):
            assert field in masks[key]
        assert masks[key]["p16_log10"] <= masks[key]["median_log10"] <= masks[key]["p84_log10"]
    assert masks["agn"]["n"] + masks["agn"]["n_empty"] + masks["agn"]["n_zero"] == 48
    assert masks["photon_ratio_agn_to_icm"] > 1
    assert set(masks["pooled_pixels"]) == {"agn", "icm"}
    radial = summary["radial"]
    assert len(radial["r_over_r500c"]) == 100 and radial["r_over_r500c"][-1] < 3.0
    for series in ("cnn", "nphot"):
        assert set(radial[series]) == {"median", "p16", "p84"}
    assert set(radial["ratio_cnn_to_nphot"]) == {"0.07", "1"}
    assert set(radial["normalised"]["ratio_cnn_to_nphot"]) == {"0.07", "1"}
    assert summary["paper"]["agn"]["median_log10"] == -3.85
    for name in (
        "fig6_saliency_maps.png",
        "fig7_radial_profiles.png",
        "fig8_source_masks.png",
        "fig8_mask_distributions.png",
    ):
        assert name in summary["figures"]
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = plain_language_summary({"saliency": {"linear-map": summary}})
    assert "linear-map" in text and "AGN" in text and "0.07 R500c" in text


def test_multi_band_and_fusion_summaries(tmp_path):
    small = synthetic_catalogue(n=12, seed=4, with_cube=True)
    multi = _strict_json(
        _run(
            small,
            LinearMap(seed=2, channels=3),
            GradientSaliency(n_examples=1, reference_min_per_bin=4),
            out_dir=tmp_path / "multi",
        )[1]
    )
    assert multi["kind"] == "multi-band"
    for band in ("soft", "medium", "hard"):
        assert multi["bands"][band]["median_log10"] is not None
        assert "agn" in multi["bands"][band] and "icm" in multi["bands"][band]
    assert multi["masks"]["agn"]["median_log10"] is not None
    assert (tmp_path / "multi" / "fig9_band_maps.png").exists()
    assert "soft" in plain_language_summary(multi)

    est = LinearFusion(seed=3)
    arrays, fusion = _run(
        small, est, GradientSaliency(n_examples=1, reference_min_per_bin=4), out_dir=tmp_path / "fusion"
    )
    fusion = _strict_json(fusion)
    assert arrays["saliency_dyn_cube_sky"].shape == (12, 64, 64)
    assert arrays["saliency_dyn_cube_vlos"].shape == (12, 64)
    share = fusion["fusion"]["share"]
    expected = np.abs(est.w).sum() / (np.abs(est.w).sum() + np.abs(est.wc).sum())
    assert share["xray_bands"] == pytest.approx(expected, rel=1e-5)
    assert share["xray_bands"] + share["dyn_cube"] == pytest.approx(1.0)
    # gradient x input: |x w| summed over the map the network sees (the estimator is left fitted on
    # the last fold, clusters 6-11), |cube w_c| over the cube
    x = est.transform(small.view(np.arange(6, 12), est.inputs, "test"))["xray_bands"]
    np.testing.assert_allclose(
        arrays["grad_x_input_sum_xray_bands"][6:], np.abs(x * est.w).sum(axis=(1, 2, 3)), rtol=1e-4
    )
    gx_cube = np.abs(small.inputs["dyn_cube"].data * est.wc).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(arrays["grad_x_input_sum_dyn_cube"], gx_cube, rtol=1e-4)
    gx_map = arrays["grad_x_input_sum_xray_bands"].sum()
    assert fusion["fusion"]["share_grad_times_input"]["xray_bands"] == pytest.approx(
        gx_map / (gx_map + gx_cube.sum()), rel=1e-6
    )
    assert (tmp_path / "fusion" / "fusion_split.png").exists()
    assert "dyn_cube" in plain_language_summary(fusion)


def test_nphot_proxy_is_explained_analytically(cat, tmp_path):
    explainer = GradientSaliency(figures=False)
    est = ProxyNPhot(redshift_bins="none")
    assert explainer.supports(est)
    arrays, summary = _run(cat, est, explainer, out_dir=tmp_path)
    assert summary["kind"] == "nphot-proxy"
    s = arrays["saliency_xray_map"]
    # eq. 13 sums to (N + N_pixels) / (alpha N) over a map
    n_norm = arrays["nphot_factor"] * cat.inputs["xray_map"].data.reshape(48, -1).sum(axis=1)[:48]
    np.testing.assert_allclose(
        s.reshape(48, -1).sum(axis=1) * arrays["nphot_alpha"], (n_norm + 128 * 128) / n_norm, rtol=1e-4
    )
    assert "nphot" in summary["radial"] and "cnn" not in summary["radial"]
    assert summary["masks"]["agn_to_icm_median_ratio"] > 1


def test_bad_params_are_config_errors():
    from massbench.errors import ConfigError

    for params in (
        {"chunk_size": 0},
        {"ratio_radii": [0.07, -1.0]},
        {"reference_redshift_bins": "banana"},
        {"reference_min_per_bin": 1},
    ):
        with pytest.raises(ConfigError, match="explainer 'saliency'"):
            GradientSaliency(**params)


def test_unsupported_and_broken_estimators(cat):
    explainer = GradientSaliency()

    class NoGrad(Estimator):
        name = "no-grad"
        inputs = ("sigma_v",)

    assert not explainer.supports(NoGrad())

    class WrongShape(LinearMap):
        def input_gradients(self, view):
            return {"xray_map": np.zeros((len(view) + 1, 128, 128))}

    est = WrongShape()
    with pytest.raises(ContractError, match="shape"):
        _run(cat, est, explainer)


class StandardisedLinear(LinearMap):
    """log10 M = sum w (x - mu) / sd + b: d/dx = w / sd, d/dz = w for z = (x - mu) / sd."""

    name = "standardised-linear"

    def __init__(self, seed: int = 0, sd: float = 0.25) -> None:
        super().__init__(seed)
        self.sd = sd

    def input_gradients(self, view):
        return {"xray_map": np.broadcast_to(self.w / self.sd, (len(view), *self.w.shape)).copy()}

    def input_standardisation(self):
        return {"xray_map": self.sd}


def test_wrt_standardised_is_the_paper_default_and_scales_by_the_declared_std(cat, tmp_path):
    """wrt: standardised (default) gives |d f / d z| = |w|; wrt: input gives |d f / d x| = |w| / sd.
    Raw N_phot-to-model ratios (eq. 13 is d g / d x in both) move by exactly 1 / sd; the per-map
    normalised ratios and mask levels do not move."""
    assert GradientSaliency().wrt == "standardised"
    est = StandardisedLinear(seed=4, sd=0.25)
    a_std, s_std = _run(cat, est, GradientSaliency(figures=False), out_dir=tmp_path / "std")
    a_in, s_in = _run(cat, est, GradientSaliency(figures=False, wrt="input"), out_dir=tmp_path / "in")
    np.testing.assert_allclose(a_std["saliency_xray_map"], np.broadcast_to(np.abs(est.w), (48, 128, 128)), rtol=1e-6)
    np.testing.assert_allclose(a_in["saliency_xray_map"], np.abs(est.w / 0.25)[None].repeat(48, 0), rtol=1e-6)
    np.testing.assert_allclose(a_std["input_std_xray_map"], 0.25)
    np.testing.assert_allclose(a_in["input_std_xray_map"], 1.0)
    # gradient x input always uses d/dx (unit-free): identical under both settings
    np.testing.assert_allclose(a_std["grad_x_input_sum_xray_map"], a_in["grad_x_input_sum_xray_map"], rtol=1e-6)
    assert s_std["gradient"]["wrt"] == "standardised" and s_in["gradient"]["wrt"] == "input"
    assert s_std["gradient"]["input_std"]["xray_map"]["median"] == pytest.approx(0.25)
    assert "standardised input" in s_std["definition"] and "d log10 M500c / d x" in s_in["definition"]
    for r in ("0.07", "1"):
        raw_std = s_std["radial"]["ratio_nphot_to_cnn"][r]
        raw_in = s_in["radial"]["ratio_nphot_to_cnn"][r]
        assert raw_std == pytest.approx(raw_in / 0.25, rel=1e-4)
        assert s_std["radial"]["normalised"]["ratio_nphot_to_cnn"][r] == pytest.approx(
            s_in["radial"]["normalised"]["ratio_nphot_to_cnn"][r], rel=1e-4
        )
    m_std, m_in = s_std["masks"], s_in["masks"]
    for key in ("agn", "icm"):
        assert m_std[key]["median_log10"] == pytest.approx(m_in[key]["median_log10"] + np.log10(0.25), abs=1e-4)
        assert m_std["normalised"][key]["median_log10"] == pytest.approx(
            m_in["normalised"][key]["median_log10"], abs=1e-4
        )
    # the headline block carries raw beside normalised, and the same numbers as the detailed blocks
    h = _strict_json(s_std)["headline"]
    assert h["units"] == "standardised"
    assert h["ratio_nphot_to_cnn"]["raw"] == s_std["radial"]["ratio_nphot_to_cnn"]
    assert h["ratio_nphot_to_cnn"]["normalised"] == s_std["radial"]["normalised"]["ratio_nphot_to_cnn"]
    raw = h["ratio_nphot_to_cnn"]["raw"]
    assert h["core_contrast"]["raw"] == pytest.approx(raw["0.07"] / raw["1"])
    assert h["masks"]["raw"]["agn_median_log10"] == s_std["masks"]["agn"]["median_log10"]
    assert h["masks"]["normalised"]["icm_median_log10"] == s_std["masks"]["normalised"]["icm"]["median_log10"]
    assert h["paper"]["ratio_nphot_to_cnn"] == {"0.07": 10.0, "1": 1.0}
    # the report paragraph quotes the raw-unit ratio first
    text = plain_language_summary(s_std)
    assert f"{raw['0.07']:.2g}" in text and "paper's units" in text


def test_wrt_standardised_without_a_declared_standardisation(cat, tmp_path):
    """An estimator that declares no input_standardisation is taken as unstandardised (s = 1) and
    the summary says so."""
    est = LinearMap(seed=6)
    arrays, summary = _run(cat, est, GradientSaliency(figures=False), out_dir=tmp_path)
    np.testing.assert_allclose(arrays["saliency_xray_map"], np.broadcast_to(np.abs(est.w), (48, 128, 128)), rtol=1e-6)
    assert not arrays["input_std_declared"].any()
    assert summary["gradient"]["wrt"].startswith("standardised (undeclared")
    assert "declares no standardisation" in summary["definition"]


def test_wrt_param_and_declared_std_are_checked(cat):
    from massbench.errors import ConfigError

    with pytest.raises(ConfigError, match="wrt must be one of standardised, input"):
        GradientSaliency(wrt="scaled")

    class BadStd(StandardisedLinear):
        def input_standardisation(self):
            return {"xray_map": 0.0}

    with pytest.raises(ContractError, match="finite and > 0"):
        _run(cat, BadStd(), GradientSaliency(figures=False))


def test_fingerprint_holds_the_effective_defaults():
    fp = GradientSaliency().fingerprint()
    assert fp["wrt"] == "standardised" and fp["version"] == GradientSaliency.version
    assert GradientSaliency(wrt="input").fingerprint() != fp
    json.dumps(fp)
