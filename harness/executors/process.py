"""The process executor (the default): every unit in a fresh worker process, isolated and contained.

Isolation
    The worker (:mod:`massbench.worker`) gets a private temporary directory holding only the
    inputs its estimator declared (hard links to a read-only copy of each input made once per
    run in another private directory, :class:`InputStore`), the indices, cluster ids and
    redshifts of its train/val/test rows, and the train and val masses. It is never told where
    the dataset cache or the run directory is (``MASSBENCH_CACHE`` is removed from its
    environment and its ``context.cache_dir`` is a private scratch directory of the run, shared by
    its units, e.g. for fusion cubes) and never holds a catalogue; the test masses stay in this process, which scores the predictions.

Containment
    A worker that exits early (``sys.exit``, ``os._exit``), dies from a signal (a segfault), or
    runs past the unit's ``timeout`` (its process group is killed) becomes a failed unit record
    with the exit code or signal and the tail of its output; the run goes on. Inputs are
    read-only memory maps (object arrays: read-only arrays of read-only arrays), so writing
    into them raises.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..errors import ContractError, UserError
from ..options import RunOptions
from ..plan import Prepared, Unit
from ..records import UnitRecord
from ..results import read_json
from ..unit import check_inputs, check_predictions, error_message, finish_record, new_record, stored_distribution

#: Characters of a dead worker's output kept in its record.
TAIL_CHARS = 4000


class InputStore:
    """Read-only copies of a catalogue's inputs, written on first use, under a private temporary directory.

    The directory is not listable (mode 0711) and its files have random names, so a worker
    that is handed links to some of them cannot find the others.
    """

    def __init__(self, catalogue: Any, root: Path | None = None):
        self.catalogue = catalogue
        self.root = Path(tempfile.mkdtemp(prefix="massbench-inputs-", dir=root))
        os.chmod(self.root, 0o711)
        #: the workers' ``context.cache_dir``: a scratch cache of this run (e.g. fusion cubes reused across
        #: folds), never the dataset cache; removed with the store
        self.scratch = Path(tempfile.mkdtemp(prefix="massbench-scratch-", dir=root))
        self.files: dict[str, Path] = {}

    def file(self, name: str) -> Path:
        if name not in self.files:
            data = self.catalogue.inputs[name].data
            sparse = hasattr(data, "write_dense_npy")  # massbench.sparse.SparseRows: densified in chunks
            is_obj = not sparse and (not isinstance(data, np.ndarray) or data.dtype == np.dtype(object))
            path = self.root / (os.urandom(12).hex() + (".pkl" if is_obj else ".npy"))
            tmp = path.with_name("." + path.name)
            if is_obj:
                with open(tmp, "wb") as fh:
                    pickle.dump(np.asarray(data), fh, protocol=pickle.HIGHEST_PROTOCOL)
            elif sparse:
                data.write_dense_npy(tmp)
            else:
                np.save(tmp, np.ascontiguousarray(data), allow_pickle=False)
            os.chmod(tmp, 0o444)
            os.replace(tmp, path)
            self.files[name] = path
        return self.files[name]

    def link(self, name: str, dest_dir: Path) -> str:
        """Put input ``name`` into ``dest_dir`` (a hard link, else a copy); returns the file name."""
        src = self.file(name)
        dest = dest_dir / (name.replace("/", "_") + src.suffix)
        try:
            os.link(src, dest)
        except OSError:
            shutil.copyfile(src, dest)
            os.chmod(dest, 0o444)
        return dest.name

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.scratch, ignore_errors=True)


def worker_env() -> dict[str, str]:
    """The worker's environment: ours without the dataset cache, with our import path."""
    env = dict(os.environ)
    env.pop("MASSBENCH_CACHE", None)
    env.pop("MASSBENCH_SEALED_SEED", None)  # the sealed evaluation's secret seed (massbench.sealed)
    paths = [os.path.abspath(p or os.getcwd()) for p in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if os.path.exists(p)))
    env["MASSBENCH_WORKER"] = "1"
    return env


