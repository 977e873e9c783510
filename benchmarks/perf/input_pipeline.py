"""Is the input pipeline the bottleneck? Training steps per second against the pipeline alone (a no-op model).

Issue 22, item 4: once bfloat16 makes the networks faster, the input pipeline must not limit
training. For the erosita-lite networks' shapes (fold 0 of the lite mock: 654 training clusters,
batches of 50) this script times, on synthetic inputs of the real sizes:

- ``cnn``: the CNN's ``tf.data`` training pipeline (:func:`~massbench.plugins.cnn_tf.pipeline.training_dataset`:
  seeded shuffle, batch gather from in-memory maps, prefetch) iterated with no model, against
  ``SingleBandCNN.fit`` (the lite's params: 128x128 maps summed to 64x64, ``rebin: 2``) in each precision;
- ``fusion``: the fusion net's loader (:class:`~massbench.plugins.fusion_torch.data.FusionRows` from
  memory-mapped ``.npy`` files on disk, as the process executor's workers read them: equations
  1-2 per batch, 64^3 cubes) iterated with no model, against ``FusionXrayDyn.fit`` (the lite's
  params: ``cube_size: 16``, ``xray_strides: [2, 2, 1, 1]``) in each precision.

Reports steps (batches) per second of each, and CPU-seconds per step (the process's CPU time: less
sensitive to other users of a shared machine; exact with one thread, ``OMP_NUM_THREADS=1``; the
fit's includes its validation passes and input moments); the pipeline is not the bottleneck
when its rate is well above the training rate (the share of a training step it would take is
training / pipeline).

    python benchmarks/perf/input_pipeline.py                       # both, float32 and bfloat16
    python benchmarks/perf/input_pipeline.py --only fusion --precisions bfloat16 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from massbench import Catalogue, InputArray, RunContext


def _catalogue(n: int, workdir: Path, fusion: bool) -> Catalogue:
    rng = np.random.default_rng(0)
    logm = rng.uniform(13.5, 15.0, n)
    inputs: dict[str, InputArray] = {}
    if fusion:
        maps = np.lib.format.open_memmap(workdir / "maps.npy", "w+", np.float32, (n, 128, 128, 3))
        cubes = np.lib.format.open_memmap(workdir / "cubes.npy", "w+", np.float32, (n, 64, 64, 64))
        for i in range(n):
            maps[i] = rng.poisson(0.05 * 10 ** (logm[i] - 13.5), (128, 128, 3))
            c = rng.random((64, 64, 64), dtype=np.float32)
            cubes[i] = c / c.sum()
        maps.flush()
        cubes.flush()
        del maps, cubes
        inputs["xray_bands"] = InputArray(np.load(workdir / "maps.npy", mmap_mode="r"), "count")
        inputs["dyn_cube"] = InputArray(np.load(workdir / "cubes.npy", mmap_mode="r"))
        inputs["galaxies"] = InputArray(np.empty(n, dtype=object))
    else:
        lam = 0.05 * 10 ** (logm - 13.5)
        inputs["xray_map"] = InputArray(rng.poisson(lam[:, None, None], (n, 128, 128)).astype(np.float32), "count")
    return Catalogue(
        name="perf",
        cluster_id=np.arange(n),
        positions=rng.uniform(0, 100, (n, 3)),
        box_size=100.0,
        redshift=rng.uniform(0.07, 0.47, n),
        log10_m500c=logm,
        inputs=inputs,
    )


def cnn(args: argparse.Namespace, workdir: Path) -> dict:
    from massbench.plugins.cnn_tf.estimator import SingleBandCNN
    from massbench.plugins.cnn_tf.pipeline import read_counts, training_dataset

    cat = _catalogue(args.n_train + args.n_val, workdir, fusion=False)
    idx = np.arange(len(cat))
    train = cat.view(idx[: args.n_train], ["xray_map"], role="train")
    val = cat.view(idx[args.n_train :], ["xray_map"], role="val")
    x = read_counts(train, "xray_map", 1, rebin=2)
    ds = training_dataset(x, np.zeros(len(x)), args.batch_size, seed=0)
    for _ in ds:  # warm-up epoch (graph building)
        pass
    t0, c0, n = time.perf_counter(), time.process_time(), 0
    for _ in range(args.epochs):
        for _ in ds:
            n += 1
    out: dict = {
        "pipeline_steps_per_s": n / (time.perf_counter() - t0),
        "pipeline_cpu_s_per_step": (time.process_time() - c0) / n,
    }
    for precision in args.precisions:
        est = SingleBandCNN(epochs=args.epochs + 1, patience=0, rebin=2, l2_output=True, precision=precision)
        est.context = RunContext(seed=0, device="cpu", deterministic=True)
        c0 = time.process_time()
        est.fit(train, val)
        used = est.context.info["precision"]
        out[f"train_steps_per_s_{used}"] = est.context.info["train_images_per_s"] / args.batch_size
        steps = (args.epochs + 1) * -(-args.n_train // args.batch_size)
        out[f"fit_cpu_s_per_step_{used}"] = (time.process_time() - c0) / steps
    return out


def fusion(args: argparse.Namespace, workdir: Path) -> dict:
    import torch

    from massbench.plugins.fusion_torch.data import FusionRows, batch_loader
    from massbench.plugins.fusion_torch.estimator import FusionXrayDyn
    from massbench.preprocessing import fit_redshift_normalisation

    cat = _catalogue(args.n_train + args.n_val, workdir, fusion=True)
    inputs = ["xray_bands", "dyn_cube", "galaxies"]
    idx = np.arange(len(cat))
    train = cat.view(idx[: args.n_train], inputs, role="train")
    val = cat.view(idx[args.n_train :], inputs, role="val")
    norm = fit_redshift_normalisation(train.lazy("xray_bands"), train.redshift)
    rows = FusionRows(train.lazy("xray_bands"), train.lazy("dyn_cube"), train.redshift, norm, train.log10_m500c)
    loader = batch_loader(rows, args.batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))
    for _ in loader:  # warm-up epoch (page cache)
        pass
    t0, c0, n = time.perf_counter(), time.process_time(), 0
    for _ in range(args.epochs):
        for _ in loader:
            n += 1
    out: dict = {
        "pipeline_steps_per_s": n / (time.perf_counter() - t0),
        "pipeline_cpu_s_per_step": (time.process_time() - c0) / n,
    }
    for precision in args.precisions:
        est = FusionXrayDyn(
            epochs=args.epochs, patience=args.epochs, cube_size=16, xray_strides=[2, 2, 1, 1], precision=precision
        )
        est.context = RunContext(seed=0, device="cpu", workdir=workdir, cache_dir=workdir, deterministic=True)
        c0 = time.process_time()
        est.fit(train, val)
        used = est.context.info["precision"]
        out[f"train_steps_per_s_{used}"] = est.context.info["fusion_train_cubes_per_second"] / args.batch_size
        steps = args.epochs * -(-args.n_train // args.batch_size)
        out[f"fit_cpu_s_per_step_{used}"] = (time.process_time() - c0) / steps
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["cnn", "fusion"], default=None)
    ap.add_argument("--precisions", default="float32,bfloat16", help="comma-separated precision params")
    ap.add_argument("--n-train", type=int, default=654, help="training clusters (lite fold 0: 654)")
    ap.add_argument("--n-val", type=int, default=73)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    args.precisions = args.precisions.split(",")
    out: dict = {"load_average_1min_before": os.getloadavg()[0], "cpus": os.cpu_count()}
    for name, fn in (("cnn", cnn), ("fusion", fusion)):
        if args.only not in (None, name):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            res = fn(args, Path(tmp))
        out[name] = res
        pipe, pipe_cpu = res["pipeline_steps_per_s"], res["pipeline_cpu_s_per_step"]
        print(f"{name}: input pipeline alone {pipe:.1f} steps/s, {pipe_cpu:.3f} CPU-s per step", flush=True)
        for key, value in res.items():
            if key.startswith("train_steps_per_s_"):
                used = key[18:]
                cpu = res[f"fit_cpu_s_per_step_{used}"]
                print(
                    f"  training, {used}: {value:.2f} steps/s (the pipeline would take {100 * value / pipe:.0f} % "
                    f"of a step); fit {cpu:.3f} CPU-s per step (pipeline share {100 * pipe_cpu / cpu:.0f} %)"
                )
    out["load_average_1min_after"] = os.getloadavg()[0]
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
