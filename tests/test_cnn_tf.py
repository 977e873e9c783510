"""Tests of the TensorFlow CNN estimators (plugins/cnn_tf): small synthetic maps, a few epochs."""

from __future__ import annotations

import importlib.util
import pickle
import subprocess
import sys

import numpy as np
import pytest

from massbench import Catalogue, InputArray, RunContext
from massbench.errors import ConfigError, DataError
from massbench.plugins.cnn_tf.synthetic import split_views, synthetic_catalogue
from massbench.preprocessing import fit_redshift_normalisation, preprocess_maps

if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("tensorflow is not installed", allow_module_level=True)

from massbench.plugins.cnn_tf.tf_runtime import import_tf

tf = import_tf()

from massbench.plugins.cnn_tf.architecture import ArchitectureConfig, build_cnn
from massbench.plugins.cnn_tf.estimator import MultiBandCNN, SingleBandCNN

pytestmark = pytest.mark.tf

SMALL = dict(conv_filters=[4, 4], conv_kernels=[3, 3], pool_sizes=[2], dense_units=[8])


def _fit(est, train, val, seed=3, device="cpu"):
    logs: list[dict] = []
    est.context = RunContext(seed=seed, device=device, progress=lambda **kw: logs.append(kw))
    est.fit(train, val)
    return logs


@pytest.fixture(scope="module")
def single_cat() -> Catalogue:
    return synthetic_catalogue(n=120, size=16, bands=1, seed=0)


@pytest.fixture(scope="module")
def single_views(single_cat):
    return split_views(single_cat, "xray_map", n_val=20, n_test=20)


@pytest.fixture(scope="module")
def fitted_single(single_views):
    train, val, _ = single_views
    est = SingleBandCNN(epochs=3, patience=5)
    logs = _fit(est, train, val)
    return est, logs


# ---------------------------------------------------------------- architecture
def test_architecture_matches_paper_and_documented_parameter_count():
    model = build_cnn((128, 128, 1))
    names = [layer.name for layer in model.layers]
    assert names == [
        "x",
        "conv1",
        "conv2",
        "pool1",
        "conv3",
        "conv4",
        "pool2",
        "flatten",
        "dense1",
        "dense2",
        "dense3",
        "output",
    ]
    conv = [model.get_layer(n) for n in ("conv1", "conv2", "conv3", "conv4")]
    assert [c.filters for c in conv] == [24, 10, 24, 10]
    assert [c.kernel_size for c in conv] == [(5, 5), (3, 3), (5, 5), (3, 3)]
    assert all(c.padding == "same" for c in conv)
    assert model.get_layer("pool1").pool_size == (4, 4) and model.get_layer("pool2").pool_size == (2, 2)
    assert [model.get_layer(f"dense{i}").units for i in (1, 2, 3)] == [128, 128, 64]
    assert model.get_layer("flatten").output.shape[-1] == 2560
    assert tuple(model.output.shape) == (None, 1)
    # L2 1e-4 on every layer except the last; linear output
    for n in ("conv1", "conv2", "conv3", "conv4", "dense1", "dense2", "dense3"):
        assert model.get_layer(n).kernel_regularizer.l2 == pytest.approx(1e-4)
    assert model.get_layer("output").kernel_regularizer is None
    assert model.count_params() == 363_629  # documented in docs/cnn.md
    assert build_cnn((128, 128, 3)).count_params() == 364_829


def test_multiband_defaults_add_dropout_and_mixed_precision_keeps_float32_output():
    assert MultiBandCNN().dropout == 0.1 and SingleBandCNN().dropout == 0.0
    model = build_cnn((16, 16, 3), ArchitectureConfig(dropout=0.1), mixed_precision=True)
    assert [n.name for n in model.layers if n.name.startswith("dropout")] == ["dropout1", "dropout2", "dropout3"]
    assert model.get_layer("conv1").compute_dtype == "float16"
    assert model.output.dtype == "float32"


