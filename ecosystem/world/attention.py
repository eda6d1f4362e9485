"""Readers: where a month's attention goes, and the money it carries.

Core objects: :func:`allocate` (a month of reader demand split between AI
chat, searches with an AI answer and plain searches; clicks to pages by a
search ranking; answers to companies) returning an :class:`Attention`, and
:func:`topic_fidelity` (how well a model covers each topic, which sets how
many readers an AI answer satisfies).

Reader questions per topic follow topic popularity and grow at
``demand_growth``. A share ``chat_share`` goes to AI chats; of the searches,
a share ``ai_answer_share`` shows an AI answer. A plain search sends
``click_through`` clicks to pages; a search with an answer sends between
``click_through_with_answer`` (the answer covers its topic fully) and
``click_through`` (the answering models have lost the topic). Chat answers
and answer summaries send clicks to the pages they link to (AI referrals): each
company's ``answer_click_through`` per answer (a chat that answers without
links sends almost none), ``chat_click_through`` by default. A search whose
answer keeps a reader from clicking ends the session (``session_end`` is the
share that ends without an answer).

Search ranking within a topic: score = exp(quality_weight x z) x
(in-degree + 1)^link_weight x exp(-age / freshness_months), times
``ai_visibility`` for fully AI pages (``answer_ai_visibility`` among the
pages AI answers link to). The quality z is the page's
log-likelihood under the ground truth, standardised over live pages: the
search engine is taken to judge quality as well as the truth does (an
oracle, the upper bound of what ranking can do). Clicks in a topic are
shared in proportion to score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ecosystem.calendar import schedule_at
from ecosystem.scenario import AttentionSettings
from ecosystem.world.protocol import World
from ecosystem.world.web import AI, Web

__all__ = ["Attention", "allocate", "assigned_shares", "topic_fidelity"]


@dataclass(frozen=True)
class Attention:
    """One month of reader attention."""

    pages: np.ndarray
    """The live pages, ascending; the per-page arrays below follow this order."""
    visits: np.ndarray
    """Visits per page (search clicks and AI referrals)."""
    ai_referrals: np.ndarray
    """The part of each page's visits referred by AI answers."""
    answers: np.ndarray
    """AI answers served per company (chat and answers shown on searches)."""
    searches: float
    chat_questions: float
    answered_searches: float
    clicks_plain: float
    """Clicks from searches without an AI answer."""
    clicks_answered: float
    """Clicks from searches that showed an AI answer."""
    search_clicks: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """The part of each page's visits that came from search results (not AI answers)."""
    referrals: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """AI referrals sent by each company's answers."""
    answered_topics: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """AI answers served per topic (chat questions and answered searches), all companies."""
    session_end_with_answer: float = float("nan")
    """Share of searches with an AI answer after which the reader ends the session."""

    @property
    def click_through_ratio(self) -> float:
        """Click-through with an AI answer over click-through without one (NaN if undefined)."""
        plain = self.searches - self.answered_searches
        if self.answered_searches <= 0 or plain <= 0 or self.clicks_plain <= 0:
            return float("nan")
        return (self.clicks_answered / self.answered_searches) / (self.clicks_plain / plain)


def topic_fidelity(world: World, sample: Any, truth: np.ndarray | None = None) -> np.ndarray:
    """Per topic, the share of ``sample`` assigned to it over the share of the truth
    assigned to it, capped at 1: 1 where the model covers the topic, toward 0 where it has
    lost it.

    ``sample`` is a batch of the world's content. ``truth`` is the share of a large sample
    of the world assigned to each topic (:func:`assigned_shares`); assignment by posterior
    argmax gives overlapping tail topics less than their weight, so comparing with the
    truth's own assignment keeps a perfect model at 1. Without it, the topic weights are
    used.
    """
    mass = assigned_shares(world, sample)
    reference = world.weights.numpy() if truth is None else truth
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(reference > 0, mass / reference, 1.0)
    return np.minimum(ratio, 1.0)


def assigned_shares(world: World, sample: Any) -> np.ndarray:
    """The share of ``sample`` (a batch of the world's content) that the ground truth
    assigns to each topic."""
    topics = world.assign(sample).numpy()
    return np.bincount(topics, minlength=world.topics) / max(len(sample), 1)


