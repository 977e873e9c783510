"""``massbench check-plugin``: each broken contract gives its own FAIL line; good estimators pass."""

from __future__ import annotations

import json
import os
import types
from pathlib import Path

import numpy as np
import pytest

from massbench import Estimator, hookimpl
from massbench.plugin_check import check_estimator, check_import_light, resolve_estimators
from massbench.registry import load_registry

from . import toyplugin
from .conftest import ROOT, run_cli


class Unseeded(Estimator):
    """Adds noise from an unseeded generator: not repeatable."""

    name = "t-unseeded"
    inputs = ("obs",)

    def fit(self, train, val):
        self.mean_ = float(np.mean(train.log10_m500c))

    def predict(self, test):
        return self.mean_ + np.random.default_rng().normal(0, 0.1, len(test))


class Seeded(Unseeded):
    """The same, seeded from the run context: repeatable."""

    name = "t-seeded"

    def predict(self, test):
        return self.mean_ + self.context.rng().normal(0, 0.1, len(test))


class LinearMass(Unseeded):
    """Predicts M instead of log10 M."""

    name = "t-linear-mass"

    def predict(self, test):
        return np.full(len(test), 10**self.mean_)


class SwallowsUndeclared(Unseeded):
    """Tries an undeclared input and hides the error."""

    name = "t-swallow"

    def fit(self, train, val):
        super().fit(train, val)
        try:
            train["toy_map"]
        except Exception:
            pass


class SubviewPeeker(Unseeded):
    """Reads test masses through a subview and hides the error."""

    name = "t-subview-peeker"

    def predict(self, test):
        try:
            return test.subview(np.arange(len(test))).log10_m500c
        except Exception:
            return np.full(len(test), self.mean_)


class SaveOnly(Seeded):
    name = "t-save-only"

    def save(self, directory):
        (Path(directory) / "m.txt").write_text(repr(self.mean_))


class ForgetfulLoad(SaveOnly):
    """load() forgets the fitted mean."""

    name = "t-forgetful"

    def predict(self, test):
        return np.full(len(test), self.mean_)

    @classmethod
    def load(cls, directory):
        est = cls()
        est.mean_ = 14.0
        return est


class Untyped(Seeded):
    name = "t-untyped"

    def __init__(self, width=3):
        self.width = width


_PLUGIN = types.SimpleNamespace(
    __name__="t_check_plugin",
    massbench_estimators=hookimpl(
        lambda: [Unseeded, Seeded, LinearMass, SwallowsUndeclared, SubviewPeeker, SaveOnly, ForgetfulLoad, Untyped]
    ),
)


@pytest.fixture(scope="module")
def registry():
    return load_registry(extra=[toyplugin, _PLUGIN], use_entry_points=False)


def check(registry, name, **kw):
    kw.setdefault("import_check", False)
    return check_estimator(registry, name, dataset="toy", **kw)


def statuses(rep):
    return {r.check: r.status for r in rep.results}


def failures(rep):
    return {r.check: r.message for r in rep.results if r.status == "fail"}


def test_good_estimator_passes_every_check(registry):
    rep = check(registry, "toy-linear")
    assert rep.ok, rep.text()
    st = statuses(rep)
    for c in (
        "loads",
        "params",
        "inputs",
        "fit",
        "predict",
        "plausible-range",
        "declared-inputs",
        "no-test-masses",
        "repeatable",
        "save-load",
    ):
        assert st[c] == "ok", (c, rep.text())
    assert rep.n_clusters == 120 and "fold 0" in rep.fold
    assert rep.text().splitlines()[-1] == "toy-linear: all checks passed"


