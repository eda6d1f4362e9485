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

from ecosystem.agents import AICompany, HumanCreator
from ecosystem.culture import Culture
from ecosystem.web import AI, AI_ASSISTED, HUMAN, Web
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
    creators: Sequence[HumanCreator],
    rng: np.random.Generator,
    assistants: dict[str, int],
) -> HumanPlan:
    """Poisson(rate) pages per active creator, each about one of its topics.

    ``assistants`` maps the names of companies whose model is on the market to
    their index; a page is AI-assisted with the creator's ``ai_share`` when its
    assistant is among them.
    """
    active = [c for c in creators if c.active]
    if not active:
        empty = np.empty(0, dtype=np.int64)
        return HumanPlan(empty, empty.astype(np.int16), empty)
    rates = np.fromiter((c.rate for c in active), dtype=np.float64, count=len(active))
    counts = rng.poisson(rates)
    writer = np.repeat(np.arange(len(active)), counts)
    widths = np.fromiter((len(c.topics) for c in active), dtype=np.int64, count=len(active))
    table = np.zeros((len(active), int(widths.max())), dtype=np.int16)
    for row, creator in enumerate(active):
        table[row, : len(creator.topics)] = creator.topics
    choice = (rng.random(len(writer)) * widths[writer]).astype(np.int64)
    shares = np.fromiter((c.ai_share for c in active), dtype=np.float64, count=len(active))
    helper = np.fromiter(
        (assistants.get(c.assistant, -1) for c in active), dtype=np.int64, count=len(active)
    )
    assisted = (rng.random(len(writer)) < shares[writer]) & (helper[writer] >= 0)
    for creator, count in zip(active, counts, strict=True):
        creator.pages_published += int(count)
    ids = np.fromiter((c.unique_id for c in active), dtype=np.int64, count=len(active))
    return HumanPlan(
        author=ids[writer],
        topic=table[writer, choice],
        assistant=np.where(assisted, helper[writer], -1),
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
    creators: Sequence[HumanCreator],
    companies: Sequence[AICompany],
    step: int,
    *,
    assist_strength: float,
    rng: np.random.Generator,
    generator: torch.Generator,
) -> np.ndarray:
    """Write, score and append every page of month ``step``; return their indices.

    Human pages keep the topic their author meant; AI and AI-assisted pages
    get the topic the ground truth assigns to what was actually written.
    """
    on_market = {c.name: i for i, c in enumerate(companies) if c.on_market(step)}
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
    for index, company in enumerate(companies):
        count = company.pages_to_publish(step) if company.name in on_market else 0
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
    return web.add_pages(
        x.numpy(),
        origin=origin_all,
        topic=topic,
        quality=culture.log_prob(x).numpy(),
        step=step,
        company=np.concatenate(company_col),
        model_generation=np.concatenate(generation),
        author=np.concatenate(author),
    )
