"""Old home of the dask executor; it lives in :mod:`massbench.executors.dask` (names re-exported here)."""

from .executors.dask import (  # noqa: F401
    ATTEMPTS_SUFFIX, PLUGINS_ENV, PREPARED_CACHE_SIZE, UNSTARTED_RESUBMITS, ClusterInfo, DaskExecutor,
    LocalWorkerSpec, UnitTask, attempts_path, benchmark_text, find_unit, local_worker_specs, make_task,
    open_client, read_attempts, record_failure, registry_recipe, run_unit_task, run_units_dask, visible_gpus,
    worker_prepared, worker_registry,
)
