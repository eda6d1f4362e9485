"""Publishing: agents' decisions turned into pages, batched across all agents per step.

Core objects: :func:`plan_human_pages` (how many pages each active creator
writes this month, about which of its topics, and which ones with AI help),
:func:`assist` (how an AI-assisted page is written) and :func:`publish`
(every new page of a month, human, AI-assisted and AI, scored and appended to
the web in one call).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ecosystem.world.agents import AICompany
from ecosystem.world.creators import CreatorTable
from ecosystem.world.culture import Culture
from ecosystem.world.levers import Levers
from ecosystem.world.web import AI, AI_ASSISTED, HUMAN, Web
from models.base import GenerativeModel

__all__ = ["HumanPlan", "assist", "plan_human_pages", "publish"]

ASSIST_CANDIDATES = 8


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


def assist(
    drafts: torch.Tensor,
    generative: GenerativeModel,
    strength: float,
    generator: torch.Generator,
    *,
    bias: float = 1.0,
) -> torch.Tensor:
    """AI-assisted pages: each human draft moves a share ``strength`` of the way
    toward the closest of a few of the model's outputs.

    The closest of ``ASSIST_CANDIDATES`` model samples stands for what the
    model would write on the draft's subject, so assisted pages inherit the
    model's blind spots: where it has lost a topic, the nearest output is far
    away and the page is pulled off its topic.
    """
    n, dim = drafts.shape
    if n == 0 or strength == 0:
        return drafts
    candidates = generative.sample(n * ASSIST_CANDIDATES, bias=bias, generator=generator)
    candidates = candidates.view(n, ASSIST_CANDIDATES, dim)
    nearest = ((candidates - drafts[:, None, :]) ** 2).sum(-1).argmin(dim=1)
    chosen = candidates[torch.arange(n), nearest]
    return (1 - strength) * drafts + strength * chosen


def publish(
    web: Web,
    culture: Culture,
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
    get the topic the ground truth assigns to what was actually written. The
    companies' output obeys the levers' output limit (the cap); every page gets
    the levers' stamps (watermark, provenance certificate, detector verdict)
    and inherits its author's opt-out.
    """
    on_market = np.array([c.on_market(step) for c in companies], dtype=bool)
    plan = plan_human_pages(creators, rng, on_market)
    human_x, _ = culture.sample(
        len(plan.topic), generator, topics=torch.from_numpy(plan.topic.astype(np.int64))
    )
    for index in np.unique(plan.assistant[plan.assistant >= 0]):
        rows = torch.from_numpy(np.flatnonzero(plan.assistant == index))
        company = companies[int(index)]
        human_x[rows] = assist(
            human_x[rows],
            company.generative,
            assist_strength,
            generator,
            bias=company.settings.bias,
        )

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

    x = torch.cat(parts_x)
    if len(x) == 0:
        return np.empty(0, dtype=np.int64)
    origin_all = np.concatenate(origin)
    topic = np.concatenate(
        [plan.topic.astype(np.int64), np.zeros(len(x) - len(plan.topic), np.int64)]
    )
    written = origin_all != HUMAN
    if written.any():
        topic[written] = culture.assign(x[torch.from_numpy(written)]).numpy()
    authors = np.concatenate(author)
    stamps = levers.stamp(origin_all, rng)
    opted = np.zeros(len(x), dtype=bool)
    opted[authors >= 0] = creators.opt_out[authors[authors >= 0]]
    return web.add_pages(
        x.numpy(),
        origin=origin_all,
        topic=topic,
        quality=culture.log_prob(x).numpy(),
        step=step,
        company=np.concatenate(company_col),
        model_generation=np.concatenate(generation),
        author=authors,
        opt_out=opted,
        **stamps.columns,
    )
