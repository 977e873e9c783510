"""Speed of the saliency study on 3,285 clusters (issue 8: one CNN's saliency for all 3,285
clusters within a minute on the development CPU).

Times, on a synthetic catalogue of the paper's size (128 x 128 maps, beta-model ICM plus
point-like AGN; :mod:`massbench.plugins.saliency.synthetic`):

- ``generate``: building the synthetic catalogue (not part of the study; reported for context);
- ``explain_folds``: ``GradientSaliency.explain_fold`` over 8 folds with a numpy linear model whose
  gradient is free, i.e. the explainer's own per-fold work (|gradient|, per-input sums, recovering
  the eq. 1 factor from ``transform``, fitting the N_phot reference proxy on each training fold);
- ``summarize``: radial profiles (pooled quantiles in 100 r/R500c bins), source masks (eq. 14),
  pooled-pixel statistics, without figures, and ``summarize_figures`` with the PNGs;
- with ``--cnn``: the TensorFlow ``cnn-single-band`` estimator (fitted for ``--cnn-epochs`` epochs on
  ``--cnn-train`` clusters, untuned) computing ``input_gradients`` for all 3,285 maps, and the whole
  per-fold explanation with it (``cnn_explain_folds``).

    python benchmarks/perf/saliency_speed.py                  # explainer and summary only
    python benchmarks/perf/saliency_speed.py --cnn --json out.json

Reports seconds per step, clusters per second, the machine's CPU count and 1-minute load average
(the development machine is shared; a busy CPU is slower).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from massbench import Estimator, RunContext
from massbench.plugins.saliency.explainer import GradientSaliency
from massbench.plugins.saliency.synthetic import synthetic_catalogue
from massbench.preprocessing import fit_redshift_normalisation, preprocess_maps

SNAPSHOT_Z = (0.0663, 0.1011, 0.1371, 0.1742, 0.2125, 0.2521, 0.2930, 0.3352, 0.3787, 0.4237, 0.4702)


class LinearMap(Estimator):
    """log10 M = sum w x + b on eq. 1-2 maps: a model whose gradient costs nothing."""

    name = "linear-map"
    inputs = ("xray_map",)

    def __init__(self, seed: int = 0) -> None:
        self.w = np.abs(np.random.default_rng(seed).normal(0.0, 1e-4, (128, 128)))

    def fit(self, train, val):
        self.norm = fit_redshift_normalisation(train.lazy("xray_map"), train.redshift)

    def transform(self, view):
        return {"xray_map": preprocess_maps(view["xray_map"], view.redshift, self.norm)}

    def predict(self, test):
        return (self.transform(test)["xray_map"] * self.w).sum(axis=(1, 2))

    def input_gradients(self, view):
        return {"xray_map": np.broadcast_to(self.w, (len(view), 128, 128)).astype(np.float32)}


def explain_all(cat, est, explainer, n_folds: int = 8, fit: bool = True):
    n = len(cat)
    folds = np.array_split(np.random.default_rng(0).permutation(n), n_folds)
    parts, order = [], []
    for k in range(n_folds):
        te = folds[k]
        tr = np.concatenate([folds[j] for j in range(n_folds) if j != k])
        if fit:
            est.fit(cat.view(tr, est.inputs, "train"), None)
        arrays = explainer.explain_fold(
            est,
            cat.view(te, est.inputs, "test"),
            cat.view(te, None, "truth", allow_truth=True),
            cat.view(tr, None, "truth", allow_truth=True),
            RunContext(),
        )
        parts.append(arrays)
        order.append(te)
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return merged, cat.view(np.concatenate(order), None, "truth", allow_truth=True)


def timed(results: dict, key: str, fn, n: int):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    results[key] = {"seconds": round(dt, 2), "clusters_per_second": round(n / dt, 1)}
    print(f"{key:22s} {dt:8.2f} s   {n / dt:9.1f} clusters/s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=3285, help="clusters (the paper's sample: 3285)")
    ap.add_argument("--cnn", action="store_true", help="also time the TensorFlow cnn-single-band gradients")
    ap.add_argument("--cnn-train", type=int, default=256, help="clusters to fit the timed CNN on")
    ap.add_argument("--cnn-epochs", type=int, default=1, help="epochs to fit the timed CNN for")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)

    res: dict = {
        "n_clusters": args.n,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }
    cat = timed(
        res, "generate", lambda: synthetic_catalogue(args.n, seed=1, with_bands=False, redshifts=SNAPSHOT_Z), args.n
    )
    explainer = GradientSaliency(figures=False)
    merged, truth = timed(res, "explain_folds", lambda: explain_all(cat, LinearMap(), explainer), args.n)
    timed(res, "summarize", lambda: explainer.summarize("linear-map", merged, truth, Path(tempfile.mkdtemp())), args.n)
    with_figs = GradientSaliency(figures=True)
    timed(
        res,
        "summarize_figures",
        lambda: with_figs.summarize("linear-map", merged, truth, Path(tempfile.mkdtemp())),
        args.n,
    )

    if args.cnn:
        from massbench.plugins.cnn_tf.estimator import SingleBandCNN

        est = SingleBandCNN(epochs=args.cnn_epochs, patience=0)
        idx = np.arange(args.n)
        tr = idx[: args.cnn_train]
        t0 = time.perf_counter()
        est.fit(
            cat.view(tr, est.inputs, "train"), cat.view(idx[args.cnn_train : args.cnn_train + 64], est.inputs, "val")
        )
        res["cnn_fit_seconds"] = round(time.perf_counter() - t0, 2)
        view = cat.view(idx, est.inputs, "test")
        est.input_gradients(view.subview(np.arange(8)))  # trace the tf.function once
        timed(res, "cnn_input_gradients", lambda: est.input_gradients(view), args.n)
        timed(res, "cnn_explain_folds", lambda: explain_all(cat, est, explainer, fit=False), args.n)
        res["cnn_device"] = est.context.info.get("device_used", "cpu")

    res["loadavg_1min"] = os.getloadavg()[0]
    print(f"load average (1 min): {res['loadavg_1min']:.2f} on {res['cpu_count']} CPUs")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
