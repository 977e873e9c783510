"""Running benchmark units on a ``dask.distributed`` cluster (``massbench run --executor dask``).

Each pending unit (one estimator on one fold) becomes one task. The task carries only small
things (:class:`UnitTask`: the benchmark configuration as YAML text, the unit's label, fold
and configuration hash, the run directory, the device and the cache directory); the worker
loads the plugins and the dataset itself, from the shared cache, once per worker process
(:func:`worker_prepared`), and runs the unit in a fresh worker process of its own
(:func:`massbench.executors.process.run_isolated`: only the estimator's declared inputs, no
test masses, contained like the process executor), which writes the unit record atomically
into the shared run directory. The client (the process that runs
``massbench run``) then builds the leaderboard from those files exactly as the local
executor does, so ``--resume`` works the same across executors.

Clusters
    ``--scheduler ADDRESS`` connects to a running scheduler (``dask scheduler``, dask-jobqueue,
    ...). Without it a ``LocalCluster`` of ``--workers N`` worker processes with one thread
    each is started for the run and closed after it (N defaults to the number of visible GPUs,
    or the number of CPU cores when there is none).

GPUs
    Units whose estimator class says ``needs_gpu = True`` ask for the worker resource
    ``GPU: 1``, so a worker that advertises ``GPU=1`` runs one such unit at a time. They do so
    only when some worker advertises a ``GPU`` resource (otherwise they could never be
    scheduled; they then run unrestricted and a message says so), and not with ``--device cpu``.
    A local cluster gives its first ``min(N, n_gpus)`` workers ``GPU: 1`` and one device each
    through ``CUDA_VISIBLE_DEVICES``; its other workers see no GPU. GPUs are counted from
    ``CUDA_VISIBLE_DEVICES`` or ``nvidia-smi -L`` (:func:`visible_gpus`), never by importing
    TensorFlow or torch.

Dead workers
    A worker process that dies during a unit (killed, out of memory, a crash in native code)
    makes the unit run again on another worker, up to ``RunOptions.unit_retries`` times; after
    that the unit is recorded as failed with a message saying so. Attempts are counted by the
    workers themselves in ``units/<label>/fold<k>.attempts.jsonl`` (one line per start: worker,
    host, pid, time), so the count is exact whatever the scheduler's
    ``distributed.scheduler.allowed-failures`` is (a local cluster sets it to ``unit_retries``),
    and a unit that was only queued on the dead worker is resubmitted without being charged.
    A task that raises (e.g. a worker without the plugin) is retried the same way. Records are
    written with atomic replace, so a retried unit overwrites and nothing is duplicated; a unit
    that finished before its worker died keeps its record.

This module is imported only when the dask executor is chosen; it needs ``massbench[dask]``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import socket
import subprocess
import threading
import time
import uuid
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import UserError
from ..options import RunOptions
from ..plan import Prepared, Unit, plan_units, prepare, unit_done
from ..records import UnitKey, UnitRecord
from ..results import read_json
from ..unit import finish_record, new_record

ATTEMPTS_SUFFIX = ".attempts.jsonl"
PLUGINS_ENV = "MASSBENCH_PLUGINS"
#: Workers keep this many prepared benchmarks (dataset + folds) in memory.
PREPARED_CACHE_SIZE = 2
#: Extra submissions allowed for units that were queued on a dying worker but never started.
UNSTARTED_RESUBMITS = 5


# --------------------------------------------------------------------------- task payload


@dataclass(frozen=True)
class UnitTask:
    """What a worker needs to run one unit: small strings and numbers, never arrays.

    ``bench_text`` is the parsed benchmark configuration dumped as YAML (not the file, which
    the workers may not see); ``plugin_modules`` are the plugin modules the client registered
    outside entry points (``MASSBENCH_PLUGINS`` or ``load_registry(extra=...)``), imported by
    name on the worker; ``cache_dir`` None means the worker's own default
    (``$MASSBENCH_CACHE`` or ``~/.cache/massbench``).
    """

    bench_text: str
    bench_path: str
    bench_key: str
    plugin_modules: tuple[str, ...]
    entry_points: bool
    label: str
    fold: int
    config_hash: str
    unit_path: str
    out: str
    device: str
    cache_dir: str | None
    max_attempts: int
    repeat: int = 0

    @property
    def prepared_key(self) -> tuple:
        text_hash = hashlib.sha256(self.bench_text.encode()).hexdigest()
        return (text_hash, self.cache_dir, self.device, self.plugin_modules, self.entry_points)


def benchmark_text(p: Prepared) -> str:
    """The client's parsed benchmark configuration as YAML that :func:`parse_benchmark` reads back."""
    import yaml

    return yaml.safe_dump(p.bench.as_dict(), sort_keys=False)


