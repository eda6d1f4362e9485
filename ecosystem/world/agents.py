"""The decision makers of the web: human creators and AI companies (Mesa agents).

Core objects: :class:`HumanCreator` (the agent of one row of the creator
table: topics, publishing rate, AI-assisted share, income, opt-out) and
:class:`AICompany` (a generative model from the registry, a crawler, a data
policy, a sampling bias and an output rate; every ``retrain_interval`` months
it crawls under the policy levers, assembles a training set and retrains).
Agents decide; the numeric work is batched per step across all agents by
:mod:`ecosystem.world.publishing`, :mod:`ecosystem.world.economy` and :mod:`ecosystem.world.web`.
"""

from __future__ import annotations

import math

import mesa
import numpy as np
import torch

import models
from ecosystem.scenario import CompanySettings
from ecosystem.world.crawl import make_crawler
from ecosystem.world.creators import CreatorTable
from ecosystem.world.levers import Levers, Screening
from ecosystem.world.web import HUMAN, Web

__all__ = ["AICompany", "HumanCreator"]


class HumanCreator(mesa.Agent):
    """A person who publishes pages about a few topics: the Mesa agent of one row of the
    :class:`~ecosystem.world.creators.CreatorTable`, which holds its state as columns.

    Its decisions (publish, adopt AI help, opt out, quit) are made for all
    creators at once by :mod:`ecosystem.world.publishing` and :mod:`ecosystem.world.economy`.
    """

    def __init__(self, model: mesa.Model, table: CreatorTable, row: int) -> None:
        super().__init__(model)
        self.table = table
        self.row = int(row)

    @property
    def topics(self) -> np.ndarray:
        """The topics it writes about."""
        topics = self.table.topics[self.row]
        return topics[topics >= 0]

    @property
    def rate(self) -> float:
        """Mean pages per month."""
        return float(self.table.rate[self.row])

    @property
    def ai_share(self) -> float:
        """Probability that one of its pages is AI-assisted."""
        return float(self.table.ai_share[self.row])

    @property
    def niche(self) -> bool:
        """Whether all its topics lie in the tail."""
        return bool(self.table.niche[self.row])

    @property
    def income(self) -> float:
        """Last month's income ($)."""
        return float(self.table.income[self.row])

    @property
    def opt_out(self) -> bool:
        """Whether it blocks AI crawlers."""
        return bool(self.table.opt_out[self.row])

    @property
    def active(self) -> bool:
        """Whether it still publishes."""
        return bool(self.table.active[self.row])

    @active.setter
    def active(self, value: bool) -> None:
        self.table.active[self.row] = bool(value)


