"""Pluggy hook specifications: the whole plugin surface of massbench.

A plugin is an importable module (or object) with functions decorated by
``massbench.hookimpl`` whose names match the specs below, advertised through
the ``massbench`` entry-point group::

    # pyproject.toml of your package
    [project.entry-points.massbench]
    my-plugin = "my_package.plugin"

    # my_package/plugin.py
    from massbench import hookimpl

    @hookimpl
    def massbench_estimators():
        from my_package.estimator import MyEstimator   # keep heavy imports out of module scope
        return [MyEstimator]

Every hook returns *classes*, never instances: massbench instantiates them with
the ``params`` of a benchmark file, after checking those params against the
class's typed ``__init__`` signature (for a dataclass: its fields). Plugin modules must import quickly and
must not import TensorFlow or torch at module level (``massbench plugins``
loads every plugin and must stay under a second).

The documentation of each hook below is kept in sync with ``docs/plugins.md``
by ``tests/test_hookspecs_docs.py``.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "massbench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def massbench_datasets() -> list[type]:
    """Return dataset classes.

    A dataset class has a class attribute ``name`` (unique string), an
    ``__init__(**params)`` with typed keyword parameters, and a method
    ``load(self, context: massbench.RunContext) -> massbench.Catalogue``
    returning cluster ids, comoving box positions [h^-1 Mpc] and the box size
    (for spatial folds), redshifts, true log10 M500c [h^-1 Msun] and named
    inputs (``massbench.InputArray``: array or memory-mapped array, unit,
    description, and flags ``truth_only`` / ``idealised``). Truth-only inputs
    (for example ICM/AGN component maps) are readable by explainers but may not
    be declared by estimators. Clusters that are one halo seen several times
    (e.g. at several snapshots) should share a lineage id in the catalogue's
    ``group`` array, so that the harness's bootstrap intervals resample them
    together. A dataset should cache expensive processing under
    ``context.cache_dir`` so that repeated loads (and Dask workers) are cheap.
    """


@hookspec
def massbench_estimators() -> list[type]:
    """Return estimator classes.

    The contract (see ``massbench.estimator.Estimator`` for a base class)::

        class MyEstimator:
            name = "my-estimator"          # unique
            inputs = ("xray_map",)         # dataset inputs it reads
            def __init__(self, **params): ...  # typed keyword params, or @dataclass fields
            def fit(self, train: CatalogueView, val: CatalogueView) -> None: ...
            def predict(self, test: CatalogueView) -> np.ndarray: ...  # log10 M500c [h^-1 Msun], one per test cluster, in order

    The views are ``massbench.CatalogueView`` objects. ``train`` and ``val``
    expose ``log10_m500c``; reading it on ``test`` fails the unit. Optional members: ``framework`` (string shown in leaderboards),
    ``needs_gpu`` (bool, for distributed executors), ``save(directory)`` and the
    classmethod ``load(directory)`` (trained-model persistence; the pair lets
    ``massbench explain`` reload each fold's model), and
    ``input_gradients(view) -> dict[str, ndarray]`` (d prediction / d network
    input, one array per declared input with a leading cluster axis; explainers
    take its absolute value). Before ``fit`` the runner sets
    ``estimator.context`` to a ``massbench.RunContext`` carrying the seed, the
    requested device, a scratch directory and the progress callback.
    """


@hookspec
def massbench_explainers() -> list[type]:
    """Return explainer classes.

    An explainer has ``name``, ``__init__(**params)``, ``supports(estimator)
    -> bool``, ``explain_fold(estimator, test, truth, train_truth, context) ->
    dict[str, ndarray]`` (per-cluster arrays, leading axis = the fold's test
    clusters in order, stored by the harness as
    ``explanations/<explainer>/<label>/fold<k>.npz``) and ``summarize(label,
    arrays, truth, out_dir) -> dict`` (JSON-able figures for
    ``explanations/summary.json``; PNG figures written into ``out_dir``;
    ``arrays`` concatenates every fold, ``truth`` is the matching view).
    ``test`` is the estimator's test view (declared inputs only, no masses);
    ``truth`` views the same clusters with every input, truth-only ones
    included, and masses; ``train_truth`` views the fold's training clusters
    likewise (to fit reference models such as the N_phot proxy of eq. 13).
    """


@hookspec
def massbench_register_commands(cli: Any) -> None:
    """Add sub-commands to the ``massbench`` command line.

    ``cli`` is the root ``typer.Typer`` application. Add commands or
    sub-applications (``cli.add_typer(app, name="mock")``). Import heavy
    libraries inside the command functions, never at registration time.
    """
