"""The human creators as columns: one row per creator who ever published.

Core objects: :class:`CreatorTable` (each creator's topics, publishing rate,
AI-assisted share and propensity, assistant, costs, income, opt-out choice
and activity, as numpy arrays; a page's ``author`` is its creator's row) and
:func:`draw_creators` (new rows: rates, topics by popularity, propensities and
assistants drawn in batch). Creators decide in :mod:`ecosystem.world.economy`,
batched over the table; :class:`ecosystem.world.agents.HumanCreator` is the Mesa
agent that views one row.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from ecosystem.scenario import CreatorSettings

__all__ = ["CreatorTable", "draw_authors", "draw_creators"]


@dataclass
class CreatorTable:
    """Every creator as a row; rows are never removed (a creator who quits turns inactive)."""

    topics: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), np.int16))
    """Topic ids per creator, padded with -1 ``[n, most topics]``."""
    rate: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Mean pages per month."""
    propensity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Inclination to use AI help: its target share is propensity x saving x fidelity."""
    ai_share: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Probability that one of its pages is AI-assisted (once its assistant is on the market)."""
    assistant: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Company index of its AI assistant, -1 for none."""
    niche: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    """Whether all its topics lie in the tail."""
    active: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    entered: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Step at which it started publishing."""
    established: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    """Whether it had an audience (income) at step 0: judged from the start, not after a
    runway."""
    left: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Step at which it quit, -1 while active."""
    cost: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Cost of one fully human page ($/page)."""
    income: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Last month's income: visits x revenue per visit + licensing ($)."""
    licensing: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Last month's licensing income ($)."""
    income_smooth: np.ndarray = field(default_factory=lambda: np.zeros(0))
    licensing_smooth: np.ndarray = field(default_factory=lambda: np.zeros(0))
    months_below: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Months in a row its smoothed income did not cover its costs."""
    opt_out: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    """Whether it blocks AI crawlers."""
    opt_out_willing: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    """Whether it would ever block them (the others depend on search or AI traffic)."""
    crawls: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """AI crawler requests for its pages, smoothed over a year (per month)."""
    referrals: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Visits referred by AI answers, smoothed over a year (per month)."""
    pending_licensing: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Licensing fees earned by crawls this month, paid with next month's income."""
    pending_crawls: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """AI crawler requests for its pages this month, seen in next month's decisions."""
    pages_published: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.rate)

    @property
    def widths(self) -> np.ndarray:
        """Number of topics per creator."""
        return (self.topics >= 0).sum(axis=1)

    def extend(self, other: CreatorTable) -> np.ndarray:
        """Append ``other``'s rows and return their row indices."""
        start = len(self)
        width = max(self.topics.shape[1], other.topics.shape[1])
        for column in fields(self):
            mine, theirs = getattr(self, column.name), getattr(other, column.name)
            if column.name == "topics":
                mine, theirs = _pad(mine, width), _pad(theirs, width)
            setattr(self, column.name, np.concatenate([mine, theirs]))
        return np.arange(start, len(self), dtype=np.int64)


def _pad(topics: np.ndarray, width: int) -> np.ndarray:
    if topics.shape[1] == width:
        return topics
    padded = np.full((len(topics), width), -1, dtype=np.int16)
    padded[:, : topics.shape[1]] = topics
    return padded