def test_invalid_params_raise_config_errors():
    with pytest.raises(ConfigError, match="same length"):
        SingleBandCNN(conv_filters=[24, 10, 24], conv_kernels=[5, 3, 5, 3])
    with pytest.raises(ConfigError, match="split evenly"):
        SingleBandCNN(conv_filters=[24, 10, 24], conv_kernels=[5, 3, 5], pool_sizes=[4, 2])
    with pytest.raises(ConfigError, match="loss"):
        SingleBandCNN(loss="huber")
    with pytest.raises(ConfigError, match="dropout"):
        MultiBandCNN(dropout=1.5)
    with pytest.raises(ConfigError, match="too small"):
        build_cnn((4, 4, 1))


# ---------------------------------------------------------------- training
def test_progress_reported_every_epoch_and_device_recorded(fitted_single):
    est, logs = fitted_single
    assert [entry["epoch"] for entry in logs] == [1, 2, 3]
    assert all(entry["total"] == 3 for entry in logs)
    assert all({"loss", "val_loss", "val_rms_dex"} <= set(entry) for entry in logs)
    info = est.context.info
    assert info["device_used"] == "cpu"
    assert info["epochs_trained"] == 3 and 1 <= info["best_epoch"] <= 3
    assert info["train_images_per_s"] > 0
    assert len(est.history_["val_loss"]) == 3


def test_preprocessing_is_fitted_on_training_clusters_only(single_cat, single_views, fitted_single):
    est, _ = fitted_single
    train, val, test = single_views
    # the constants are exactly those of the training view
    maps = train["xray_map"]
    norm = fit_redshift_normalisation(maps, train.redshift)
    assert est.scaling_.redshift_norm == norm
    x = preprocess_maps(maps, train.redshift, norm)
    assert est.scaling_.pixel_mean == pytest.approx(float(x.astype(np.float64).mean()), rel=1e-6)
    assert est.scaling_.pixel_std == pytest.approx(float(x.astype(np.float64).std()), rel=1e-5)
    y = train.log10_m500c
    assert est.scaling_.target_offset == pytest.approx((y.max() + y.min()) / 2)
    assert est.scaling_.target_scale == pytest.approx((y.max() - y.min()) / 2)
    # and changing the test clusters' counts (and masses) changes nothing that was fitted
    changed = {k: InputArray(np.array(v.data), v.unit) for k, v in single_cat.inputs.items()}
    changed["xray_map"].data[test.indices] *= 25.0
    masses = single_cat.log10_m500c.copy()
    masses[test.indices] += 1.0
    other = Catalogue(
        single_cat.name,
        single_cat.cluster_id,
        single_cat.positions,
        single_cat.box_size,
        single_cat.redshift,
        masses,
        changed,
    )
    train2, val2, _ = split_views(other, "xray_map", n_val=20, n_test=20)
    est2 = SingleBandCNN(epochs=3, patience=5)
    _fit(est2, train2, val2)
    assert est2.scaling_ == est.scaling_
    np.testing.assert_array_equal(est2.predict(val2), est.predict(val))


def test_short_fit_learns_a_learnable_problem():
    cat = synthetic_catalogue(n=240, size=16, bands=1, seed=5)
    train, val, test = split_views(cat, "xray_map", n_val=30, n_test=40)
    est = SingleBandCNN(epochs=12, patience=20)
    _fit(est, train, val, seed=11)
    loss = est.history_["loss"]
    assert loss[-1] < 0.5 * loss[0]
    pred = est.predict(test)
    truth = cat.log10_m500c[test.indices]
    assert pred.shape == (len(test),) and np.isfinite(pred).all()
    rms = float(np.sqrt(np.mean((pred - truth) ** 2)))
    assert rms < 0.5 * float(truth.std())  # far better than predicting the mean


def test_seeded_cpu_fit_is_repeatable(single_views):
    train, val, test = single_views
    preds = []
    for seed in (7, 7, 8):
        est = SingleBandCNN(epochs=2, patience=5)
        _fit(est, train, val, seed=seed)
        preds.append(est.predict(test))
    np.testing.assert_array_equal(preds[0], preds[1])
    assert not np.array_equal(preds[0], preds[2])


