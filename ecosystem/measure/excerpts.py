"""Readable excerpts of what a run measures: a few documents of each scope at chosen steps.

Core object: :class:`Excerpts`, the rows ``(step, generation, scope, rank, text)`` a run keeps
so that a reader can see the collapse as well as measure it (the first words of the first
documents of each evaluated sample). It lives in the simulation's state, so a checkpoint
keeps it, and the run writes it to ``excerpts.parquet``. Only worlds whose content reads as
text (``World.readable``, as the text world) have excerpts.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

__all__ = ["EXCERPT_SCHEMA", "Excerpts"]

EXCERPT_SCHEMA = pa.schema(
    [
        ("step", pa.int64()),
        ("generation", pa.int64()),
        ("scope", pa.string()),
        ("rank", pa.int64()),
        ("text", pa.string()),
    ]
)
"""Columns of ``excerpts.parquet``."""


class Excerpts:
    """The excerpts of one run: ``count`` documents of ``words`` words per scope, at steps 0
    and 1 (the initial web, the first month or generation), every ``every`` steps (0: only
    those) and at the ``last`` step."""

    def __init__(self, world: Any, *, every: int, count: int, last: int, words: int = 40):
        self.world = world
        self.every = every
        self.count = count
        self.last = last
        self.words = words
        self.rows: list[tuple[int, int, str, int, str]] = []

    @property
    def readable(self) -> bool:
        """Whether the world's content reads as text."""
        return bool(self.world.readable)

    def due(self, step: int) -> bool:
        """Whether excerpts are kept at ``step``."""
        if not (self.readable and self.count):
            return False
        return step <= 1 or step == self.last or bool(self.every and step % self.every == 0)

    def add(self, step: int, generation: int, scope: str, batch: Any) -> None:
        """Keep the first ``count`` documents of ``batch`` (a sample of ``scope``) at ``step``
        when it is due."""
        if not self.due(step):
            return
        texts = self.world.excerpt(batch, self.count, self.words)
        self.rows.extend((step, generation, scope, rank, text) for rank, text in enumerate(texts))

    def table(self) -> pa.Table:
        """Every excerpt kept, as a table of :data:`EXCERPT_SCHEMA`."""
        columns: list[Any] = list(zip(*self.rows, strict=True)) if self.rows else [()] * 5
        return pa.table(
            {
                name: pa.array(list(column), EXCERPT_SCHEMA.field(name).type)
                for name, column in zip(EXCERPT_SCHEMA.names, columns, strict=True)
            },
            schema=EXCERPT_SCHEMA,
        )
