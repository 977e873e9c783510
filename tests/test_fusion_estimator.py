"""The ``fusion-xray-dyn`` estimator on a tiny generated catalogue (small maps and cubes, small layers)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from massbench import Catalogue, InputArray, RunContext
from massbench.errors import ConfigError, TestMassAccessError
from massbench.plugins.fusion_torch.cubes import (
    CubeGrid,
    default_cube_builder,
    kept_count,
    scipy_kde_cube,
)
from massbench.plugins.fusion_torch.estimator import FusionXrayDyn

pytestmark = pytest.mark.torch

MAP, CUBE = 32, 16
INPUTS = ["xray_bands", "dyn_cube", "galaxies"]
#: small layers so a CPU fits tiny data in seconds
SMALL = dict(
    xray_filters=[4, 4, 4, 4],
    dyn_filters=[4, 4, 4],
    xray_dense=16,
    dyn_dense=16,
    head_dense=[16, 8],
    batch_size=8,
    predict_batch_size=7,
    num_threads=1,
)


def tiny_catalogue(n: int = 36, seed: int = 0) -> Catalogue:
    """Clusters whose photon counts, size and galaxy velocities grow with mass (32^2 x 3 maps, 16^3 cubes)."""
    rng = np.random.default_rng(seed)
    logm = rng.uniform(13.5, 15.0, n)
    z = rng.uniform(0.07, 0.47, n)
    edges = np.linspace(-2.3, 2.3, MAP + 1)
    c = 0.5 * (edges[1:] + edges[:-1])
    xx, yy = np.meshgrid(c, c, indexing="ij")
    maps = np.empty((n, MAP, MAP, 3), np.float32)
    gals = np.empty(n, dtype=object)
    for i in range(n):
        r500 = 0.5 * 10 ** ((logm[i] - 14) / 3)
        prof = (1 + (xx**2 + yy**2) / (0.1 * r500) ** 2) ** -1.5
        amp = 40 * 10 ** (1.3 * (logm[i] - 14)) * 10 ** (-1.5 * z[i])
        for b, frac in enumerate((0.6, 0.3, 0.1)):
            maps[i, ..., b] = rng.poisson(amp * frac * prof / prof.max() + 0.02)
        ng = int(20 + 40 * (logm[i] - 13.5))
        sig = 500 * 10 ** ((logm[i] - 14) / 3)
        gals[i] = np.column_stack(
            [rng.normal(0, r500, ng), rng.normal(0, r500, ng), rng.normal(0, sig, ng), rng.uniform(9.5, 11, ng)]
        )
    cubes = np.stack([scipy_kde_cube(g, CubeGrid(n=CUBE)) for g in gals])
    # sub-count jitter on the maps and a faint floor on the cubes' empty tails: no exactly equal
    # inputs, so max-pooling has no ties and the network is differentiable at these inputs (the
    # finite-difference check needs it)
    maps += rng.uniform(0.0, 0.5, maps.shape).astype(np.float32)
    cubes += rng.uniform(0.0, 1e-2 / CUBE**3, cubes.shape).astype(np.float32)
    return Catalogue(
        name="tiny-fusion",
        cluster_id=np.arange(n) * 3 + 5,
        positions=rng.uniform(0, 100, (n, 3)),
        box_size=100.0,
        redshift=z,
        log10_m500c=logm,
        inputs={"xray_bands": InputArray(maps, "count"), "dyn_cube": InputArray(cubes), "galaxies": InputArray(gals)},
    )


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return tiny_catalogue()


def split(cat: Catalogue):
    idx = np.arange(len(cat))
    return (
        cat.view(idx[:24], INPUTS, role="train"),
        cat.view(idx[24:30], INPUTS, role="val"),
        cat.view(idx[30:], INPUTS, role="test"),
    )


def fitted(cat: Catalogue, tmp_path, seed: int = 1, **params) -> tuple[FusionXrayDyn, list[dict]]:
    est = FusionXrayDyn(**{**SMALL, **params})
    calls: list[dict] = []
    est.context = RunContext(
        seed=seed, device="auto", workdir=tmp_path, cache_dir=tmp_path / "cache", progress=lambda **kw: calls.append(kw)
    )
    train, val, _ = split(cat)
    est.fit(train, val)
    return est, calls


def test_short_fit_lowers_the_loss_and_reports_progress(cat, tmp_path) -> None:
    est, calls = fitted(cat, tmp_path, epochs=12, patience=50)
    losses = [c["loss"] for c in calls]
    assert [c["epoch"] for c in calls] == list(range(1, 13)) and all(c["total"] == 12 for c in calls)
    assert all("val_loss" in c for c in calls)
    assert min(losses[-3:]) < 0.7 * losses[0]
    assert est.context.info["device_used"] == (
        "cpu" if not torch.cuda.is_available() else est.context.info["device_used"]
    )
    assert est.context.info["fusion_epochs_run"] == 12
    assert est.context.info["fusion_train_cubes_per_second"] > 0
    pred = est.predict(split(cat)[2])
    assert pred.shape == (6,) and np.isfinite(pred).all()


def test_early_stopping_restores_the_best_epoch(cat, tmp_path) -> None:
    est, calls = fitted(cat, tmp_path, epochs=30, patience=2, learning_rate=3e-2)
    val = [c["val_loss"] for c in calls]
    best = int(np.argmin(val)) + 1
    assert est.record.best_epoch == best
    assert len(calls) <= best + 2 and (len(calls) == 30 or len(calls) == best + 2)
    # the restored weights give the best validation loss again
    _, val_view, _ = split(cat)
    assert est._evaluate_loss(est._dataset(val_view, True), "cpu", False) == pytest.approx(min(val), rel=1e-5)


def test_same_seed_same_predictions_and_save_load_reproduces_them(cat, tmp_path) -> None:
    est, _ = fitted(cat, tmp_path / "a", epochs=3)
    again, _ = fitted(cat, tmp_path / "b", epochs=3)
    test = split(cat)[2]
    pred = est.predict(test)
    np.testing.assert_array_equal(pred, again.predict(test))

    est.save(tmp_path / "model")
    saved = json.loads((tmp_path / "model" / "preprocessing.json").read_text())
    assert set(saved["redshift_normalisation"]) == {"gamma", "eta", "n0"}
    assert saved["scalers"]["y_min"] == pytest.approx(float(split(cat)[0].log10_m500c.min()))
    loaded = FusionXrayDyn.load(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict(test), pred, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(loaded.transform(test), est.transform(test))
    assert loaded.params == est.params


def test_predict_never_reads_test_masses(cat, tmp_path) -> None:
    est, _ = fitted(cat, tmp_path, epochs=1)
    test = split(cat)[2]
    est.predict(test)
    est.input_gradients(test)
    assert not test.mass_read
    with pytest.raises(TestMassAccessError):
        test.log10_m500c


def test_transform_is_equations_1_and_2_fitted_on_train(cat, tmp_path) -> None:
    from massbench.preprocessing import fit_redshift_normalisation, preprocess_maps

    est, _ = fitted(cat, tmp_path, epochs=1)
    train, _, test = split(cat)
    norm = fit_redshift_normalisation(train["xray_bands"], train.redshift)
    assert est.norm == norm
    np.testing.assert_allclose(est.transform(test), preprocess_maps(test["xray_bands"], test.redshift, norm))


def test_input_gradients_shapes_and_finite_differences(cat, tmp_path) -> None:
    est, _ = fitted(cat, tmp_path, epochs=2)
    test = split(cat)[2]
    grads = est.input_gradients(test)
    assert grads["xray_bands"].shape == (6, MAP, MAP, 3) and grads["dyn_cube"].shape == (6, CUBE, CUBE, CUBE)
    assert np.abs(grads["xray_bands"]).max() > 0 and np.abs(grads["dyn_cube"]).max() > 0

    # central differences of the float64 network at the inputs the estimator feeds it
    net = est.net.double().eval()
    x = torch.from_numpy(np.moveaxis(est.transform(test), -1, 1)).double()
    cube = torch.from_numpy(np.asarray(test["dyn_cube"])).double()

    def f(xi: torch.Tensor, ci: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return net.log10_mass(net(xi, ci)).numpy()

    rng = np.random.default_rng(0)
    for name, arr, step in (("xray_bands", x, 1e-6), ("dyn_cube", cube, 1e-6 * float(net.cube_std))):
        g = grads[name]
        # the largest gradients plus random elements, away from ReLU/max-pool switches in practice
        flat = list(np.argsort(np.abs(g).ravel())[-4:]) + list(rng.integers(0, g.size, 4))
        for k in flat:
            idx = np.unravel_index(k, g.shape)
            tidx = (idx[0], idx[3], idx[1], idx[2]) if name == "xray_bands" else idx
            plus, minus = arr.clone(), arr.clone()
            plus[tidx] += step
            minus[tidx] -= step
            args_p = (plus, cube) if name == "xray_bands" else (x, plus)
            args_m = (minus, cube) if name == "xray_bands" else (x, minus)
            fd = (f(*args_p) - f(*args_m))[idx[0]] / (2 * step)
            assert fd == pytest.approx(float(g[idx]), rel=2e-3, abs=1e-4 * float(np.abs(g).max()))


def test_partial_completeness_rebuilds_cubes_from_a_seeded_subset(cat, tmp_path) -> None:
    est, _ = fitted(cat, tmp_path, epochs=2, completeness=0.5)
    assert est.record.cubes_built == 30  # train + val clusters
    test = split(cat)[2]
    est.predict(test)
    assert est.record.cubes_built == 36
    store = list((tmp_path / "cache" / "fusion-cubes").iterdir())
    assert len(store) == 1 and store[0].name.startswith("tiny-fusion-c0.5-s0-n16")
    cubes = np.load(store[0] / "cubes.npy", mmap_mode="r")
    gals = cat.inputs["galaxies"].data
    # the rebuilt cube is the KDE of half the galaxies (a different cube from the full one)
    from massbench.plugins.fusion_torch.cubes import subsample_galaxies

    sub = subsample_galaxies(gals[31], 0.5, 0, int(cat.cluster_id[31]))
    assert len(sub) == kept_count(len(gals[31]), 0.5)
    np.testing.assert_array_equal(cubes[31], default_cube_builder()(sub, CubeGrid(n=CUBE)))
    np.testing.assert_allclose(cubes[31], scipy_kde_cube(sub, CubeGrid(n=CUBE)), rtol=0, atol=1e-5 * cubes[31].max())
    assert not np.allclose(cubes[31], cat.inputs["dyn_cube"].data[31])
    # a second estimator (another fold) reuses the cached cubes
    other, _ = fitted(cat, tmp_path, epochs=1, completeness=0.5)
    assert other.record.cubes_built == 0


def test_bad_params_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="completeness"):
        FusionXrayDyn(completeness=0.0)
    with pytest.raises(ConfigError, match="batch_size"):
        FusionXrayDyn(batch_size=0)
    est = FusionXrayDyn()
    est.context = RunContext(device="tpu")
    with pytest.raises(ConfigError, match="device"):
        est._torch_setup()


# ---------------------------------------------------------------- probabilistic (issue 19)
@pytest.mark.parametrize("loss, ensemble", [("gaussian_nll", 1), ("mse", 2), ("gaussian_nll", 2)])
def test_probabilistic_fusion_predicts_a_gaussian_saves_and_explains(cat, tmp_path, loss, ensemble) -> None:
    from massbench.plugins.fusion_torch.probabilistic import mean_output
    from massbench.prediction import Prediction, check_prediction

    est, calls = fitted(cat, tmp_path, epochs=2, loss=loss, ensemble=ensemble)
    assert [c["epoch"] for c in calls] == list(range(1, 2 * ensemble + 1))
    assert all(c["total"] == 2 * ensemble and np.isfinite(c["loss"]) for c in calls)
    test = split(cat)[2]
    raw = est.predict(test)
    assert isinstance(raw, Prediction)
    pred = check_prediction(raw, 6)
    assert np.all(pred.sigma > 0) and np.all(pred.sigma < 5)
    if ensemble > 1:
        assert est.context.info["ensemble"] == ensemble
        assert {h.get("member") for h in est.history} == {0.0, 1.0}
    # saliency: gradient of the (ensemble-averaged) mean head, checked by central differences
    grads = est.input_gradients(test)
    net = est.net.double().eval()
    x = torch.from_numpy(np.moveaxis(est.transform(test), -1, 1)).double()
    cube = torch.from_numpy(np.asarray(test["dyn_cube"])).double()
    gaussian = loss == "gaussian_nll"

    def f(xi: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return net.log10_mass(mean_output(net(xi, cube), ensemble, gaussian)).numpy()

    np.testing.assert_allclose(f(x), pred.mean, atol=1e-5)
    g = grads["xray_bands"]
    for k in np.argsort(np.abs(g).ravel())[-3:]:
        idx = np.unravel_index(k, g.shape)
        plus, minus = x.clone(), x.clone()
        plus[idx[0], idx[3], idx[1], idx[2]] += 1e-6
        minus[idx[0], idx[3], idx[1], idx[2]] -= 1e-6
        fd = (f(plus) - f(minus))[idx[0]] / 2e-6
        assert fd == pytest.approx(float(g[idx]), rel=2e-3, abs=1e-4 * float(np.abs(g).max()))
    est.net.float()
    # save / load reproduce the distribution
    est.save(tmp_path / "model")
    loaded = FusionXrayDyn.load(tmp_path / "model")
    again = check_prediction(loaded.predict(test), 6)
    np.testing.assert_allclose(again.mean, pred.mean, rtol=0, atol=1e-6)
    np.testing.assert_allclose(again.sigma, pred.sigma, rtol=1e-5)
    assert loaded.params == est.params and loaded.params["ensemble"] == ensemble
    np.testing.assert_allclose(loaded.input_gradients(test)["dyn_cube"], grads["dyn_cube"], rtol=1e-4, atol=1e-7)


def test_fusion_ensemble_member_zero_is_the_single_net(cat, tmp_path) -> None:
    one, _ = fitted(cat, tmp_path / "one", epochs=2)
    two, _ = fitted(cat, tmp_path / "two", epochs=2, ensemble=2)
    test = split(cat)[2]
    ds = two._dataset(test, with_target=False)
    from massbench.plugins.fusion_torch.data import batch_loader

    x, cube, _ = next(iter(batch_loader(ds, 6, shuffle=False)))
    with torch.no_grad():
        first = two.net.log10_mass(two.net.members[0](x, cube)).double().numpy()
        second = two.net.log10_mass(two.net.members[1](x, cube)).double().numpy()
    np.testing.assert_allclose(first, one.predict(test), atol=1e-6)
    assert not np.allclose(first, second)
    assert isinstance(one.predict(test), np.ndarray)


def test_fusion_probabilistic_params_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"loss must be 'mse', 'mae' or 'gaussian_nll'"):
        FusionXrayDyn(loss="nll")
    with pytest.raises(ConfigError, match="fusion-xray-dyn: ensemble must be an integer from 1 to 20"):
        FusionXrayDyn(ensemble=21)
