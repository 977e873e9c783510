"""The saliency explainer on the project's real estimators (TensorFlow CNN, torch fusion net),
small networks on small synthetic data: the explainer only uses their input_gradients/transform."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from massbench import InputArray
from massbench.plugins.saliency.explainer import GradientSaliency
from massbench.plugins.saliency.synthetic import synthetic_catalogue

pytestmark = pytest.mark.slow


def explainer_train_truth(cat, n_train=24):
    return cat.view(np.arange(n_train), None, "truth", allow_truth=True)


def _fold(cat, est, n_train=24):
    n = len(cat)
    tr, te = np.arange(n_train), np.arange(n_train, n)
    est.fit(cat.view(tr, est.inputs, "train"), cat.view(te[:4], est.inputs, "val"))
    explainer = GradientSaliency(reference_min_per_bin=4, n_examples=1)
    test = cat.view(te, est.inputs, "test")
    truth = cat.view(te, None, "truth", allow_truth=True)
    arrays = explainer.explain_fold(est, test, truth, cat.view(tr, None, "truth", allow_truth=True), est.context)
    return explainer, arrays, test, truth


@pytest.mark.tf
def test_tensorflow_cnn(tmp_path):
    pytest.importorskip("tensorflow")
    from massbench.plugins.cnn_tf.estimator import SingleBandCNN

    cat = synthetic_catalogue(32, seed=6, with_bands=False)
    est = SingleBandCNN(epochs=1, batch_size=8, conv_filters=[4, 4, 4, 4], dense_units=[8, 8, 8])
    explainer, arrays, test, truth = _fold(cat, est)
    g = est.input_gradients(test)["xray_map"]
    std = est.input_standardisation()["xray_map"]
    assert std == pytest.approx(est.scaling_.pixel_std) and std != pytest.approx(1.0)
    # default wrt: standardised (the paper): |d log10 M / d x| times the training pixel std ...
    np.testing.assert_allclose(arrays["saliency_xray_map"], np.abs(g) * std, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(arrays["input_std_xray_map"], std)
    # ... which is |d log10 M / d z|, taken directly on the standardised network input z
    import tensorflow as tf

    z = tf.Variable(est._network_input(test))
    with tf.GradientTape() as tape:
        out = tf.cast(est.model_(z, training=False), tf.float32)
        log10_m = est.scaling_.target_offset + est.scaling_.target_scale * out
    dz = tape.gradient(log10_m, z).numpy()[..., 0]
    np.testing.assert_allclose(arrays["saliency_xray_map"], np.abs(dz), rtol=1e-4, atol=1e-9)
    # wrt: input gives the estimator's own d/dx
    a_in = GradientSaliency(reference_min_per_bin=4, wrt="input").explain_fold(
        est, test, truth, explainer_train_truth(cat), est.context
    )
    np.testing.assert_allclose(a_in["saliency_xray_map"], np.abs(g), rtol=1e-5, atol=1e-12)
    # its transform is eqs. 1-2 of the raw map: the N_phot reference sees the same x
    assert np.nanmax(arrays["nphot_input_residual"]) < 1e-3
    summary = explainer.summarize(est.name, arrays, truth, tmp_path)
    assert summary["kind"] == "single-band" and summary["masks"]["icm"]["median_log10"] is not None
    assert (tmp_path / "fig7_radial_profiles.png").exists()


@pytest.mark.torch
def test_torch_fusion_net(tmp_path):
    pytest.importorskip("torch")
    from massbench.plugins.fusion_torch.estimator import FusionXrayDyn

    cat = synthetic_catalogue(32, seed=7, with_cube=True)
    gal = np.empty(len(cat), dtype=object)
    for i in range(len(cat)):
        gal[i] = np.zeros((0, 4))
    cat.inputs["galaxies"] = InputArray(gal, "", "galaxies (unused at completeness 1)")
    est = FusionXrayDyn(
        epochs=1,
        batch_size=8,
        amp=False,
        xray_filters=[4, 4, 4, 4],
        dyn_filters=[4, 4, 4],
        xray_dense=8,
        dyn_dense=8,
        head_dense=[8, 8],
    )
    explainer, arrays, test, truth = _fold(cat, est)
    g = est.input_gradients(test)
    std = est.input_standardisation()
    assert set(std) == {"xray_bands", "dyn_cube"} and all(v > 0 for v in std.values())
    sx, sc = std["xray_bands"], std["dyn_cube"]
    # default wrt: standardised: d/dx times each input's training std ...
    np.testing.assert_allclose(arrays["saliency_xray_bands"], np.abs(g["xray_bands"]) * sx, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(
        arrays["saliency_dyn_cube_sky"], (np.abs(g["dyn_cube"]) * sc).sum(axis=3), rtol=1e-4, atol=1e-12
    )
    # ... equal to autograd taken directly on the standardised inputs the network's layers see
    import torch

    from massbench.plugins.fusion_torch.data import batch_loader

    net = est.net.eval()
    sc_ = net.scalers()
    dz_map, dz_cube = [], []
    for x, cube, _ in batch_loader(est._dataset(test, with_target=False), 64, shuffle=False, num_workers=0):
        xs = ((x - sc_["map_mean"]) / sc_["map_std"]).detach().requires_grad_(True)
        cs = ((cube - sc_["cube_mean"]) / sc_["cube_std"]).detach().requires_grad_(True)
        pred = net.log10_mass(net(xs * sc_["map_std"] + sc_["map_mean"], cs * sc_["cube_std"] + sc_["cube_mean"]))
        gx, gc = torch.autograd.grad(pred.sum(), (xs, cs))
        dz_map.append(np.moveaxis(gx.numpy(), 1, -1))
        dz_cube.append(gc.numpy())
    np.testing.assert_allclose(arrays["saliency_xray_bands"], np.abs(np.concatenate(dz_map)), rtol=1e-3, atol=1e-8)
    np.testing.assert_allclose(
        arrays["saliency_dyn_cube_sky"], np.abs(np.concatenate(dz_cube)).sum(axis=3), rtol=1e-3, atol=1e-8
    )
    summary_std = explainer.summarize(est.name, arrays, truth, Path(tmp_path) / "std")
    assert summary_std["gradient"]["wrt"] == "standardised"
    assert summary_std["gradient"]["input_std"]["dyn_cube"]["median"] == pytest.approx(sc)
    # wrt: input reproduces the estimator's own d/dx
    a_in = GradientSaliency(reference_min_per_bin=4, wrt="input").explain_fold(
        est, test, truth, explainer_train_truth(cat), est.context
    )
    np.testing.assert_allclose(a_in["saliency_xray_bands"], np.abs(g["xray_bands"]), rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(a_in["saliency_dyn_cube_sky"], np.abs(g["dyn_cube"]).sum(axis=3), rtol=1e-4)
    assert np.nanmax(arrays["nphot_input_residual"]) < 1e-3
    summary = explainer.summarize(est.name, arrays, truth, Path(tmp_path))
    assert summary["kind"] == "fusion"
    shares = summary["fusion"]["share_grad_times_input"]
    assert set(shares) == {"xray_bands", "dyn_cube"} and sum(shares.values()) == pytest.approx(1.0)
    assert (tmp_path / "fusion_split.png").exists()
