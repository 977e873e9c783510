"""The worker process of one unit (process and dask executors): ``python -m massbench.worker DIR FD``.

``DIR`` is the unit's private directory, made by the parent (:mod:`massbench.executors.process`):
``unit.json`` names the estimator class and its params. The worker builds the estimator, tells
the parent the inputs it declares (a JSON line on file descriptor ``FD``) and waits for ``go``
on stdin; by then the parent has put those inputs, and nothing else, into ``DIR/data`` (read-only
memory maps, or read-only object arrays), with the train and val masses but not the test
masses. The worker fits, predicts and writes ``DIR/result.json`` (predictions, the distribution of a probabilistic estimator, timings, error
and traceback) and the saved model into ``DIR/model``. It never sees the dataset, its cache
or the catalogue; the parent scores the predictions. Progress reports go to ``FD`` as JSON lines.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from .catalogue import CatalogueView, InputArray
from .estimator import RunContext, has_persistence
from .plan import make_read_only
from .results import atomic_write_text, dumps
from .unit import declared_inputs, error_message, fit_predict, save_model


def load_class(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def load_views(data: Path, meta: dict[str, Any]) -> tuple[CatalogueView, CatalogueView, CatalogueView]:
    """The unit's train, val and test views over its private, read-only inputs."""
    spec = json.loads((data / "inputs.json").read_text())
    arrays: dict[str, InputArray] = {}
    for name, s in spec.items():
        path = data / s["file"]
        if s["file"].endswith(".pkl"):
            with open(path, "rb") as fh:
                arr = pickle.load(fh)
            make_read_only(arr)
        else:
            arr = np.load(path, mmap_mode="r")
        arrays[name] = InputArray(arr, s["unit"], s["description"], False, s["idealised"])
    views = []
    with np.load(data / "split.npz", allow_pickle=False) as z:
        for role in ("train", "val", "test"):
            mass = None if role == "test" else z[f"log10_m500c_{role}"]
            views.append(
                CatalogueView(
                    meta["dataset"],
                    z[f"indices_{role}"],
                    z[f"cluster_id_{role}"],
                    z[f"redshift_{role}"],
                    arrays,
                    mass,
                    role,
                    tuple(meta["all_inputs"]),
                )
            )
    return views[0], views[1], views[2]


def main(argv: list[str]) -> int:
    d, fd = Path(argv[1]), int(argv[2])
    chan = os.fdopen(fd, "w", buffering=1)

    def send(obj: dict[str, Any]) -> None:
        chan.write(json.dumps(obj, default=float) + "\n")

    def progress(**metrics: Any) -> None:
        send(
            {
                "event": "progress",
                **{k: (v if isinstance(v, (int, str)) or v is None else float(v)) for k, v in metrics.items()},
            }
        )

    meta = json.loads((d / "unit.json").read_text())
    result: dict[str, Any] = {"status": "failed", "error": None, "traceback": None}
    ctx = RunContext(
        seed=meta["seed"],
        device=meta["device"],
        workdir=d / "work",
        cache_dir=Path(meta["cache_dir"]),
        progress=progress,
        deterministic=bool(meta.get("deterministic", False)),
    )
    try:
        cls = load_class(meta["module"], meta["qualname"])
        est = cls(**meta["params"])
        inputs = declared_inputs(est, cls)
        result["inputs"] = list(inputs)
        send({"event": "inputs", "inputs": list(inputs)})
        if sys.stdin.readline().strip() != "go":
            return 0  # the parent refused the inputs and records why
        train, val, test = load_views(d / "data", meta)
        pred, dist, t_fit, t_pred = fit_predict(est, train, val, test, ctx, inputs)
        if has_persistence(est):
            save_model(est, d / "model")
        result.update(
            status="ok",
            prediction=pred.tolist(),
            distribution=None if dist is None else dist.to_json(),
            train_seconds=t_fit,
            predict_seconds=t_pred,
            device_used=ctx.info.get("device_used", "cpu"),
        )
    except Exception as exc:
        result.update(
            error=error_message(exc), traceback=traceback.format_exc(), device_used=ctx.info.get("device_used")
        )
    result["info"] = ctx.info
    atomic_write_text(d / "result.json", dumps(result))
    chan.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
