"""``run.deterministic`` (issue 15, item 5): parsed from the benchmark file, handed to every unit's
RunContext by every executor, recorded in run.json, and applied by the CNN and fusion estimators
(TensorFlow op determinism; torch deterministic algorithms with cuDNN's flags), whose seeded fits
then repeat bit for bit. Only the CPU path can run here; the GPU path is reasoned in docs/cnn.md
and docs/fusion.md."""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from massbench import RunContext
from massbench.config import parse_benchmark
from massbench.errors import ConfigError
from massbench.runner import RunOptions, run_benchmark

BENCH = """\
benchmark: det
version: "1.0"
dataset:
  name: toy-cached
  params: {n_clusters: 80, seed: 3}
cv:
  scheme: random
  n_folds: 2
  seed: 0
estimators:
  - name: toy-context
"""


@pytest.fixture
def registry():
    from massbench.registry import load_registry

    from . import executor_plugin, toyplugin

    return load_registry(extra=[toyplugin, executor_plugin], use_entry_points=False)


# --------------------------------------------------------------------------- the benchmark file


def test_run_deterministic_defaults_to_true_and_round_trips() -> None:
    b = parse_benchmark(BENCH, "b.yaml")
    assert b.run.deterministic is True
    assert "run" not in b.as_dict()  # the default leaves the parsed layout as before
    off = parse_benchmark(BENCH + "run:\n  deterministic: false\n", "b.yaml")
    assert off.run.deterministic is False and off.as_dict()["run"] == {"deterministic": False}
    # the dask executor's workers re-read the configuration from as_dict()
    assert parse_benchmark(yaml.safe_dump(off.as_dict()), "again.yaml").run.deterministic is False
    on = parse_benchmark(BENCH + "run:\n  deterministic: true\n  timeout: 30\n", "b.yaml")
    assert on.run.deterministic is True and on.as_dict()["run"] == {"timeout": 30.0}
    with pytest.raises(ConfigError, match=r"b.yaml:\d+: run.deterministic must be true or false, got 'yes'"):
        parse_benchmark(BENCH + "run:\n  deterministic: 'yes'\n", "b.yaml")
    with pytest.raises(ConfigError, match=r"unknown key run.determinstic; did you mean 'deterministic'\?"):
        parse_benchmark(BENCH + "run:\n  determinstic: true\n", "b.yaml")


@pytest.mark.parametrize(("executor", "flag"), [("process", True), ("process", False), ("inline", True)])
def test_every_unit_gets_the_setting_and_run_json_records_it(registry, tmp_path, executor, flag) -> None:
    text = BENCH + f"run:\n  deterministic: {str(flag).lower()}\n"
    out = tmp_path / "out"
    bench = parse_benchmark(textwrap.dedent(text), str(tmp_path / "bench.yaml"), registry)
    assert run_benchmark(bench, registry, RunOptions(out=out, executor=executor, cache_dir=tmp_path / "c")) == 0
    assert json.loads((out / "run.json").read_text())["deterministic"] is flag
    records = sorted((out / "units" / "toy-context").glob("fold*.json"))
    assert len(records) == 2
    for path in records:
        assert json.loads(path.read_text())["info"]["context_deterministic"] is flag, path


def test_run_context_is_not_deterministic_outside_a_run() -> None:
    assert RunContext().deterministic is False


# --------------------------------------------------------------------------- TensorFlow CNN

needs_tf = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="tensorflow is not installed")
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")


@pytest.fixture(scope="module")
def map_views():
    from massbench.plugins.cnn_tf.synthetic import split_views, synthetic_catalogue

    return split_views(synthetic_catalogue(n=80, size=16, bands=1, seed=1), "xray_map", n_val=16, n_test=16)


SMALL_CNN = dict(conv_filters=[4, 4], conv_kernels=[3, 3], pool_sizes=[2], dense_units=[8], dropout=0.2)


def _cnn_fit(views, deterministic_run: bool, **params):
    from massbench.plugins.cnn_tf.estimator import SingleBandCNN
    from massbench.plugins.cnn_tf.tf_runtime import op_determinism_enabled

    train, val, test = views
    seen: list[bool] = []
    est = SingleBandCNN(epochs=2, patience=5, **SMALL_CNN, **params)
    est.context = RunContext(
        seed=11,
        device="cpu",
        deterministic=deterministic_run,
        progress=lambda **kw: seen.append(op_determinism_enabled()),
    )
    est.fit(train, val)
    return est, seen, test