def registry_recipe(p: Prepared) -> tuple[tuple[str, ...], bool]:
    """(plugin modules registered outside entry points, whether entry points were loaded) of the client."""
    modules, entry_points = [], False
    for plugin, distribution, _version in p.registry.plugins:
        if distribution in ("local", "MASSBENCH_PLUGINS"):
            modules.append(plugin)
        elif plugin != "massbench":  # the built-in module is always registered first
            entry_points = True
    return tuple(modules), entry_points


def make_task(p: Prepared, unit: Unit, out: Path, options: RunOptions, like: UnitTask | None = None) -> UnitTask:
    """The task of one unit; ``like`` (a task of the same run) saves re-dumping the configuration."""
    if like is not None:
        return dataclasses.replace(
            like,
            label=unit.spec.label,
            fold=unit.fold,
            repeat=unit.repeat,
            config_hash=unit.config_hash,
            unit_path=unit.path,
        )
    modules, entry_points = registry_recipe(p)
    return UnitTask(
        bench_text=benchmark_text(p),
        bench_path=p.bench.path,
        bench_key=p.bench.key,
        plugin_modules=modules,
        entry_points=entry_points,
        label=unit.spec.label,
        fold=unit.fold,
        repeat=unit.repeat,
        config_hash=unit.config_hash,
        unit_path=unit.path,
        out=str(Path(out).resolve()),
        device=options.device,
        cache_dir=str(Path(options.cache_dir).resolve()) if options.cache_dir else None,
        max_attempts=max(1, int(options.unit_retries) + 1),
    )


# --------------------------------------------------------------------------- attempts log


def attempts_path(out: Path, unit_path: str) -> Path:
    """``units/<label>/fold<k>.attempts.jsonl``: one JSON line per start of the unit on a worker."""
    return Path(out) / (unit_path[: -len(".json")] + ATTEMPTS_SUFFIX)


