"""What a world is: the plug-in point for "what content is".

Core objects: :class:`World` (the ground truth, its content store, the models that apply,
the metrics it reports and how an AI-assisted page is written), :class:`ContentStore` (how
batches of content are checked, joined and indexed) and :class:`ContentColumn` (the web's
growable column of content). The month's step (:mod:`ecosystem.world.model`,
:mod:`~ecosystem.world.publishing`, :mod:`~ecosystem.world.agents`,
:mod:`~ecosystem.world.measurement`) and the lab loop (:mod:`~ecosystem.world.lab`) speak
only these protocols, so a second world plugs in without touching them.

What a second world must provide
--------------------------------

A *batch* is the world's type for a sequence of items (dense vectors: a float32 tensor
``[n, dim]``; token documents: flat tokens plus offsets). Whatever its type, ``len(batch)``
is its number of items; everything else done to a batch goes through the store.

1. **Ground truth.** ``sample(n, generator, topics=None) -> (batch, topics)`` (human content,
   about the given topic ids when given, else topics drawn by popularity), ``log_prob(batch)``
   (its score: the log-likelihood of each item under the truth, float64 ``[n]``),
   ``assign(batch)`` (the topic of each item, long ``[n]``), ``reference`` (a held-out sample of
   the truth, prepared once for the metrics), ``topics`` (the number of topics K),
   ``weights`` (topic popularity, float64 ``[K]`` summing to 1), ``head_mask`` and
   ``tail_mask`` (bool ``[K]``: the popular topics and the rest).
2. **Content store.** ``store`` (a :class:`ContentStore`): the web asks it for its content
   column (``Web(world.store)``), and publishing, retraining, measurement, the archive and
   the lab loop join (``concat``), index (``take``) and check (``as_batch``) batches through it.
3. **Models.** ``models``: the registered model names (:func:`models.available`) that apply in
   this world, i.e. fit and sample its batches. Scenario validation refuses any other.
4. **Metrics.** ``evaluate(batch, settings, *, ids=None, memo=None, model=None)
   -> {name: value}`` against the truth, with ``settings`` the scenario's ``metrics``
   section, and ``metric_names``: the keys it emits (all of them on every call, NaN where
   undefined), in a stable order. ``ids`` (distinct int64 ids of the items, such as page
   rows) and ``memo`` (a dict the caller keeps from one call to the next) let a world keep
   work for items it saw in the previous call; the values must be exactly those without them
   (ignoring both is fine). ``model`` is the generative model the batch was drawn from, when
   it was, for metrics of the model itself (the text world's perplexity).
5. **Assisted writing.** ``assist(drafts, generative, strength, generator, bias=...)``: the
   batch of AI-assisted pages made from human ``drafts`` with a company's model (same length,
   same order; ``strength`` 0 returns the drafts and draws nothing).
6. **Construction.** ``name`` (its key in :data:`ecosystem.world.worlds.WORLDS`, the value of
   the scenario's ``world`` field) and the class method ``from_scenario(scenario, generator)``,
   which draws the world from its own scenario section with ``generator``.
7. **Checkpoints.** The world, its store, its batches and the models that apply must pickle
   and unpickle to the same state (tensors, arrays, generators; no open files, threads or
   lambdas), because a run's checkpoint is the pickled simulation
   (:class:`ecosystem.runs.runner.Simulation`) and ``ecosystem run --resume`` must give
   byte-identical output. ``tests/test_reliability.py`` kills and resumes a run of every
   registered world.
8. **Text to read, pictures to look at.** ``readable`` (whether the world's content reads
   as text) and ``excerpt(batch, count, words) -> [str]``: the first ``count`` items of a
   batch as text, each cut after ``words`` words; ``pictured`` (whether it shows as
   pictures) and ``picture(batch, count)``: the first ``count`` items as grey-level images,
   uint8 ``[m, height, width]`` (0 = background). A run of such a world keeps a few of
   every measured sample (:mod:`ecosystem.measure.excerpts`); a world whose content is
   neither sets both flags to False and returns no text and no pictures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch

if TYPE_CHECKING:
    from ecosystem.scenario import MetricSettings, Scenario
    from models.base import GenerativeModel

__all__ = ["ContentColumn", "ContentStore", "World"]


@runtime_checkable
class ContentColumn(Protocol):
    """The web's content column: one item per page, in page order, grown by appending."""

    def __len__(self) -> int:
        """Number of items stored."""
        ...

    @property
    def nbytes(self) -> int:
        """Bytes allocated (capacity, not size)."""
        ...

    def append(self, batch: Any) -> None:
        """Add a checked batch (see :meth:`ContentStore.as_batch`) after the stored items;
        amortised O(1) per item."""
        ...

    def take(self, rows: np.ndarray) -> Any:
        """The items at ``rows`` (1-D int64 page indices) as a new batch, in that order."""
        ...

    def view(self) -> Any:
        """Every stored item in the store's own layout, without copying."""
        ...


