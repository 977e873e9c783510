"""``fusion-xray-dyn``: the X-ray multi-band + spectroscopic dynamics CNN of paper section 5.2, in PyTorch.

Inputs: ``xray_bands`` (n, 128, 128, 3) raw counts, ``dyn_cube`` (n, 64, 64, 64) the galaxy
phase-space KDE, and ``galaxies`` (read only when ``completeness < 1``, to rebuild the cubes from
a seeded subset of each cluster's galaxies; see :mod:`.cubes`).

Preprocessing, all fitted in ``fit`` on the training view only:

- equation 1 (redshift normalisation) and equation 2 (x = log10(n + 1)) on the maps, with
  :mod:`massbench.preprocessing` (the functions the CNNs use);
- one scalar mean/std for x and one for the cube cells;
- the target log10 M500c [h^-1 Msun] scaled to [-1, 1] with the training view's min/max.

Training follows the CNNs (paper section 4.1): Adam, learning rate 1e-3 (epsilon 1e-7 as Keras),
MSE on the scaled target plus 1e-4 * sum w^2 over all kernels, the output layer's included (Keras'
L2 on every kernel as in the paper's notebook, also in the validation loss, as Keras reports it;
``l2_output: false`` leaves the output kernel out), batch 50, at most 200 epochs, early stopping on
the validation loss with patience 20 and the best weights restored. The paper's notebook used
strides 2, 2, 2, 1 in the X-ray branch, batch 100 and 400 epochs for this model:
``benchmarks/erosita.yaml`` sets them (``xray_strides``, ``batch_size``, ``epochs``).

Determinism (``deterministic``, by default the run's ``run.deterministic``): fit, predict and
input_gradients run under :func:`~.determinism.torch_determinism`, without float16 autocast
(bfloat16 on a CPU stays: :mod:`.precision`).

This module must import without torch: torch and the network are imported inside methods.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from massbench.catalogue import CatalogueView
from massbench.ensemble import ensemble_prediction, member_seeds
from massbench.errors import ConfigError, DataError
from massbench.estimator import Estimator
from massbench.prediction import Prediction
from massbench.preprocessing import RedshiftNormalisation, fit_redshift_normalisation, preprocess_maps

from .params import FusionParams

MODEL_FILE = "model.pt"
PARAMS_FILE = "params.json"
PREPROCESSING_FILE = "preprocessing.json"


@dataclass
class TrainingRecord:
    """What one ``fit`` did (also copied into ``context.info``)."""

    device_used: str = ""
    amp: bool = False
    precision: str = "float32"
    n_parameters: int = 0
    epochs_run: int = 0
    best_epoch: int = 0
    best_val_loss: float | None = None  # None without a validation set
    train_seconds: float = 0.0
    train_cubes_per_second: float = 0.0
    cube_build_seconds: float = 0.0
    cubes_built: int = 0
    deterministic: bool = False


def resolve_device(requested: str) -> str:
    """``"auto"`` -> ``"cuda"`` when torch sees a GPU, else ``"cpu"``; ``"gpu"`` requires one."""
    import torch

    req = (requested or "auto").lower()
    if req in ("gpu", "cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                "device 'gpu' was requested for fusion-xray-dyn but torch sees no CUDA GPU "
                "(this torch build: " + torch.__version__ + "); use device 'auto' or 'cpu'"
            )
        return "cuda"
    if req == "cpu":
        return "cpu"
    if req == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    raise ConfigError(f"unknown device {requested!r} for fusion-xray-dyn: use 'auto', 'cpu' or 'gpu'")


class FusionXrayDyn(FusionParams, Estimator):
    """Joint X-ray multi-band + dynamical-cube CNN (paper section 5.2, Figure 5) in PyTorch.

    Params: the fields of :class:`~.params.FusionParams` (defaults reproduce the paper's design;
    see docs/fusion.md), as attributes (``est.completeness``, ``est.xray_filters``, ...);
    ``est.params`` gives them as a dict. Fitted state: ``net``, ``norm``, ``record``, ``history``.
    """

    name = "fusion-xray-dyn"
    inputs = ("xray_bands", "dyn_cube", "galaxies")
    framework = "torch"
    needs_gpu = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.net: Any = None
        self.norm: RedshiftNormalisation | None = None
        self.record = TrainingRecord()
        self.history: list[dict[str, float]] = []
        self._device: str | None = None

    # -- set-up ---------------------------------------------------------------------------------
    def _config(self, map_size: int, cube_input: int) -> Any:
        from .network import FusionConfig

        return FusionConfig(
            **self.layers(), map_size=map_size, cube_input=cube_input, cube_size=min(self.cube_size, cube_input)
        )

    def _torch_setup(self) -> str:
        import torch

        if self.num_threads > 0:
            torch.set_num_threads(self.num_threads)
        device = resolve_device(self.context.device)
        self._device = device
        if device == "cuda":
            self.context.info["device_used"] = f"cuda:{torch.cuda.current_device()} ({torch.cuda.get_device_name()})"
        else:
            self.context.info["device_used"] = "cpu"
        return device

    def _deterministic(self) -> bool:
        """The ``deterministic`` param when set, else the run's setting (``context.deterministic``)."""
        if self.deterministic is not None:
            return bool(self.deterministic)
        return bool(getattr(self.context, "deterministic", False))

    def _cube_rows(self, view: Any) -> Any:
        """Row source of the cubes the network sees for ``view``: the dataset's cubes, or cubes rebuilt
        at ``completeness`` < 1 (cached memory map shared by folds)."""
        if self.completeness >= 1.0:
            return view.lazy("dyn_cube")
        from .cubes import CompletenessCubeStore, CubeGrid, CubeStoreKey

        if "galaxies" not in view.inputs:
            raise ConfigError(
                "fusion-xray-dyn: completeness < 1 needs the dataset input 'galaxies' "
                f"(dataset {view.dataset!r} view has {list(view.inputs)})"
            )
        n_rows = len(view.arrays["galaxies"].data)
        grid = CubeGrid(n=int(view.lazy("dyn_cube").shape[1]))
        key = CubeStoreKey(
            dataset=str(view.dataset),
            n_rows=n_rows,
            completeness=self.completeness,
            seed=self.completeness_seed,
            grid=grid,
        )
        store = CompletenessCubeStore(self.context.cache_dir, key)
        rows = store.rows(view)
        self.record.cube_build_seconds += store.last_build_seconds
        self.record.cubes_built += store.last_built
        self.context.info["fusion_cube_build_seconds"] = self.record.cube_build_seconds
        self.context.info["fusion_cubes_built"] = self.record.cubes_built  # fit and predict together
        return rows

    def _dataset(self, view: Any, with_target: bool) -> Any:
        from .data import FusionRows

        assert self.norm is not None, "fit() first"
        maps = view.lazy("xray_bands")
        if len(maps.shape) != 4 or maps.shape[-1] != 3 or maps.shape[1] != maps.shape[2]:
            raise DataError(
                f"fusion-xray-dyn: input 'xray_bands' of dataset {view.dataset!r} has shape "
                f"{maps.shape}; expected (n, 128, 128, 3) raw counts, channels last"
            )
        cubes = self._cube_rows(view)
        if len(cubes.shape) != 4 or not cubes.shape[1] == cubes.shape[2] == cubes.shape[3]:
            raise DataError(
                f"fusion-xray-dyn: input 'dyn_cube' of dataset {view.dataset!r} has shape "
                f"{cubes.shape}; expected (n, 64, 64, 64)"
            )
        target = view.log10_m500c if with_target else None
        return FusionRows(maps, cubes, view.redshift, self.norm, target)

    def _loss_fn(self) -> Any:
        from torch.nn import functional as F

        if self.loss == "gaussian_nll":
            from .probabilistic import gaussian_nll

            return gaussian_nll
        return F.mse_loss if self.loss == "mse" else F.l1_loss

    @property
    def probabilistic(self) -> bool:
        """Whether :meth:`predict` returns a :class:`~massbench.Prediction` (``gaussian_nll`` or an ensemble)."""
        return self.loss == "gaussian_nll" or self.ensemble > 1

    # -- training -------------------------------------------------------------------------------
    def fit(self, train: CatalogueView, val: CatalogueView) -> FusionXrayDyn:
        from .determinism import torch_determinism

        deterministic = self._deterministic()
        with torch_determinism(deterministic):
            return self._fit(train, val, deterministic)

    def _fit(self, train: CatalogueView, val: CatalogueView, deterministic: bool) -> FusionXrayDyn:
        from . import precision
        from .data import input_moments
        from .network import count_parameters

        device = self._torch_setup()
        choice = precision.resolve(str(self.precision), bool(self.amp), device, deterministic)
        use_amp = choice.used == "float16"  # gradient scaling: float16 only
        self.record = TrainingRecord(
            device_used=self.context.info["device_used"],
            amp=use_amp,
            precision=choice.used,
            deterministic=deterministic,
        )
        self.context.info["deterministic"] = deterministic
        self.context.info.update(choice.info())
        if self.amp and device == "cuda" and deterministic:
            self.context.info["amp_note"] = "requested but off: no autocast while deterministic"
        self.history = []

        if len(train) < 2:
            raise DataError(
                f"fusion-xray-dyn: the training view of dataset {train.dataset!r} has {len(train)} clusters"
            )
        self.norm = fit_redshift_normalisation(train.lazy("xray_bands"), train.redshift)
        train_ds = self._dataset(train, with_target=True)
        val_ds = self._dataset(val, with_target=True) if len(val) else None
        mx, mc = input_moments(train_ds, batch_size=max(self.batch_size, 16))
        y = np.asarray(train.log10_m500c, dtype=float)
        if not np.ptp(y) > 0:
            raise DataError("fusion-xray-dyn: all training clusters have the same mass; cannot scale the target")
        cfg = self._config(map_size=int(train_ds.maps.shape[1]), cube_input=int(train_ds.cubes.shape[1]))
        scalers = (mx.mean, mx.std, mc.mean, mc.std, float(y.min()), float(y.max()))

        # one network, or ``ensemble`` members with seeds derived from the unit seed (member 0: the unit seed)
        members, runs = [], []
        for i, seed in enumerate(member_seeds(int(self.context.seed), self.ensemble)):
            net, run = self._train_member(i, seed, cfg, scalers, train_ds, val_ds, device, choice.used)
            members.append(net)
            runs.append(run)
        if self.ensemble > 1:
            from .probabilistic import EnsembleNet

            self.net = EnsembleNet(members)
            self.context.info["ensemble"] = self.ensemble
            self.context.info["fusion_ensemble_best_epochs"] = [r["best_epoch"] for r in runs]
            self.context.info["fusion_ensemble_best_val_loss"] = [r["best_val_loss"] for r in runs]
        else:
            self.net = members[0]
        first = runs[0]
        elapsed = sum(r["seconds"] for r in runs)
        self.record.n_parameters = count_parameters(self.net)
        self.record.epochs_run = sum(r["epochs"] for r in runs)
        self.record.best_epoch = first["best_epoch"]
        self.record.best_val_loss = first["best_val_loss"]
        self.record.train_seconds = elapsed
        self.record.train_cubes_per_second = sum(r["seen"] for r in runs) / elapsed if elapsed > 0 else math.nan
        self.context.info.update(
            {f"fusion_{k}" if k != "device_used" else k: v for k, v in asdict(self.record).items()}
        )
        return self

    def _train_member(
        self,
        member: int,
        seed: int,
        cfg: Any,
        scalers: tuple[float, ...],
        train_ds: Any,
        val_ds: Any,
        device: str,
        used: str,
    ) -> tuple[Any, dict[str, Any]]:
        """Train one network (one ensemble member) with ``seed`` in precision ``used``; appends its
        epochs to ``history``."""
        import torch

        from . import precision
        from .data import batch_loader
        from .probabilistic import build_net

        torch.manual_seed(seed)
        np_rng = np.random.default_rng(seed)
        loader_gen = torch.Generator().manual_seed(int(np_rng.integers(2**62)))
        torch.manual_seed(seed)
        net = build_net(cfg, self.loss == "gaussian_nll")
        net.set_scalers(*scalers)  # type: ignore[operator]
        net.to(device)
        from .precision import float32_outputs

        float32_outputs(net)

        opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate, eps=1e-7)
        use_amp = used == "float16"  # gradient scaling: float16 only
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
        loss_fn = self._loss_fn()
        pin = device == "cuda"
        train_loader = batch_loader(
            train_ds, self.batch_size, shuffle=True, generator=loader_gen, num_workers=self.num_workers, pin_memory=pin
        )
        n_members, offset = self.ensemble, member * self.epochs
        best_state, best_val, best_epoch, wait = None, math.inf, 0, 0
        t_start = time.perf_counter()
        seen = epochs = 0
        for epoch in range(1, self.epochs + 1):
            net.train()
            total, count = 0.0, 0
            for x, cube, yt in train_loader:
                x = x.to(device, non_blocking=pin)
                cube = cube.to(device, non_blocking=pin)
                yt = net.scale_target(yt.to(device, non_blocking=pin))  # type: ignore[operator]
                opt.zero_grad(set_to_none=True)
                with precision.autocast(device, used):
                    out = net(x, cube)
                data_loss = loss_fn(out.float(), yt)
                loss = data_loss + self.l2 * net.l2_penalty(self.l2_output) if self.l2 else data_loss  # type: ignore[operator]
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                total += float(loss.detach()) * len(yt)
                count += len(yt)
            seen += count
            epochs = epoch
            metrics = {"loss": total / max(count, 1)}
            if val_ds is not None:
                val_loss = self._evaluate_loss(val_ds, device, used, net)
                metrics["val_loss"] = val_loss
                if val_loss < best_val:
                    best_val, best_epoch, wait = val_loss, epoch, 0
                    best_state = copy.deepcopy({k: v.detach().cpu() for k, v in net.state_dict().items()})
                else:
                    wait += 1
            entry = {"epoch": float(epoch), **metrics}
            if n_members > 1:
                entry["member"] = float(member)
            self.history.append(entry)
            self.context.progress(epoch=offset + epoch, total=n_members * self.epochs, **metrics)
            if val_ds is not None and wait >= self.patience:
                break
        elapsed = time.perf_counter() - t_start
        if best_state is not None:
            net.load_state_dict(best_state)
        run = {
            "epochs": epochs,
            "best_epoch": best_epoch or epochs,
            "best_val_loss": float(best_val) if math.isfinite(best_val) else None,
            "seconds": elapsed,
            "seen": seen,
        }
        return net, run

    def _evaluate_loss(self, ds: Any, device: str, used: str, net: Any = None) -> float:
        """Mean loss (data term + L2, as Keras' val_loss) over a dataset, in inference mode, with the
        forward pass in precision ``used``."""
        import torch

        from .data import batch_loader
        from .precision import autocast

        net = self.net if net is None else net
        loss_fn = self._loss_fn()
        net.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for x, cube, yt in batch_loader(ds, self.predict_batch_size, shuffle=False, num_workers=self.num_workers):
                x, cube = x.to(device), cube.to(device)
                yt = net.scale_target(yt.to(device))
                with autocast(device, used):
                    out = net(x, cube)
                total += float(loss_fn(out.float(), yt, reduction="sum"))
                count += len(yt)
            penalty = float(net.l2_penalty(self.l2_output)) * self.l2
        return total / max(count, 1) + penalty

    # -- inference ------------------------------------------------------------------------------
    def _ready(self) -> str:
        if self.net is None or self.norm is None:
            raise RuntimeError("fusion-xray-dyn: fit() or load() first")
        device = self._device or self._torch_setup()
        self.net.to(device)
        self.net.eval()
        return device

    def predict(self, test: CatalogueView) -> np.ndarray | Prediction:
        """log10 M500c [h^-1 Msun] of the test clusters, in view order (a float32 forward pass, or
        bfloat16 autocast with float32 output layers when the network was trained in bfloat16).

        With ``loss: gaussian_nll`` or ``ensemble`` > 1: a Gaussian :class:`~massbench.Prediction`
        (mean and sigma in dex), one net's mean and sigma heads or the members' mixture
        (:func:`massbench.ensemble.combine`).
        """
        import torch

        from .data import batch_loader
        from .determinism import torch_determinism
        from .precision import autocast, float32_outputs

        device = self._ready()
        ds = self._dataset(test, with_target=False)
        out = []
        used = "bfloat16" if self.record.precision == "bfloat16" else "float32"  # float16 (GPU amp): float32
        float32_outputs(self.net)
        with torch.no_grad(), torch_determinism(self._deterministic()):
            for x, cube, _ in batch_loader(ds, self.predict_batch_size, shuffle=False, num_workers=self.num_workers):
                with autocast(device, used):
                    raw = self.net(x.to(device), cube.to(device)).float()
                if not self.probabilistic:
                    raw = self.net.log10_mass(raw)
                out.append(raw.double().cpu().numpy().reshape(len(raw), -1))
        if not self.probabilistic:
            return np.concatenate(out)[:, 0] if out else np.zeros(0)
        from .probabilistic import split_outputs

        gaussian = self.loss == "gaussian_nll"
        k = (2 if gaussian else 1) * self.ensemble
        means_t, log_sigmas = split_outputs(np.concatenate(out) if out else np.zeros((0, k)), self.ensemble, gaussian)
        sc = self.net.scalers()
        half_range = 0.5 * (sc["y_max"] - sc["y_min"])  # d log10 M / d t of the [-1, 1] target scaling
        means = sc["y_min"] + (means_t + 1.0) * half_range
        sigmas = None if log_sigmas is None else np.exp(log_sigmas) * half_range
        return ensemble_prediction(means, sigmas)

    def transform(self, view: CatalogueView) -> np.ndarray:
        """The network's map input for ``view``: equations 1 and 2 with this fold's constants,
        (n, 128, 128, 3) float32, channels last (the layout of ``xray_bands``)."""
        if self.norm is None:
            raise RuntimeError("fusion-xray-dyn: fit() or load() first")
        maps = view.lazy("xray_bands")
        out = np.empty(maps.shape, dtype=np.float32)
        for start in range(0, len(maps), 256):
            stop = min(start + 256, len(maps))
            out[start:stop] = preprocess_maps(maps[start:stop], view.redshift[start:stop], self.norm)
        return out

    def input_standardisation(self) -> dict[str, float]:
        """The training fold's standardisation z = (x - mean) / std inside the network, per input:
        ``xray_bands`` in units of x = log10(n + 1), ``dyn_cube`` in KDE density units.
        d f / d z = std * :meth:`input_gradients`."""
        if self.net is None:
            raise RuntimeError("fusion-xray-dyn: fit() or load() first")
        sc = self.net.scalers()
        return {"xray_bands": sc["map_std"], "dyn_cube": sc["cube_std"]}

    def input_gradients(self, view: CatalogueView) -> dict[str, np.ndarray]:
        """d(predicted log10 M500c) / d(network input), in inference mode (float32, batched).

        ``xray_bands``: (n, 128, 128, 3) with respect to the equation-2 map x = log10(n + 1) of
        the redshift-normalised counts (channels last, as :meth:`transform`); ``dyn_cube``:
        (n, 64, 64, 64) with respect to the KDE cube the network sees (the rebuilt cube when
        completeness < 1). For ``loss: gaussian_nll`` the gradient of the mean head; for an
        ensemble, of the members' average mean.
        """
        import torch

        from .data import batch_loader
        from .determinism import torch_determinism

        device = self._ready()
        if self.probabilistic:
            from .probabilistic import mean_output
        ds = self._dataset(view, with_target=False)
        gx = np.zeros((len(ds), *ds.maps.shape[1:]), dtype=np.float32)
        gc = np.zeros((len(ds), *ds.cubes.shape[1:]), dtype=np.float32)
        start = 0
        with torch_determinism(self._deterministic()):
            for x, cube, _ in batch_loader(ds, self.predict_batch_size, shuffle=False, num_workers=self.num_workers):
                x = x.to(device).requires_grad_(True)
                cube = cube.to(device).requires_grad_(True)
                out = self.net(x, cube)
                if self.probabilistic:  # the mean head, averaged over an ensemble's members
                    out = mean_output(out, self.ensemble, self.loss == "gaussian_nll")
                pred = self.net.log10_mass(out)
                gxb, gcb = torch.autograd.grad(pred.sum(), (x, cube), allow_unused=True, materialize_grads=True)
                b = len(pred)
                gx[start : start + b] = np.moveaxis(gxb.float().cpu().numpy(), 1, -1)
                gc[start : start + b] = gcb.float().cpu().numpy()
                start += b
        return {"xray_bands": gx, "dyn_cube": gc}

    # -- persistence ----------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write ``model.pt`` (state dict, scalers included), ``params.json`` and
        ``preprocessing.json`` (equation-1 constants, input/target scalers, layer config)."""
        import torch

        if self.net is None or self.norm is None:
            raise RuntimeError("fusion-xray-dyn: nothing to save before fit()")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu() for k, v in self.net.state_dict().items()}, d / MODEL_FILE)
        (d / PARAMS_FILE).write_text(json.dumps(self.params, indent=2))
        (d / PREPROCESSING_FILE).write_text(
            json.dumps(
                {
                    "redshift_normalisation": self.norm.to_dict(),
                    "scalers": self.net.scalers(),
                    "config": self.net.cfg.to_dict(),
                    "training": asdict(self.record),
                },
                indent=2,
            )
        )

    @classmethod
    def load(cls, directory: Path) -> "FusionXrayDyn":
        """Restore a model written by :meth:`save` (on the CPU until a context device moves it)."""
        import torch

        from .network import FusionConfig
        from .probabilistic import build_net

        d = Path(directory)
        for f in (MODEL_FILE, PARAMS_FILE, PREPROCESSING_FILE):
            if not (d / f).exists():
                raise DataError(f"fusion-xray-dyn: {d / f} is missing; is {d} a saved fusion-xray-dyn model?")
        est = cls(**json.loads((d / PARAMS_FILE).read_text()))
        pre = json.loads((d / PREPROCESSING_FILE).read_text())
        est.norm = RedshiftNormalisation.from_dict(pre["redshift_normalisation"])
        net = build_net(FusionConfig(**pre["config"]), est.loss == "gaussian_nll", est.ensemble)
        net.load_state_dict(torch.load(d / MODEL_FILE, map_location="cpu", weights_only=True))
        est.net = net
        est.record = TrainingRecord(**pre.get("training", {}))
        return est