def read_attempts(path: Path) -> list[dict[str, Any]]:
    """The attempts logged so far (a torn last line from a killed writer is skipped)."""
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _append_attempt(path: Path, entry: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(entry) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- worker side

_PREPARED: "OrderedDict[tuple, tuple[Prepared, dict[UnitKey, Unit], Any]]" = OrderedDict()
_PREPARED_LOCK = threading.Lock()


def worker_registry(plugin_modules: Sequence[str], entry_points: bool) -> Any:
    """The plugin registry on a worker, built like the client's.

    Modules the worker already registers through its own ``MASSBENCH_PLUGINS`` are not added twice.
    """
    import importlib

    from ..registry import load_registry

    own = {m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()}
    extra = []
    for name in plugin_modules:
        if name in own:
            continue
        try:
            extra.append(importlib.import_module(name))
        except ImportError as exc:
            raise UserError(
                f"worker {_where()}: cannot import plugin module {name!r} that the client registered "
                f"({exc}); make it importable on every worker (same PYTHONPATH or installed package)"
            ) from None
    return load_registry(extra=extra, use_entry_points=entry_points)


def worker_prepared(task: UnitTask) -> tuple[Prepared, dict[UnitKey, Unit], Any]:
    """The benchmark of ``task`` with its dataset loaded, folds drawn and units planned, cached per worker process.

    The dataset plugin loads from the shared cache directory (a memory-map when the processed
    arrays are already there), so only the first unit of a benchmark on a worker pays for it.
    The third item is the :class:`~massbench.executors.process.InputStore` its units' worker
    processes get their inputs from.
    """
    from ..config import parse_benchmark
    from .process import InputStore

    key = task.prepared_key
    with _PREPARED_LOCK:
        if key in _PREPARED:
            _PREPARED.move_to_end(key)
            return _PREPARED[key]
        reg = worker_registry(task.plugin_modules, task.entry_points)
        bench = parse_benchmark(task.bench_text, task.bench_path)
        p = prepare(bench, reg, task.device, Path(task.cache_dir) if task.cache_dir else None)
        units = {u.key: u for u in plan_units(p)}
        store = InputStore(p.catalogue)
        _PREPARED[key] = (p, units, store)
        while len(_PREPARED) > PREPARED_CACHE_SIZE:
            _PREPARED.popitem(last=False)[1][2].close()
        return p, units, store


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return ""


def _where() -> str:
    addr = _worker_address()
    return (
        f"{addr} ({socket.gethostname()}, pid {os.getpid()})" if addr else f"{socket.gethostname()} pid {os.getpid()}"
    )


def find_unit(units: dict[tuple[str, int, int], Unit], task: UnitTask) -> Unit:
    """The unit of ``task`` in the worker's plan; its configuration hash must match the client's."""
    u = units.get((task.label, task.fold, task.repeat))
    if u is None:
        raise UserError(
            f"worker {_where()}: {task.bench_key} has no unit {task.label!r} fold {task.fold} here; "
            "the worker's plugins differ from the client's"
        )
    if u.config_hash != task.config_hash:
        raise UserError(
            f"worker {_where()}: unit {task.label!r} fold {task.fold} of {task.bench_key} has configuration "
            f"hash {u.config_hash} here but {task.config_hash} on the client; the worker has other plugin "
            "versions or another dataset. Install the same massbench and plugins on every worker and give "
            "them the same dataset cache (--cache-dir)"
        )
    return u


def _finished_record(path: Path, config_hash: str) -> dict[str, Any] | None:
    """The unit's record when it already succeeded with this configuration (written by this run)."""
    try:
        rec = read_json(path)
    except (UserError, OSError):
        return None
    return rec if rec.get("status") == "ok" and rec.get("config_hash") == config_hash else None


def run_unit_task(task: UnitTask) -> dict[str, Any]:
    """Worker entry point: run one unit and write its record; returns a small summary.

    Does not run the unit again when its record already says ok with the same configuration
    (the client deletes or skips such records before submitting, so that record is this run's:
    the scheduler recomputes a finished task whose result was lost with its worker). Returns
    ``{"status": "exhausted", ...}`` without running when the unit already started
    ``task.max_attempts`` times (the scheduler may retry a task after a worker death more
    often than the run allows).
    """
    out = Path(task.out)
    keep = ("label", "fold", "status", "error", "started", "finished", "device_used", "train_seconds")
    done = _finished_record(out / task.unit_path, task.config_hash)
    if done is not None:  # the scheduler recomputes a task whose result died with its worker: don't redo it
        return {k: done.get(k) for k in keep}
    apath = attempts_path(out, task.unit_path)
    previous = read_attempts(apath)
    if len(previous) >= task.max_attempts:
        return {"status": "exhausted", "label": task.label, "fold": task.fold, "attempts": len(previous)}
    entry = {
        "attempt": len(previous) + 1,
        "worker": _worker_address(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": time.time(),
    }
    _append_attempt(apath, entry)
    from .process import run_isolated

    p, units, store = worker_prepared(task)
    unit = find_unit(units, task)
    rec = run_isolated(p, unit, out, task.device, store).to_json()
    summary = {k: rec.get(k) for k in keep}
    summary.update(worker=entry["worker"], host=entry["host"], attempt=entry["attempt"])
    return summary


# --------------------------------------------------------------------------- GPUs and local workers


def visible_gpus(environ: dict[str, str] | None = None, nvidia_smi: str | None = None) -> list[str]:
    """Device identifiers of the GPUs this process may use, without importing a framework.

    ``CUDA_VISIBLE_DEVICES`` wins when set (entries up to the first negative one, as CUDA
    reads it; empty means none); otherwise ``nvidia-smi -L`` is asked (its MIG device UUIDs
    when the GPUs are partitioned, else the GPU indices). ``nvidia_smi`` passes that command's
    output directly (for tests).
    """
    env = os.environ if environ is None else environ
    cvd = env.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None:
        ids = []
        for s in (x.strip() for x in cvd.split(",")):
            if not s or s.startswith("-"):
                break
            ids.append(s)
        return ids
    if nvidia_smi is None:
        try:
            nvidia_smi = subprocess.run(
                ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return []
    gpus, migs = [], []
    for line in nvidia_smi.splitlines():
        m = re.match(r"\s*GPU (\d+):", line)
        if m:
            gpus.append(m.group(1))
        m = re.match(r"\s*MIG .*\(UUID: (MIG-[^)]+)\)", line)
        if m:
            migs.append(m.group(1))
    return migs or gpus


@dataclass
class LocalWorkerSpec:
    """One worker process of the local cluster: its environment and resources."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    resources: dict[str, float] = field(default_factory=dict)


def local_worker_specs(n_workers: int, gpus: Sequence[str], cpu_count: int) -> list[LocalWorkerSpec]:
    """Worker specs of a local cluster: one thread each, the cores shared out, one GPU per GPU worker.

    Numerical libraries get ``cpu_count // n_workers`` threads per worker (at least 1). With
    GPUs, worker i < len(gpus) sees only device ``gpus[i]`` and advertises ``GPU: 1``; the
    other workers see no GPU (``CUDA_VISIBLE_DEVICES=""``) and no GPU resource.
    """
    if n_workers < 1:
        raise UserError(f"--workers must be at least 1, not {n_workers}")
    threads = str(max(1, cpu_count // n_workers))
    specs = []
    for i in range(n_workers):
        env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
        resources: dict[str, float] = {}
        if gpus:
            if i < len(gpus):
                env["CUDA_VISIBLE_DEVICES"] = gpus[i]
                resources["GPU"] = 1
            else:
                env["CUDA_VISIBLE_DEVICES"] = ""
        specs.append(LocalWorkerSpec(f"massbench-{i}", env, resources))
    return specs


# --------------------------------------------------------------------------- client side


@dataclass
class ClusterInfo:
    """What the client knows about the cluster it submits to."""

    address: str
    n_workers: int
    gpu_workers: int
    local: bool


@contextmanager
def _preserve_environ() -> Iterator[None]:
    """Undo the environment changes a dask Nanny makes in this process before spawning workers."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for k in list(os.environ):
            if k not in saved:
                del os.environ[k]
        for k, v in saved.items():
            if os.environ.get(k) != v:
                os.environ[k] = v


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise UserError(
            f"--executor dask needs dask.distributed ({exc}); install it with "
            "`pip install 'massbench[dask]'` or use --executor process"
        ) from None
    return distributed


def _cluster_info(client: Any, local: bool) -> ClusterInfo:
    info = client.scheduler_info(n_workers=-1)
    workers = info.get("workers", {})
    gpu = sum(1 for w in workers.values() if (w.get("resources") or {}).get("GPU", 0) >= 1)
    return ClusterInfo(client.scheduler.address, len(workers), gpu, local)


@contextmanager
def open_client(options: RunOptions, message: Any = print) -> Iterator[tuple[Any, ClusterInfo]]:
    """A dask Client on ``options.scheduler``, or on a LocalCluster started for this run."""
    distributed = _import_distributed()
    import dask

    if options.scheduler:
        timeout = dask.config.get("distributed.comm.timeouts.connect")
        try:
            client = distributed.Client(options.scheduler, timeout=timeout)
        except (OSError, ValueError, TimeoutError) as exc:
            raise UserError(
                f"--scheduler {options.scheduler}: cannot connect to a dask scheduler ({exc}); start "
                "one (`dask scheduler`, or a dask-jobqueue cluster, see docs/dask.md) or leave "
                "--scheduler out for a local cluster"
            ) from None
        try:
            want = options.workers or 1
            if len(client.scheduler_info(n_workers=-1).get("workers", {})) < want:
                message(f"waiting for {want} worker(s) to connect to {options.scheduler}")
            client.wait_for_workers(want)
            yield client, _cluster_info(client, local=False)
        finally:
            client.close()
        return

    gpus = visible_gpus()
    cpu = os.cpu_count() or 1
    n = options.workers if options.workers is not None else (len(gpus) if gpus else cpu)
    specs = local_worker_specs(n, gpus, cpu)
    threads = specs[0].env["OMP_NUM_THREADS"]
    config = {
        "distributed.scheduler.allowed-failures": max(0, int(options.unit_retries)),
        # the Nanny sets these in its own process before spawning a worker; we restore ours after
        "distributed.nanny.pre-spawn-environ": {
            "MALLOC_TRIM_THRESHOLD_": 65536,
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
        },
    }
    with _preserve_environ(), dask.config.set(config):
        # memory_limit=0: the nanny must not kill a unit for touching a large memory-mapped dataset
        cluster = distributed.LocalCluster(
            n_workers=0,
            threads_per_worker=1,
            processes=True,
            memory_limit=0,
            dashboard_address=None,
            silence_logs=logging.WARNING,
        )
        try:
            base = cluster.new_spec
            for s in specs:
                opts = dict(base["options"])
                opts.update(env=s.env, resources=s.resources or None)
                cluster.worker_spec[s.name] = {"cls": base["cls"], "options": opts}
            cluster.scale(len(specs))
            client = distributed.Client(cluster)
            try:
                client.wait_for_workers(len(specs))
                yield client, _cluster_info(client, local=True)
            finally:
                client.close()
        finally:
            cluster.close()


@dataclass
class _Pending:
    unit: Unit
    task: UnitTask
    submissions: int = 0


class DaskExecutor:
    """Units as tasks of a dask.distributed cluster (each run in a worker process of its own on a dask worker)."""

    name = "dask"

    def __init__(self, p: Prepared, out: Path, options: RunOptions, prog: Any = None):
        self.p, self.out, self.options, self.prog = p, Path(out), options, prog

    def run(self, units: Sequence[Unit]) -> Iterator[UnitRecord]:
        prog = self.prog if self.prog is not None else _Quiet()
        yield from run_units_dask(self.p, units, self.out, self.options, prog)


class _Quiet:
    def message(self, text: str) -> None:
        pass


def run_units_dask(
    p: Prepared, pending: Sequence[Unit], out: Path, options: RunOptions, prog: Any
) -> Iterator[UnitRecord]:
    """Run ``pending`` units as dask tasks, yielding each unit's record (ok or failed, also written in ``out``)."""
    out = Path(out).resolve()
    distributed = _import_distributed()
    if not pending:
        return
    with open_client(options, prog.message) as (client, info):
        gpu_units = [u for u in pending if u.needs_gpu and options.device != "cpu"]
        use_gpu_resource = bool(gpu_units) and info.gpu_workers > 0
        where = "local cluster" if info.local else "scheduler"
        prog.message(
            f"dask: {len(pending)} units on {info.n_workers} worker(s) ({info.gpu_workers} with a GPU) of "
            f"{where} {info.address}"
        )
        if gpu_units and not use_gpu_resource:
            prog.message(
                f"dask: {len(gpu_units)} unit(s) need a GPU but no worker advertises a GPU resource; they "
                "run without the GPU: 1 restriction (start GPU workers with --resources GPU=1)"
            )
        token = uuid.uuid4().hex[:8]
        state: dict[str, _Pending] = {}
        live: dict[str, Any] = {}

        def submit(item: _Pending) -> Any:
            item.submissions += 1
            slug = item.unit.spec.slug
            key = f"massbench-unit-{token}-{slug}-{item.unit.tag}-try{item.submissions}"
            resources = {"GPU": 1} if (use_gpu_resource and item.unit.needs_gpu) else None
            fut = client.submit(run_unit_task, item.task, key=key, pure=False, resources=resources)
            state[fut.key] = item
            live[fut.key] = fut
            return fut

        futures = []
        first: UnitTask | None = None
        for u in pending:
            attempts_path(out, u.path).unlink(missing_ok=True)
            task = make_task(p, u, out, options, like=first)
            first = first or task
            futures.append(submit(_Pending(u, task)))
        done = distributed.as_completed(futures, with_results=False)
        try:
            for fut in done:
                item = state.pop(fut.key)
                live.pop(fut.key, None)
                rec = _outcome(p, item, fut, out, options)
                fut.release()
                if rec is None:
                    done.add(submit(item))
                else:
                    yield rec
        except BaseException:
            client.cancel(list(live.values()))
            raise


def _outcome(p: Prepared, item: _Pending, fut: Any, out: Path, options: RunOptions) -> UnitRecord | None:
    """The final record of a finished task, or None when the unit must be submitted again."""
    from distributed import KilledWorker

    unit, task = item.unit, item.task
    attempts = read_attempts(attempts_path(out, unit.path))
    if fut.status == "finished":
        res = fut.result()
        if res.get("status") != "exhausted":
            return UnitRecord.from_json(read_json(out / unit.path))
        exc: BaseException | None = None
    elif fut.status == "cancelled":  # e.g. the scheduler restarted: try again like after an error
        exc = RuntimeError("the task was cancelled by the dask scheduler")
    else:
        exc = fut.exception()
    killed = exc is None or isinstance(exc, KilledWorker)
    if unit_done(out, unit):  # an attempt finished and wrote its record before its worker went away
        return UnitRecord.from_json(read_json(out / unit.path))
    n = len(attempts)
    if exc is not None and n < task.max_attempts and item.submissions < task.max_attempts + UNSTARTED_RESUBMITS:
        return None
    last = attempts[-1] if attempts else {}
    on = f" (last on worker {last.get('worker')} on {last.get('host')}, pid {last.get('pid')})" if last else ""
    if killed and n >= task.max_attempts:
        error = (
            f"the worker process died while running this unit, {n} time(s){on}; given up after "
            f"{task.max_attempts} attempt(s) (unit_retries={options.unit_retries}). Usual causes: out of "
            "memory (host or GPU), the batch job's time limit, a crash in native code; see the worker logs"
        )
        tb = error + "\n"
    elif killed:
        error = (
            f"given up after {item.submissions} submissions: the workers this unit was queued on kept dying "
            f"(it started {n} time(s){on}); see the worker logs"
        )
        tb = error + "\n"
    else:
        error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, UserError) else str(exc)
        if n < task.max_attempts:
            error += f" (gave up after {item.submissions} submissions)"
        else:
            error += f" (on every one of {n} attempt(s))"
        import traceback

        assert exc is not None  # an errored future carries its exception
        tb = "".join(traceback.format_exception(type(exc), exc, fut.traceback()))
    return record_failure(p, unit, out, error, tb, attempts)


def record_failure(
    p: Prepared, unit: Unit, out: Path, error: str, tb: str, attempts: list[dict[str, Any]]
) -> UnitRecord:
    """Write a failed unit record (fields as every executor writes them) for a unit no worker finished."""
    rec = new_record(p, unit)
    for sibling in sorted((out / "units" / unit.spec.slug).glob("fold*.json")):
        try:  # an instance may set its inputs from its params: take them from a record that has them
            other = read_json(sibling)
        except (UserError, OSError):
            continue
        if other.get("status") == "ok" and "inputs" in other:
            rec.inputs = list(other["inputs"])
            break
    rec.started = attempts[0]["started"] if attempts else time.time()
    rec.error, rec.attempts = error, attempts
    return finish_record(out, unit, rec, tb)
