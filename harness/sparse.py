"""Per-cluster arrays stored sparsely on disk and read back as dense rows.

Photon maps are integer counts with about 2 % of their pixels non-zero, and the dynamical cubes
(paper section 2.2) are about 25 % non-zero; a dense float32 cache of the paper's 3,285 clusters is
6 GB, the sparse one under 2 GB (README, "Disk and cache"). :class:`SparseRows` stores, for ``n``
rows of shape ``row_shape``:

- ``<stem>.values.npy``: the non-zero values, row after row (``store_dtype``, e.g. uint32 counts);
- ``<stem>.index.npy``: their flat positions inside the row (uint16 when the row has <= 65,536 cells),
  or, for denser arrays (where it is smaller), ``<stem>.mask.npy``: ``(n, ceil(cells / 8))`` uint8, each
  row's non-zero cells as packed bits (``np.packbits``) in C order;
- ``<stem>.offsets.npy``: ``(n + 1,)`` int64, row ``i`` is ``values[offsets[i]:offsets[i + 1]]``.

Indexing (``rows[i]``, ``rows[a:b]``, ``rows[index_array]``, ``np.asarray(rows)``) returns dense
arrays of ``dtype`` (the dtype the input had when it was dense, so estimators see the same numbers,
bit for bit). The three files are memory-mapped, so opening a 3,285-cluster cache reads nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

SUFFIXES = (".values.npy", ".index.npy", ".offsets.npy")
MASK_SUFFIX = ".mask.npy"


def index_dtype(row_shape: tuple[int, ...]) -> np.dtype:
    """The smallest unsigned dtype that holds a flat position inside one row."""
    return np.dtype(np.uint16 if int(np.prod(row_shape)) <= 2**16 else np.uint32)


def sparse_files(directory: Path, stem: str, mask: bool = False) -> list[Path]:
    """The three files (values, index or mask, offsets) of the sparse array ``stem`` in ``directory``."""
    v, i, o = (Path(directory) / (stem + s) for s in SUFFIXES)
    return [v, Path(directory) / (stem + MASK_SUFFIX) if mask else i, o]


def is_sparse(directory: Path, stem: str) -> bool:
    v, i, o = sparse_files(directory, stem)
    return v.is_file() and o.is_file() and (i.is_file() or (Path(directory) / (stem + MASK_SUFFIX)).is_file())


class SparseRows:
    """A read-only, memory-mapped ``(n, *row_shape)`` array of mostly-zero rows (module docstring)."""

    def __init__(
        self,
        values: np.ndarray,
        index: np.ndarray | None,
        offsets: np.ndarray,
        row_shape: tuple[int, ...],
        dtype: Any,
        mask: np.ndarray | None = None,
    ):
        if (index is None) == (mask is None):
            raise ValueError("give exactly one of index and mask")
        self.values = values
        self.index = index
        self.mask = mask
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.row_shape = tuple(int(s) for s in row_shape)
        self.dtype = np.dtype(dtype)
        self._row_size = int(np.prod(self.row_shape))

    # ------------------------------------------------------------------ array protocol
    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.offsets) - 1, *self.row_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.row_shape)

    @property
    def nnz(self) -> int:
        return int(self.offsets[-1])

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __repr__(self) -> str:
        return f"SparseRows(shape={self.shape}, dtype={self.dtype}, nnz={self.nnz})"

    def _dense(self, rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(rows), self._row_size), dtype=self.dtype)
        self._fill(rows, out)
        return out.reshape((len(rows), *self.row_shape))

    def _fill(self, rows: np.ndarray, out: np.ndarray) -> None:
        """Scatter the non-zero cells of ``rows`` into ``out`` ((len(rows), cells), zero-filled)."""
        for j, i in enumerate(rows):
            a, b = self.offsets[i], self.offsets[i + 1]
            if b > a:
                row = out[j]  # a view: 1-D assignment is several times faster than out[j, sel]
                if self.mask is not None:
                    row[np.unpackbits(self.mask[i], count=self._row_size).view(bool)] = self.values[a:b]
                else:
                    assert self.index is not None
                    row[self.index[a:b]] = self.values[a:b]

    def __getitem__(self, key: Any) -> np.ndarray:
        n = len(self)
        if isinstance(key, tuple):
            first = self[key[0]]
            return first[key[1:]] if np.isscalar(key[0]) else first[(slice(None), *key[1:])]
        if isinstance(key, (int, np.integer)):
            i = int(key)
            if not -n <= i < n:
                raise IndexError(f"row {i} out of range for {n} rows")
            return self._dense(np.array([i % n]))[0]
        if isinstance(key, slice):
            return self._dense(np.arange(n)[key])
        rows = np.asarray(key)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.int64, copy=False)
        if rows.size and (rows.max() >= n or rows.min() < -n):
            raise IndexError(f"row index out of range for {n} rows")
        return self._dense(rows.ravel() % max(n, 1)).reshape((*rows.shape, *self.row_shape))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self[:]
        return arr if dtype is None else arr.astype(dtype)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    # ------------------------------------------------------------------ files
    @classmethod
    def open(cls, directory: Path, stem: str, row_shape: tuple[int, ...], dtype: Any) -> "SparseRows":
        """Open the three files of ``stem`` memory-mapped (see the module docstring)."""
        v, i, o = sparse_files(directory, stem)
        m = Path(directory) / (stem + MASK_SUFFIX)
        if m.is_file():
            return cls(np.load(v, mmap_mode="r"), None, np.load(o), row_shape, dtype, mask=np.load(m, mmap_mode="r"))
        return cls(np.load(v, mmap_mode="r"), np.load(i, mmap_mode="r"), np.load(o), row_shape, dtype)

    def write_dense_npy(self, path: Path, chunk: int = 64) -> None:
        """Write the dense array into a ``.npy`` file, ``chunk`` rows at a time (bounded memory)."""
        mm = np.lib.format.open_memmap(Path(path), mode="w+", dtype=self.dtype, shape=self.shape)
        flat = mm.reshape(len(self), self._row_size)  # a new file reads as zeros: only non-zeros are written
        for a in range(0, len(self), chunk):
            self._fill(np.arange(a, min(a + chunk, len(self))), flat[a : a + chunk])
        mm.flush()
        del flat
        del mm


def sparsify(row: np.ndarray, store_dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(values, flat index)`` of the non-zero cells of one row; values cast to ``store_dtype`` exactly.

    Raises ValueError when a value does not survive the cast (e.g. a fractional count in a uint32 map).
    """
    flat = np.ascontiguousarray(row).ravel()
    idx = np.flatnonzero(flat)
    vals = flat[idx]
    stored = vals.astype(store_dtype)
    if not np.array_equal(stored.astype(flat.dtype), vals):
        raise ValueError(f"values do not fit {np.dtype(store_dtype)} exactly (e.g. {vals[stored != vals][:1]})")
    return stored, idx.astype(index_dtype(row.shape))  # C order, as the mask's bits


