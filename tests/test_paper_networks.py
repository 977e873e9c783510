"""benchmarks/erosita.yaml builds the paper's three networks (issue 15, item 1), and every shipped
benchmark file runs deterministically (item 5).

The reference is the paper's notebook (McWilliamsCenter/halo_cnn, notebooks/run-multi-final.ipynb;
shared/notes/paper-notebook.md): its ``make_model`` functions for the "X-ray only", "Multiband" and
"Dyn+X-ray" models. Nothing is trained here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from massbench.config import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "benchmarks" / "erosita.yaml"
LITE = ROOT / "benchmarks" / "erosita-lite.yaml"
NETWORKS = ("cnn-single-band", "cnn-multi-band", "fusion-xray-dyn")

# Single band, 128x128x1, "same" padding (parameters = kernel weights + biases):
#   conv1 5*5*1*24 + 24 = 624      conv2 3*3*24*10 + 10 = 2,170    pool 4 -> 32x32
#   conv3 5*5*10*24 + 24 = 6,024   conv4 3*3*24*10 + 10 = 2,170    pool 2 -> 16x16x10 = 2,560
#   dense 2,560*128 + 128 = 327,808; 128*128 + 128 = 16,512; 128*64 + 64 = 8,256; output 64 + 1 = 65
SINGLE_BAND = 624 + 2_170 + 6_024 + 2_170 + 327_808 + 16_512 + 8_256 + 65
# Multi-band: the same layers on 3 channels; only conv1's kernel grows, to 5*5*3*24 + 24 = 1,824
# (1,200 more weights); dropout adds no parameters.
MULTI_BAND = SINGLE_BAND - 624 + 1_824
# Fusion (notebook "Dyn+X-ray"), 2D branch on 128x128x3 with strides 2, 2, 2, 1 ("same" padding):
#   conv 5*5*3*24 + 24 = 1,824 (-> 64) ; conv 3*3*24*10 + 10 = 2,170 (-> 32) ; pool 4 -> 8
#   conv 5*5*10*24 + 24 = 6,024 (-> 4) ; conv 3*3*24*10 + 10 = 2,170 (-> 4) ; pool 2 -> 2x2x10 = 40
#   dense 40*128 + 128 = 5,248
# 3D branch on 64^3 x (1 cube + 3 tied map channels), "valid" padding:
#   conv 5^3*4*24 + 24 = 12,024 (-> 60, pool -> 30) ; conv 3^3*24*16 + 16 = 10,384 (-> 28, pool -> 14)
#   conv 1*16*8 + 8 = 136 (-> 14, pool -> 7) ; dense 7^3*8*128 + 128 = 351,360
# head: 256*128 + 128 = 32,896 ; 128*64 + 64 = 8,256 ; 64 + 1 = 65
FUSION = (1_824 + 2_170 + 6_024 + 2_170 + 5_248) + (12_024 + 10_384 + 136 + 351_360) + (32_896 + 8_256 + 65)


def _params(path: Path) -> dict[str, dict]:
    bench = load_benchmark(path)
    return {e.name: dict(e.params) for e in bench.estimators if e.name in NETWORKS}


def test_documented_counts_add_up() -> None:
    assert (SINGLE_BAND, MULTI_BAND, FUSION) == (363_629, 364_829, 432_557)


def test_paper_file_sets_the_notebooks_training_choices() -> None:
    p = _params(PAPER)
    assert set(p) == set(NETWORKS)
    for name, (loss, batch, epochs, dropout) in {
        "cnn-single-band": ("mse", 50, 200, 0.0),
        "cnn-multi-band": ("mae", 50, 200, 0.1),
        "fusion-xray-dyn": ("mse", 100, 400, 0.1),
    }.items():
        q = p[name]
        assert (q["loss"], q["batch_size"], q["epochs"], q["patience"], q["dropout"]) == (
            loss,
            batch,
            epochs,
            20,
            dropout,
        ), name
        assert q["l2"] == pytest.approx(1e-4) and q["l2_output"] is True, name
        assert q["learning_rate"] == pytest.approx(1e-3), name
        assert "rebin" not in q and q.get("cube_size", 64) == 64, f"{name} must see the full-resolution inputs"
    assert p["fusion-xray-dyn"]["xray_strides"] == [2, 2, 2, 1]


def test_lite_file_uses_the_papers_losses_and_l2_placement() -> None:
    paper, lite = _params(PAPER), _params(LITE)
    for name in NETWORKS:
        assert lite[name]["loss"] == paper[name]["loss"], name
        assert lite[name]["l2_output"] is True, name


@pytest.mark.tf
@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="tensorflow is not installed")
def test_cnns_built_from_the_paper_file_have_the_notebooks_layers_and_counts() -> None:
    from massbench.plugins.cnn_tf.architecture import build_cnn
    from massbench.plugins.cnn_tf.estimator import MultiBandCNN, SingleBandCNN

    p = _params(PAPER)
    for cls, channels, expected in ((SingleBandCNN, 1, SINGLE_BAND), (MultiBandCNN, 3, MULTI_BAND)):
        est = cls(**p[cls.name])
        model = build_cnn((128, 128, channels), est.architecture)
        assert model.count_params() == expected, cls.name
        kernels = [layer for layer in model.layers if hasattr(layer, "kernel")]
        assert [layer.name for layer in kernels][-1] == "output"
        # the notebook: kernel_regularizer=l2(1e-4) on every Conv2D and Dense, the output included
        assert all(layer.kernel_regularizer is not None for layer in kernels), cls.name
        assert all(layer.kernel_regularizer.l2 == pytest.approx(1e-4) for layer in kernels), cls.name
        n_dropout = sum(1 for layer in model.layers if layer.name.startswith("dropout"))
        assert n_dropout == (3 if cls is MultiBandCNN else 0), cls.name


@pytest.mark.torch
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_fusion_net_built_from_the_paper_file_has_the_notebooks_count_and_l2() -> None:
    from massbench.plugins.fusion_torch.estimator import FusionXrayDyn
    from massbench.plugins.fusion_torch.network import FusionNet, count_parameters

    est = FusionXrayDyn(**_params(PAPER)["fusion-xray-dyn"])
    net = FusionNet(est._config(map_size=128, cube_input=64))
    assert count_parameters(net) == FUSION
    # L2 on every kernel, the output layer's included (12 kernels: 4 + 1, 3 + 1, 2 + 1)
    assert est.l2_output and len(net.kernels(output=est.l2_output)) == 12
    assert any(k is net.head[-1].weight for k in net.kernels(output=True))
    assert not any(k is net.head[-1].weight for k in net.kernels(output=False))


def test_every_shipped_benchmark_file_is_deterministic() -> None:
    files = sorted((ROOT / "benchmarks").glob("*.yaml"))
    assert len(files) >= 4
    for path in files:
        raw = yaml.safe_load(path.read_text())
        assert raw.get("run", {}).get("deterministic") is True, f"{path.name}: set run.deterministic: true"
        assert load_benchmark(path).run.deterministic is True