@pytest.mark.parametrize(
    "name, check_name, words",
    [
        ("toy-peeker", "no-test-masses", "test.log10_m500c"),
        ("toy-sneaky", "no-test-masses", "test.log10_m500c"),
        ("t-subview-peeker", "no-test-masses", "test.log10_m500c"),
        ("toy-undeclared", "declared-inputs", "'obs'"),
        ("t-swallow", "declared-inputs", "'toy_map'"),
        ("toy-nan", "predict", "NaN"),
        ("toy-short", "predict", "shape (15,)"),
        ("toy-crash", "fit", "boom in fit"),
        ("toy-truth", "inputs", "truth-only"),
        ("t-linear-mass", "plausible-range", "12-16"),
        ("t-unseeded", "repeatable", "same RunContext seed"),
        ("t-save-only", "save-load", "defines save but not load"),
        ("t-forgetful", "save-load", "differ"),
    ],
)
def test_each_broken_contract_is_one_clear_line(registry, name, check_name, words):
    rep = check(registry, name)
    fails = failures(rep)
    assert list(fails) == [check_name], rep.text()  # exactly one problem line, for the right check
    assert words in fails[check_name]
    assert not rep.ok and rep.text().splitlines()[-1] == f"{name}: 1 problem"


def test_seeded_randomness_is_repeatable_and_warnings_do_not_fail(registry):
    assert check(registry, "t-seeded").ok
    rep = check(registry, "t-untyped")
    assert rep.ok, rep.text()
    assert any(r.status == "warn" and r.check == "params" and "width" in r.message for r in rep.results)


def test_params_are_checked_against_the_typed_init(registry):
    rep = check(registry, "toy-linear", params={"degree": "two", "degre": 1})
    msgs = [r.message for r in rep.results if r.status == "fail"]
    assert any("'degree' must be int" in m for m in msgs) and any("did you mean 'degree'" in m for m in msgs)
    assert statuses(rep)["fit"] == "skip"


def test_unknown_names_are_user_errors(registry):
    from massbench.errors import UserError

    with pytest.raises(UserError, match="did you mean 'toy-linear'"):
        check(registry, "toy-linaer")
    with pytest.raises(UserError, match="dataset"):
        check_estimator(registry, "toy-linear", dataset="no-such-dataset")
    assert [i.name for i in resolve_estimators(registry, "t_check_plugin")][:2] == ["t-forgetful", "t-linear-mass"]


def test_import_check_catches_heavy_framework_imports(tmp_path):
    fake = tmp_path / "fakeheavy"
    (fake / "jax").mkdir(parents=True)
    (fake / "jax" / "__init__.py").write_text("")
    (fake / "light_plug.py").write_text(
        "from massbench import hookimpl\n@hookimpl\ndef massbench_estimators():\n    return []\n"
    )
    (fake / "heavy_plug.py").write_text(
        "from massbench import hookimpl\n@hookimpl\ndef massbench_estimators():\n    import jax\n    return []\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), str(ROOT)])}
    assert check_import_light("light_plug", env=env).status == "ok"
    heavy = check_import_light("heavy_plug", env=env)
    assert heavy.status == "fail" and "imported jax" in heavy.message
    broken = check_import_light("no_such_plugin_module", env=env)
    assert broken.status == "fail" and "ModuleNotFoundError" in broken.message


def test_cli_exit_status_text_and_json(tmp_path):
    p = run_cli("check-plugin", "toy-linear", "--dataset", "toy")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ok    imports-light" in p.stdout and "toy-linear: all checks passed" in p.stdout
    p = run_cli(
        "check-plugin",
        "toy-peeker",
        "--dataset",
        "toy",
        "--json",
        "--no-import-check",
        "--json-out",
        str(tmp_path / "r.json"),
    )
    assert p.returncode == 1
    data = json.loads(p.stdout)
    assert data["ok"] is False and data["estimators"][0]["estimator"] == "toy-peeker"
    assert json.loads((tmp_path / "r.json").read_text()) == data
    bench = tmp_path / "b.yaml"
    bench.write_text(
        "benchmark: t\nversion: '1'\ndataset: {name: toy, params: {n_clusters: 300}}\ncv: {}\n"
        "estimators: [toy-linear]\n"
    )
    p = run_cli("check-plugin", "toy-linear", "--bench", str(bench), "-p", "degree=2", "--no-import-check")
    assert p.returncode == 0 and "120 clusters" in p.stdout, p.stdout + p.stderr
    p = run_cli("check-plugin", "toy-linear", "--dataset", "toy", "-p", "degree")
    assert p.returncode == 2 and "key=value" in p.stderr
