"""TensorFlow set-up for the CNN estimators: quiet import, thread limits, device choice, determinism.

Nothing here imports TensorFlow at module import time; :func:`import_tf` does it on first use.

Thread limits: TensorFlow's intra-op pool is sized to ``$MASSBENCH_TF_THREADS``, else
``$OMP_NUM_THREADS``, else the CPUs this process may use (``os.sched_getaffinity``); the
inter-op pool to at most 2. They can only be set before TensorFlow's runtime starts, so a process that
already used TensorFlow keeps its own settings.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from massbench.errors import ConfigError

_CONFIGURED = False


def available_cpus() -> int:
    """Threads for TensorFlow's intra-op pool.

    ``$MASSBENCH_TF_THREADS`` if set, else ``$OMP_NUM_THREADS`` (the Dask executor gives each
    worker ``cpu_count // n_workers`` threads this way), else the CPUs this process may run on.
    """
    for var in ("MASSBENCH_TF_THREADS", "OMP_NUM_THREADS"):
        env = os.environ.get(var)
        if env:
            try:
                return max(1, int(env))
            except ValueError as exc:
                raise ConfigError(f"${var}={env!r} is not an integer; set it to a thread count") from exc
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


_NATIVE_LOG = re.compile(r"^([IWEF])\d{4} ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}


@contextmanager
def _filtered_native_stderr(min_level: int) -> Iterator[None]:
    """Apply ``TF_CPP_MIN_LOG_LEVEL`` to the C++ lines TensorFlow writes to fd 2 while it is imported.

    Recent TensorFlow logs its start-up notices (oneDNN, CUDA drivers) through absl before its own
    log level is read, so the variable alone does not silence them. Lines of a severity below
    ``min_level`` (I=0, W=1, E=2, F=3) and absl's "before InitializeLog" notice are dropped; every other
    byte is passed on to stderr.
    """
    if min_level <= 0:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            for raw in tmp.read().decode(errors="replace").splitlines(keepends=True):
                m = _NATIVE_LOG.match(raw)
                if raw.startswith("WARNING: All log messages before absl::InitializeLog()"):
                    continue
                if m and _SEVERITY[m.group(1)] < min_level:
                    continue
                sys.stderr.write(raw)
            sys.stderr.flush()


def import_tf() -> Any:
    """Import TensorFlow quietly, limit its threads (first call only) and return the module.

    ``TF_CPP_MIN_LOG_LEVEL`` defaults to 3 (the user's own value wins) and also filters the start-up
    lines TensorFlow prints before reading it (:func:`_filtered_native_stderr`).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if _CONFIGURED:
        import tensorflow as tf

        return tf
    try:
        level = int(os.environ["TF_CPP_MIN_LOG_LEVEL"])
    except ValueError:
        level = 0
    with _filtered_native_stderr(level if "tensorflow" not in sys.modules else 0):
        tf = _configure()
    return tf


def _configure() -> Any:
    global _CONFIGURED
    import tensorflow as tf

    _CONFIGURED = True
    tf.get_logger().setLevel("ERROR")
    n = available_cpus()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, n))
    except RuntimeError:
        pass  # the runtime was already initialised by someone else: keep its pools
    tf.config.list_physical_devices()  # the device scan (CUDA driver notices), inside the filter
    return tf


@dataclass(frozen=True)
class DeviceChoice:
    """The device a fit or prediction runs on.

    ``label`` is what goes into ``run.json`` (``"GPU:0 (<model>)"`` or ``"cpu"``), ``tf_name`` the
    TensorFlow device string, ``description`` the GPU model where TensorFlow reports one.
    """

    label: str
    tf_name: str
    is_gpu: bool
    description: str = ""


def resolve_device(requested: str) -> DeviceChoice:
    """Map the run's ``--device`` (``auto``, ``cpu``, ``gpu``) to a TensorFlow device.

    ``auto`` takes the first GPU TensorFlow sees, else the CPU; ``cpu`` forces the CPU;
    ``gpu`` fails with a :class:`~massbench.errors.ConfigError` when TensorFlow sees none.
    """
    req = (requested or "auto").lower()
    if req not in ("auto", "cpu", "gpu"):
        raise ConfigError(f"device {requested!r} is not one of 'auto', 'cpu', 'gpu'")
    tf = import_tf()
    cpu = DeviceChoice("cpu", "/CPU:0", False, "")
    if req == "cpu":
        return cpu
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        if req == "gpu":
            raise ConfigError(
                "--device gpu was requested but TensorFlow sees no GPU "
                f"(tensorflow {tf.__version__}, CUDA build: {tf.test.is_built_with_cuda()}); "
                "use --device auto or --device cpu, or install a CUDA-enabled TensorFlow"
            )
        return cpu
    description = ""
    try:
        description = str(tf.config.experimental.get_device_details(gpus[0]).get("device_name", ""))
    except Exception:  # pragma: no cover - details are best effort
        description = ""
    label = f"GPU:0 ({description})" if description else "GPU:0"
    return DeviceChoice(label, "/GPU:0", True, description)


def op_determinism_enabled() -> bool:
    """Whether TensorFlow's op determinism is on in this process."""
    import_tf()
    from tensorflow.python.framework import config as tf_config

    return bool(tf_config.is_op_determinism_enabled())


@contextlib.contextmanager
def op_determinism(enabled: bool) -> Iterator[None]:
    """Turn TensorFlow's op determinism on or off inside the block, then restore it.

    ``enabled`` is ``tf.config.experimental.enable_op_determinism()``: on a GPU it selects
    deterministic cuDNN convolution and pooling back-propagation algorithms (and the other
    GPU kernels that have a deterministic variant, e.g. the bias-add gradient), makes
    ``tf.data`` run its ``map``/``batch`` stages in order, and makes an op without a deterministic GPU kernel raise ``UnimplementedError``
    instead of silently varying. Together with ``keras.utils.set_random_seed`` (called by
    ``fit`` with the unit's seed; TensorFlow's random ops raise ``RuntimeError`` under op
    determinism when no seed is set), the same hardware and software give bit-identical
    weights and predictions. The estimators also turn float16 mixed precision, reduced precision on
    a GPU, and XLA off while it is on. On this project's CPUs a seeded run is repeatable either way (tested); the cost
    there is small (docs/cnn.md).
    """
    import_tf()
    from tensorflow.python.framework import config as tf_config

    before = bool(tf_config.is_op_determinism_enabled())
    if enabled != before:
        (tf_config.enable_op_determinism if enabled else tf_config.disable_op_determinism)()
    try:
        yield
    finally:
        if bool(tf_config.is_op_determinism_enabled()) != before:
            (tf_config.enable_op_determinism if before else tf_config.disable_op_determinism)()
