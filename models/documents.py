"""The batch type of documents that language models fit, sample and score.

Core object: `Documents`: ``n`` documents as one flat ``int32`` token array (word ids) and
``int64`` offsets, document ``i`` being ``tokens[offsets[i]:offsets[i + 1]]``; no Python object
per document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Documents"]


@dataclass(frozen=True, eq=False)
class Documents:
    """``len(offsets) - 1`` documents: document ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``.

    ``tokens`` are word ids (``int32``), ``offsets`` start at 0, never decrease and end at
    ``len(tokens)``. Build checked batches with :meth:`DocumentStore.as_batch` or
    :meth:`from_lists`.
    """

    tokens: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """Words per document, ``int64 [n]``."""
        return np.diff(self.offsets)

    @property
    def document_of_token(self) -> np.ndarray:
        """The document of every token, ``int64 [len(tokens)]``."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)

    def document(self, i: int) -> np.ndarray:
        """The tokens of document ``i`` (a view)."""
        return self.tokens[self.offsets[i] : self.offsets[i + 1]]

    def to_lists(self) -> list[list[int]]:
        """Every document as a list of word ids."""
        return [self.document(i).tolist() for i in range(len(self))]

    @classmethod
    def from_lists(cls, documents: Sequence[Sequence[int]]) -> Documents:
        """A batch from sequences of word ids (unchecked: see :meth:`DocumentStore.as_batch`)."""
        lengths = np.fromiter((len(d) for d in documents), dtype=np.int64, count=len(documents))
        offsets = np.zeros(len(documents) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        tokens = (
            np.concatenate([np.asarray(d, dtype=np.int32) for d in documents])
            if len(documents) and offsets[-1]
            else np.empty(0, dtype=np.int32)
        )
        return cls(tokens.astype(np.int32, copy=False), offsets)

    def __repr__(self) -> str:
        return f"Documents(n={len(self)}, tokens={len(self.tokens)})"