@pytest.mark.tf
@needs_tf
def test_cnn_applies_tf_op_determinism_from_the_run_and_repeats_bit_for_bit(map_views) -> None:
    from massbench.plugins.cnn_tf.tf_runtime import op_determinism_enabled

    a, seen, test = _cnn_fit(map_views, True)
    assert seen == [True, True]  # on during every training epoch
    assert a.context.info["deterministic"] is True and a.context.info["xla"] is False
    assert op_determinism_enabled() is False  # restored after fit
    b, _, _ = _cnn_fit(map_views, True)
    np.testing.assert_array_equal(a.predict(test), b.predict(test))
    ga, gb = a.input_gradients(test)["xray_map"], b.input_gradients(test)["xray_map"]
    np.testing.assert_array_equal(ga, gb)
    assert op_determinism_enabled() is False


@pytest.mark.tf
@needs_tf
def test_cnn_param_overrides_the_run_and_xla_stays_off_while_deterministic(map_views) -> None:
    off, seen, _ = _cnn_fit(map_views, True, deterministic=False)
    assert seen == [False, False] and off.context.info["deterministic"] is False
    on, seen, _ = _cnn_fit(map_views, False, deterministic=True, xla=True)
    assert seen == [True, True] and on.context.info["xla"] is False
    assert "XLA is disabled" in on.context.info["xla_note"]


# --------------------------------------------------------------------------- torch fusion net


def _torch_flags() -> tuple[bool, bool, bool]:
    import torch

    return (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )


def _fusion_fit(tmp_path: Path, deterministic_run: bool, **params):
    from massbench.plugins.fusion_torch.estimator import FusionXrayDyn

    from .test_fusion_estimator import SMALL, split, tiny_catalogue

    seen: list[tuple[bool, bool, bool]] = []
    est = FusionXrayDyn(**{**SMALL, "epochs": 2, **params})
    est.context = RunContext(
        seed=5,
        device="cpu",
        workdir=tmp_path,
        cache_dir=tmp_path / "cache",
        deterministic=deterministic_run,
        progress=lambda **kw: seen.append(_torch_flags()),
    )
    train, val, test = split(tiny_catalogue())
    est.fit(train, val)
    return est, seen, test


@pytest.mark.torch
@needs_torch
def test_fusion_applies_torch_determinism_from_the_run_and_repeats_bit_for_bit(tmp_path) -> None:
    before = _torch_flags()
    a, seen, test = _fusion_fit(tmp_path / "a", True)
    assert seen == [(True, True, False)] * 2  # deterministic algorithms and cuDNN flags in every epoch
    assert a.context.info["deterministic"] is True and a.context.info["fusion_deterministic"] is True
    assert _torch_flags() == before  # restored after fit
    b, _, _ = _fusion_fit(tmp_path / "b", True)
    np.testing.assert_array_equal(a.predict(test), b.predict(test))
    ga, gb = a.input_gradients(test), b.input_gradients(test)
    for key in ("xray_bands", "dyn_cube"):
        np.testing.assert_array_equal(ga[key], gb[key])
    assert _torch_flags() == before


@pytest.mark.torch
@needs_torch
def test_fusion_param_overrides_the_run(tmp_path) -> None:
    est, seen, _ = _fusion_fit(tmp_path, True, deterministic=False)
    assert [flags[0] for flags in seen] == [False, False] and est.context.info["deterministic"] is False
    with pytest.raises(ConfigError, match="deterministic must be true, false or null"):
        from massbench.plugins.fusion_torch.estimator import FusionXrayDyn

        FusionXrayDyn(deterministic="yes")  # type: ignore[arg-type]


@pytest.mark.torch
@needs_torch
def test_cube_pooling_is_avg_pool3d_written_with_a_deterministic_gradient() -> None:
    import torch
    from torch.nn import functional as F

    from massbench.plugins.fusion_torch.network import block_mean_3d

    cube = torch.rand(2, 16, 16, 16, requires_grad=True)
    pooled = block_mean_3d(cube, 4)
    torch.testing.assert_close(pooled, F.avg_pool3d(cube.unsqueeze(1), 4).squeeze(1))
    (grad,) = torch.autograd.grad(pooled.sum(), cube)
    torch.testing.assert_close(grad, torch.full_like(cube, 1 / 64))
