"""What is measured every month, as tidy rows per scope.

Core object: :class:`Measurement`. Scopes:

- ``web``: the live pages (quality and diversity of a fixed-size sample; the
  true synthetic share and the share the detector flags; certified,
  watermarked and opted-out shares; pages alive, mean in-degree);
- ``web_new``: the pages published this month, measured the same way;
- ``company:<name>``: a fixed-size sample of the company's current model,
  drawn with its sampling bias (what it publishes), its answers, revenue and
  licensing paid;
- ``training:<name>``: the company's last training set (true synthetic and
  certified shares) and the crawl it came from (true and detected synthetic
  shares, pages dropped by detection and by watermarks);
- ``attention``: searches, AI answers, click-through with and without an AI
  answer and their ratio, AI referrals, the crawl-to-referral ratio;
- ``creators``: active, entries, quits, income (mean, median, Gini), the
  AI-assisted share of their new pages, opt-out shares (all and top 10% by
  income) and licensing income;
- ``models``: how alike the companies' models are (the overlap and the Hellinger distance
  of their topic shares, averaged over pairs) and the effective number of topics of the
  web, of its human pages and of the models (the web's diversity against its sources).

The ``web`` scope also holds the human stock of the tail (the share of tail topics with a
live human page, the age of the newest one) and ``attention`` the readers' belief about the
topics (:mod:`ecosystem.world.beliefs`), the visibility of AI pages in search results and
in AI answers' links, sessions ended and zero-click searches.

Every sample has the fixed size ``metrics.samples``, so the cost per month
does not grow with the web; the world evaluates it (its metrics, see
:mod:`ecosystem.world.protocol`). A company's rows are recomputed only when it has
a new model generation.

Samples use common random numbers, so that a series' change from one month to the next is
the change of what it measures and not fresh sampling noise: every page has a permanent
random key (:func:`page_keys`) and a page scope's sample is its pages with the smallest keys
(a uniform sample that keeps every page still there from one month to the next); a model's
sample and a training set's subsample are drawn from the same base noise every time. A page
scope's shares, log-likelihood and topic metrics are exact, over all its pages (each page's
topic is assigned once, when it is first measured).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ecosystem.measure.excerpts import Excerpts
from ecosystem.measure.metrics import topic_metrics
from ecosystem.measure.rows import StepRows
from ecosystem.randomness import Streams
from ecosystem.scenario import AttentionSettings, MetricSettings
from ecosystem.world.agents import AICompany
from ecosystem.world.attention import Attention
from ecosystem.world.beliefs import ReaderBeliefs, hellinger
from ecosystem.world.creators import CreatorTable
from ecosystem.world.economy import MonthOfCreators, gini
from ecosystem.world.protocol import World
from ecosystem.world.web import AI, AI_ASSISTED, HUMAN, Web

TOP_SHARE = 0.1
"""The top sites: the active creators in this top share by smoothed income."""

__all__ = ["Measurement", "page_keys", "smallest_keys"]

ASSIGN_BATCH = 65536
"""Pages assigned to topics at once (bounds the memory of the truth's densities)."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def page_keys(pages: np.ndarray, seed: int) -> np.ndarray:
    """Each page's permanent random key, uint64: SplitMix64 of its row and ``seed``.

    The key depends on nothing but the page and the seed, so a sample of the pages with the
    smallest keys is a uniform sample that changes only as pages come and go.
    """
    with np.errstate(over="ignore"):
        z = np.asarray(pages, dtype=np.uint64) * _GOLDEN + np.uint64(seed % 2**64) * _MIX_2
        z = (z ^ (z >> np.uint64(30))) * _MIX_1
        z = (z ^ (z >> np.uint64(27))) * _MIX_2
        return z ^ (z >> np.uint64(31))


def smallest_keys(
    pages: np.ndarray, n: int, seed: int, keys: np.ndarray | None = None
) -> np.ndarray:
    """The ``n`` pages of ``pages`` with the smallest keys (all of them if fewer), ascending;
    ``keys``, when given, holds ``page_keys`` of every page row."""
    if len(pages) <= n:
        return pages
    mine = page_keys(pages, seed) if keys is None else keys[pages]
    chosen = np.argpartition(mine, n - 1)[:n]
    return np.sort(pages[chosen])


class Measurement:
    """Measures the web, the companies and the creators at the end of each month."""

    def __init__(
        self,
        world: World,
        settings: MetricSettings,
        streams: Streams,
        *,
        last_step: int = 0,
    ) -> None:
        self.world = world
        self.settings = settings
        self.streams = streams
        self.key_seed = int(streams.numpy("metrics:page-keys").integers(2**63))
        self._company_rows: dict[str, tuple[int, StepRows]] = {}
        self._topics = np.empty(0, dtype=np.int16)
        self._keys = np.empty(0, dtype=np.uint64)
        self._memos: dict[str, dict] = {}
        self.excerpts = Excerpts(
            world,
            every=settings.excerpt_every,
            count=settings.excerpts,
            last=last_step,
            pictures=settings.pictures,
        )
        self._step = 0

    def __getstate__(self) -> dict[str, Any]:
        # the memos are caches (tens of MB) that change no value: checkpoints leave them out
        return self.__dict__ | {"_memos": {}}

    def rows(
        self,
        web: Web,
        companies: Sequence[AICompany],
        creators: CreatorTable,
        step: int,
        published: np.ndarray,
        *,
        attention: Attention,
        creators_month: MonthOfCreators,
        crawl_to_referral: np.ndarray,
        prices: AttentionSettings,
        beliefs: ReaderBeliefs | None = None,
    ) -> StepRows:
        """Every scope's metrics at the end of month ``step``; ``published`` are the
        pages written this month (including any that died before the month ended);
        ``prices`` gives what an answer and a visit earn; ``beliefs``, the readers'."""
        self._step = step
        live = web.live()
        rows: StepRows = []
        rows += self._pages(web, live, "web")
        rows += self._pages(web, published, "web_new")
        rows.append((0, "web", "pages_alive", float(len(live))))
        rows.append((0, "web", "mean_in_degree", _mean(web.in_degree[live])))
        rows.append((0, "web_new", "pages_new", float(len(published))))
        rows += self._human_stock(web, live, step)
        rows += self._attention(attention, creators, crawl_to_referral, web, prices, beliefs)
        rows += self._models(web, live, companies)
        visits: np.ndarray = np.zeros(len(companies))  # float64, as bincount with weights
        is_ai = web.origin[attention.pages] == AI
        if len(companies) and is_ai.any():
            owner = web.company[attention.pages][is_ai].astype(np.int64)
            visits = np.bincount(owner, weights=attention.visits[is_ai], minlength=len(companies))
        for index, company in enumerate(companies):
            scope = f"company:{company.name}"
            g = company.generation
            rows += self._company(company)
            mine = (web.company[published] == index) & (web.origin[published] == AI)
            answers = float(attention.answers[index]) if len(attention.answers) else 0.0
            rows += [
                (g, scope, "pages_published", float(mine.sum())),
                (g, scope, "answers", answers),
                (
                    g,
                    scope,
                    "revenue",
                    answers * prices.revenue_per_answer
                    + float(visits[index]) * prices.revenue_per_visit,
                ),
                (g, scope, "licensing_paid", float(company.licensing_paid)),
                (g, scope, "answer_fidelity", _mean(company.fidelity)),
                (g, scope, "referrals", float(company.referrals)),
                (g, scope, "crawl_to_referral", float(company.crawl_to_referral)),
            ]
        rows += self._creators(web, creators, published, creators_month, crawl_to_referral)
        return rows

    def _human_stock(self, web: Web, live: np.ndarray, step: int) -> StepRows:
        """What is left of the human tail: tail topics with a live human page, and the age
        of the newest one (mean over the tail topics that have one)."""
        tail = self.world.tail_mask.numpy()
        if not tail.any():
            return []
        human = live[web.origin[live] == HUMAN]
        topic = web.topic[human].astype(np.int64)
        newest = np.full(len(tail), -np.inf)
        np.maximum.at(newest, topic, web.created_step[human].astype(np.float64))
        kept = np.isfinite(newest) & tail
        age = step - newest[kept]
        return [
            (0, "web", "tail_human_topics", float(kept.sum() / tail.sum())),
            (0, "web", "tail_human_age", float(age.mean()) if len(age) else float("nan")),
        ]

    def _models(self, web: Web, live: np.ndarray, companies: Sequence[AICompany]) -> StepRows:
        """How alike the companies' models are, and the diversity of the web and its sources."""
        if not companies:
            return []
        _, assigned = self._page_columns(web)
        topics = self.world.topics
        web_shares = np.bincount(assigned[live], minlength=topics) / max(len(live), 1)
        human = live[web.origin[live] == HUMAN]
        human_shares = np.bincount(assigned[human], minlength=topics) / max(len(human), 1)
        shares = [c.topic_shares for c in companies if len(c.topic_shares) == topics]
        pairs = [(a, b) for i, a in enumerate(shares) for b in shares[i + 1 :]]
        overlap = [1.0 - 0.5 * float(np.abs(a - b).sum()) for a, b in pairs]
        distance = [hellinger(a, b) for a, b in pairs]
        values = {
            "topic_overlap": _mean(np.array(overlap)),
            "model_distance": _mean(np.array(distance)),
            "effective_topics_web": _effective(web_shares),
            "effective_topics_human": _effective(human_shares),
            "effective_topics_models": _mean(np.array([_effective(x) for x in shares])),
        }
        return [(0, "models", metric, float(value)) for metric, value in values.items()]

    def _attention(
        self,
        attention: Attention,
        creators: CreatorTable,
        crawl_to_referral: np.ndarray,
        web: Web,
        prices: AttentionSettings,
        beliefs: ReaderBeliefs | None,
    ) -> StepRows:
        a = attention
        questions = a.searches + a.chat_questions
        plain = a.searches - a.answered_searches
        crawls, referrals = creators.crawls.sum(), creators.referrals.sum()
        synthetic = web.origin[a.pages] != HUMAN
        clicks = float(a.search_clicks.sum()) if len(a.search_clicks) else 0.0
        cited = float(a.ai_referrals.sum())
        authored = web.author[a.pages] >= 0
        tail = self.world.tail_mask.numpy()
        values = {
            "questions": questions,
            "chat_share": a.chat_questions / questions if questions else float("nan"),
            "ai_answer_share": a.answered_searches / a.searches if a.searches else float("nan"),
            "click_through": a.clicks_plain / plain if plain > 0 else float("nan"),
            "click_through_with_answer": (
                a.clicks_answered / a.answered_searches if a.answered_searches > 0 else float("nan")
            ),
            "click_through_ratio": a.click_through_ratio,
            "visits": float(a.visits.sum()),
            "ai_referrals": float(a.ai_referrals.sum()),
            "crawl_to_referral": crawls / referrals if referrals > 0 else float("nan"),
            "ai_share_of_search_clicks": (
                float(a.search_clicks[synthetic].sum()) / clicks if clicks > 0 else float("nan")
            ),
            "ai_share_of_citations": (
                float(a.ai_referrals[synthetic].sum()) / cited if cited > 0 else float("nan")
            ),
            "creator_search_visits": (
                float(a.search_clicks[authored].sum()) if len(a.search_clicks) else 0.0
            ),
            "zero_click_share": (
                1.0 - (a.clicks_plain + a.clicks_answered) / a.searches
                if a.searches > 0
                else float("nan")
            ),
            "session_end": prices.session_end if plain > 0 else float("nan"),
            "session_end_with_answer": a.session_end_with_answer,
            "belief_distance": beliefs.distance if beliefs is not None else float("nan"),
            "belief_tail_mass_ratio": (
                beliefs.tail_mass_ratio(tail) if beliefs is not None else float("nan")
            ),
        }
        return [(0, "attention", metric, float(value)) for metric, value in values.items()]

    def _creators(
        self,
        web: Web,
        creators: CreatorTable,
        published: np.ndarray,
        month: MonthOfCreators,
        crawl_to_referral: np.ndarray,
    ) -> StepRows:
        active = np.flatnonzero(creators.active)
        income = creators.income[active]
        authored = published[web.author[published] >= 0]
        top = _top(creators.income_smooth[active], TOP_SHARE)
        values = {
            "active": float(len(active)),
            "entries": float(month.entrants),
            "quits": float(month.quits),
            "niche_active": float(creators.niche[active].sum()),
            "pages_published": float(len(authored)),
            "ai_assisted_share": _mean(web.origin[authored] == AI_ASSISTED),
            "income_mean": _mean(income),
            "income_median": float(np.median(income)) if len(income) else float("nan"),
            "income_gini": gini(income),
            "licensing_income_mean": _mean(creators.licensing[active]),
            "opt_out_share": _mean(creators.opt_out[active]),
            "opt_out_share_top": _mean(creators.opt_out[active[top]]),
            "crawl_to_referral_median": (
                float(np.median(crawl_to_referral[active])) if len(active) else float("nan")
            ),
        }
        return [(0, "creators", metric, float(value)) for metric, value in values.items()]

    def _evaluate(self, batch: Any) -> dict[str, float]:
        return self.world.evaluate(batch, self.settings)

    def _pages(self, web: Web, pages: np.ndarray, scope: str) -> StepRows:
        origin = web.origin[pages]
        shares = {
            "synthetic_share": _mean(origin != HUMAN),
            "detected_share": _mean(web.flagged[pages]),
            "ai_share": _mean(origin == AI),
            "ai_assisted_share": _mean(origin == AI_ASSISTED),
            "certified_share": _mean(web.certified_human[pages]),
            "watermarked_share": _mean(web.watermarked[pages]),
            "opt_out_share": _mean(web.opt_out[pages]),
        }
        keys, assigned = self._page_columns(web)
        sample = smallest_keys(pages, self.settings.samples, self.key_seed, keys)
        # the web's sample keeps most of its pages from month to month; this month's pages
        # are all new
        memo = self._memos.setdefault(scope, {}) if scope == "web" else None
        content = web.content_of(sample)
        self.excerpts.add(self._step, 0, scope, content)
        values = self.world.evaluate(content, self.settings, ids=sample, memo=memo)
        values |= shares
        if len(pages) and "log_likelihood" in values:
            # a page's quality is its log-likelihood under the truth
            values["log_likelihood"] = float(web.quality[pages].astype(np.float64).mean())
        if len(pages) and "topic_coverage" in values:
            values |= topic_metrics(self.world, assigned[pages], self.settings.min_topic_fraction)
        return [(0, scope, metric, value) for metric, value in values.items()]

    def _page_columns(self, web: Web) -> tuple[np.ndarray, np.ndarray]:
        """Every page's permanent key and the topic the truth assigns it to, computed once per
        page (pages never change), in batches of ``ASSIGN_BATCH``."""
        known = len(self._keys)
        if web.size > known:
            keys, topics = [self._keys], [self._topics]
            for start in range(known, web.size, ASSIGN_BATCH):
                rows = np.arange(start, min(start + ASSIGN_BATCH, web.size))
                keys.append(page_keys(rows, self.key_seed))
                topics.append(np.asarray(self.world.assign(web.content_of(rows)), dtype=np.int16))
            self._keys, self._topics = np.concatenate(keys), np.concatenate(topics)
        return self._keys, self._topics

    def _company(self, company: AICompany) -> StepRows:
        cached = self._company_rows.get(company.name)
        generation, name = company.generation, company.name
        if cached is not None and cached[0] == generation and not self.excerpts.due(self._step):
            return cached[1]
        sample = company.generative.sample(
            self.settings.samples,
            bias=company.settings.bias,
            generator=self.streams.torch(f"metrics:company:{name}"),
        )
        self.excerpts.add(self._step, generation, f"company:{name}", sample)
        if cached is not None and cached[0] == generation:
            return cached[1]  # the same sample as the month it was measured: same values
        values = self.world.evaluate(sample, self.settings, model=company.generative)
        rows = [(generation, f"company:{name}", m, v) for m, v in values.items()]
        rows.append((generation, f"company:{name}", "generation", float(generation)))
        train, synthetic = company.training_x, company.training_synthetic
        certified = company.training_certified
        if train is not None and len(train):
            # the three training fields are set together, on every fit
            assert synthetic is not None and certified is not None
            if len(train) > self.settings.samples:
                noise = self.streams.numpy(f"metrics:training:{name}")
                keep = np.sort(noise.choice(len(train), self.settings.samples, replace=False))
                seen = self.world.store.take(train, keep)
            else:
                seen = train
            values = self._evaluate(seen) | {
                "synthetic_share": float(synthetic.double().mean()),
                "certified_share": float(certified.double().mean()),
                "size": float(len(train)),
            }
            screening = company.screening
            if screening is not None:
                values |= {
                    "crawled": float(screening.crawled),
                    "crawl_synthetic_share": screening.crawl_synthetic_share,
                    "crawl_detected_share": screening.crawl_detected_share,
                    **{series: float(n) for series, n in screening.dropped.items()},
                }
            rows += [(generation, f"training:{name}", m, v) for m, v in values.items()]
        self._company_rows[name] = (generation, rows)
        return rows


def _top(values: np.ndarray, share: float) -> np.ndarray:
    """Indices of the top ``share`` of ``values`` (at least one when there are any)."""
    if len(values) == 0:
        return np.empty(0, dtype=np.int64)
    count = max(1, round(share * len(values)))
    return np.argsort(-values, kind="stable")[:count]


def _effective(shares: np.ndarray) -> float:
    """Effective number of topics: exp of the entropy of the topic shares."""
    p = shares[shares > 0]
    return float(np.exp(-(p * np.log(p)).sum())) if len(p) else float("nan")


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")
