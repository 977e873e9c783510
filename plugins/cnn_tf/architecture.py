"""The CNN of Ho et al. section 4.1 (single band) and 5.1 (three bands as channels), in Keras.

Layer sequence with the paper's values (padding "same" as in the paper's notebook)::

    input (H, W, C)
    conv1  Conv2D 24 filters 5x5, ReLU      conv2  Conv2D 10 filters 3x3, ReLU
    pool1  MaxPooling 4x4
    conv3  Conv2D 24 filters 5x5, ReLU      conv4  Conv2D 10 filters 3x3, ReLU
    pool2  MaxPooling 2x2
    flatten
    dense1 128 ReLU, dense2 128 ReLU, dense3 64 ReLU   (each followed by dropout when > 0)
    output Dense 1, linear

L2 weight regularisation of strength ``l2`` on the kernels of every layer except the last
("all layers except the last use a ReLU activation and an L2 weight regularisation"), or on
every kernel including the output layer's with ``l2_output=True`` (the paper's notebook).
For a 128x128x1 input the model has 363,629 parameters; for 128x128x3, 364,829 (the first
convolution's kernel grows from 5x5x1x24 to 5x5x3x24 weights: 1,200 more).

``build_cnn`` imports Keras lazily; the config is a plain dataclass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from massbench.errors import ConfigError

PAPER_CONV_FILTERS = (24, 10, 24, 10)
PAPER_CONV_KERNELS = (5, 3, 5, 3)
PAPER_POOL_SIZES = (4, 2)
PAPER_DENSE_UNITS = (128, 128, 64)


@dataclass(frozen=True)
class ArchitectureConfig:
    """Hyper-parameters of the network (paper section 4.1 defaults).

    The convolutions are split evenly into ``len(pool_sizes)`` blocks, each block ending
    in a max-pooling layer: the paper's 4 convolutions and 2 poolings make two blocks of two.
    """

    conv_filters: tuple[int, ...] = PAPER_CONV_FILTERS
    conv_kernels: tuple[int, ...] = PAPER_CONV_KERNELS
    pool_sizes: tuple[int, ...] = PAPER_POOL_SIZES
    dense_units: tuple[int, ...] = PAPER_DENSE_UNITS
    l2: float = 1e-4
    l2_output: bool = False
    dropout: float = 0.0
    padding: str = "same"
    activation: str = "relu"

    def __post_init__(self) -> None:
        if len(self.conv_filters) != len(self.conv_kernels):
            raise ConfigError(
                f"conv_filters ({list(self.conv_filters)}) and conv_kernels ({list(self.conv_kernels)}) "
                "must have the same length: one kernel size per convolution"
            )
        if not self.conv_filters or not self.pool_sizes:
            raise ConfigError("the CNN needs at least one convolution and one pooling layer")
        if len(self.conv_filters) % len(self.pool_sizes):
            raise ConfigError(
                f"{len(self.conv_filters)} convolutions cannot be split evenly into {len(self.pool_sizes)} blocks "
                f"(one per pool size {list(self.pool_sizes)}); the paper uses 4 convolutions and pool_sizes [4, 2]"
            )
        for name, values in (
            ("conv_filters", self.conv_filters),
            ("conv_kernels", self.conv_kernels),
            ("pool_sizes", self.pool_sizes),
            ("dense_units", self.dense_units),
        ):
            if any(int(v) < 1 for v in values):
                raise ConfigError(f"{name} must hold positive integers, got {list(values)}")
        if self.l2 < 0:
            raise ConfigError(f"l2 must be >= 0, got {self.l2}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.padding not in ("same", "valid"):
            raise ConfigError(f"padding must be 'same' or 'valid', got {self.padding!r}")

    @property
    def convs_per_block(self) -> int:
        return len(self.conv_filters) // len(self.pool_sizes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def layer_plan(self) -> list[tuple[str, str]]:
        """``(layer name, description)`` in order, as :func:`build_cnn` builds them."""
        plan: list[tuple[str, str]] = []
        k = 0
        for b, pool in enumerate(self.pool_sizes):
            for _ in range(self.convs_per_block):
                f, s = self.conv_filters[k], self.conv_kernels[k]
                k += 1
                plan.append((f"conv{k}", f"Conv2D {f} filters {s}x{s}, {self.activation}"))
            plan.append((f"pool{b + 1}", f"MaxPooling2D {pool}x{pool}"))
        plan.append(("flatten", "Flatten"))
        for i, units in enumerate(self.dense_units):
            plan.append((f"dense{i + 1}", f"Dense {units}, {self.activation}"))
            if self.dropout > 0:
                plan.append((f"dropout{i + 1}", f"Dropout {self.dropout}"))
        plan.append(("output", "Dense 1, linear" + (", L2" if self.l2_output and self.l2 > 0 else "")))
        return plan


def build_cnn(
    input_shape: tuple[int, int, int],
    config: ArchitectureConfig | None = None,
    mixed_precision: bool = False,
    name: str = "cnn",
    seed: int | None = None,
    policy: str | None = None,
) -> Any:
    """Build the (uncompiled) Keras model for inputs of shape ``(H, W, C)``.

    ``policy`` is the Keras dtype policy of every layer but the output, which stays float32
    (numerically safe regression output, and a float32 loss): ``"float32"`` (default),
    ``"mixed_bfloat16"`` or ``"mixed_float16"`` (GPUs; :mod:`.precision` chooses).
    ``mixed_precision=True`` is the older spelling of ``policy="mixed_float16"``.
    ``seed`` fixes every kernel initialisation (Glorot uniform, Keras's default) and dropout
    mask stream explicitly, so that the weights do not depend on the process-wide Python
    random state (which other threads, e.g. a Dask worker's, may draw from).
    """
    from .tf_runtime import import_tf

    import_tf()
    import keras

    cfg = config or ArchitectureConfig()
    h, w = int(input_shape[0]), int(input_shape[1])
    for pool in cfg.pool_sizes:
        if cfg.padding == "same":
            h, w = h // pool, w // pool
        if h < 1 or w < 1:
            raise ConfigError(
                f"input images of {input_shape[0]}x{input_shape[1]} pixels are too small for pool_sizes "
                f"{list(cfg.pool_sizes)}"
            )
    dtype = policy or ("mixed_float16" if mixed_precision else "float32")
    reg = (lambda: keras.regularizers.L2(cfg.l2)) if cfg.l2 > 0 else (lambda: None)
    L = keras.layers
    n_seeds = len(cfg.conv_filters) + 2 * len(cfg.dense_units) + 1
    seeds = (
        iter(np.random.default_rng(int(seed) % 2**63).integers(0, 2**31 - 1, size=n_seeds).tolist())
        if seed is not None
        else None
    )

    def init() -> Any:
        return keras.initializers.GlorotUniform(seed=next(seeds)) if seeds is not None else "glorot_uniform"

    def drop_seed() -> int | None:
        return next(seeds) if seeds is not None else None

    inputs = keras.Input(shape=tuple(int(s) for s in input_shape), name="x")
    h_: Any = inputs
    k = 0
    for b, pool in enumerate(cfg.pool_sizes):
        for _ in range(cfg.convs_per_block):
            h_ = L.Conv2D(
                cfg.conv_filters[k],
                cfg.conv_kernels[k],
                padding=cfg.padding,
                activation=cfg.activation,
                kernel_regularizer=reg(),
                kernel_initializer=init(),
                name=f"conv{k + 1}",
                dtype=dtype,
            )(h_)
            k += 1
        h_ = L.MaxPooling2D(pool, name=f"pool{b + 1}", dtype=dtype)(h_)
    h_ = L.Flatten(name="flatten", dtype=dtype)(h_)
    for i, units in enumerate(cfg.dense_units):
        h_ = L.Dense(
            units,
            activation=cfg.activation,
            kernel_regularizer=reg(),
            kernel_initializer=init(),
            name=f"dense{i + 1}",
            dtype=dtype,
        )(h_)
        if cfg.dropout > 0:
            h_ = L.Dropout(cfg.dropout, name=f"dropout{i + 1}", dtype=dtype, seed=drop_seed())(h_)
    outputs = L.Dense(
        1,
        activation="linear",
        kernel_regularizer=reg() if cfg.l2_output else None,
        kernel_initializer=init(),
        name="output",
        dtype="float32",
    )(h_)
    return keras.Model(inputs, outputs, name=name)


def parameter_count(input_shape: tuple[int, int, int], config: ArchitectureConfig | None = None) -> int:
    """Trainable + non-trainable parameters of the model for ``input_shape`` (Keras count)."""
    return int(build_cnn(input_shape, config).count_params())


def model_summary(input_shape: tuple[int, int, int], config: ArchitectureConfig | None = None) -> str:
    """Keras's text summary of the model for ``input_shape``."""
    model = build_cnn(input_shape, config)
    lines: list[str] = []
    model.summary(print_fn=lambda line, *a, **k: lines.append(line), line_length=80)
    return "\n".join(lines)
