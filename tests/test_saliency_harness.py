"""The saliency explainer driven by the real harness: benchmark file -> run -> explanations.

A synthetic photon-map dataset and a linear map estimator (with save/load) are registered
directly; the saliency explainer and the proxy estimators come from the built-in plugins.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np

from massbench import Estimator, hookimpl
from massbench.config import load_benchmark
from massbench.plugins.saliency.synthetic import synthetic_catalogue
from massbench.preprocessing import RedshiftNormalisation, fit_redshift_normalisation, preprocess_maps
from massbench.registry import load_registry
from massbench.runner import RunOptions, run_benchmark


class SyntheticMaps:
    """Synthetic photon maps with ICM/AGN components (massbench.plugins.saliency.synthetic)."""

    name = "synthetic-maps"

    def __init__(self, n_clusters: int = 96, seed: int = 0):
        self.n_clusters = n_clusters
        self.seed = seed

    def load(self, context):
        cat = synthetic_catalogue(self.n_clusters, seed=self.seed, with_bands=False)
        cat.meta["cache_key"] = f"synthetic-maps-{self.n_clusters}-{self.seed}"
        return cat


class SavedLinearMap(Estimator):
    """log10 M = sum w x + b on the eq. 1-2 maps, least squares on a 4x4 block-averaged map."""

    name = "saved-linear-map"
    inputs = ("xray_map",)

    def __init__(self, ridge: float = 1.0):
        self.ridge = ridge

    def _x(self, view):
        return preprocess_maps(view["xray_map"], view.redshift, self.norm)

    def fit(self, train, val):
        self.norm = fit_redshift_normalisation(train.lazy("xray_map"), train.redshift)
        x = self._x(train).reshape(len(train), 32, 4, 32, 4).mean(axis=(2, 4)).reshape(len(train), -1)
        y = train.log10_m500c
        a = np.column_stack([x, np.ones(len(x))])
        coef = np.linalg.solve(a.T @ a + self.ridge * np.eye(a.shape[1]), a.T @ y)
        self.w = np.repeat(np.repeat(coef[:-1].reshape(32, 32), 4, axis=0), 4, axis=1) / 16.0
        self.b = float(coef[-1])

    def transform(self, view):
        return {"xray_map": self._x(view)}

    def predict(self, test):
        return (self._x(test) * self.w).sum(axis=(1, 2)) + self.b

    def input_gradients(self, view):
        return {"xray_map": np.broadcast_to(self.w, (len(view), 128, 128)).astype(np.float32)}

    def save(self, directory: Path) -> None:
        np.savez(Path(directory) / "model.npz", w=self.w, b=self.b, **{k: v for k, v in self.norm.to_dict().items()})

    @classmethod
    def load(cls, directory: Path) -> "SavedLinearMap":
        est = cls()
        with np.load(Path(directory) / "model.npz") as z:
            est.w, est.b = z["w"], float(z["b"])
            est.norm = RedshiftNormalisation(float(z["gamma"]), float(z["eta"]), float(z["n0"]))
        return est


class _LocalPlugin:
    @hookimpl
    def massbench_datasets(self):
        return [SyntheticMaps]

    @hookimpl
    def massbench_estimators(self):
        return [SavedLinearMap]


BENCH = """\
benchmark: saliency-e2e
version: "1.0"
dataset:
  name: synthetic-maps
  params: {n_clusters: 96, seed: 2}
cv:
  scheme: random
  n_folds: 2
  val_fraction: 0.1
  seed: 0
estimators:
  - name: saved-linear-map
    label: Linear map
    params: {ridge: 0.1}   # ridge 1 shrinks the intercept until 3 predictions fall below log10 M = 10
  - name: proxy-n-phot
    params: {redshift_bins: none}
explainers:
  - name: saliency
    estimators: [Linear map, proxy-n-phot]
    params: {reference_redshift_bins: none, n_examples: 2}