def _write_split(p: Prepared, unit: Unit, data: Path) -> None:
    cat, fold = p.catalogue, p.fold(unit.fold)
    arrays: dict[str, np.ndarray] = {}
    for role, idx in (("train", fold.train), ("val", fold.val), ("test", fold.test)):
        idx = np.asarray(idx, dtype=np.int64)
        arrays[f"indices_{role}"] = idx
        arrays[f"cluster_id_{role}"] = cat.cluster_id[idx]
        arrays[f"redshift_{role}"] = cat.redshift[idx]
        if role != "test":
            arrays[f"log10_m500c_{role}"] = cat.log10_m500c[idx]
    payload: dict[str, Any] = dict(arrays)
    np.savez(data / "split.npz", **payload)
    os.chmod(data / "split.npz", 0o444)


def _describe_exit(rc: int | None, timed_out: bool, timeout: float | None) -> tuple[str, int | None, str | None]:
    if timed_out:
        return f"timed out after {timeout:g} s (timeout); its worker process was killed", None, None
    if rc is not None and rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return f"the unit's worker process was killed by {name} ({-rc})", None, name
    return (
        f"the unit's worker process exited with code {rc} before the unit finished "
        "(sys.exit, os._exit or a crash in the estimator)",
        rc,
        None,
    )


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - TAIL_CHARS))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def run_isolated(
    p: Prepared,
    unit: Unit,
    out: Path,
    device: str = "auto",
    store: InputStore | None = None,
    progress: Callable[..., None] | None = None,
) -> UnitRecord:
    """Run one unit in a fresh worker process and write its record; never raises for the estimator's failure."""
    out = Path(out)
    info = p.registry.get("estimator", unit.spec.name)
    rec = new_record(p, unit)
    cls = info.cls
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        rec.error = (
            f"estimator class {cls.__qualname__} of {unit.spec.name!r} is defined in {cls.__module__} and "
            "cannot be imported by a worker process; define it in an importable module, or run with "
            "--executor inline"
        )
        return finish_record(out, unit, rec)
    own_store = store is None
    store = store or InputStore(p.catalogue)
    d = Path(tempfile.mkdtemp(prefix="massbench-unit-"))
    proc: subprocess.Popen | None = None
    tb: str | None = None
    try:
        for sub in ("work", "data"):
            (d / sub).mkdir()
        meta = {
            "module": cls.__module__,
            "qualname": cls.__qualname__,
            "params": unit.spec.params,
            "seed": unit.seed,
            "device": device,
            "dataset": p.catalogue.name,
            "all_inputs": list(p.catalogue.inputs),
            "label": unit.spec.label,
            "cache_dir": str(store.scratch),
            "deterministic": p.bench.run.deterministic,
        }
        (d / "unit.json").write_text(json.dumps(meta))
        r, w = os.pipe()
        log = open(d / "output.txt", "wb")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "massbench.worker", str(d), str(w)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                pass_fds=(w,),
                cwd=d / "work",
                env=worker_env(),
                start_new_session=True,
            )
        finally:
            os.close(w)
            log.close()
        deadline = time.monotonic() + unit.timeout if unit.timeout else None
        refused: str | None = None
        timed_out = False
        buf = b""
        with os.fdopen(r, "rb", buffering=0) as chan:
            while True:
                wait = None if deadline is None else deadline - time.monotonic()
                if wait is not None and wait <= 0:
                    timed_out = True
                    break
                ready, _, _ = select.select([chan], [], [], wait)
                if not ready:
                    continue
                chunk = chan.read(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue
                    if msg.get("event") == "inputs":
                        refused = _hand_inputs(p, unit, rec, msg.get("inputs"), store, d / "data", proc)
                    elif msg.get("event") == "progress" and progress is not None:
                        msg.pop("event")
                        try:
                            progress(**msg)
                        except Exception:
                            pass
        if not timed_out:
            try:
                proc.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
        _kill(proc)
        rc = proc.wait()
        result_path = d / "result.json"
        if refused is not None:
            rec.error = refused
        elif not timed_out and rc == 0 and result_path.exists():
            res = read_json(result_path)
            rec.inputs = list(res.get("inputs", rec.inputs))
            rec.info = res.get("info") or {}
            rec.device_used = res.get("device_used")
            if res.get("status") == "ok":
                try:
                    pred = check_predictions(res.get("prediction"), rec.n_test)
                    dist = stored_distribution(pred, res.get("distribution"), rec.n_test)
                except ContractError as exc:
                    rec.error = error_message(exc)
                else:
                    rec.status, rec.error = "ok", None
                    rec.cluster_id = p.catalogue.cluster_id[p.fold(unit.fold).test].tolist()
                    rec.prediction = pred.tolist()
                    rec.distribution = dist
                    rec.train_seconds = res.get("train_seconds")
                    rec.predict_seconds = res.get("predict_seconds")
                    if (d / "model").is_dir():
                        _move_model(d / "model", out / unit.model_dir)
            else:
                rec.error, tb = res.get("error"), res.get("traceback")
        else:
            error, rec.exit_code, rec.signal = _describe_exit(rc, timed_out, unit.timeout)
            rec.timeout = unit.timeout if timed_out else None
            tail = _tail(d / "output.txt")
            rec.stderr_tail = tail
            last = next((ln.strip() for ln in reversed(tail.splitlines()) if ln.strip()), "")
            rec.error = error + (f"; last output: {last[:200]}" if last else "")
            tb = error + "\n\n--- tail of the worker's output ---\n" + tail
    except BaseException:
        if proc is not None:
            _kill(proc)
        raise
    finally:
        shutil.rmtree(d, ignore_errors=True)
        if own_store:
            store.close()
    return finish_record(out, unit, rec, tb)


def _hand_inputs(
    p: Prepared, unit: Unit, rec: UnitRecord, inputs: Any, store: InputStore, data: Path, proc: subprocess.Popen
) -> str | None:
    """Check the inputs the worker asks for, put them into its data directory and let it go; or refuse."""
    assert proc.stdin is not None
    try:
        if not isinstance(inputs, list) or not all(isinstance(x, str) for x in inputs):
            raise ContractError(
                f"estimator {unit.spec.name!r}: `inputs` must be a tuple of input names, got {inputs!r}"
            )
        rec.inputs = list(inputs)
        check_inputs(unit.spec.name, inputs, p.catalogue.name, p.catalogue.inputs)
        spec = {}
        for name in inputs:
            a = p.catalogue.inputs[name]
            spec[name] = {
                "file": store.link(name, data),
                "unit": a.unit,
                "description": a.description,
                "idealised": a.idealised,
            }
        (data / "inputs.json").write_text(json.dumps(spec))
        _write_split(p, unit, data)
        answer, refused = b"go\n", None
    except (ContractError, UserError) as exc:
        answer, refused = b"stop\n", error_message(exc)
    try:
        proc.stdin.write(answer)
        proc.stdin.flush()
    except OSError:
        pass
    return refused


def _kill(proc: subprocess.Popen) -> None:
    """Kill the worker and anything it started (its own session / process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.stdin is not None:
        try:
            proc.stdin.close()
        except OSError:
            pass


def _move_model(src: Path, dest: Path) -> None:
    tmp = dest.parent / f".{dest.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), str(tmp))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


class ProcessExecutor:
    """Each unit in a fresh worker process, one at a time."""

    name = "process"

    def __init__(self, p: Prepared, out: Path, options: RunOptions, prog: Any = None):
        self.p, self.out, self.options, self.prog = p, Path(out), options, prog

    def run(self, units: Sequence[Unit]) -> Iterator[UnitRecord]:
        store = InputStore(self.p.catalogue)
        try:
            for u in units:
                callback = None
                if self.prog is not None:
                    self.prog.start_unit(u.title)
                    callback = self.prog.epoch_callback()
                yield run_isolated(self.p, u, self.out, self.options.device, store, callback)
        finally:
            store.close()
