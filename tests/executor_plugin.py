"""Misbehaving estimators and a dataset that leaves its masses in the cache, for tests/test_executors.py."""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np

from massbench import Catalogue, CatalogueView, Estimator, InputArray, RunContext, hookimpl
from massbench.estimator import default_cache_dir

from .toyplugin import ToyDataset


class CachedToy(ToyDataset):
    """The toy dataset, plus an object input, writing its masses into the dataset cache like a real dataset does."""

    name = "toy-cached"

    def load(self, context: RunContext) -> Catalogue:
        cat = super().load(context)
        d = Path(context.cache_dir) / "toy-cached"
        d.mkdir(parents=True, exist_ok=True)
        np.save(d / "log10_m500c.npy", cat.log10_m500c)
        gal = np.empty(len(cat), dtype=object)
        for i in range(len(cat)):
            gal[i] = np.full(3, float(i))
        cat.inputs["gal"] = InputArray(gal, "", "per-cluster arrays (an object input)")
        cat.meta["cache_key"] = "toy-cached-" + cat.meta["cache_key"]
        return cat


class _Base(Estimator):
    inputs = ("obs",)

    def fit(self, train, val) -> None:
        self.coef = np.polyfit(np.log10(train["obs"]), train.log10_m500c, 1)

    def predict(self, test):
        return np.polyval(self.coef, np.log10(test["obs"]))


class Exit0(_Base):
    name = "bad-exit0"

    def fit(self, train, val) -> None:
        sys.exit(0)


class OsExit1(_Base):
    name = "bad-osexit1"

    def fit(self, train, val) -> None:
        print("about to leave", file=sys.stderr, flush=True)
        os._exit(1)


class Segfault(_Base):
    name = "bad-segfault"

    def fit(self, train, val) -> None:
        ctypes.string_at(0)


class Sleeper(_Base):
    name = "bad-sleep"

    def fit(self, train, val) -> None:
        time.sleep(10**6)


class CacheCheat(_Base):
    """Looks for the masses in the dataset cache and predicts them (scatter 0 if it finds them)."""

    name = "cheat-cache"

    def predict(self, test):
        for root in {os.environ.get("MASSBENCH_CACHE"), str(self.context.cache_dir), str(default_cache_dir())}:
            if root and (Path(root) / "toy-cached" / "log10_m500c.npy").exists():
                return np.load(Path(root) / "toy-cached" / "log10_m500c.npy")[test.indices]
        return super().predict(test)


class GcCheat(_Base):
    """Walks the garbage collector for a catalogue (or any array holding the test masses) and predicts from it."""

    name = "cheat-gc"

    def predict(self, test):
        for obj in gc.get_objects():
            if isinstance(obj, Catalogue):
                return obj.log10_m500c[test.indices]
        for obj in gc.get_objects():
            if isinstance(obj, CatalogueView) and obj.role == "test" and obj.log10_m500c_ is not None:
                return obj.log10_m500c_
        return super().predict(test)


class Mutator(_Base):
    """Writes into its inputs: the catalogue's array behind the view, and the arrays of an object input."""

    name = "bad-mutate"
    inputs = ("obs", "gal")

    def fit(self, train, val) -> None:
        errors = []
        for attempt in (
            lambda: train.arrays["obs"].data.__setitem__(slice(None), 0.0),
            lambda: train.arrays["gal"].data.__setitem__(0, None),
            lambda: train.arrays["gal"].data[0].__setitem__(0, -1.0),
        ):
            try:
                attempt()
            except (ValueError, TypeError) as exc:
                errors.append(str(exc))
        if len(errors) == 3:
            raise ValueError("every write was refused: " + errors[0])
        super().fit(train, val)


class GalReader(_Base):
    """Checks that the object input is intact (after the mutator ran) and fits like toy-linear."""

    name = "gal-reader"
    inputs = ("obs", "gal")

    def fit(self, train, val) -> None:
        gal = train.arrays["gal"].data
        assert all(float(gal[i][0]) == float(i) for i in range(len(gal))), "the object input was modified"
        assert np.all(train.arrays["obs"].data > 0), "the obs input was modified"
        super().fit(train, val)


class ContextRecorder(_Base):
    """Records the run context it was given (``deterministic``) in ``context.info``."""

    name = "toy-context"

    def fit(self, train, val) -> None:
        self.context.info["context_deterministic"] = self.context.deterministic
        super().fit(train, val)

    def save(self, directory: Path) -> None:
        np.save(Path(directory) / "coef.npy", self.coef)

    @classmethod
    def load(cls, directory: Path) -> "ContextRecorder":
        est = cls()
        est.coef = np.load(Path(directory) / "coef.npy")
        return est


@hookimpl
def massbench_datasets():
    return [CachedToy]


@hookimpl
def massbench_estimators():
    return [Exit0, OsExit1, Segfault, Sleeper, CacheCheat, GcCheat, Mutator, GalReader, ContextRecorder]