"""


def test_benchmark_file_runs_the_saliency_explainer(tmp_path):
    from massbench.plugins.proxies import plugin as proxies_plugin
    from massbench.plugins.saliency import plugin as saliency_plugin

    registry = load_registry(extra=[_LocalPlugin(), saliency_plugin, proxies_plugin], use_entry_points=False)
    path = tmp_path / "bench.yaml"
    path.write_text(textwrap.dedent(BENCH))
    out = tmp_path / "run"
    assert run_benchmark(load_benchmark(path, registry), registry, RunOptions(out=out)) == 0
    summary = json.loads((out / "explanations" / "summary.json").read_text(), parse_constant=lambda c: 1 / 0)
    lin = summary["saliency"]["Linear map"]
    assert lin["status"] == "ok", lin.get("error")
    assert lin["n_clusters"] == 96 and lin["kind"] == "single-band"
    assert lin["masks"]["agn"]["median_log10"] is not None and lin["masks"]["icm"]["median_log10"] is not None
    assert set(lin["radial"]["ratio_cnn_to_nphot"]) == {"0.07", "1"}
    proxy = summary["saliency"]["proxy-n-phot"]
    assert proxy["status"] == "ok", proxy.get("error")
    assert proxy["kind"] == "nphot-proxy"
    # the proxy's saliency follows the photons: AGN-dominated pixels outweigh ICM-dominated ones
    assert proxy["masks"]["agn_to_icm_median_ratio"] > 1
    xdir = out / "explanations" / "saliency"
    folds = sorted(p.name for p in xdir.rglob("fold*.npz"))
    assert folds == ["fold0.npz", "fold0.npz", "fold1.npz", "fold1.npz"]
    assert len(list(xdir.rglob("fig7_radial_profiles.png"))) == 2
    report = (out / "report.md").read_text()
    assert "AGN-dominated pixels" in report and "0.07 R500c" in report


def test_saved_fold_arrays_are_reused_only_while_the_explainer_settings_hold(tmp_path, monkeypatch):
    """A re-explained run reuses fold<k>.npz while the explainer's fingerprint (defaults included)
    is unchanged, and recomputes them when it changes (e.g. a new default for ``wrt``)."""
    from massbench.explain import run_explainers
    from massbench.plan import prepare
    from massbench.plugins.proxies import plugin as proxies_plugin
    from massbench.plugins.saliency import plugin as saliency_plugin
    from massbench.plugins.saliency.explainer import GradientSaliency

    registry = load_registry(extra=[_LocalPlugin(), saliency_plugin, proxies_plugin], use_entry_points=False)
    path = tmp_path / "bench.yaml"
    path.write_text(textwrap.dedent(BENCH).replace("n_examples: 2", "n_examples: 0, figures: false"))
    out = tmp_path / "run"
    bench = load_benchmark(path, registry)
    assert run_benchmark(bench, registry, RunOptions(out=out)) == 0
    npz = out / "explanations" / "saliency" / "Linear-map" / "fold0.npz"
    with np.load(npz) as z:
        meta = json.loads(str(z["__meta__"]))
    assert meta["settings"] == GradientSaliency(reference_redshift_bins="none").fingerprint()
    lin = json.loads((out / "explanations" / "summary.json").read_text())["saliency"]["Linear map"]
    assert lin["gradient"]["wrt"] == "standardised (undeclared: s = 1)"  # SavedLinearMap declares no std
    stamp = npz.stat().st_mtime_ns

    run_explainers(prepare(bench, registry, "cpu", None), out, RunOptions(out=out))
    assert npz.stat().st_mtime_ns == stamp  # same settings: reused
    monkeypatch.setattr(GradientSaliency, "version", GradientSaliency.version + 1)
    run_explainers(prepare(bench, registry, "cpu", None), out, RunOptions(out=out))
    assert npz.stat().st_mtime_ns != stamp  # changed settings: recomputed
