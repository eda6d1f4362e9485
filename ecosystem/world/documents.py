"""Documents as token arrays: how the text world's batches are stored, joined and indexed.

Core objects: :class:`DocumentStore`
(how batches are checked, joined and indexed; see :class:`ecosystem.world.protocol.ContentStore`)
and :class:`DocumentColumn` (the web's documents: a token buffer and an offset buffer, each
grown by capacity doubling, so appending is amortised O(1) per token and no page is a Python
object). The batch type itself, :class:`models.documents.Documents` (one flat ``int32``
token array and ``int64`` offsets), lives with the models that fit and sample it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from models.documents import Documents

__all__ = ["DocumentColumn", "DocumentStore", "Documents"]


class DocumentStore:
    """Batches of documents over a vocabulary of ``vocab`` words (ids ``0 .. vocab - 1``)."""

    def __init__(self, vocab: int) -> None:
        if isinstance(vocab, bool) or not isinstance(vocab, int | np.integer) or vocab < 1:
            raise ValueError(f"vocab must be an integer >= 1, got {vocab!r}")
        self.vocab = int(vocab)

    def as_batch(self, content: Any) -> Documents:
        """``content`` (:class:`Documents`, or a sequence of word-id sequences) checked."""
        if isinstance(content, Documents):
            tokens, offsets = content.tokens, content.offsets
        elif isinstance(content, Sequence) and not isinstance(content, str | bytes):
            try:
                batch = Documents.from_lists(content)
            except (TypeError, ValueError) as error:
                raise ValueError(f"content must be sequences of word ids: {error}") from None
            tokens, offsets = batch.tokens, batch.offsets
        else:
            raise ValueError(
                f"content must be Documents or sequences of word ids, got {type(content).__name__}"
            )
        tokens, offsets = np.asarray(tokens), np.asarray(offsets)
        if tokens.ndim != 1 or tokens.dtype.kind not in "iu":
            raise ValueError("content tokens must be a 1-D integer array")
        if offsets.ndim != 1 or offsets.dtype.kind not in "iu" or len(offsets) < 1:
            raise ValueError("content offsets must be a 1-D integer array of n + 1 entries")
        if offsets[0] != 0 or offsets[-1] != len(tokens) or (np.diff(offsets) < 0).any():
            raise ValueError(
                "content offsets must start at 0, never decrease and end at the token count"
            )
        if len(tokens) and (tokens.min() < 0 or tokens.max() >= self.vocab):
            raise ValueError(f"content tokens must be word ids in [0, {self.vocab})")
        return Documents(tokens.astype(np.int32, copy=False), offsets.astype(np.int64, copy=False))

    def empty(self) -> Documents:
        """No documents."""
        return Documents(np.empty(0, dtype=np.int32), np.zeros(1, dtype=np.int64))

    def concat(self, parts: Sequence[Documents]) -> Documents:
        """The batches ``parts`` joined in order."""
        parts = [part for part in parts if len(part)]
        if not parts:
            return self.empty()
        tokens = np.concatenate([part.tokens for part in parts])
        starts = np.cumsum([0] + [len(part.tokens) for part in parts[:-1]])
        offsets = np.concatenate(
            [np.zeros(1, dtype=np.int64)]
            + [part.offsets[1:] + start for part, start in zip(parts, starts, strict=True)]
        )
        return Documents(tokens, offsets)

    def take(self, batch: Documents, rows: np.ndarray | torch.Tensor) -> Documents:
        """The documents of ``batch`` at ``rows`` (indices or a boolean mask), in that order."""
        index = rows.numpy() if isinstance(rows, torch.Tensor) else np.asarray(rows)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return _gather(batch.tokens, batch.offsets, index.astype(np.int64, copy=False))

    def column(self, capacity: int) -> DocumentColumn:
        """An empty web column with room for ``capacity`` documents."""
        return DocumentColumn(capacity)

    def __repr__(self) -> str:
        return f"DocumentStore(vocab={self.vocab})"


class DocumentColumn:
    """The web's documents: a flat token buffer and an offset buffer, both doubled when full."""

    TOKENS_PER_DOCUMENT = 64
    """Initial token capacity per document of capacity."""

    def __init__(self, capacity: int) -> None:
        capacity = max(int(capacity), 1)
        self._tokens = np.zeros(capacity * self.TOKENS_PER_DOCUMENT, dtype=np.int32)
        self._offsets = np.zeros(capacity + 1, dtype=np.int64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        """Bytes allocated (both buffers)."""
        return self._tokens.nbytes + self._offsets.nbytes

    def append(self, batch: Documents) -> None:
        """Write ``batch`` after the stored documents, doubling a buffer when it is full."""
        n, used = len(batch), int(self._offsets[self._size])
        stop, token_stop = self._size + n, used + len(batch.tokens)
        if stop + 1 > len(self._offsets):
            self._offsets = _grown(self._offsets, stop + 1, self._size + 1)
        if token_stop > len(self._tokens):
            self._tokens = _grown(self._tokens, token_stop, used)
        self._tokens[used:token_stop] = batch.tokens
        self._offsets[self._size + 1 : stop + 1] = batch.offsets[1:] + used
        self._size = stop

    def take(self, rows: np.ndarray) -> Documents:
        """The documents of pages ``rows`` (a copy)."""
        view = self.view()
        return _gather(view.tokens, view.offsets, np.asarray(rows, dtype=np.int64))

    def view(self) -> Documents:
        """Every stored document (views of the buffers)."""
        offsets = self._offsets[: self._size + 1]
        return Documents(self._tokens[: offsets[-1]], offsets)


def _grown(buffer: np.ndarray, needed: int, used: int) -> np.ndarray:
    bigger = np.zeros(max(2 * len(buffer), needed), dtype=buffer.dtype)
    bigger[:used] = buffer[:used]
    return bigger


def _gather(tokens: np.ndarray, offsets: np.ndarray, index: np.ndarray) -> Documents:
    """Documents ``index`` of a (tokens, offsets) pair as a new batch, without a Python loop."""
    if len(index) and (index.min() < -len(offsets) + 1 or index.max() >= len(offsets) - 1):
        raise IndexError(f"document index out of range for {len(offsets) - 1} documents")
    index = np.where(index < 0, index + len(offsets) - 1, index)
    starts, lengths = offsets[index], offsets[index + 1] - offsets[index]
    new_offsets = np.zeros(len(index) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    # position of every output token in the source: its document's start plus its rank
    rank = np.arange(new_offsets[-1], dtype=np.int64) - np.repeat(new_offsets[:-1], lengths)
    return Documents(tokens[np.repeat(starts, lengths) + rank], new_offsets)
