"""Excerpts of what a run measures, to read or to look at: a few items of each scope at
chosen steps.

Core objects: :class:`Excerpts`, the rows ``(step, generation, scope, rank, text, height,
width, pixels)`` a run keeps so that a user can see the collapse as well as measure it (the
first words of the first documents of each evaluated sample, or its first pictures), and
:func:`picture_grid` (the kept pictures as one PNG: a panel per scope, a row per step). It
lives in the simulation's state, so a checkpoint keeps it, and the run writes it to
``excerpts.parquet`` (and ``pictures.png``). Only worlds whose content reads as text
(``World.readable``, the text world) or shows as pictures (``World.pictured``, the digits
world) have excerpts.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["EXCERPT_SCHEMA", "Excerpts", "picture_grid"]

EXCERPT_SCHEMA = pa.schema(
    [
        ("step", pa.int64()),
        ("generation", pa.int64()),
        ("scope", pa.string()),
        ("rank", pa.int64()),
        ("text", pa.string()),
        ("height", pa.int64()),
        ("width", pa.int64()),
        ("pixels", pa.binary()),
    ]
)
"""Columns of ``excerpts.parquet``: ``text`` for a document (else empty); ``height``,
``width`` and ``pixels`` (row-major uint8 grey levels, 0 = background) for a picture (else 0,
0 and empty)."""


class Excerpts:
    """The excerpts of one run: ``count`` documents of ``words`` words (or ``pictures``
    pictures) per scope, at steps 0 and 1 (the initial web, the first month or generation),
    every ``every`` steps (0: only those) and at the ``last`` step."""

    def __init__(
        self,
        world: Any,
        *,
        every: int,
        count: int,
        last: int,
        words: int = 40,
        pictures: int = 16,
    ):
        self.world = world
        self.every = every
        self.count = count
        self.last = last
        self.words = words
        self.pictures = pictures
        self.rows: list[tuple[int, int, str, int, str, int, int, bytes]] = []

    @property
    def kept(self) -> int:
        """Items kept per scope and step: documents of a readable world, pictures of a
        pictured one, none otherwise."""
        if self.world.readable:
            return self.count
        return self.pictures if self.world.pictured else 0

    def due(self, step: int) -> bool:
        """Whether excerpts are kept at ``step``."""
        if not self.kept:
            return False
        return step <= 1 or step == self.last or bool(self.every and step % self.every == 0)

    def add(self, step: int, generation: int, scope: str, batch: Any) -> None:
        """Keep the first documents or pictures of ``batch`` (a sample of ``scope``) at
        ``step`` when it is due."""
        if not self.due(step):
            return
        if self.world.readable:
            texts = self.world.excerpt(batch, self.count, self.words)
            self.rows.extend(
                (step, generation, scope, rank, text, 0, 0, b"") for rank, text in enumerate(texts)
            )
            return
        images = np.asarray(self.world.picture(batch, self.pictures), dtype=np.uint8)
        self.rows.extend(
            (step, generation, scope, rank, "", image.shape[0], image.shape[1], image.tobytes())
            for rank, image in enumerate(images)
        )

    @property
    def has_pictures(self) -> bool:
        """Whether any kept row is a picture."""
        return any(row[7] for row in self.rows)

    def table(self) -> pa.Table:
        """Every excerpt kept, as a table of :data:`EXCERPT_SCHEMA`."""
        width = len(EXCERPT_SCHEMA.names)
        columns: list[Any] = list(zip(*self.rows, strict=True)) if self.rows else [()] * width
        return pa.table(
            {
                name: pa.array(list(column), EXCERPT_SCHEMA.field(name).type)
                for name, column in zip(EXCERPT_SCHEMA.names, columns, strict=True)
            },
            schema=EXCERPT_SCHEMA,
        )


def picture_grid(excerpts: pd.DataFrame, *, step_label: str = "step") -> bytes:
    """The pictures of ``excerpts`` (a table of :data:`EXCERPT_SCHEMA`) as one PNG: a panel
    per scope, a row of pictures per kept step (labelled ``step_label`` and the step)."""
    from matplotlib.figure import Figure

    pictures = excerpts[excerpts["pixels"].map(len) > 0]
    scopes = list(dict.fromkeys(pictures["scope"]))
    if not scopes:
        raise ValueError("the excerpts hold no pictures")
    panels = []
    for scope in scopes:
        rows = pictures[pictures["scope"] == scope]
        steps = sorted(rows["step"].unique())
        height, width = int(rows["height"].iloc[0]), int(rows["width"].iloc[0])
        columns = int(rows["rank"].max()) + 1
        mosaic = np.full(
            (len(steps) * (height + 1) + 1, columns * (width + 1) + 1), 255, dtype=np.uint8
        )
        for row in rows.itertuples():
            image = np.frombuffer(row.pixels, dtype=np.uint8).reshape(row.height, row.width)
            top = steps.index(row.step) * (height + 1) + 1
            left = int(row.rank) * (width + 1) + 1
            mosaic[top : top + height, left : left + width] = 255 - image
        panels.append((scope, steps, mosaic, height))
    figure = Figure(figsize=(8, sum(0.45 * len(steps) + 0.6 for _, steps, _, _ in panels)))
    axes = figure.subplots(
        len(panels), 1, squeeze=False, height_ratios=[len(p[1]) for p in panels]
    )[:, 0]
    for axis, (scope, steps, mosaic, height) in zip(axes, panels, strict=True):
        axis.imshow(mosaic, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        axis.set_title(scope, fontsize=10, loc="left")
        axis.set_yticks([i * (height + 1) + 1 + height / 2 for i in range(len(steps))])
        axis.set_yticklabels([f"{step_label} {step}" for step in steps], fontsize=8)
        axis.set_xticks([])
        for side in axis.spines.values():
            side.set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()
