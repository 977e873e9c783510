"""Training throughput of the paper's CNN through massbench against a plain ``model.fit`` (images per second).

Trains the same network (sections 4 / 5.1: Conv 24@5, Conv 10@3, MaxPool 4, Conv 24@5, Conv 10@3,
MaxPool 2, Dense 128, 128, 64, 1) for a fixed number of steps (``--epochs`` x ceil(n_train / batch))
two ways, on a synthetic catalogue of Poisson photon maps (:mod:`massbench.plugins.cnn_tf.synthetic`):

- ``massbench``: ``SingleBandCNN.fit`` / ``MultiBandCNN.fit`` on catalogue views: equations 1-2 and
  standardisation fitted on the training view, the ``tf.data`` pipeline (seeded shuffle, batch
  gather, prefetch), validation every epoch, early-stopping and progress callbacks;
- ``keras``: the same model built by the same function, compiled the same way, ``model.fit`` on
  in-memory numpy arrays already preprocessed (with the same validation data every epoch).

Each way is timed end to end (everything ``fit`` does, wall clock), in steady state (the median
epoch after the first, training steps only) and by the process's CPU time (images per CPU-second:
less sensitive to other users of a shared machine). Rounds alternate the two ways to spread the
load evenly. The ratio massbench / keras should be >= 0.95 (issue 22's harness-overhead target);
the exit status is 1 when the end-to-end ratio is below 0.95.

``--precision`` (``float32``, the default, ``bfloat16``, ``float16`` or ``auto``) trains both ways
under the same Keras policy: the estimator's ``precision`` param, and for plain Keras the policy
that param resolves to on this device (:mod:`massbench.plugins.cnn_tf.precision`; float16 adds
the loss-scale optimiser). Compare precisions by running the script once per precision.

    python benchmarks/perf/cnn_throughput.py                       # single band, CPU or the GPU TF sees
    python benchmarks/perf/cnn_throughput.py --bands 3 --n-train 2000 --epochs 3 --rounds 3 --json out.json
    python benchmarks/perf/cnn_throughput.py --precision bfloat16              # AMX / AVX512-BF16 CPUs
    python benchmarks/perf/cnn_throughput.py --device gpu --mixed-precision --xla

Prints images/s for both, their ratio, the device, TensorFlow's thread count and the 1-minute
load average (the development machine is shared; a busy CPU is slower).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from massbench import RunContext
from massbench.plugins.cnn_tf.estimator import MultiBandCNN, SingleBandCNN
from massbench.plugins.cnn_tf.synthetic import split_views, synthetic_catalogue
from massbench.plugins.cnn_tf.tf_runtime import available_cpus, import_tf, resolve_device


def run_massbench(est_cls, train, val, args, seed: int) -> dict:
    est = est_cls(
        epochs=args.epochs,
        patience=0,
        batch_size=args.batch_size,
        mixed_precision=args.mixed_precision,
        precision=args.precision,
        xla=args.xla,
    )
    est.context = RunContext(seed=seed, device=args.device)
    t0, c0 = time.perf_counter(), time.process_time()
    est.fit(train, val)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    n = len(train) * args.epochs
    return {
        "seconds": dt,
        "images_per_s": n / dt,
        "steady_images_per_s": est.context.info["train_images_per_s"],
        "cpu_seconds": dc,
        "images_per_cpu_s": n / dc,
        "device_used": est.context.info["device_used"],
        "precision": est.context.info["precision"],
    }


def run_keras(est_cls, train, val, args, seed: int) -> dict:
    tf = import_tf()
    import keras

    from massbench.plugins.cnn_tf.architecture import build_cnn
    from massbench.plugins.cnn_tf.keras_callbacks import EpochTimer
    from massbench.plugins.cnn_tf.precision import POLICIES, resolve

    # preprocess exactly as the estimator does, outside the timed region
    prep = est_cls(epochs=1)
    x, y, xv, yv = _prepared_arrays(prep, train, val)
    device = resolve_device(args.device)
    keras.utils.set_random_seed(seed)
    used = resolve(args.precision, args.mixed_precision, device, False, prep.name).used
    mixed = used == "float16"
    with tf.device(device.tf_name):
        model = build_cnn(x.shape[1:], prep.architecture, policy=POLICIES[used])
        opt = keras.optimizers.Adam(1e-3)
        if mixed:
            opt = keras.optimizers.LossScaleOptimizer(opt)
        model.compile(optimizer=opt, loss="mse", jit_compile=bool(args.xla))
        timer = EpochTimer()
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(
            x,
            y,
            batch_size=args.batch_size,
            epochs=args.epochs,
            validation_data=(xv, yv),
            shuffle=True,
            verbose=0,
            callbacks=[timer],
        )
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
    n = len(x) * args.epochs
    return {
        "seconds": dt,
        "images_per_s": n / dt,
        "steady_images_per_s": timer.images_per_second(len(x)),
        "cpu_seconds": dc,
        "images_per_cpu_s": n / dc,
        "device_used": device.label,
        "precision": used,
    }


def _prepared_arrays(est, train, val):
    """Network inputs and scaled targets as the estimator builds them (numpy, in memory)."""
    from massbench.plugins.cnn_tf.pipeline import preprocess_view
    from massbench.plugins.cnn_tf.scaling import MapScaling, fit_target_scaling, pixel_moments
    from massbench.preprocessing import fit_redshift_normalisation

    norm = fit_redshift_normalisation(train.lazy(est.input_name), train.redshift)
    x = preprocess_view(train, est.input_name, norm, est.channels)
    mean, std = pixel_moments(x)
    offset, scale = fit_target_scaling(train.log10_m500c, "minmax")
    sc = MapScaling(norm, mean, std, offset, scale)
    sc.standardise_(x)
    xv = sc.standardise_(preprocess_view(val, est.input_name, norm, est.channels))
    return x, sc.scale_target(train.log10_m500c), xv, sc.scale_target(val.log10_m500c)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bands", type=int, choices=(1, 3), default=1, help="1: cnn-single-band, 3: cnn-multi-band")
    ap.add_argument("--n-train", type=int, default=1000, help="training clusters")
    ap.add_argument("--n-val", type=int, default=100, help="validation clusters (evaluated every epoch)")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per timed fit")
    ap.add_argument("--batch-size", type=int, default=50, help="batch size (paper: 50)")
    ap.add_argument("--size", type=int, default=128, help="map side in pixels (paper: 128)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of both ways")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    ap.add_argument(
        "--precision",
        default="float32",
        choices=("float32", "bfloat16", "float16", "auto"),
        help="the CNN's precision param; plain Keras gets the policy it resolves to",
    )
    ap.add_argument("--mixed-precision", action="store_true", help="mixed_float16 (GPU only; = --precision float16)")
    ap.add_argument("--xla", action="store_true", help="XLA-compile the training step")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)

    tf = import_tf()
    est_cls = SingleBandCNN if args.bands == 1 else MultiBandCNN
    t0 = time.perf_counter()
    cat = synthetic_catalogue(args.n_train + args.n_val, size=args.size, bands=args.bands, seed=1)
    train, val, _ = split_views(cat, est_cls.input_name, n_val=args.n_val, n_test=0)
    print(
        f"{est_cls.name}: {len(train)} training maps of {args.size}x{args.size}x{args.bands}, "
        f"{len(val)} validation, {args.epochs} epochs of batch {args.batch_size} "
        f"({time.perf_counter() - t0:.1f} s to generate)",
        flush=True,
    )

    # warm-up (one-time costs of the process: kernel selection, graph library): one short fit each way
    warm = argparse.Namespace(**{**vars(args), "epochs": 1})
    few = train.subview(np.arange(min(len(train), 2 * args.batch_size)))
    for fn in (run_massbench, run_keras):
        fn(est_cls, few, val, warm, seed=0)

    runs: dict[str, list[dict]] = {"massbench": [], "keras": []}
    for r in range(args.rounds):
        order = ("massbench", "keras") if r % 2 == 0 else ("keras", "massbench")
        for way in order:
            fn = run_massbench if way == "massbench" else run_keras
            res = fn(est_cls, train, val, args, seed=r)
            runs[way].append(res)
            print(
                f"round {r + 1} {way:9s} {res['images_per_s']:8.1f} images/s end to end, "
                f"{res['steady_images_per_s']:8.1f} steady, {res['images_per_cpu_s']:8.1f} per CPU-second "
                f"({res['seconds']:.1f} s)",
                flush=True,
            )

    def med(way: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[way])

    out = {
        "estimator": est_cls.name,
        "n_train": len(train),
        "n_val": len(val),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "map": [args.size, args.size, args.bands],
        "device": runs["massbench"][0]["device_used"],
        "mixed_precision": args.mixed_precision,
        "precision": runs["massbench"][0]["precision"],
        "precision_keras": runs["keras"][0]["precision"],
        "xla": args.xla,
        "tf_version": tf.__version__,
        "tf_intra_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "cpus": available_cpus(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "runs": runs,
    }
    for key in ("images_per_s", "steady_images_per_s", "images_per_cpu_s"):
        out[f"massbench_{key}"] = med("massbench", key)
        out[f"keras_{key}"] = med("keras", key)
        out[f"ratio_{key}"] = out[f"massbench_{key}"] / out[f"keras_{key}"]
    out["loadavg_1min"] = os.getloadavg()[0]
    keys = ("images_per_s", "steady_images_per_s", "images_per_cpu_s")
    print(f"\n{'':10s} {'end to end':>12s} {'steady':>12s} {'per CPU-s':>12s}   images/s (median of {args.rounds})")
    for way in ("massbench", "keras"):
        print(f"{way:10s} " + " ".join(f"{out[f'{way}_{k}']:12.1f}" for k in keys))
    print(
        f"{'ratio':10s} "
        + " ".join(f"{out[f'ratio_{k}']:12.3f}" for k in keys)
        + "   (massbench / keras; target >= 0.95)"
    )
    print(
        f"precision {out['precision']} (keras: {out['precision_keras']}), device {out['device']}, TF intra-op threads {out['tf_intra_threads']}, "
        f"load average (1 min) {out['loadavg_1min']:.2f} on {out['cpus']} CPUs"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0 if out["ratio_images_per_s"] >= 0.95 else 1


if __name__ == "__main__":
    raise SystemExit(main())
