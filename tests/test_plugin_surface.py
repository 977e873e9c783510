"""The plugin surface: hooks collected through pluggy, one shared registry, typed view contract."""

from __future__ import annotations

import ast
import types
import typing

from massbench import CatalogueView, Estimator, hookimpl
from massbench.registry import load_registry, shared_registry

from .conftest import ROOT


def test_plugins_never_import_the_command_line():
    offenders = []
    for path in (ROOT / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "massbench.cli" or n.startswith("massbench.cli.") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_registry_collects_hookimpls_only_and_attributes_them():
    class E:
        name = "surface-toy"
        inputs = ()

    class F:
        name = "surface-undecorated"
        inputs = ()

    decorated = types.ModuleType("surface_decorated")
    decorated.massbench_estimators = hookimpl(lambda: [E])
    plain = types.ModuleType("surface_plain")
    plain.massbench_estimators = lambda: [F]  # not a hookimpl: not part of the plugin surface
    reg = load_registry(extra=[decorated, plain], use_entry_points=False)
    assert reg.estimators["surface-toy"].plugin == "surface_decorated"
    assert "surface-undecorated" not in reg.estimators
    assert "baseline-mean" in reg.estimators and reg.estimators["baseline-mean"].plugin == "massbench"


def test_failing_hook_is_a_load_error_not_a_crash():
    def broken() -> list[type]:
        raise RuntimeError("boom")

    mod = types.ModuleType("surface_broken")
    mod.massbench_datasets = hookimpl(broken)
    reg = load_registry(extra=[mod], use_entry_points=False)
    assert any(e.plugin == "surface_broken" and "massbench_datasets() failed" in e.error for e in reg.errors)


def test_one_registry_per_process_shared_with_the_command_line():
    from massbench import cli

    assert shared_registry() is shared_registry() is cli.registry()


def test_the_estimator_contract_types_views():
    import massbench.estimator as estimator_module

    hints = typing.get_type_hints(Estimator.fit)
    assert hints["train"] is CatalogueView and hints["val"] is CatalogueView
    assert typing.get_type_hints(Estimator.predict)["test"] is CatalogueView
    assert not hasattr(estimator_module, "EstimatorProtocol")
