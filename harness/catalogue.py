"""The catalogue a dataset plugin returns, and the views estimators see.

Units: positions in comoving h^-1 Mpc, masses as log10 M500c [h^-1 Msun].

An estimator never receives a :class:`Catalogue`. The runner hands it
:class:`CatalogueView` objects restricted to its declared inputs; a test view
is built without the masses, and reading them raises
:class:`~massbench.errors.TestMassAccessError`, which fails the unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from .errors import ContractError, DataError, TestMassAccessError


@dataclass(frozen=True)
class InputArray:
    """One named per-cluster input of a catalogue.

    ``data`` has a leading cluster axis (``data[i]`` belongs to cluster ``i``);
    it may be a ``numpy.memmap`` so that large inputs (3,285 dynamical cubes
    of 64^3 float32 are 3.4 GB) are streamed rather than held in RAM.
    """

    data: Any  # np.ndarray or np.memmap, shape (n_clusters, ...)
    unit: str = ""
    description: str = ""
    truth_only: bool = False  # only explainers may read it (e.g. ICM/AGN component maps)
    idealised: bool = False  # an observable no observer has (Table 2's idealised rows)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)


@dataclass
class Catalogue:
    """Everything a dataset provides, in the harness's units.

    Attributes
    ----------
    name : dataset name
    cluster_id : (n,) integer ids
    positions : (n, 3) comoving box positions [h^-1 Mpc] (wrapped periodically by the folds)
    box_size : comoving side of the periodic box [h^-1 Mpc]
    redshift : (n,) cluster redshifts
    log10_m500c : (n,) true log10 M500c [h^-1 Msun]
    inputs : named :class:`InputArray` objects
    meta : free-form provenance (dataset version, cache key, generator seed, ...)
    group : (n,) optional integer lineage ids: clusters sharing one are the same halo (e.g. at
        several snapshots; Magneticum's ``tree_id``). The harness resamples them together in its
        bootstrap intervals, so correlated clusters are not counted as independent. None: every
        cluster is its own group.
    """

    name: str
    cluster_id: np.ndarray
    positions: np.ndarray
    box_size: float
    redshift: np.ndarray
    log10_m500c: np.ndarray
    inputs: dict[str, InputArray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    group: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.cluster_id = np.asarray(self.cluster_id)
        if self.group is not None:
            self.group = np.asarray(self.group)
            if self.group.shape != self.cluster_id.shape:
                raise DataError(
                    f"dataset {self.name!r}: group does not have one entry per cluster ({len(self.cluster_id)} clusters)"
                )
            if self.group.dtype.kind not in "iu":
                raise DataError(f"dataset {self.name!r}: group must hold integer lineage ids (has {self.group.dtype})")
        self.positions = np.asarray(self.positions, dtype=float)
        self.redshift = np.asarray(self.redshift, dtype=float)
        self.log10_m500c = np.asarray(self.log10_m500c, dtype=float)
        n = len(self.cluster_id)
        checks = {
            "positions": self.positions.shape == (n, 3),
            "redshift": self.redshift.shape == (n,),
            "log10_m500c": self.log10_m500c.shape == (n,),
        }
        for key, ok in checks.items():
            if not ok:
                raise DataError(f"dataset {self.name!r}: {key} does not have one row per cluster ({n} clusters)")
        for key, arr in (("positions", self.positions), ("redshift", self.redshift), ("log10_m500c", self.log10_m500c)):
            bad = ~np.isfinite(arr).reshape(n, -1).all(axis=1) if n else np.zeros(0, bool)
            if bad.any():
                raise DataError(
                    f"dataset {self.name!r}: {key} is NaN or infinite for cluster {self.cluster_id[bad][0]}"
                    f" ({int(bad.sum())} clusters in all)"
                )
        if len(np.unique(self.cluster_id)) != n:
            raise DataError(f"dataset {self.name!r}: cluster ids are not unique")
        for key, inp in self.inputs.items():
            if len(inp.data) != n:
                raise DataError(f"dataset {self.name!r}: input {key!r} has {len(inp.data)} rows for {n} clusters")

    def __len__(self) -> int:
        return len(self.cluster_id)

    def subset(self, indices: Sequence[int] | np.ndarray) -> "Catalogue":
        """A catalogue of the given rows (memory-mapped inputs are read into RAM)."""
        idx = np.asarray(indices)
        return Catalogue(
            name=self.name,
            cluster_id=self.cluster_id[idx],
            positions=self.positions[idx],
            box_size=self.box_size,
            redshift=self.redshift[idx],
            log10_m500c=self.log10_m500c[idx],
            inputs={
                k: InputArray(np.asarray(v.data[idx]), v.unit, v.description, v.truth_only, v.idealised)
                for k, v in self.inputs.items()
            },
            meta=dict(self.meta),
            group=None if self.group is None else self.group[idx],
        )

    def groups(self) -> np.ndarray:
        """Lineage ids for resampling: ``group`` when the dataset gives one, else one group per cluster."""
        return np.arange(len(self)) if self.group is None else self.group

    def view(
        self,
        indices: Sequence[int] | np.ndarray,
        inputs: Sequence[str] | None = None,
        role: str = "train",
        allow_truth: bool = False,
    ) -> "CatalogueView":
        """A view of the given rows exposing only ``inputs`` (all non-truth inputs when ``None``).

        ``role`` is ``"train"``, ``"val"``, ``"test"`` or ``"truth"``; a ``"test"`` view carries
        no masses. ``allow_truth`` permits truth-only inputs (explainers only).
        """
        names = list(self.inputs) if inputs is None else list(inputs)
        if inputs is None and not allow_truth:
            names = [n for n in names if not self.inputs[n].truth_only]
        for n in names:
            if n not in self.inputs:
                raise KeyError(f"dataset {self.name!r} has no input {n!r}; it has {sorted(self.inputs)}")
            if self.inputs[n].truth_only and not allow_truth:
                raise ContractError(f"input {n!r} of dataset {self.name!r} is truth-only: estimators may not read it")
        idx = np.asarray(indices, dtype=np.int64)
        return CatalogueView(
            dataset=self.name,
            indices=idx,
            cluster_id=self.cluster_id[idx],
            redshift=self.redshift[idx],
            arrays={n: self.inputs[n] for n in names},
            log10_m500c=None if role == "test" else self.log10_m500c[idx],
            role=role,
            all_inputs=tuple(self.inputs),
        )


class RowAccessor:
    """Lazy rows of one input for one view: index it to read only those rows.

    ``len(acc)``, ``acc.shape``, ``acc.dtype``, ``acc[i]``, ``acc[a:b]``, ``acc[idx_array]``
    and ``np.asarray(acc)`` (reads all rows) work; use ``acc.batches(n)`` to stream.
    """

    def __init__(self, data: Any, indices: np.ndarray):
        self._data = data
        self._indices = indices

    def __len__(self) -> int:
        return len(self._indices)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self._indices), *tuple(self._data.shape[1:]))

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    def __getitem__(self, key: Any) -> np.ndarray:
        rows = self._indices[key]
        if np.ndim(rows) == 0:
            return np.asarray(self._data[int(rows)])
        rows = np.asarray(rows)
        # sorted reads are much faster on memory maps; restore the requested order afterwards
        order = np.argsort(rows, kind="stable")
        out = np.asarray(self._data[rows[order]])
        result = np.empty_like(out)
        result[order] = out
        return result

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self[:]
        return arr if dtype is None else arr.astype(dtype)

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """Yield consecutive blocks of at most ``batch_size`` rows, in view order."""
        for start in range(0, len(self), batch_size):
            yield self[start : start + batch_size]


@dataclass
class ViewAudit:
    """What an estimator tried to read that it may not: shared by a view and its subviews."""

    mass_read: bool = False
    undeclared: set[str] = field(default_factory=set)


class CatalogueView:
    """What an estimator sees of one split (train, val or test) of a catalogue.

    - ``len(view)``, ``view.cluster_id``, ``view.redshift``
    - ``view[name]``: the rows of a declared input as an ndarray (read into RAM)
    - ``view.lazy(name)``: a :class:`RowAccessor` to stream a large (memory-mapped) input
    - ``view.log10_m500c``: true log10 M500c [h^-1 Msun] on train and val views; on a
      test view reading it raises :class:`~massbench.errors.TestMassAccessError`
    - ``view.unit(name)``, ``view.description(name)``, ``view.inputs``
    """

    def __init__(
        self,
        dataset: str,
        indices: np.ndarray,
        cluster_id: np.ndarray,
        redshift: np.ndarray,
        arrays: Mapping[str, InputArray],
        log10_m500c: np.ndarray | None,
        role: str,
        all_inputs: tuple[str, ...] = (),
        audit: "ViewAudit | None" = None,
    ):
        self.dataset = dataset
        self.indices = indices
        self.cluster_id = cluster_id
        self.redshift = redshift
        self.arrays = dict(arrays)
        self.log10_m500c_ = log10_m500c
        self.role = role
        self.all_inputs = all_inputs
        self.audit = audit if audit is not None else ViewAudit()

    @property
    def mass_read(self) -> bool:
        """Whether anyone tried to read the masses of this (test) view or of a subview of it."""
        return self.audit.mass_read

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f"CatalogueView({self.dataset!r}, role={self.role!r}, n={len(self)}, inputs={list(self.arrays)})"

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names of the inputs this view exposes."""
        return tuple(self.arrays)

    @property
    def log10_m500c(self) -> np.ndarray:
        """True log10 M500c [h^-1 Msun] (train and val views only)."""
        if self.log10_m500c_ is None:
            self.audit.mass_read = True
            raise TestMassAccessError(
                "the estimator read its test clusters' masses (view.log10_m500c on the test view); "
                "estimators may use masses only in fit(train, val)"
            )
        return self.log10_m500c_

    def _input(self, name: str) -> InputArray:
        if name not in self.arrays:
            self.audit.undeclared.add(name)
            if name in self.all_inputs:
                raise ContractError(
                    f"the estimator read input {name!r}, which it did not declare; "
                    f"declared: {list(self.arrays)} (add it to the estimator's `inputs`)"
                )
            raise ContractError(f"dataset {self.dataset!r} has no input {name!r}; it has {list(self.all_inputs)}")
        return self.arrays[name]

    def lazy(self, name: str) -> RowAccessor:
        """Stream the rows of a declared input without reading them all into memory."""
        return RowAccessor(self._input(name).data, self.indices)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.lazy(name)[:]

    def unit(self, name: str) -> str:
        return self._input(name).unit

    def description(self, name: str) -> str:
        return self._input(name).description

    def subview(self, positions: Sequence[int] | np.ndarray) -> "CatalogueView":
        """A view of some rows of this view (positions relative to this view)."""
        pos = np.asarray(positions, dtype=np.int64)
        return CatalogueView(
            self.dataset,
            self.indices[pos],
            self.cluster_id[pos],
            self.redshift[pos],
            self.arrays,
            None if self.log10_m500c_ is None else self.log10_m500c_[pos],
            self.role,
            self.all_inputs,
            self.audit,
        )
