"""What a policy lever is: its identity, the hooks it may implement, and what the hooks return.

Core objects: :class:`Lever` (a lever's identity and settings), the hook
protocols :class:`LimitsOutput`, :class:`StampsPages`, :class:`FiltersCrawl`,
:class:`ScreensCrawl`, :class:`AssemblesTraining` and :class:`PaysAuthors`
(one per named point of the month, in :data:`HOOKS` order), and the data
types :class:`Stamps` and :class:`Screening`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import torch

from ecosystem.scenario.fields import Section
from ecosystem.world.web import Web

__all__ = [
    "HOOKS",
    "AssemblesTraining",
    "FiltersCrawl",
    "Lever",
    "LimitsOutput",
    "PaysAuthors",
    "Screening",
    "ScreensCrawl",
    "Stamps",
    "StampsPages",
]


class Lever(Protocol):
    """A policy lever: the section it owns under ``policy`` and where it is checked."""

    name: ClassVar[str]
    """Its key under ``policy`` in a scenario (``policy.<name>.<field>``)."""
    Settings: ClassVar[type[Section]]
    """Its settings section; the defaults are today's world."""
    order: ClassVar[int]
    """Its place among the levers: in the ``policy`` section and at every hook."""
    scenario: ClassVar[str]
    """The packaged scenario that pulls it (``scenarios/policy-*.toml``)."""
    directional_test: ClassVar[str]
    """The pytest node id of the test that shows it moves its outcome the right way."""
    switch: ClassVar[str]
    """The setting that turns it on: it acts only where this differs from its default."""
    settings: Section

    def __init__(self, settings: Section) -> None: ...


@runtime_checkable
class LimitsOutput(Protocol):
    """Publishing: how many pages the companies may publish this month."""

    def limit_output(self, counts: np.ndarray, human_pages: int) -> np.ndarray:
        """The companies' page counts allowed, given what they want and the human pages."""
        ...


@runtime_checkable
class StampsPages(Protocol):
    """Publication: a mark every new page carries or not, kept in a web column."""

    stamp_column: ClassVar[str]
    """The web column it fills (an argument of :meth:`Web.add_pages`)."""
    stamp_row: ClassVar[int]
    """Its row of the month's one stamping draw (``rng.random((rows, pages))``)."""

    def stamp(self, origin: np.ndarray, draw: np.ndarray) -> np.ndarray:
        """Per page of ``origin``, whether it carries the mark, from one uniform draw each."""
        ...


@runtime_checkable
class FiltersCrawl(Protocol):
    """Crawl eligibility: the pages a crawler may fetch."""

    def crawlable(self, web: Web, eligible: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``eligible`` (a mask over the web, left unmodified) minus the pages it rules out."""
        ...


@runtime_checkable
class ScreensCrawl(Protocol):
    """Screening: crawled pages dropped before they enter a training set."""

    dropped_series: ClassVar[str]
    """The training series counting the pages it drops (``dropped_detected``)."""

    def screen(self, web: Web, pages: np.ndarray, company: int) -> np.ndarray:
        """Per crawled page, whether company ``company`` drops it."""
        ...


@runtime_checkable
class AssemblesTraining(Protocol):
    """Assembly: the training set, as rows of content with their synthetic and certified flags."""

    def assemble(
        self, synthetic: torch.Tensor, certified: torch.Tensor, rng: np.random.Generator
    ) -> np.ndarray | None:
        """The training rows it keeps, as a boolean mask over the set, or ``None`` for all of
        them; it sees only the rows' flags, so it works whatever the world's content is."""
        ...


@runtime_checkable
class PaysAuthors(Protocol):
    """Payment: what a company owes the authors of the creator pages it crawled."""

    def fee(self, web: Web, pages: np.ndarray) -> float:
        """The fee each crawled creator page (human or AI-assisted) earns its author."""
        ...


HOOKS: tuple[tuple[str, str, type], ...] = (
    ("publishing", "limit_output", LimitsOutput),
    ("publication", "stamp", StampsPages),
    ("crawl", "crawlable", FiltersCrawl),
    ("screening", "screen", ScreensCrawl),
    ("assembly", "assemble", AssemblesTraining),
    ("payment", "fee", PaysAuthors),
)
"""The hooks in the order a month reaches them: (point of the month, method, protocol)."""


@dataclass(frozen=True)
class Stamps:
    """What a month's new pages carry, by web column: ``watermarked``, ``certified_human``,
    ``flagged`` (the detector's verdict)."""

    columns: dict[str, np.ndarray]

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]


@dataclass(frozen=True)
class Screening:
    """A crawl screened at training-set assembly."""

    kept: np.ndarray
    """The crawled pages that enter the training set."""
    crawled: int
    crawl_synthetic_share: float
    """True synthetic share of the crawl."""
    crawl_detected_share: float
    """Synthetic share of the crawl as the detector measures it (flagged share)."""
    dropped: dict[str, int]
    """Pages each screening lever dropped, by its series (``dropped_detected``,
    ``dropped_marked``); a page two levers would drop counts for the first in order."""