@runtime_checkable
class ContentStore(Protocol):
    """How a world's batches are checked, joined and indexed, and held by the web."""

    def as_batch(self, content: Any) -> Any:
        """``content`` checked and converted to a batch; a ValueError naming ``content``
        otherwise."""
        ...

    def empty(self) -> Any:
        """A batch of no items."""
        ...

    def concat(self, parts: Sequence[Any]) -> Any:
        """The batches ``parts`` joined in order."""
        ...

    def take(self, batch: Any, rows: np.ndarray | torch.Tensor) -> Any:
        """The items of ``batch`` at ``rows`` (1-D integer indices, or a boolean mask of
        ``len(batch)``), in that order, as a new batch."""
        ...

    def column(self, capacity: int) -> ContentColumn:
        """An empty web column for these batches with room for ``capacity`` items."""
        ...


@runtime_checkable
class World(Protocol):
    """The ground truth of one kind of content and everything world-specific about it
    (see the module docstring for what each member must do)."""

    name: ClassVar[str]
    models: ClassVar[tuple[str, ...]]
    metric_names: ClassVar[tuple[str, ...]]
    readable: ClassVar[bool]
    pictured: ClassVar[bool]
    reference: Any

    @property
    def store(self) -> ContentStore:
        """The world's content store (read, never replaced, by the step and the web)."""
        ...

    @classmethod
    def from_scenario(cls, scenario: Scenario, generator: torch.Generator) -> World:
        """The scenario's world, drawn with ``generator``."""
        ...

    @property
    def topics(self) -> int:
        """Number of topics K."""
        ...

    @property
    def weights(self) -> torch.Tensor:
        """Topic popularity, float64 ``[K]``."""
        ...

    @property
    def head_mask(self) -> torch.Tensor:
        """The popular topics, bool ``[K]``."""
        ...

    @property
    def tail_mask(self) -> torch.Tensor:
        """The rare topics (not the head), bool ``[K]``."""
        ...

    def sample(
        self, n: int, generator: torch.Generator, topics: torch.Tensor | None = None
    ) -> tuple[Any, torch.Tensor]:
        """``n`` items of human content and their topics (long ``[n]``)."""
        ...

    def log_prob(self, batch: Any) -> torch.Tensor:
        """Log-likelihood of each item under the truth, float64 ``[n]``."""
        ...

    def assign(self, batch: Any) -> torch.Tensor:
        """Topic of each item, long ``[n]``."""
        ...

    def evaluate(
        self,
        batch: Any,
        settings: MetricSettings,
        *,
        ids: np.ndarray | None = None,
        memo: dict | None = None,
        model: GenerativeModel | None = None,
    ) -> dict[str, float]:
        """Every metric of ``metric_names`` for ``batch`` against the truth; with ``ids`` and
        ``memo``, work for items seen in the previous call may be kept (same values);
        ``model``: the model ``batch`` was drawn from, if any."""
        ...

    def assist(
        self,
        drafts: Any,
        generative: GenerativeModel,
        strength: float,
        generator: torch.Generator,
        *,
        bias: float = 1.0,
    ) -> Any:
        """AI-assisted pages written from human ``drafts`` with ``generative``."""
        ...

    def excerpt(self, batch: Any, count: int, words: int) -> list[str]:
        """The first ``count`` items of ``batch`` as text cut after ``words`` words (none
        when the world is not ``readable``)."""
        ...

    def picture(self, batch: Any, count: int) -> np.ndarray:
        """The first ``count`` items of ``batch`` as grey-level images, uint8 ``[m, height,
        width]`` (none when the world is not ``pictured``)."""
        ...
