"""Reading the observables table of ``massbench proxies TABLE``.

TABLE is one of

- a file astropy reads (FITS, ECSV, CSV, ...) with columns ``M500c`` [h^-1 Msun], ``redshift``
  and one column per observable (column names are matched case-insensitively for ``M500c`` and
  ``redshift``); the default observables are every numeric one-dimensional column except ids
  (``id``, ``*_id``), masses (``M500c``, ``log10_M500c``) and redshift (``redshift``, ``z``);
- a catalogue directory, read with the ``magneticum-sixte`` dataset plugin; its scalar inputs
  become the observables N_phot, N_phot_500c, N_gal, sigma_v (realistic) and T, L_X, M_gas,
  M_star, sigma_v_true (idealised) -- see :mod:`.observables`;
- the name of a registered dataset (e.g. ``erosita-mock``), loaded with its default params.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from massbench.errors import DataError, UserError

from . import observables as obs_names

MASS_COLUMN = "M500c"
REDSHIFT_COLUMN = "redshift"
_MASS_ALIASES = {"m500c", "log10_m500c", "logm500c", "log_m500c"}
_REDSHIFT_ALIASES = {"redshift", "z"}


@dataclass
class ObservableTable:
    """Observables, masses and redshifts of a set of clusters, ready for the scaling fit."""

    source: str  # file, directory or dataset name (for messages)
    observables: tuple[str, ...]  # observable (column) names
    values: np.ndarray  # (n, p) observables, in their own units
    m500c: np.ndarray  # (n,) M500c [h^-1 Msun]
    redshift: np.ndarray  # (n,)
    cluster_id: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.redshift)

    @property
    def log10_m500c(self) -> np.ndarray:
        return np.log10(self.m500c)


def _is_id(name: str) -> bool:
    low = name.lower()
    return low in ("id", "index", "row") or low.endswith("_id")


def _find(colnames: Sequence[str], wanted: str) -> str | None:
    if wanted in colnames:
        return wanted
    for c in colnames:
        if c.lower() == wanted.lower():
            return c
    return None


def _column(table: Any, name: str) -> np.ndarray:
    """A column as float64, masked (missing) entries as NaN."""
    return np.asarray(np.ma.filled(np.ma.asarray(table[name]).astype(float), np.nan), dtype=float)


def _numeric_1d(table: Any, name: str) -> bool:
    col = table[name]
    return np.asarray(col).ndim == 1 and np.issubdtype(np.asarray(col).dtype, np.number)


def _resolve(requested: Sequence[str], available: Sequence[str], source: str) -> list[str]:
    """Map requested observable names to available columns (exact, then by observable name)."""
    out = []
    for r in requested:
        if r in available:
            out.append(r)
            continue
        match = [a for a in available if obs_names.canonical(a) == obs_names.canonical(r)]
        if not match:
            match = [a for a in available if a.lower() == r.lower()]
        if not match:
            raise DataError(f"{source}: no column {r!r} for --observables; it has {', '.join(available)}")
        out.append(match[0])
    if len(set(out)) != len(out):
        raise UserError(f"{source}: --observables names a column twice ({', '.join(requested)})")
    return out


def table_from_columns(table: Any, source: str, observables: Sequence[str] | None = None) -> ObservableTable:
    """An :class:`ObservableTable` from an astropy Table (or anything indexable by column name)."""
    colnames = list(getattr(table, "colnames", None) or list(table.keys()))
    mass = _find(colnames, MASS_COLUMN)
    z = _find(colnames, REDSHIFT_COLUMN)
    for key, found in ((MASS_COLUMN, mass), (REDSHIFT_COLUMN, z)):
        if found is None:
            raise DataError(
                f"{source}: missing column {key!r} (it has {', '.join(colnames)}); the proxies table needs "
                f"{MASS_COLUMN!r} [h^-1 Msun], {REDSHIFT_COLUMN!r} and one column per observable"
            )
    if observables:
        names = _resolve(list(observables), colnames, source)
    else:
        names = [
            c
            for c in colnames
            if c not in (mass, z)
            and not _is_id(c)
            and c.lower() not in _MASS_ALIASES
            and c.lower() not in _REDSHIFT_ALIASES
            and _numeric_1d(table, c)
        ]
        if not names:
            raise DataError(
                f"{source}: no numeric observable columns besides {MASS_COLUMN!r} and "
                f"{REDSHIFT_COLUMN!r} (columns: {', '.join(colnames)})"
            )
    for c in names:
        if not _numeric_1d(table, c):
            raise DataError(f"{source}: column {c!r} is not a numeric one-value-per-cluster column")
    m = _column(table, mass)
    zz = _column(table, z)
    idcol = next((c for c in colnames if c.lower() in ("cluster_id", "id")), None)
    ids = np.asarray(table[idcol]) if idcol else None
    for key, arr in ((mass, m), (z, zz)):
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(arr) | ((arr <= 0) if key == mass else (arr < 0))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            who = f"row {first}" + (f", cluster id {ids[first]}" if ids is not None else "")
            what = "positive" if key == mass else "non-negative"
            raise DataError(
                f"{source}: column {key!r} has {int(bad.sum())} missing, NaN or invalid values "
                f"(first at {who}: {arr[first]!r}); it must be {what} and finite"
                + (" (M500c is in h^-1 Msun, not log10)" if key == mass else "")
            )
    if np.nanmax(m) < 100:
        raise DataError(
            f"{source}: column {mass!r} looks like log10 masses (max {np.nanmax(m):.3g}); give M500c in h^-1 Msun"
        )
    values = np.column_stack([_column(table, c) for c in names]) if names else np.zeros((len(m), 0))
    return ObservableTable(source, tuple(names), values, m, zz, ids)


def read_table_file(path: Path, observables: Sequence[str] | None = None) -> ObservableTable:
    """Read a FITS/ECSV/CSV/... table with astropy."""
    from astropy.table import Table

    try:
        if path.suffix.lower() in (".csv", ".tsv", ".txt", ".dat"):
            fmt = {".csv": "ascii.csv", ".tsv": "ascii.tab"}.get(path.suffix.lower(), "ascii")
            table = Table.read(path, format=fmt)
        else:
            table = Table.read(path)
    except Exception as exc:
        raise DataError(
            f"{path}: astropy cannot read this table ({type(exc).__name__}: {exc}); give a FITS, ECSV or CSV file"
        ) from None
    return table_from_columns(table, str(path), observables)


def table_from_catalogue(catalogue: Any, source: str, observables: Sequence[str] | None = None) -> ObservableTable:
    """The scalar Table 2 observables of a :class:`massbench.Catalogue`, under their observable names."""
    present = [
        o
        for o in obs_names.OBSERVABLES
        if o.input in catalogue.inputs
        and not catalogue.inputs[o.input].truth_only
        and np.ndim(catalogue.inputs[o.input].data) == 1
    ]
    if not present:
        raise DataError(
            f"{source}: the catalogue has none of the scalar observable inputs "
            f"({', '.join(o.input for o in obs_names.OBSERVABLES)})"
        )
    by_name = {o.name: o for o in present}
    if observables:
        names = []
        for r in observables:
            o = obs_names.lookup(r)
            if o is None or o.name not in by_name:
                raise DataError(f"{source}: no observable {r!r} in the catalogue; it has {', '.join(by_name)}")
            names.append(o.name)
    else:
        names = list(by_name)
    values = np.column_stack([np.asarray(catalogue.inputs[by_name[n].input].data, dtype=float) for n in names])
    return ObservableTable(
        source,
        tuple(names),
        values,
        10.0 ** np.asarray(catalogue.log10_m500c, float),
        np.asarray(catalogue.redshift, float),
        np.asarray(catalogue.cluster_id),
    )


def _dataset_class(name: str, source: str, registry: Any = None) -> type:
    if registry is None:
        from massbench.registry import load_registry

        registry = load_registry()
    return registry.get("dataset", name, where=f"{source}: ").cls


def _load_dataset(cls: type, params: dict[str, Any]) -> Any:
    from massbench.estimator import RunContext

    return cls(**params).load(RunContext())


DIRECTORY_DATASET = "magneticum-sixte"


def read_observables(
    table: str | Path,
    observables: Sequence[str] | None = None,
    registry: Any = None,
    directory_dataset: str = DIRECTORY_DATASET,
) -> ObservableTable:
    """Read TABLE (file, catalogue directory or registered dataset name); see the module docstring.

    ``registry`` (a :class:`massbench.registry.Registry`) defaults to every installed plugin;
    a directory is read by the dataset ``directory_dataset`` with ``path=<directory>``.
    """
    path = Path(table)
    if path.is_dir():
        cls = _dataset_class(directory_dataset, str(path), registry)
        catalogue = _load_dataset(cls, {"path": str(path)})
        return table_from_catalogue(catalogue, str(path), observables)
    if path.is_file():
        return read_table_file(path, observables)
    if not any(sep in str(table) for sep in ("/", "\\", ".")):
        try:
            cls = _dataset_class(str(table), str(table), registry)
        except UserError as exc:
            raise UserError(f"{table}: no such file or directory, and not a dataset name ({exc})") from None
        catalogue = _load_dataset(cls, {})
        return table_from_catalogue(catalogue, str(table), observables)
    raise UserError(
        f"{table}: no such file or directory; give a FITS/ECSV/CSV table, a catalogue directory or a dataset name"
    )