def write_sparse(
    directory: Path, stem: str, part_files: Sequence[Path], store_dtype: Any, row_shape: tuple[int, ...]
) -> None:
    """Concatenate part files (``.npz`` with ``values``, ``index`` and per-row ``counts``) into ``stem``'s files.

    Streams: the files are preallocated from the parts' counts, then each part is appended in turn, so
    memory holds one part at a time. The positions are stored as a flat index or as a bit mask per row,
    whichever is smaller (``row_shape`` gives the row's cells).
    """
    idx = index_dtype(row_shape)
    counts = [np.load(p)["counts"] for p in part_files]
    total = int(sum(int(c.sum()) for c in counts))
    n = int(sum(len(c) for c in counts))
    cells = int(np.prod(row_shape))
    use_mask = n * ((cells + 7) // 8) < total * np.dtype(idx).itemsize
    vpath, ipath, opath = sparse_files(directory, stem, mask=use_mask)
    vals = np.lib.format.open_memmap(vpath, mode="w+", dtype=np.dtype(store_dtype), shape=(total,))
    ishape = (n, (cells + 7) // 8) if use_mask else (total,)
    index = np.lib.format.open_memmap(ipath, mode="w+", dtype=np.uint8 if use_mask else np.dtype(idx), shape=ishape)
    pos = row = 0
    for p, c in zip(part_files, counts):
        with np.load(p) as z:
            v = z["values"]
            vals[pos : pos + len(v)] = v
            ix = z["index"]
            if use_mask:
                starts = np.concatenate([[0], np.cumsum(c)])
                for r in range(len(c)):
                    bits = np.zeros(cells, dtype=bool)
                    bits[ix[starts[r] : starts[r + 1]]] = True
                    index[row + r] = np.packbits(bits)
            else:
                index[pos : pos + len(v)] = ix
            pos += len(v)
            row += len(c)
    vals.flush()
    index.flush()
    del vals, index
    all_counts = np.concatenate(counts) if counts else np.zeros(0, np.int64)
    np.save(opath, np.concatenate([[0], np.cumsum(all_counts)]).astype(np.int64))