def test_fit_does_not_depend_on_the_process_random_state(single_views, monkeypatch):
    """Other threads (a Dask worker's) draw from Python's global RNG between seeding and model building."""
    import random

    import keras

    train, val, test = single_views
    est = SingleBandCNN(epochs=1, dropout=0.2)
    _fit(est, train, val, seed=9)
    expected = est.predict(test)
    seed_everything = keras.utils.set_random_seed

    def seed_then_disturb(seed: int) -> None:
        seed_everything(seed)
        for _ in range(17):
            random.random()
        np.random.random(5)

    monkeypatch.setattr(keras.utils, "set_random_seed", seed_then_disturb)
    est2 = SingleBandCNN(epochs=1, dropout=0.2)
    _fit(est2, train, val, seed=9)
    np.testing.assert_array_equal(est2.predict(test), expected)


def test_training_stops_after_a_non_finite_epoch():
    from massbench.plugins.cnn_tf.keras_callbacks import StopOnNonFinite

    model = build_cnn((8, 8, 1), ArchitectureConfig(**{k: tuple(v) for k, v in SMALL.items()}))
    cb = StopOnNonFinite()
    cb.set_model(model)
    model.stop_training = False  # as Model.fit sets it
    cb.on_epoch_end(0, {"loss": 0.3})
    assert not model.stop_training and cb.stopped_epoch is None
    cb.on_epoch_end(1, {"loss": float("nan")})
    assert model.stop_training and cb.stopped_epoch == 2


def test_validation_view_is_required(single_views):
    train, _, _ = single_views
    empty = train.subview(np.array([], dtype=np.int64))
    with pytest.raises(ConfigError, match="validation"):
        _fit(SingleBandCNN(epochs=1), train, empty)


def test_rebin_must_divide_the_map_size(single_views):
    train, val, _ = single_views
    with pytest.raises(DataError, match="rebin=3"):
        _fit(SingleBandCNN(epochs=1, rebin=3), train, val)


def test_mixed_precision_and_xla_paths_train(single_views, monkeypatch):
    """The GPU options, exercised on the CPU by pretending the CPU is the accelerator."""
    from massbench.plugins.cnn_tf import tf_runtime

    train, val, test = single_views
    fake = tf_runtime.DeviceChoice("GPU:0 (pretend)", "/CPU:0", True, "pretend")
    monkeypatch.setattr(tf_runtime, "resolve_device", lambda requested: fake)
    est = SingleBandCNN(epochs=2, patience=5, mixed_precision=True, xla=True, **SMALL)
    _fit(est, train, val)
    assert est.context.info["mixed_precision"] is True and est.context.info["xla"] is True
    assert est.model_.get_layer("conv1").compute_dtype == "float16"
    assert est.model_.optimizer.__class__.__name__ == "LossScaleOptimizer"
    pred = est.predict(test)
    assert pred.shape == (len(test),) and np.isfinite(pred).all()
    assert np.isfinite(est.input_gradients(test)["xray_map"]).all()


def test_gpu_request_without_gpu_is_a_clear_error(single_views):
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is present")
    train, val, _ = single_views
    with pytest.raises(ConfigError, match="no GPU"):
        _fit(SingleBandCNN(epochs=1), train, val, device="gpu")


# ---------------------------------------------------------------- persistence
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_save_load_and_pickle_reproduce_predictions(fitted_single, single_views, tmp_path):
    est, _ = fitted_single
    _, _, test = single_views
    before = est.predict(test)
    est.save(tmp_path / "fold0")
    for f in ("model.keras", "preprocessing.json", "estimator.json", "history.json"):
        assert (tmp_path / "fold0" / f).is_file()
    loaded = SingleBandCNN.load(tmp_path / "fold0")
    assert loaded.scaling_ == est.scaling_ and loaded.params == est.params
    np.testing.assert_array_equal(loaded.predict(test), before)
    np.testing.assert_array_equal(loaded.input_gradients(test)["xray_map"], est.input_gradients(test)["xray_map"])
    clone = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(clone.predict(test), before)
    with pytest.raises(DataError, match="cnn-single-band"):
        MultiBandCNN.load(tmp_path / "fold0")
    with pytest.raises(DataError, match="missing"):
        SingleBandCNN.load(tmp_path / "nothing-here")