def draw_creators(
    n: int,
    settings: CreatorSettings,
    weights: np.ndarray,
    tail: np.ndarray,
    market: np.ndarray,
    step: int,
    rng: np.random.Generator,
    willing_rng: np.random.Generator | None = None,
) -> CreatorTable:
    """``n`` new creators (active from ``step``), drawn in batch.

    Rates are log-normal with mean ``pages_per_month``; each writes 1 to
    ``topics_per_creator`` distinct topics drawn by popularity (Gumbel top-k,
    i.e. without replacement), so human pages follow the culture and creators
    whose topics all lie in the tail are the niche; the AI-assisted share is
    Beta-distributed around ``ai_assisted_share`` and the propensity around
    ``adoption``; the assistant is a company drawn by ``market`` share (none
    when every share is 0). A share ``opt_out_ceiling`` would ever opt out, drawn from
    ``willing_rng`` (its own stream, so that the other draws do not depend on it).
    """
    sigma = settings.rate_spread
    rate = settings.pages_per_month * rng.lognormal(-(sigma**2) / 2, sigma, n)
    most = min(settings.topics_per_creator, len(weights))
    width = rng.integers(1, most + 1, n)
    keys = np.log(weights)[None, :] + rng.gumbel(size=(n, len(weights)))
    ranked = np.argsort(-keys, axis=1)[:, :most].astype(np.int16)
    topics = np.where(np.arange(most)[None, :] < width[:, None], ranked, np.int16(-1))
    in_tail = np.zeros(len(weights), dtype=bool)
    in_tail[tail] = True
    niche = np.asarray(np.where(topics >= 0, in_tail[np.maximum(topics, 0)], True).all(axis=1))
    if market.sum() > 0:
        assistant = rng.choice(len(market), n, p=market / market.sum())
    else:
        assistant = np.full(n, -1, dtype=np.int64)
    return CreatorTable(
        topics=topics,
        rate=rate,
        propensity=_beta_around(settings.adoption, n, rng),
        ai_share=_beta_around(settings.ai_assisted_share, n, rng),
        assistant=assistant.astype(np.int64),
        niche=niche,
        active=np.ones(n, dtype=bool),
        entered=np.full(n, step, dtype=np.int64),
        established=np.zeros(n, dtype=bool),
        left=np.full(n, -1, dtype=np.int64),
        cost=np.zeros(n),
        income=np.zeros(n),
        licensing=np.zeros(n),
        income_smooth=np.zeros(n),
        licensing_smooth=np.zeros(n),
        months_below=np.zeros(n, dtype=np.int64),
        opt_out=np.zeros(n, dtype=bool),
        opt_out_willing=_willing(settings.opt_out_ceiling, n, willing_rng),
        crawls=np.zeros(n),
        referrals=np.zeros(n),
        pending_licensing=np.zeros(n),
        pending_crawls=np.zeros(n),
        pages_published=np.zeros(n, dtype=np.int64),
    )


def _willing(ceiling: float, n: int, rng: np.random.Generator | None) -> np.ndarray:
    """Which of ``n`` creators would ever opt out: all at a ceiling of 1, else a draw."""
    if ceiling >= 1.0 or rng is None:
        return np.full(n, ceiling > 0, dtype=bool)
    return rng.random(n) < ceiling


def _beta_around(mean: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` values in [0, 1] with the given mean (Beta with concentration 2)."""
    if 0 < mean < 1:
        return rng.beta(2 * mean, 2 * (1 - mean), n)
    return np.full(n, float(mean))


def draw_authors(table: CreatorTable, topics: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An author (creator row) for each page about ``topics``: an active creator who writes
    that topic, with probability proportional to its rate per topic; -1 if nobody does."""
    active = np.flatnonzero(table.active)
    slots = table.topics[active]
    row, column = np.nonzero(slots >= 0)
    writer, topic = active[row], slots[row, column].astype(np.int64)
    weight = table.rate[writer] / table.widths[writer]
    order = np.argsort(topic, kind="stable")
    writer, topic, weight = writer[order], topic[order], weight[order]
    count = max(int(topics.max(initial=-1)), int(topic.max(initial=-1))) + 1
    ends = np.cumsum(np.bincount(topic, minlength=count))
    starts = ends - np.bincount(topic, minlength=count)
    cumulative = np.concatenate(([0.0], np.cumsum(weight)))
    wanted = np.asarray(topics, dtype=np.int64)
    low, high = cumulative[starts[wanted]], cumulative[ends[wanted]]
    draw = low + rng.random(len(wanted)) * (high - low)
    slot = np.searchsorted(cumulative, draw, side="right") - 1
    slot = np.clip(slot, starts[wanted], np.maximum(ends[wanted] - 1, starts[wanted]))
    authors = np.full(len(wanted), -1, dtype=np.int64)
    known = high > low
    authors[known] = writer[slot[known]]
    return authors
