"""Training throughput of the fusion network (cubes per second) and its slowdown against a 2D CNN.

Paper section 5.2: "training the 3D convolutional model takes ~15x longer than training the 2D
convolutional models on a single Nvidia Ampere A100 GPU". This script times, on random inputs of
the real sizes, one optimisation step (forward, backward, Adam) per batch of

- ``fusion-64``: the fusion network as the paper builds it (64^3 cube, 2D branch of the multi-band CNN);
- ``fusion-32``: the same with ``cube_size=32`` (cube average-pooled 2x2x2 inside the network);
- ``cnn-2d``: a torch multi-band CNN of the paper's section 4 design (Conv 24@5, Conv 10@3, MaxPool 4,
  Conv 24@5, Conv 10@3, MaxPool 2, Dense 128, 128, 64, 1 on 128x128x3 maps), the 2D reference;

and, with ``--pipeline``, one epoch of ``FusionXrayDyn.fit`` streaming memory-mapped cubes from disk
(the whole training path: memory-map reads, equations 1-2, batching, the step).

    python benchmarks/perf/fusion_throughput.py                 # CPU (or the GPU when torch sees one)
    python benchmarks/perf/fusion_throughput.py --device cuda --batch-size 50 --steps 20 --json out.json
    python benchmarks/perf/fusion_throughput.py --precision bfloat16 --channels-last   # AMX CPUs

``--precision`` (``float32``, ``bfloat16``, ``float16``, ``auto``; default: float32 on a CPU, float16
on a GPU unless ``--no-amp``, as before the param existed) is the fusion estimator's param, resolved for the device as in ``fit`` (:mod:`massbench.plugins.fusion_torch.precision`:
autocast of every model's body, output layer in float32, a gradient scaler for float16 only);
``--no-amp`` is the older spelling of float32 on a GPU. ``--channels-last`` stores the fusion
net's 3D convolution kernels in torch's ``channels_last_3d`` memory format (the 2D reference's
kernels in ``channels_last``), which makes those convolutions' outputs channels-last too: whether
oneDNN / cuDNN run faster so is what it measures.

Reports cubes (clusters) per second for each model, the 3D/2D slowdown (fusion time per cluster /
CNN time per cluster) from wall-clock time (median and best of interleaved rounds) and, on a CPU,
from the process's CPU time (less sensitive to other users of a shared machine, exact with
``--threads 1``), the device, torch threads and the 1-minute load average.
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
import torch
from torch import nn

from massbench import Catalogue, InputArray, RunContext
from massbench.plugins.fusion_torch.estimator import FusionXrayDyn
from massbench.plugins.fusion_torch.network import FusionConfig, FusionNet, SameConv2d, count_parameters
from massbench.plugins.fusion_torch.precision import autocast, float32_output, resolve


class MultiBandCNN(nn.Module):
    """The paper's section 4 CNN on 3-band maps ("same" padding, dropout 0.1 after hidden dense layers)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            SameConv2d(3, 24, 5),
            nn.ReLU(),
            SameConv2d(24, 10, 3),
            nn.ReLU(),
            nn.MaxPool2d(4),
            SameConv2d(10, 24, 5),
            nn.ReLU(),
            SameConv2d(24, 10, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2560, 128),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(128, 128),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(64, 1),
        )

    def forward(self, x: torch.Tensor, cube: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def time_steps(
    model: nn.Module, batch: int, steps: int, warmup: int, device: str, precision: str, with_cube: bool
) -> dict:
    """Seconds per optimisation step on random inputs in ``precision`` (the precision used: float32,
    bfloat16 or float16); returns timings and clusters per second."""
    model = model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "float16")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, 128, 128, generator=g).to(device)
    cube = (torch.rand(batch, 64, 64, 64, generator=g) / 64**3).to(device) if with_cube else None
    y = torch.rand(batch, generator=g).to(device)
    times, cpu_times = [], []
    for i in range(warmup + steps):
        if device == "cuda":
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        with autocast(device, precision):
            out = model(x, cube)
        loss = nn.functional.mse_loss(out.float(), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
    t, c = float(np.median(times)), float(np.median(cpu_times))
    return {
        "batch_size": batch,
        "steps": steps,
        "median_step_s": t,
        "clusters_per_s": batch / t,
        "cpu_s_per_cluster": c / batch,
        "n_parameters": count_parameters(model),
    }


def pipeline_epoch(n: int, batch: int, cube_size: int, device: str, workdir: Path, precision: str = "auto") -> dict:
    """One epoch of FusionXrayDyn.fit on n clusters whose cubes are a memory map on disk."""
    rng = np.random.default_rng(0)
    cubes = np.lib.format.open_memmap(workdir / "cubes.npy", mode="w+", dtype=np.float32, shape=(n, 64, 64, 64))
    for i in range(n):
        c = rng.random((64, 64, 64), dtype=np.float32)
        cubes[i] = c / c.sum()
    cubes.flush()
    del cubes
    cubes = np.load(workdir / "cubes.npy", mmap_mode="r")
    maps = rng.poisson(0.3, (n, 128, 128, 3)).astype(np.float32)
    cat = Catalogue(
        name="perf",
        cluster_id=np.arange(n),
        positions=rng.uniform(0, 100, (n, 3)),
        box_size=100.0,
        redshift=rng.uniform(0.07, 0.47, n),
        log10_m500c=rng.uniform(13.5, 15.0, n),
        inputs={
            "xray_bands": InputArray(maps),
            "dyn_cube": InputArray(cubes),
            "galaxies": InputArray(np.empty(n, dtype=object)),
        },
    )
    inputs = ["xray_bands", "dyn_cube", "galaxies"]
    train = cat.view(np.arange(n), inputs, role="train")
    val = cat.view(np.arange(0), inputs, role="val")
    est = FusionXrayDyn(cube_size=cube_size, batch_size=batch, epochs=1, precision=precision)
    est.context = RunContext(seed=0, device=device, workdir=workdir, cache_dir=workdir)
    est.fit(train, val)
    info = est.context.info
    return {
        "clusters": n,
        "cube_size": cube_size,
        "batch_size": batch,
        "epoch_s": info["fusion_train_seconds"],
        "clusters_per_s": info["fusion_train_cubes_per_second"],
        "device_used": info["device_used"],
        "precision": info["precision"],
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--batch-size", type=int, default=16, help="clusters per step (the estimator default is 50)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per model (after --warmup)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved repetitions of every model")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--no-amp", action="store_true", help="float32 on the GPU too (older spelling)")
    ap.add_argument(
        "--precision",
        default=None,
        choices=["auto", "float32", "bfloat16", "float16"],
        help="the fusion param (default: float32 on a CPU, float16 on a GPU unless --no-amp)",
    )
    ap.add_argument("--channels-last", action="store_true", help="channels_last(_3d) convolution kernels")
    ap.add_argument("--models", default="cnn-2d,fusion-32,fusion-64")
    ap.add_argument(
        "--pipeline",
        type=int,
        default=0,
        metavar="N",
        help="also time one fit() epoch over N memory-mapped clusters (cube_size 32 and 64)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    amp = not args.no_amp
    if args.precision is None:
        args.precision = "float16" if device == "cuda" and amp else "float32"
    choice = resolve(args.precision, amp, device, deterministic=False)
    out = {
        "device": device,
        "device_name": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "amp": choice.used == "float16",
        "precision": choice.used,
        "precision_requested": args.precision,
        "channels_last": bool(args.channels_last),
        "load_average_1min_before": os.getloadavg()[0],
        "models": {},
    }
    builders = {
        "cnn-2d": (lambda: MultiBandCNN(), False),
        "fusion-32": (lambda: FusionNet(FusionConfig(cube_size=32)), True),
        "fusion-64": (lambda: FusionNet(FusionConfig()), True),
    }
    names = args.models.split(",")
    runs: dict[str, list[dict]] = {n: [] for n in names}
    models = {}
    for name in names:
        torch.manual_seed(0)
        models[name] = builders[name][0]()
        float32_output(models[name], layer=models[name].net[-1] if name == "cnn-2d" else None)
        if args.channels_last and name == "cnn-2d":
            models[name] = models[name].to(memory_format=torch.channels_last)
        elif args.channels_last:  # the 3D branch only (its kernels are 5D)
            models[name].dyn.to(memory_format=torch.channels_last_3d)
    print(f"precision {choice.used} (requested {args.precision}){'; ' + choice.note if choice.note else ''}")
    # interleave the models over rounds so that a burst of load from other users of a shared
    # machine hits them alike; report the median round and the best round
    for rnd in range(args.rounds):
        for name in names:
            r = time_steps(
                models[name], args.batch_size, args.steps, args.warmup, device, choice.used, builders[name][1]
            )
            runs[name].append(r)
            print(
                f"round {rnd + 1}: {name:10s} {r['clusters_per_s']:9.2f} clusters/s  ({r['median_step_s']:.3f} s "
                f"per step of {r['batch_size']}, {r['n_parameters']:,} parameters)",
                flush=True,
            )
    for name in names:
        rates = [r["clusters_per_s"] for r in runs[name]]
        cpu = [r["cpu_s_per_cluster"] for r in runs[name]]
        out["models"][name] = {
            **runs[name][0],
            "clusters_per_s": float(np.median(rates)),
            "clusters_per_s_best": float(max(rates)),
            "clusters_per_s_rounds": rates,
            "cpu_s_per_cluster": float(np.median(cpu)),
            "cpu_s_per_cluster_rounds": cpu,
        }
        out["models"][name].pop("median_step_s")
    if "cnn-2d" in out["models"]:
        ref = out["models"]["cnn-2d"]
        out["slowdown_vs_cnn_2d"] = {
            k: {
                "median": ref["clusters_per_s"] / v["clusters_per_s"],
                "cpu_time": v["cpu_s_per_cluster"] / ref["cpu_s_per_cluster"],
                "best": ref["clusters_per_s_best"] / v["clusters_per_s_best"],
                "per_round": [a / b for a, b in zip(ref["clusters_per_s_rounds"], v["clusters_per_s_rounds"])],
            }
            for k, v in out["models"].items()
            if k != "cnn-2d"
        }
        for k, v in out["slowdown_vs_cnn_2d"].items():
            print(
                f"{k}: {v['median']:.1f}x (median rounds), {v['best']:.1f}x (best rounds), {v['cpu_time']:.1f}x "
                "(process CPU time) slower per cluster than cnn-2d (paper, A100: ~15x)"
            )
    if args.pipeline:
        out["pipeline"] = []
        with tempfile.TemporaryDirectory() as tmp:
            for cs in (32, 64):
                r = pipeline_epoch(args.pipeline, 50, cs, device, Path(tmp), args.precision)
                out["pipeline"].append(r)
                print(
                    f"fit() epoch, cube_size {cs}: {r['clusters_per_s']:.2f} clusters/s over {r['clusters']} "
                    f"memory-mapped clusters ({r['epoch_s']:.1f} s)",
                    flush=True,
                )
    out["load_average_1min_after"] = os.getloadavg()[0]
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