class AICompany(mesa.Agent):
    """An AI company: publishes its model's output and retrains on what it crawls.

    Generation 1 is the model fitted on the pre-AI archive; each retraining
    makes the next generation from a crawl of the live web (optionally mixed
    with the archive, and with every earlier crawl under ``accumulate``).
    """

    def __init__(self, model: mesa.Model, name: str, settings: CompanySettings) -> None:
        super().__init__(model)
        self.name = name
        self.settings = settings
        self.generative = models.make(settings.model.name, **settings.model.params)
        self.crawler = make_crawler(settings.crawler.name, **settings.crawler.params)
        self.generation = 0
        self.index = -1
        self.training_x: torch.Tensor | None = None
        self.training_synthetic: torch.Tensor | None = None
        self.training_certified: torch.Tensor | None = None
        self.screening: Screening | None = None
        self.fidelity = np.ones(0)
        self.crawled_total = 0
        self.licensing_paid = 0.0
        self.topic_shares = np.ones(0)
        """The share of a sample of its current model that the truth assigns to each topic."""
        self.requests = 0.0
        """Its crawler's requests per month, smoothed over a year."""
        self.referrals = 0.0
        """Visits its answers referred per month, smoothed over a year."""
        self.pending_requests = 0.0
        self._pool: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._seen = np.zeros(0, dtype=bool)
        self._carry = 0.0

    def count_traffic(self, referrals: float) -> None:
        """A month of its traffic: the requests its crawls made (``pending_requests``) and
        the visits its answers referred, each smoothed over a year."""
        self.requests += (self.pending_requests - self.requests) / 12.0
        self.pending_requests = 0.0
        self.referrals += (referrals - self.referrals) / 12.0

    @property
    def crawl_to_referral(self) -> float:
        """Its crawler requests per visit its answers refer (the ratio site owners see)."""
        return self.requests / (self.referrals + 1.0)

    def output_rate(self, step: int) -> float:
        """Pages per month it publishes at ``step`` (zero before it starts, then ramping up)."""
        s = self.settings
        if step < s.start_step or s.pages_per_month == 0:
            return 0.0
        if s.ramp_months == 0:
            return s.pages_per_month
        return s.pages_per_month * (1.0 - math.exp(-(step - s.start_step) / s.ramp_months))

    def pages_to_publish(self, step: int) -> int:
        """Whole pages this month; fractions carry over, so the mean rate is exact."""
        due = self.output_rate(step) + self._carry
        count = math.floor(due)
        self._carry = due - count
        return count

    def on_market(self, step: int) -> bool:
        """Whether its model is available to readers and creators at ``step``."""
        return step >= self.settings.start_step and self.generation > 0

    def is_due(self, step: int) -> bool:
        """Whether it retrains at the end of ``step``."""
        s = self.settings
        return step >= s.first_retrain and (step - s.first_retrain) % s.retrain_interval == 0

    def train_on_archive(
        self,
        archive: torch.Tensor,
        generator: torch.Generator,
        fitted: AICompany | None = None,
    ) -> None:
        """Generation 1: fit on the pre-AI archive, or take the same fit from
        ``fitted``, a company with the same model settings."""
        if fitted is None:
            self.generative.fit(archive, generator=generator)
        else:
            self.generative.load_state_dict(fitted.generative.state_dict())
        self.generation = 1
        self.training_x = archive
        self.training_synthetic = torch.zeros(len(archive), dtype=torch.bool)
        self.training_certified = torch.ones(len(archive), dtype=torch.bool)
        if self.settings.data == "accumulate":
            self._pool = [(archive, self.training_synthetic, self.training_certified)]

    def crawl(
        self, web: Web, step: int, rng: np.random.Generator, levers: Levers | None = None
    ) -> np.ndarray:
        """Pages it crawls now: live pages (younger than ``crawl_max_age`` if set), minus the
        pages the ``levers`` rule out (the opted-out pages it honours)."""
        eligible = web.alive.copy()
        if self.settings.crawl_max_age > 0:
            eligible &= web.created_step > step - self.settings.crawl_max_age
        if levers is not None:
            eligible = levers.crawlable(web, eligible, rng)
        return self.crawler.select(web, self.settings.crawl_budget, rng, eligible=eligible)

    def retrain(
        self,
        web: Web,
        archive: torch.Tensor,
        step: int,
        rng: np.random.Generator,
        generator: torch.Generator,
        levers: Levers,
    ) -> np.ndarray:
        """Crawl, screen, assemble the training set, fit: the next model generation.
        Returns the pages crawled (before screening).

        Screening drops what the levers' detector flags and the watermarked
        pages the company can read. ``replace`` trains on this crawl, mixed
        with an archive sample so that the archive makes up ``archive_share``
        of the set (the crawl part shrinks when the archive is too small to
        reach that share). ``accumulate`` trains on the archive (its
        generation-1 data) plus every distinct page kept so far: a page crawled
        again is not added twice. Last, the levers' assembly hook (the human-data quota)
        may shrink the set.
        """
        pages = self.crawl(web, step, rng, levers)
        self.screening = levers.screen(web, pages, self.index)
        kept = self.screening.kept
        if len(kept) < 2:
            return pages
        self.crawled_total += len(pages)
        if self.settings.data == "accumulate":
            if len(self._seen) < web.size:
                self._seen = np.concatenate(
                    [self._seen, np.zeros(web.size - len(self._seen), bool)]
                )
            fresh = kept[~self._seen[kept]]
            self._seen[fresh] = True
            self._pool.append(self._pages_data(web, fresh))
            xs, synthetic_parts, certified_parts = zip(*self._pool, strict=True)
            x = web.store.concat(xs)
            synthetic, certified = torch.cat(synthetic_parts), torch.cat(certified_parts)
        else:
            x, synthetic, certified = self._with_archive(web, kept, archive, rng)
        x, synthetic, certified = levers.assemble(x, synthetic, certified, rng, store=web.store)
        if len(x) < 2:
            return pages
        self.generative.fit(x, generator=generator)
        self.generation += 1
        self.training_x, self.training_synthetic, self.training_certified = x, synthetic, certified
        return pages

    @staticmethod
    def _pages_data(web: Web, pages: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (
            web.content_of(pages),
            torch.from_numpy(web.origin[pages] != HUMAN),
            torch.from_numpy(web.certified_human[pages].copy()),
        )

    def _with_archive(
        self, web: Web, pages: np.ndarray, archive: torch.Tensor, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        share = self.settings.archive_share
        if share == 0:
            return self._pages_data(web, pages)
        if share == 1:
            n_archive, n_crawl = min(len(pages), len(archive)), 0
        else:
            n_archive = min(round(share / (1 - share) * len(pages)), len(archive))
            n_crawl = min(len(pages), round(n_archive * (1 - share) / share))
        kept = np.sort(rng.choice(pages, n_crawl, replace=False)) if n_crawl < len(pages) else pages
        x, synthetic, certified = self._pages_data(web, kept)
        picks = torch.from_numpy(rng.choice(len(archive), n_archive, replace=False))
        return (
            web.store.concat([x, web.store.take(archive, picks)]),
            torch.cat([synthetic, torch.zeros(n_archive, dtype=torch.bool)]),
            torch.cat([certified, torch.ones(n_archive, dtype=torch.bool)]),
        )