# ---------------------------------------------------------------- explanations
def test_transform_returns_equation_2_inputs(fitted_single, single_views):
    est, _ = fitted_single
    _, _, test = single_views
    x = est.transform(test)["xray_map"]
    expected = preprocess_maps(test["xray_map"], test.redshift, est.scaling_.redshift_norm)
    assert x.shape == (len(test), 16, 16)
    np.testing.assert_allclose(x, expected, rtol=1e-6)


@pytest.mark.parametrize("rebin", [1, 2])
def test_input_gradients_match_finite_differences(single_cat, single_views, rebin):
    train, val, _ = single_views
    est = SingleBandCNN(epochs=2, patience=5, rebin=rebin, **SMALL)
    _fit(est, train, val)
    assert est.input_shape_ == (16 // rebin, 16 // rebin, 1)
    # evaluate at maps without ties (zero-count pixels tie inside max-pooling windows,
    # where the network is not differentiable): jitter the counts of 20 clusters
    rng = np.random.default_rng(0)
    idx = np.arange(20)
    maps = single_cat.inputs["xray_map"].data[idx] + rng.uniform(0.05, 0.5, (20, 16, 16)).astype(np.float32)
    jittered = Catalogue(
        "jittered",
        single_cat.cluster_id[idx],
        single_cat.positions[idx],
        single_cat.box_size,
        single_cat.redshift[idx],
        single_cat.log10_m500c[idx],
        {"xray_map": InputArray(maps)},
    )
    test = jittered.view(idx, inputs=["xray_map"], role="test")
    grads = est.input_gradients(test)["xray_map"].astype(np.float64)
    assert grads.shape == (20, 16, 16) and np.isfinite(grads).all()
    x = est.transform(test)["xray_map"].astype(np.float64)
    sc = est.scaling_

    def predict_from_x(xx: np.ndarray) -> np.ndarray:
        # x = log10(n + 1) at the input's pixels -> network input (block sums when rebinned)
        n = 10.0**xx - 1.0
        n = n.reshape(len(n), 16 // rebin, rebin, 16 // rebin, rebin).sum(axis=(2, 4))
        z = ((np.log10(n + 1.0) - sc.pixel_mean) / sc.pixel_std).astype(np.float32)[..., None]
        return sc.unscale_target(est.model_(z, training=False).numpy().astype(np.float64).reshape(-1))

    np.testing.assert_allclose(predict_from_x(x), est.predict(test), atol=1e-5)
    eps = 1e-4
    direction = rng.normal(size=x.shape)
    fd = (predict_from_x(x + eps * direction) - predict_from_x(x - eps * direction)) / (2 * eps)
    analytic = (grads * direction).reshape(len(x), -1).sum(axis=1)
    scale = np.sqrt((grads**2).reshape(len(x), -1).sum(axis=1) * (direction**2).reshape(len(x), -1).sum(axis=1))
    np.testing.assert_allclose(fd, analytic, atol=0.02 * float(np.median(scale)) + 1e-3)
    # single pixels: the largest gradient of each of the first clusters
    for i in range(5):
        j = np.unravel_index(np.argmax(np.abs(grads[i])), grads[i].shape)
        bump = np.zeros_like(x[i : i + 1])
        bump[(0, *j)] = eps
        fd1 = (predict_from_x(x[i : i + 1] + bump) - predict_from_x(x[i : i + 1] - bump))[0] / (2 * eps)
        assert fd1 == pytest.approx(float(grads[i][j]), rel=0.02, abs=1e-3)


# ---------------------------------------------------------------- multi-band
def test_multiband_fit_predict_gradients_shapes():
    cat = synthetic_catalogue(n=80, size=16, bands=3, seed=2)
    train, val, test = split_views(cat, "xray_bands", n_val=15, n_test=15)
    est = MultiBandCNN(epochs=2, patience=5)
    logs = _fit(est, train, val)
    assert len(logs) == 2 and est.input_shape_ == (16, 16, 3)
    assert est.predict(test).shape == (15,)
    assert est.input_gradients(test)["xray_bands"].shape == (15, 16, 16, 3)
    assert est.transform(test)["xray_bands"].shape == (15, 16, 16, 3)
    # the same redshift factor for all three bands (equation 1 on the total counts)
    norm = fit_redshift_normalisation(train["xray_bands"], train.redshift)
    assert est.scaling_.redshift_norm == norm


def test_multiband_rejects_single_channel_maps():
    cat = synthetic_catalogue(n=40, size=16, bands=1, seed=2)
    one = Catalogue(
        cat.name,
        cat.cluster_id,
        cat.positions,
        cat.box_size,
        cat.redshift,
        cat.log10_m500c,
        {"xray_bands": InputArray(cat.inputs["xray_map"].data[..., None], "count")},
    )
    train, val, _ = split_views(one, "xray_bands", n_val=10, n_test=10)
    with pytest.raises(DataError, match="expects 3"):
        _fit(MultiBandCNN(epochs=1), train, val)


# ---------------------------------------------------------------- plugin
def test_plugin_module_imports_without_tensorflow():
    code = (
        "import sys, massbench.plugins.cnn_tf.plugin as p; "
        "names = [c.name for c in p.massbench_estimators()]; "
        "assert names == ['cnn-single-band', 'cnn-multi-band'], names; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cnn_summary_command_prints_parameter_count():
    typer = pytest.importorskip("typer")
    from typer.testing import CliRunner

    from massbench.plugins.cnn_tf import plugin

    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        pass

    plugin.massbench_register_commands(root)
    result = CliRunner().invoke(root, ["cnn", "summary", "--bands", "1"])
    assert result.exit_code == 0, result.output
    assert "363,629" in result.output


# ---------------------------------------------------------------- probabilistic (issue 19)
def _jittered_view(cat, n: int = 12, seed: int = 0):
    """Maps without zero-count ties (max-pooling is not differentiable at ties), as a test view."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    maps = cat.inputs["xray_map"].data[idx] + rng.uniform(0.05, 0.5, (n, 16, 16)).astype(np.float32)
    jit = Catalogue(
        "jittered",
        cat.cluster_id[idx],
        cat.positions[idx],
        cat.box_size,
        cat.redshift[idx],
        cat.log10_m500c[idx],
        {"xray_map": InputArray(maps)},
    )
    return jit.view(idx, inputs=["xray_map"], role="test")


def _mean_from_x(est, xx: np.ndarray) -> np.ndarray:
    """The estimator's mean prediction from x = log10(n + 1) (no rebin), through the raw Keras model."""
    from massbench.plugins.cnn_tf.probabilistic import split_outputs

    sc = est.scaling_
    z = ((xx - sc.pixel_mean) / sc.pixel_std).astype(np.float32)[..., None]
    means, _ = split_outputs(est.model_(z, training=False).numpy(), est.ensemble, est.loss == "gaussian_nll")
    return sc.unscale_target(means.mean(axis=0))


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
@pytest.mark.parametrize("loss, ensemble", [("gaussian_nll", 1), ("mse", 2), ("gaussian_nll", 2)])
def test_probabilistic_cnn_predicts_a_gaussian_saves_and_explains(single_cat, single_views, tmp_path, loss, ensemble):
    from massbench.prediction import Prediction, check_prediction

    train, val, test = single_views
    est = SingleBandCNN(epochs=2, patience=5, loss=loss, ensemble=ensemble, **SMALL)
    logs = _fit(est, train, val)
    assert [e["epoch"] for e in logs] == list(range(1, 2 * ensemble + 1)) and logs[-1]["total"] == 2 * ensemble
    assert all(np.isfinite(e["val_rms_dex"]) for e in logs)
    pred = est.predict(test)
    assert isinstance(pred, Prediction)
    pred = check_prediction(pred, len(test))
    assert np.all(pred.sigma > 0) and np.all(pred.sigma < 5.0)
    # the model: the paper's body, float32 outputs
    out = est.model_(np.zeros((1, 16, 16, 1), np.float32), training=False)
    assert out.dtype == "float32"
    if ensemble == 1:
        assert out.shape == (1, 2) and est.model_.get_layer("log_sigma").dtype_policy.name == "float32"
        assert est.model_.get_layer("output").dtype_policy.name == "float32"
    else:
        assert out.shape == (1, ensemble, 2 if loss == "gaussian_nll" else 1)
        assert est.context.info["ensemble"] == ensemble and len(est.context.info["ensemble_epochs_trained"]) == ensemble
        assert any(k.startswith("member1/") for k in est.history_)
    # saliency is the gradient of the (ensemble-averaged) mean head
    jt = _jittered_view(single_cat)
    grads = est.input_gradients(jt)["xray_map"].astype(np.float64)
    x = est.transform(jt)["xray_map"].astype(np.float64)
    np.testing.assert_allclose(_mean_from_x(est, x), check_prediction(est.predict(jt), len(jt)).mean, atol=1e-5)
    rng = np.random.default_rng(1)
    direction = rng.normal(size=x.shape)
    eps = 1e-4
    fd = (_mean_from_x(est, x + eps * direction) - _mean_from_x(est, x - eps * direction)) / (2 * eps)
    analytic = (grads * direction).reshape(len(x), -1).sum(axis=1)
    scale = np.sqrt((grads**2).reshape(len(x), -1).sum(axis=1) * (direction**2).reshape(len(x), -1).sum(axis=1))
    np.testing.assert_allclose(fd, analytic, atol=0.02 * float(np.median(scale)) + 1e-3)
    # save / load / pickle reproduce the distribution and the gradients
    est.save(tmp_path / "fold0")
    loaded = SingleBandCNN.load(tmp_path / "fold0")
    again = loaded.predict(test)
    np.testing.assert_array_equal(again.mean, pred.mean)
    np.testing.assert_array_equal(again.sigma, pred.sigma)
    np.testing.assert_array_equal(loaded.input_gradients(jt)["xray_map"], est.input_gradients(jt)["xray_map"])
    clone = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(clone.predict(test).sigma, pred.sigma)


def test_ensemble_member_zero_is_the_single_network(single_views):
    """Member 0 keeps the unit seed: its mean head equals a single network trained with that seed."""
    from massbench.plugins.cnn_tf.probabilistic import split_outputs

    train, val, test = single_views
    one = SingleBandCNN(epochs=1, patience=5, **SMALL)
    _fit(one, train, val, seed=5)
    two = SingleBandCNN(epochs=1, patience=5, ensemble=2, **SMALL)
    _fit(two, train, val, seed=5)
    z = one._network_input(test)
    means, _ = split_outputs(two.model_.predict(z, verbose=0), 2, False)
    np.testing.assert_allclose(two.scaling_.unscale_target(means[0]), one.predict(test), atol=1e-6)
    assert not np.allclose(means[0], means[1])  # a differently seeded second member
    assert isinstance(one.predict(test), np.ndarray)  # point estimators are unchanged


def test_probabilistic_params_are_validated():
    from massbench.params import check_params

    with pytest.raises(ConfigError, match=r"loss must be 'mse' \(paper, equation 8\), 'mae' or 'gaussian_nll'"):
        SingleBandCNN(loss="nll")
    for bad in (0, 21):
        with pytest.raises(ConfigError, match="cnn-multi-band: ensemble must be an integer from 1 to 20"):
            MultiBandCNN(ensemble=bad)
    assert check_params(SingleBandCNN, {"loss": "gaussian_nll", "ensemble": 3}) == []
    problems = check_params(SingleBandCNN, {"loss": "nll"})
    assert problems and "gaussian_nll" in " ".join(problems)


def test_multiband_gaussian_nll_predicts_a_gaussian():
    from massbench.prediction import check_prediction

    cat = synthetic_catalogue(n=60, size=16, bands=3, seed=4)
    train, val, test = split_views(cat, "xray_bands", n_val=10, n_test=10)
    est = MultiBandCNN(epochs=1, patience=5, loss="gaussian_nll", **SMALL)
    _fit(est, train, val)
    pred = check_prediction(est.predict(test), 10)
    assert np.all(pred.sigma > 0)
    assert est.input_gradients(test)["xray_bands"].shape == (10, 16, 16, 3)
