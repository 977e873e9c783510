"""``massbench new-plugin``: the package it writes installs, is discovered through its entry point,
passes its own test and ``check-plugin``."""

from __future__ import annotations

import os
import subprocess

import pytest

from massbench.errors import UserError
from massbench.isolated_env import layered_venv, massbench_command, pip_install
from massbench.scaffold import PluginNames, new_plugin

from .conftest import ROOT, run_cli


def test_names_and_refusals(tmp_path, toy_registry):
    n = PluginNames.from_name("mass-forest")
    assert (n.package, n.class_name, n.estimator_name, n.input_name) == (
        "mass_forest",
        "MassForest",
        "mass-forest",
        "n_phot_500c",
    )
    for bad in ("Mass_Forest", "1forest", "mass--forest", "mass forest", "import"):
        with pytest.raises(UserError, match="--name"):
            PluginNames.from_name(bad)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(UserError, match="not an empty directory"):
        new_plugin(tmp_path / "full", "mass-forest")
    with pytest.raises(UserError, match="already registered by plugin"):
        new_plugin(tmp_path / "new", "toy-linear", registry=toy_registry)


def test_rendered_files_are_complete(tmp_path):
    files = new_plugin(tmp_path / "p", "mass-forest", input_name="obs")
    rels = sorted(str(f.relative_to(tmp_path / "p")) for f in files)
    assert rels == [
        "README.md",
        "pyproject.toml",
        "src/mass_forest/__init__.py",
        "src/mass_forest/estimator.py",
        "src/mass_forest/plugin.py",
        "tests/test_estimator.py",
    ]
    for f in files:
        text = f.read_text()
        assert "${" not in text, f
        if f.suffix == ".py":
            compile(text, str(f), "exec")
    pyproject = (tmp_path / "p" / "pyproject.toml").read_text()
    assert '[project.entry-points.massbench]\nmass-forest = "mass_forest.plugin"' in pyproject
    plugin = (tmp_path / "p" / "src" / "mass_forest" / "plugin.py").read_text()
    assert "import torch" not in plugin and "from mass_forest.estimator import MassForest" in plugin
    est = (tmp_path / "p" / "src" / "mass_forest" / "estimator.py").read_text()
    assert 'inputs = ("obs",)' in est and "log10 M500c [h^-1 Msun]" in est


def test_generated_package_installs_tests_and_checks(tmp_path):
    """The whole author path: new-plugin, pip install -e (into a fresh layered venv, never the project's),
    the package's own pytest, discovery through the entry point, check-plugin."""
    p = run_cli("new-plugin", str(tmp_path / "pkg"), "--name", "mass-forest", "--input", "obs")
    assert p.returncode == 0, p.stderr
    py = layered_venv(tmp_path / "venv")
    inst = pip_install(py, str(tmp_path / "pkg"), no_build_isolation=True, no_deps=True, editable=True)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MASSBENCH_PLUGINS": "tests.toyplugin"}
    own = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "pkg")],
        capture_output=True,
        text=True,
        cwd=tmp_path / "pkg",
        env=env,
        timeout=300,
    )
    assert own.returncode == 0, own.stdout + own.stderr
    assert "2 passed" in own.stdout
    chk = subprocess.run(
        massbench_command(py, "check-plugin", "mass-forest", "--dataset", "toy"),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert chk.returncode == 0, chk.stdout + chk.stderr
    assert "distribution mass-forest 0.1.0" in chk.stdout and "mass-forest: all checks passed" in chk.stdout
    # the project's own environment is untouched
    probe = run_cli("plugins", "--json")
    assert '"mass-forest"' not in probe.stdout
