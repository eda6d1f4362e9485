"""Publishing: agents' decisions turned into pages, batched across all agents per step.

Core objects: :func:`plan_human_pages` (how many pages each active creator
writes this month, about which of its topics, and which ones with AI help) and
:func:`publish` (every new page of a month, human, AI-assisted and AI, scored and
appended to the web in one call). What content is, and how an AI-assisted page is
written from a draft, is the world's (:mod:`ecosystem.world.protocol`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ecosystem.world.agents import AICompany
from ecosystem.world.creators import CreatorTable
from ecosystem.world.levers import Levers
from ecosystem.world.protocol import World
from ecosystem.world.web import AI, AI_ASSISTED, HUMAN, Web

__all__ = ["HumanPlan", "plan_human_pages", "publish"]


@dataclass(frozen=True)
class HumanPlan:
    """This month's human pages: author, intended topic, assisting company (-1: none)."""

    author: np.ndarray
    topic: np.ndarray
    assistant: np.ndarray


def plan_human_pages(
    creators: CreatorTable,
    rng: np.random.Generator,
    on_market: np.ndarray,
) -> HumanPlan:
    """Poisson(rate) pages per active creator, each about one of its topics.

    ``on_market[c]`` says whether company c's model is on the market; a page is
    AI-assisted with the creator's ``ai_share`` when its assistant is.
    """
    active = np.flatnonzero(creators.active)
    counts = rng.poisson(creators.rate[active])
    writer = np.repeat(active, counts)
    widths = creators.widths
    choice = (rng.random(len(writer)) * widths[writer]).astype(np.int64)
    helper = creators.assistant[writer]
    available = helper >= 0
    available[available] = np.asarray(on_market, dtype=bool)[helper[available]]
    assisted = (rng.random(len(writer)) < creators.ai_share[writer]) & available
    creators.pages_published[active] += counts
    return HumanPlan(
        author=writer.astype(np.int64),
        topic=creators.topics[writer, choice].astype(np.int16),
        assistant=np.where(assisted, helper, -1).astype(np.int64),
    )


def publish(
    web: Web,
    world: World,
    creators: CreatorTable,
    companies: Sequence[AICompany],
    step: int,
    *,
    assist_strength: float,
    levers: Levers,
    rng: np.random.Generator,
    generator: torch.Generator,
) -> np.ndarray:
    """Write, score, stamp and append every page of month ``step``; return their indices.

    Human pages keep the topic their author meant; AI and AI-assisted pages
    get the topic the world assigns to what was actually written. The
    companies' output obeys the levers' output limit (the cap); every page gets
    the levers' stamps (watermark, provenance certificate, detector verdict)
    and inherits its author's opt-out.
    """
    on_market = np.array([c.on_market(step) for c in companies], dtype=bool)
    plan = plan_human_pages(creators, rng, on_market)
    store = world.store
    human_x, _ = world.sample(
        len(plan.topic), generator, topics=torch.from_numpy(plan.topic.astype(np.int64))
    )
    human_x = _assisted(world, human_x, plan.assistant, companies, assist_strength, generator)

    parts_x = [human_x]
    origin = [np.where(plan.assistant >= 0, AI_ASSISTED, HUMAN)]
    company_col = [plan.assistant]
    generations = np.array([c.generation for c in companies] + [-1], dtype=np.int64)
    generation = [generations[plan.assistant]]  # index -1 picks the trailing -1: not assisted
    author = [plan.author]
    wanted = np.array(
        [c.pages_to_publish(step) if on_market[i] else 0 for i, c in enumerate(companies)],
        dtype=np.int64,
    )
    counts = levers.limit_output(wanted, len(plan.topic))
    for index, company in enumerate(companies):
        count = int(counts[index]) if len(counts) else 0
        if count == 0:
            continue
        parts_x.append(
            company.generative.sample(count, bias=company.settings.bias, generator=generator)
        )
        origin.append(np.full(count, AI))
        company_col.append(np.full(count, index))
        generation.append(np.full(count, company.generation))
        author.append(np.full(count, -1))

    x = store.concat(parts_x)
    if len(x) == 0:
        return np.empty(0, dtype=np.int64)
    origin_all = np.concatenate(origin)
    topic = np.concatenate(
        [plan.topic.astype(np.int64), np.zeros(len(x) - len(plan.topic), np.int64)]
    )
    written = origin_all != HUMAN
    if written.any():
        topic[written] = world.assign(store.take(x, written)).numpy()
    authors = np.concatenate(author)
    stamps = levers.stamp(origin_all, rng)
    opted = np.zeros(len(x), dtype=bool)
    opted[authors >= 0] = creators.opt_out[authors[authors >= 0]]
    return web.add_pages(
        x,
        origin=origin_all,
        topic=topic,
        quality=world.log_prob(x).numpy(),
        step=step,
        company=np.concatenate(company_col),
        model_generation=np.concatenate(generation),
        author=authors,
        opt_out=opted,
        **stamps.columns,
    )


def _assisted(
    world: World,
    drafts: Any,
    assistant: np.ndarray,
    companies: Sequence[AICompany],
    strength: float,
    generator: torch.Generator,
) -> Any:
    """The human drafts, those with an assistant (``assistant[i] >= 0``) rewritten by the
    world's assisted writing with that company's model, company by company."""
    store = world.store
    rows, pages = [], []
    for index in np.unique(assistant[assistant >= 0]):
        mine = np.flatnonzero(assistant == index)
        company = companies[int(index)]
        pages.append(
            world.assist(
                store.take(drafts, mine),
                company.generative,
                strength,
                generator,
                bias=company.settings.bias,
            )
        )
        rows.append(mine)
    if not rows:
        return drafts
    # Every draft's position in [drafts, *pages]: its own row, or its rewrite's.
    rewritten = np.concatenate(rows)
    order = np.arange(len(drafts))
    order[rewritten] = len(drafts) + np.arange(len(rewritten))
    return store.take(store.concat([drafts, *pages]), order)
