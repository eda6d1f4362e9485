"""Content stores: how batches of a world's content are checked, joined, indexed and held.

Core objects: :class:`DenseStore` (fixed-length vectors: a batch is a float32 CPU tensor
``[n, dim]``) with its web column :class:`DenseColumn` (a float32 array grown by capacity
doubling), and :func:`subsample` (at most ``n`` items of any store's batch, for metrics).
Both follow the protocols of :mod:`ecosystem.world.protocol`.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
import torch

from ecosystem.world.protocol import ContentStore

__all__ = ["DenseColumn", "DenseStore", "subsample"]


class DenseStore:
    """Batches of ``dim``-dimensional vectors as float32 CPU tensors ``[n, dim]``."""

    def __init__(self, dim: int) -> None:
        if not _is_integer(dim) or dim < 1:
            raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
        self.dim = int(dim)

    def as_batch(self, content: Any) -> torch.Tensor:
        """``content`` (array or tensor ``[n, dim]``) as a float32 tensor."""
        vectors = np.asarray(content, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"content must have shape [n, {self.dim}], got {vectors.shape}")
        return torch.from_numpy(vectors)

    def empty(self) -> torch.Tensor:
        """No vectors: ``[0, dim]``."""
        return torch.empty(0, self.dim, dtype=torch.float32)

    def concat(self, parts: Sequence[torch.Tensor]) -> torch.Tensor:
        """The parts stacked in order."""
        return torch.cat(list(parts)) if len(parts) else self.empty()

    def take(self, batch: torch.Tensor, rows: np.ndarray | torch.Tensor) -> torch.Tensor:
        """The rows of ``batch`` at ``rows`` (indices or a boolean mask)."""
        index = torch.from_numpy(rows) if isinstance(rows, np.ndarray) else rows
        return batch[index]

    def column(self, capacity: int) -> DenseColumn:
        """An empty float32 column ``[capacity, dim]``."""
        return DenseColumn(self.dim, capacity)

    def __repr__(self) -> str:
        return f"DenseStore(dim={self.dim})"


class DenseColumn:
    """The web's vectors: a float32 array whose first ``len`` rows hold the pages' content."""

    def __init__(self, dim: int, capacity: int) -> None:
        self._data = np.zeros((int(capacity), int(dim)), dtype=np.float32)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def capacity(self) -> int:
        """Rows allocated."""
        return self._data.shape[0]

    @property
    def nbytes(self) -> int:
        """Bytes allocated."""
        return self._data.nbytes

    def append(self, batch: torch.Tensor) -> None:
        """Write ``batch`` after the stored rows, doubling the capacity when full."""
        start, stop = self._size, self._size + len(batch)
        if stop > self.capacity:
            bigger = np.zeros((max(2 * self.capacity, stop), self._data.shape[1]), np.float32)
            bigger[:start] = self._data[:start]
            self._data = bigger
        self._data[start:stop] = batch.numpy()
        self._size = stop

    def take(self, rows: np.ndarray) -> torch.Tensor:
        """The vectors of pages ``rows`` (a copy)."""
        return torch.from_numpy(self._data[: self._size][rows])

    def view(self) -> np.ndarray:
        """Every stored vector, float32 ``[len, dim]`` (a view)."""
        return self._data[: self._size]


def subsample(store: ContentStore, batch: Any, n: int, generator: torch.Generator) -> Any:
    """At most ``n`` items of ``batch``, drawn without replacement with ``generator``
    (``batch`` itself when it has at most ``n``): keeps the cost of metrics fixed."""
    if not _is_integer(n) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if len(batch) <= n:
        return batch
    chosen = torch.randperm(len(batch), generator=generator, device=generator.device)[:n]
    return store.take(batch, chosen)


def _is_integer(value: object) -> bool:
    """True for a Python or NumPy integer (bools excluded)."""
    return isinstance(value, Integral) and not isinstance(value, bool)
