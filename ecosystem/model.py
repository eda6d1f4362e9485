"""The ecosystem model: the wiring and step order of one simulated month.

Core objects: :class:`EcosystemModel` (a ``mesa.Model`` holding the culture,
the web, the pre-AI archive, the creators and the companies) and
:func:`ecosystem_steps` (a scenario run as tidy rows per month). The model
only wires and orders; the domain logic lives in the modules it calls.

Step order (one step = one month): creators publish -> companies publish ->
new pages link -> pages age and die -> companies whose retraining is due
crawl and retrain -> metrics. Step 0 is the initial state: the pre-AI web and
every company's generation-1 model, fitted on the archive.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import mesa
import numpy as np

from ecosystem.agents import AICompany, populate_creators
from ecosystem.lab import make_culture
from ecosystem.measurement import Measurement
from ecosystem.publishing import publish
from ecosystem.randomness import Streams
from ecosystem.results import StepRows
from ecosystem.scenario import Scenario
from ecosystem.web import HUMAN, Web

__all__ = ["PHASES", "EcosystemModel", "ecosystem_steps"]

SEED_BATCHES = 10
PHASES = ("publish", "link", "web", "retrain", "metrics")
"""Phases of a month whose cumulative wall time :attr:`EcosystemModel.timings` keeps."""


class EcosystemModel(mesa.Model):
    """Human creators and AI companies publishing to, and crawling from, one web."""

    def __init__(self, scenario: Scenario) -> None:
        if scenario.mode != "ecosystem":
            raise ValueError(f"EcosystemModel needs mode = 'ecosystem', got {scenario.mode!r}")
        streams = Streams(scenario.seed)
        super().__init__(rng=int(streams.numpy("mesa").integers(2**63 - 1)))
        self.scenario = scenario
        self.streams = streams
        self.culture = make_culture(scenario, streams.torch("culture"))
        self.web = Web(scenario.culture.dim)
        self.archive, _ = self.culture.sample(scenario.archive.size, streams.torch("archive"))
        self.companies = [AICompany(self, name, s) for name, s in scenario.active_companies.items()]
        self._company_streams = {
            c.name: (streams.numpy(f"crawl:{c.name}"), streams.torch(f"company:{c.name}"))
            for c in self.companies
        }
        first_fit: dict[str, AICompany] = {}
        for company in self.companies:
            key = company.settings.model.model_dump_json()
            company.train_on_archive(
                self.archive, self._company_streams[company.name][1], fitted=first_fit.get(key)
            )
            first_fit.setdefault(key, company)
        self.creators = populate_creators(
            self,
            scenario.creators,
            self.culture.weights.numpy(),
            self.culture.tail.numpy(),
            {c.name: c.settings.market_share for c in self.companies},
            streams.numpy("creators"),
        )
        self._web_rng = streams.numpy("web")
        self._publish_rng = streams.numpy("publish")
        self._content = streams.torch("content")
        self._seed_web()
        self.measurement = Measurement(
            self.culture, scenario.metrics, streams.numpy("metrics"), streams.torch("metrics")
        )
        self.timings: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.published = self.web.new_since(0)
        self.rows: StepRows = self.measurement.rows(
            self.web, self.companies, self.creators, 0, self.published
        )

    @contextmanager
    def _timed(self, phase: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] += time.perf_counter() - started

    def _seed_web(self) -> None:
        """The pre-AI web: human pages about popular topics, linked in arrival order."""
        total = self.scenario.web.initial_pages
        if total == 0:
            return
        x, topics = self.culture.sample(total, self._content)
        pages = self.web.add_pages(
            x.numpy(),
            origin=HUMAN,
            topic=topics.numpy(),
            quality=self.culture.log_prob(x).numpy(),
            step=0,
        )
        for batch in np.array_split(pages, SEED_BATCHES):
            self._link(batch)

    def _link(self, pages: np.ndarray) -> None:
        w = self.scenario.web
        self.web.link_new_pages(
            pages,
            self._web_rng,
            links_per_page=w.links_per_page,
            attachment=w.attachment,
            homophily=w.homophily,
        )

    def step(self) -> None:
        """One month, in the order of the module docstring."""
        month = self.steps
        with self._timed("publish"):
            new = publish(
                self.web,
                self.culture,
                self.creators,
                self.companies,
                month,
                assist_strength=self.scenario.creators.assist_strength,
                rng=self._publish_rng,
                generator=self._content,
            )
        with self._timed("link"):
            self._link(new)
        w = self.scenario.web
        with self._timed("web"):
            self.web.step(self._web_rng, death_rate=w.death_rate, traffic_decay=w.traffic_decay)
        with self._timed("retrain"):
            for company in self.companies:
                if company.is_due(month):
                    rng, generator = self._company_streams[company.name]
                    company.retrain(self.web, self.archive, month, rng, generator)
        with self._timed("metrics"):
            self.published = new
            self.rows = self.measurement.rows(self.web, self.companies, self.creators, month, new)


def ecosystem_steps(scenario: Scenario) -> Iterator[tuple[int, StepRows]]:
    """Run an ecosystem scenario: the initial state (step 0), then each month's rows."""
    model = EcosystemModel(scenario)
    yield 0, model.rows
    for _ in range(scenario.steps):
        model.step()
        yield model.steps, model.rows
