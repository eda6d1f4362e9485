"""The ecosystem model: the wiring and step order of one simulated month.

Core objects: :class:`EcosystemModel` (a ``mesa.Model`` holding the world (the
ground truth, see :mod:`ecosystem.world.protocol`), the web, the pre-AI archive,
the creators and the companies), :class:`EcosystemSimulation` (a scenario step by
step; it pickles between steps, which is its checkpoint) and :func:`ecosystem_steps`
(a scenario run as tidy rows per month). The model only wires and orders; the domain logic lives in
the modules it calls.

Step order (one step = one month): creators publish -> companies publish
(levers' output limit: the cap) and every new page is stamped (levers'
stamps: watermark, certificate, detector verdict) -> new pages link ->
readers allocate attention (search vs AI answers) and creators are paid ->
creators update (quit, enter, adopt AI help, opt out) -> pages age and die
-> companies whose retraining is due crawl (levers' crawl eligibility:
opt-out), screen (levers' screening: detection, watermarks), assemble
(levers' assembly: the human-data quota) and retrain, then pay (levers'
payment: licensing, with the authors' next income) -> metrics. The levers'
hooks and their order are those of :mod:`ecosystem.world.levers`. Step 0 is
the initial state: the pre-AI web (its pages stamped too), every company's
generation-1 model fitted on the archive, and creators whose costs are set
from their step-0 income.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import mesa
import numpy as np

from ecosystem.calendar import step_of_month
from ecosystem.measure.rows import StepRows
from ecosystem.randomness import Streams
from ecosystem.scenario import Scenario
from ecosystem.world.agents import AICompany, HumanCreator
from ecosystem.world.attention import Attention, allocate, assigned_shares, topic_fidelity
from ecosystem.world.beliefs import ReaderBeliefs
from ecosystem.world.creators import CreatorTable, draw_authors, draw_creators
from ecosystem.world.economy import CreatorEconomy, MonthOfCreators
from ecosystem.world.levers import Levers
from ecosystem.world.measurement import Measurement
from ecosystem.world.publishing import publish
from ecosystem.world.web import HUMAN, Web
from ecosystem.world.worlds import make_world

__all__ = ["PHASES", "EcosystemModel", "EcosystemSimulation", "ecosystem_steps"]

SEED_BATCHES = 10
FIDELITY_SAMPLES = 2000
TOPIC_SHARE_SAMPLES = 20_000
"""Sample of a new model whose topic shares readers' beliefs and homogenisation use: two
samples of 20,000 from one model differ by a total variation of about 0.02 over 50 topics."""
TRUTH_SAMPLES = 50_000
PHASES = ("publish", "link", "attention", "creators", "web", "retrain", "metrics")
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
        self.levers = Levers(scenario.policy)
        self.world = make_world(scenario, streams.torch("culture"))
        self._weights = self.world.weights.numpy()
        self.web = Web(self.world.store)
        self.archive, _ = self.world.sample(scenario.archive.size, streams.torch("archive"))
        self.companies = [AICompany(self, name, s) for name, s in scenario.active_companies.items()]
        self._company_streams = {
            c.name: (streams.numpy(f"crawl:{c.name}"), streams.torch(f"company:{c.name}"))
            for c in self.companies
        }
        self._answers = streams.torch("answers")
        self._topic_shares = streams.torch("topic-shares")
        truth, _ = self.world.sample(TRUTH_SAMPLES, self._answers)
        self._truth_shares = assigned_shares(self.world, truth)
        first_fit: dict[str, AICompany] = {}
        for index, company in enumerate(self.companies):
            company.index = index
            key = company.settings.model.model_dump_json()
            company.train_on_archive(
                self.archive, self._company_streams[company.name][1], fitted=first_fit.get(key)
            )
            first_fit.setdefault(key, company)
            self._update_fidelity(company)
        self._creator_rng = streams.numpy("creators")
        self._willing_rng = streams.numpy("creators:opt-out")
        self.creators = CreatorTable()
        self.economy = CreatorEconomy(
            scenario.creators, step_of_month(scenario.start, scenario.creators.opt_out_from)
        )
        self._add_creators(scenario.creators.count, step=0)
        self._web_rng = streams.numpy("web")
        self._publish_rng = streams.numpy("publish")
        self._content = streams.torch("content")
        self._seed_web()
        self.timings: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.beliefs = ReaderBeliefs(self._weights, scenario.attention.belief_learning)
        self.attention = self._allocate(0)
        self.economy.pay(
            self.creators, self.web, self.attention, scenario.attention.revenue_per_visit
        )
        self.economy.calibrate(self.creators, self._creator_rng)
        self.month = MonthOfCreators(0, 0, 0)
        self.measurement = Measurement(
            self.world, scenario.metrics, streams, last_step=scenario.steps
        )
        self.published = self.web.live()
        self.rows: StepRows = self._measure(0)

    @contextmanager
    def _timed(self, phase: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] += time.perf_counter() - started

    def _seed_web(self) -> None:
        """The pre-AI web: human pages by the creators (about the topics they write), published
        over the ``initial_age`` months before the run and linked in arrival order; pages on
        topics nobody writes have no author."""
        total = self.scenario.web.initial_pages
        if total == 0:
            return
        x, topics = self.world.sample(total, self._content)
        stamps = self.levers.stamp(np.full(total, HUMAN, dtype=np.int8), self._publish_rng)
        age = self.scenario.web.initial_age
        created = -np.sort(self._web_rng.integers(0, age + 1, total))[::-1]
        pages = self.web.add_pages(
            x,
            origin=HUMAN,
            topic=topics.numpy(),
            quality=self.world.log_prob(x).numpy(),
            step=created,
            author=draw_authors(self.creators, topics.numpy(), self._creator_rng),
            **stamps.columns,
        )
        for batch in np.array_split(pages, SEED_BATCHES):
            self._link(batch)

    def _add_creators(self, n: int, step: int) -> None:
        """``n`` new creators (rows of the table and Mesa agents); entrants' costs are drawn
        from the active creators'."""
        if n == 0:
            return
        market = np.array([c.settings.market_share for c in self.companies], dtype=np.float64)
        new = draw_creators(
            n,
            self.scenario.creators,
            self._weights,
            np.flatnonzero(self.world.tail_mask.numpy()),
            market,
            step,
            self._creator_rng,
            self._willing_rng,
        )
        if step > 0:
            new.cost = self.economy.draw_costs(self.creators, n, self._creator_rng)
        for row in self.creators.extend(new):
            HumanCreator(self, self.creators, row)

    def _update_fidelity(self, company: AICompany) -> None:
        sample = company.generative.sample(
            FIDELITY_SAMPLES, bias=company.settings.bias, generator=self._answers
        )
        company.fidelity = topic_fidelity(self.world, sample, self._truth_shares)
        # what it speaks of, on the scale of the topic weights (a perfect model: the weights),
        # from a larger sample of its own stream, so that comparing two models is not noise
        large = company.generative.sample(
            TOPIC_SHARE_SAMPLES, bias=company.settings.bias, generator=self._topic_shares
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            spoken = assigned_shares(self.world, large) * np.where(
                self._truth_shares > 0, self._weights / self._truth_shares, 0.0
            )
        company.topic_shares = spoken / spoken.sum() if spoken.sum() > 0 else spoken

    def _allocate(self, month: int) -> Attention:
        market = np.array(
            [c.settings.market_share if c.on_market(month) else 0.0 for c in self.companies]
        )
        return allocate(
            self.web,
            self._weights,
            [c.fidelity for c in self.companies],
            market,
            self.scenario.attention,
            self.scenario.start,
            month,
            links=[c.settings.answer_click_through for c in self.companies],
        )

    def _assistance(self, month: int) -> tuple[np.ndarray, np.ndarray]:
        """Per creator: whether its assistant is on the market, and that assistant's mean
        fidelity on the creator's topics."""
        table = self.creators
        on_market = np.array([c.on_market(month) for c in self.companies] + [False])
        assisted = on_market[table.assistant]  # -1 (no assistant) picks the trailing False
        if not self.companies:
            return assisted, np.zeros(len(table))
        fidelity = np.stack([c.fidelity for c in self.companies])
        helper = np.maximum(table.assistant, 0)
        slots = table.topics >= 0
        per_topic = fidelity[helper[:, None], np.maximum(table.topics, 0)] * slots
        return assisted, per_topic.sum(axis=1) / slots.sum(axis=1)

    def _read(self, attention: Attention) -> None:
        """Readers learn from the month's visits and answers; companies count their traffic."""
        topics = len(self._weights)
        visited = np.bincount(
            self.web.topic[attention.pages].astype(np.int64),
            weights=attention.visits,
            minlength=topics,
        )
        self.beliefs.read(
            visited,
            attention.answered_topics,
            attention.answers,
            [c.fidelity for c in self.companies],
            [c.topic_shares for c in self.companies],
        )
        for index, company in enumerate(self.companies):
            company.count_traffic(float(attention.referrals[index]))

    def _measure(self, month: int) -> StepRows:
        return self.measurement.rows(
            self.web,
            self.companies,
            self.creators,
            month,
            self.published,
            attention=self.attention,
            creators_month=self.month,
            crawl_to_referral=self.economy.crawl_to_referral(self.creators),
            prices=self.scenario.attention,
            beliefs=self.beliefs,
        )

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
        scenario = self.scenario
        with self._timed("publish"):
            new = publish(
                self.web,
                self.world,
                self.creators,
                self.companies,
                month,
                assist_strength=scenario.creators.assist_strength,
                levers=self.levers,
                rng=self._publish_rng,
                generator=self._content,
            )
        with self._timed("link"):
            self._link(new)
        with self._timed("attention"):
            self.attention = self._allocate(month)
            self.web.traffic[self.attention.pages] += self.attention.visits.astype(np.float32)
            self.economy.pay(
                self.creators, self.web, self.attention, scenario.attention.revenue_per_visit
            )
            self._read(self.attention)
        with self._timed("creators"):
            assisted, fidelity = self._assistance(month)
            self.month, entrants = self.economy.respond(
                self.creators, self.web, assisted, fidelity, month, self._creator_rng
            )
            self._add_creators(entrants, month)
        w = scenario.web
        with self._timed("web"):
            self.web.step(self._web_rng, death_rate=w.death_rate, traffic_decay=w.traffic_decay)
        with self._timed("retrain"):
            for company in self.companies:
                if company.is_due(month):
                    rng, generator = self._company_streams[company.name]
                    crawled = company.retrain(
                        self.web, self.archive, month, rng, generator, self.levers
                    )
                    company.pending_requests += len(crawled) * scenario.creators.crawl_scale
                    authors, fee = self.levers.pay(self.web, crawled)
                    company.licensing_paid += fee * len(authors)
                    self.economy.record_crawl(
                        self.creators, authors, fee, scenario.creators.crawl_scale
                    )
                    self._update_fidelity(company)
        with self._timed("metrics"):
            self.published = new
            self.rows = self._measure(month)


class EcosystemSimulation:
    """An ecosystem scenario step by step: step 0 builds the model (the initial state), each
    later step is a month. Pickling it between steps is a checkpoint of the run."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.model: EcosystemModel | None = None

    def advance(self) -> tuple[int, StepRows] | None:
        """The next step's rows (None after the last month)."""
        if self.model is None:
            self.model = EcosystemModel(self.scenario)
            return 0, self.model.rows
        if self.model.steps >= self.scenario.steps:
            return None
        self.model.step()
        return self.model.steps, self.model.rows


def ecosystem_steps(
    scenario: Scenario, finished: Callable[[EcosystemModel], None] | None = None
) -> Iterator[tuple[int, StepRows]]:
    """Run an ecosystem scenario: the initial state (step 0), then each month's rows.

    ``finished`` is called with the model after the last step, before the last rows are
    yielded (e.g. to keep a sample of the final web).
    """
    simulation = EcosystemSimulation(scenario)
    while (item := simulation.advance()) is not None:
        step, rows = item
        if step > 0 and step == scenario.steps and finished is not None:
            assert simulation.model is not None
            finished(simulation.model)
        yield step, rows
