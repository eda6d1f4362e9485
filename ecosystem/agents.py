"""The decision makers of the web: human creators and AI companies (Mesa agents).

Core objects: :class:`HumanCreator` (topics, publishing rate, AI-assisted
share, chosen assistant) and :class:`AICompany` (a generative model from the
registry, a crawler, a data policy, a sampling bias and an output rate; it
crawls, assembles a training set and retrains every ``retrain_interval``
months). Agents decide; the numeric work on pages is batched per step across
all agents by :mod:`ecosystem.publishing` and :mod:`ecosystem.web`.
"""

from __future__ import annotations

import math

import mesa
import numpy as np
import torch

import models
from ecosystem.crawl import make_crawler
from ecosystem.scenario import CompanySettings, CreatorSettings
from ecosystem.web import HUMAN, Web

__all__ = ["AICompany", "HumanCreator", "populate_creators"]


class HumanCreator(mesa.Agent):
    """A person who publishes pages about a few topics, sometimes with AI help.

    ``ai_share`` is the probability that one of its pages is AI-assisted (once
    its ``assistant`` company has a model on the market). A *niche* creator is
    one whose topics all lie in the tail.
    """

    def __init__(
        self,
        model: mesa.Model,
        *,
        topics: np.ndarray,
        rate: float,
        ai_share: float,
        assistant: str | None,
        niche: bool = False,
    ) -> None:
        super().__init__(model)
        self.topics = np.asarray(topics, dtype=np.int16)
        self.rate = float(rate)
        self.ai_share = float(ai_share)
        self.assistant = assistant
        self.niche = bool(niche)
        self.active = True
        self.pages_published = 0


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
        self.crawler = make_crawler(settings.crawler)
        self.generation = 0
        self.training_x: torch.Tensor | None = None
        self.training_synthetic: torch.Tensor | None = None
        self.crawled_total = 0
        self._pool: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._seen = np.zeros(0, dtype=bool)
        self._carry = 0.0

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
        if self.settings.data == "accumulate":
            self._pool = [(archive, self.training_synthetic)]

    def crawl(self, web: Web, step: int, rng: np.random.Generator) -> np.ndarray:
        """Pages it crawls now: live pages (younger than ``crawl_max_age`` if set)."""
        eligible = web.alive.copy()
        if self.settings.crawl_max_age > 0:
            eligible &= web.created_step > step - self.settings.crawl_max_age
        return self.crawler.select(web, self.settings.crawl_budget, rng, eligible=eligible)

    def retrain(
        self,
        web: Web,
        archive: torch.Tensor,
        step: int,
        rng: np.random.Generator,
        generator: torch.Generator,
    ) -> None:
        """Crawl, assemble the training set, fit: the next model generation.

        ``replace`` trains on this crawl, mixed with an archive sample so that the
        archive makes up ``archive_share`` of the set (the crawl part shrinks when
        the archive is too small to reach that share). ``accumulate`` trains on the
        archive (its generation-1 data) plus every distinct page crawled so far:
        a page crawled again is not added twice.
        """
        pages = self.crawl(web, step, rng)
        if len(pages) < 2:
            return
        self.crawled_total += len(pages)
        if self.settings.data == "accumulate":
            if len(self._seen) < web.size:
                self._seen = np.concatenate(
                    [self._seen, np.zeros(web.size - len(self._seen), bool)]
                )
            fresh = pages[~self._seen[pages]]
            self._seen[fresh] = True
            self._pool.append(self._pages_data(web, fresh))
            x = torch.cat([p for p, _ in self._pool])
            synthetic = torch.cat([s for _, s in self._pool])
        else:
            x, synthetic = self._with_archive(web, pages, archive, rng)
        self.generative.fit(x, generator=generator)
        self.generation += 1
        self.training_x, self.training_synthetic = x, synthetic

    @staticmethod
    def _pages_data(web: Web, pages: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(web.content[pages]), torch.from_numpy(web.origin[pages] != HUMAN)

    def _with_archive(
        self, web: Web, pages: np.ndarray, archive: torch.Tensor, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        share = self.settings.archive_share
        if share == 0:
            return self._pages_data(web, pages)
        if share == 1:
            n_archive, n_crawl = min(len(pages), len(archive)), 0
        else:
            n_archive = min(round(share / (1 - share) * len(pages)), len(archive))
            n_crawl = min(len(pages), round(n_archive * (1 - share) / share))
        kept = np.sort(rng.choice(pages, n_crawl, replace=False)) if n_crawl < len(pages) else pages
        x, synthetic = self._pages_data(web, kept)
        picks = torch.from_numpy(rng.choice(len(archive), n_archive, replace=False))
        return (
            torch.cat([x, archive[picks]]),
            torch.cat([synthetic, torch.zeros(n_archive, dtype=torch.bool)]),
        )


def populate_creators(
    model: mesa.Model,
    settings: CreatorSettings,
    weights: np.ndarray,
    tail: np.ndarray,
    assistants: dict[str, float],
    rng: np.random.Generator,
) -> list[HumanCreator]:
    """Create ``settings.count`` creators.

    Rates are log-normal with mean ``pages_per_month``; each creator writes
    about 1 to ``topics_per_creator`` distinct topics drawn by popularity, so
    human pages follow the culture and the creators whose topics all lie in
    the tail are its niche creators; its AI-assisted share is Beta-distributed
    around ``ai_assisted_share``; its assistant is a company drawn by market share.
    """
    n = settings.count
    if n == 0:
        return []
    sigma = settings.rate_spread
    rates = settings.pages_per_month * rng.lognormal(-(sigma**2) / 2, sigma, n)
    widths = rng.integers(1, settings.topics_per_creator + 1, n)
    mean_share = settings.ai_assisted_share
    if 0 < mean_share < 1:
        shares = rng.beta(2 * mean_share, 2 * (1 - mean_share), n)
    else:
        shares = np.full(n, mean_share)
    names = list(assistants)
    market = np.array([assistants[name] for name in names], dtype=np.float64)
    if names and market.sum() > 0:
        picks = rng.choice(len(names), n, p=market / market.sum())
        chosen = [names[i] for i in picks]
    else:
        chosen = [None] * n
    in_tail = np.zeros(len(weights), dtype=bool)
    in_tail[tail] = True
    creators = []
    for i in range(n):
        topics = rng.choice(
            len(weights), min(int(widths[i]), len(weights)), replace=False, p=weights
        )
        creators.append(
            HumanCreator(
                model,
                topics=topics,
                rate=rates[i],
                ai_share=shares[i],
                assistant=chosen[i],
                niche=bool(in_tail[topics].all()),
            )
        )
    return creators
