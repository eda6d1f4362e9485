"""The levers of one scenario, called at the named points of the month.

Core object: :class:`Levers` (every registered lever, built from the
scenario's ``policy`` section; at each point it calls the levers that have
that hook, in lever order, and combines what they return).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ecosystem.scenario.fields import Section
from ecosystem.world.levers.protocol import (
    AssemblesTraining,
    FiltersCrawl,
    Lever,
    LimitsOutput,
    PaysAuthors,
    Screening,
    ScreensCrawl,
    Stamps,
    StampsPages,
)
from ecosystem.world.levers.registry import implemented_hooks, registry
from ecosystem.world.protocol import ContentStore
from ecosystem.world.web import HUMAN, Web

__all__ = ["Levers"]


class Levers:
    """Every registered lever with the scenario's settings; every random draw takes an
    explicit generator."""

    def __init__(self, settings: Section) -> None:
        self.settings = settings
        self.levers: dict[str, Lever] = {
            name: lever(getattr(settings, name)) for name, lever in registry().items()
        }
        self._hooks: dict[type, list] = {}
        for lever in self.levers.values():
            for hook in implemented_hooks(lever):
                self._hooks.setdefault(hook, []).append(lever)

    def __getitem__(self, name: str) -> Lever:
        return self.levers[name]

    def _with(self, hook: type) -> list:
        return self._hooks.get(hook, [])

    def limit_output(self, counts: np.ndarray, human_pages: int) -> np.ndarray:
        """Publishing: the companies' page counts each output limit allows, in turn."""
        for lever in self._with(LimitsOutput):
            counts = lever.limit_output(counts, human_pages)
        return counts

    def stamp(self, origin: np.ndarray, rng: np.random.Generator) -> Stamps:
        """Publication: every stamp of the new pages of ``origin``, from one draw of
        ``(stamping levers, pages)`` uniforms whose row ``stamp_row`` goes to each lever."""
        stampers = self._with(StampsPages)
        draw = rng.random((len(stampers), len(origin)))
        return Stamps(
            {lever.stamp_column: lever.stamp(origin, draw[lever.stamp_row]) for lever in stampers}
        )

    def crawlable(self, web: Web, eligible: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Crawl eligibility: ``eligible`` (left unmodified) minus what each lever rules out."""
        for lever in self._with(FiltersCrawl):
            eligible = lever.crawlable(web, eligible, rng)
        return eligible

    def screen(self, web: Web, pages: np.ndarray, company: int) -> Screening:
        """Screening: drop from a crawl what each screening lever drops for ``company``; a
        page two levers drop counts for the first (detection before watermarks)."""
        dropped = np.zeros(len(pages), bool)
        counts: dict[str, int] = {}
        for lever in self._with(ScreensCrawl):
            drop = lever.screen(web, pages, company) & ~dropped
            counts[lever.dropped_series] = int(drop.sum())
            dropped |= drop
        return Screening(
            kept=pages[~dropped],
            crawled=len(pages),
            crawl_synthetic_share=_mean(web.origin[pages] != HUMAN),
            crawl_detected_share=_mean(web.flagged[pages]),
            dropped=counts,
        )

    def assemble(
        self,
        x: Any,
        synthetic: torch.Tensor,
        certified: torch.Tensor,
        rng: np.random.Generator,
        *,
        store: ContentStore | None = None,
    ) -> tuple[Any, torch.Tensor, torch.Tensor]:
        """Assembly: the training set each lever allows, in turn. The content batch ``x`` is
        indexed through the world's ``store`` (without one, ``x`` is a dense tensor); the
        same objects come back when no lever drops a row."""
        for lever in self._with(AssemblesTraining):
            keep = lever.assemble(synthetic, certified, rng)
            if keep is None:
                continue
            rows = torch.from_numpy(keep)
            x = store.take(x, keep) if store is not None else x[rows]
            synthetic, certified = synthetic[rows], certified[rows]
        return x, synthetic, certified

    def pay(self, web: Web, pages: np.ndarray) -> tuple[np.ndarray, float]:
        """Payment: the authors of the crawled creator pages (human or AI-assisted) and the
        fee each page earns, summed over the paying levers."""
        authors = web.author[pages]
        fee = 0.0
        for lever in self._with(PaysAuthors):
            fee += lever.fee(web, pages)
        return authors[authors >= 0].astype(np.int64), fee


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")
