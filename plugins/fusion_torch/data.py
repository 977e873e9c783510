"""Streaming inputs of the fusion network: X-ray maps (eq. 1-2 applied per batch) and cubes.

Nothing here holds a split's cubes in RAM: a :class:`FusionRows` dataset reads the rows of one
batch from the (memory-mapped) sources when the DataLoader asks for them. With 3,285 clusters
the cubes alone are 3.4 GB as float32; one batch of 50 is 52 MB.

Imports torch at module level: import this module lazily (from estimator methods).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from massbench.preprocessing import RedshiftNormalisation, preprocess_maps


class FusionRows(Dataset):
    """Rows of one split, indexed by a *list* of positions (one batch) at a time.

    ``maps`` is a row source of raw counts (n, 128, 128, 3) (a RowAccessor or array), ``cubes`` a
    row source of (n, 64, 64, 64) KDE cubes, ``redshift`` (n,), ``norm`` the training fold's
    equation-1 constants, ``target`` the log10 M500c [h^-1 Msun] (train/val) or ``None`` (test).
    ``ds[[i, j, ...]]`` returns ``(x, cube, y)`` tensors: ``x`` (b, 3, 128, 128) the equation-2
    map (channels first), ``cube`` (b, 64, 64, 64), ``y`` (b,) or an empty tensor.
    """

    def __init__(
        self, maps: Any, cubes: Any, redshift: np.ndarray, norm: RedshiftNormalisation, target: np.ndarray | None = None
    ):
        self.maps, self.cubes = maps, cubes
        self.redshift = np.asarray(redshift, dtype=float)
        self.norm = norm
        self.target = None if target is None else np.asarray(target, dtype=np.float32)
        if len(maps) != len(cubes) or len(maps) != len(self.redshift):
            raise ValueError(f"maps ({len(maps)}), cubes ({len(cubes)}) and redshifts ({len(self.redshift)}) differ")

    def __len__(self) -> int:
        return len(self.redshift)

    def __getitem__(self, positions: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pos = np.atleast_1d(np.asarray(positions, dtype=np.int64))
        x = preprocess_maps(np.asarray(self.maps[pos], dtype=np.float32), self.redshift[pos], self.norm)
        x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))
        cube = torch.from_numpy(np.ascontiguousarray(self.cubes[pos], dtype=np.float32))
        y = torch.from_numpy(self.target[pos]) if self.target is not None else torch.empty(0)
        return x, cube, y


def batch_loader(
    ds: FusionRows,
    batch_size: int,
    shuffle: bool,
    generator: torch.Generator | None = None,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader yielding whole batches read by one ``ds[list]`` call (sorted memory-map reads)."""
    base = RandomSampler(ds, generator=generator) if shuffle else SequentialSampler(ds)
    sampler = BatchSampler(base, batch_size=batch_size, drop_last=False)
    return DataLoader(
        ds, sampler=sampler, batch_size=None, num_workers=num_workers, pin_memory=pin_memory, persistent_workers=False
    )


@dataclass
class RunningMoments:
    """Streaming mean and standard deviation of every element seen (float64 accumulators)."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    def add(self, block: np.ndarray) -> None:
        b = np.asarray(block, dtype=np.float64)
        self.n += b.size
        self.total += float(b.sum())
        self.total_sq += float(np.square(b).sum())

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def std(self) -> float:
        if not self.n:
            return 1.0
        var = max(self.total_sq / self.n - self.mean**2, 0.0)
        return float(np.sqrt(var)) or 1.0


def input_moments(ds: FusionRows, batch_size: int = 64) -> tuple[RunningMoments, RunningMoments]:
    """Mean/std over all pixels of the equation-2 maps and all cells of the cubes of ``ds``."""
    mx, mc = RunningMoments(), RunningMoments()
    for batch in iter_batches(len(ds), batch_size):
        x, cube, _ = ds[batch]
        mx.add(x.numpy())
        mc.add(cube.numpy())
    return mx, mc


def iter_batches(n: int, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, n, batch_size):
        yield np.arange(start, min(start + batch_size, n))