def allocate(
    web: Web,
    weights: np.ndarray,
    fidelity: Sequence[np.ndarray],
    market: np.ndarray,
    settings: AttentionSettings,
    start: str,
    step: int,
    links: Sequence[float | None] | None = None,
) -> Attention:
    """Readers' attention in month ``step``.

    ``weights`` is the topic popularity; ``fidelity[c]`` and ``market[c]`` are
    company c's topic fidelity and market share (0 when not on the market). AI
    answers exist only when some company is on the market; a company serves
    answers in proportion to its market share times its mean fidelity.
    ``links[c]`` is company c's clicks per answer (None: ``chat_click_through``).
    """
    questions = settings.searches_per_month * (1 + settings.demand_growth) ** step * weights
    share = np.asarray(market, dtype=np.float64) * np.array([f.mean() for f in fidelity])
    on_market = share.sum() > 0
    chat = schedule_at(settings.chat_share, start, step) if on_market else 0.0
    answer = schedule_at(settings.ai_answer_share, start, step) if on_market else 0.0
    share = share / share.sum() if on_market else share
    covered = (share[:, None] * np.asarray(fidelity)).sum(axis=0) if on_market else 0.0

    chat_k = questions * chat
    search_k = questions - chat_k
    answered_k = search_k * answer
    plain_k = search_k - answered_k
    ctr, ctr_answer = settings.click_through, settings.click_through_with_answer
    clicks_plain_k = plain_k * ctr
    clicks_answered_k = answered_k * (ctr_answer + (ctr - ctr_answer) * (1.0 - covered))
    per_answer = np.array(
        [settings.chat_click_through if c is None else c for c in (links or [None] * len(share))],
        dtype=np.float64,
    )
    answers_k = chat_k + answered_k
    if links is None or all(c is None for c in links):
        rate = settings.chat_click_through
    else:
        rate = float(share @ per_answer) if on_market else 0.0
    referrals_k = answers_k * rate

    pages = web.live()
    base = _ranking(web, pages, settings, step)
    is_ai = web.origin[pages] == AI
    topic = web.topic[pages].astype(np.int64)
    search_clicks = _shared(base * np.where(is_ai, settings.ai_visibility, 1.0), topic, weights)
    cited = (
        settings.ai_visibility
        if settings.answer_ai_visibility is None
        else (settings.answer_ai_visibility)
    )
    ai_referrals = _shared(base * np.where(is_ai, cited, 1.0), topic, weights) * referrals_k[topic]
    search_clicks *= (clicks_plain_k + clicks_answered_k)[topic]
    answered = float(answered_k.sum())
    rate_answered = float(clicks_answered_k.sum()) / answered if answered > 0 else float("nan")
    return Attention(
        pages=pages,
        visits=search_clicks + ai_referrals,
        ai_referrals=ai_referrals,
        answers=share * float(answers_k.sum()),
        searches=float(search_k.sum()),
        chat_questions=float(chat_k.sum()),
        answered_searches=answered,
        clicks_plain=float(clicks_plain_k.sum()),
        clicks_answered=float(clicks_answered_k.sum()),
        search_clicks=search_clicks,
        referrals=share * per_answer * float(answers_k.sum()),
        answered_topics=answers_k,
        session_end_with_answer=settings.session_end + (ctr - rate_answered),
    )


def _shared(score: np.ndarray, topic: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each page's portion of its topic's total ``score``."""
    total = np.bincount(topic, weights=score, minlength=len(weights))
    return score / np.where(total[topic] > 0, total[topic], 1.0)


def _ranking(web: Web, pages: np.ndarray, settings: AttentionSettings, step: int) -> np.ndarray:
    """Search score of each live page before the AI pages' visibility (see the module
    docstring)."""
    quality = web.quality[pages].astype(np.float64)
    if len(quality) == 0:
        return quality
    spread = quality.std()
    z = (quality - quality.mean()) / spread if spread > 0 else np.zeros_like(quality)
    age = step - web.created_step[pages]
    score = np.exp(settings.quality_weight * z - age / settings.freshness_months)
    score *= (web.in_degree[pages] + 1.0) ** settings.link_weight
    return score
