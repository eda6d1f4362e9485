"""How AI companies find training data: crawl strategies over the web's link graph.

Core objects: the :class:`CrawlStrategy` protocol (``select`` a set of pages under a budget),
its implementations :class:`UniformCrawl` (the oracle: a uniform sample),
:class:`PopularityCrawl` (the most linked-to pages) and :class:`LinkFollowingCrawl`
(breadth-first along out-links from random seeds, which under-samples weakly linked pages),
and the registry: :data:`CRAWLERS` (the names a scenario's ``companies.<name>.crawler`` may
take), :func:`crawler_parameters` and :func:`make_crawler` (a crawler by name, its
parameters checked by name, as :func:`models.make` does for models).
"""

from __future__ import annotations

import difflib
import inspect
from numbers import Integral
from typing import Any, Protocol

import numpy as np

from ecosystem.world.web import Web

__all__ = [
    "CRAWLERS",
    "CrawlStrategy",
    "LinkFollowingCrawl",
    "PopularityCrawl",
    "UniformCrawl",
    "crawler_parameters",
    "make_crawler",
]


class CrawlStrategy(Protocol):
    """Chooses which pages a company fetches for its next training set."""

    def select(
        self,
        web: Web,
        budget: int,
        rng: np.random.Generator,
        *,
        eligible: np.ndarray | None = None,
    ) -> np.ndarray:
        """At most ``budget`` distinct alive pages among ``eligible`` (default: all alive)."""
        ...


class UniformCrawl:
    """A uniform random sample of the eligible pages: the unbiased oracle crawler."""

    def select(
        self,
        web: Web,
        budget: int,
        rng: np.random.Generator,
        *,
        eligible: np.ndarray | None = None,
    ) -> np.ndarray:
        """``budget`` eligible pages drawn without replacement (all of them if fewer), ascending."""
        budget, candidates = _candidates(web, budget, eligible)
        if candidates.size <= budget:
            return candidates
        return np.sort(rng.choice(candidates, size=budget, replace=False))

    def __repr__(self) -> str:
        return "UniformCrawl()"


class PopularityCrawl:
    """The most linked-to pages: what a crawler ranking by in-links fetches first."""

    def select(
        self,
        web: Web,
        budget: int,
        rng: np.random.Generator,
        *,
        eligible: np.ndarray | None = None,
    ) -> np.ndarray:
        """The ``budget`` eligible pages of highest in-degree (ties broken at random), ascending."""
        budget, candidates = _candidates(web, budget, eligible)
        if candidates.size <= budget:
            return candidates
        # A uniform fraction in [0, 1) breaks ties without reordering distinct in-degrees.
        key = web.in_degree[candidates] + rng.random(candidates.size)
        top = np.argpartition(-key, budget - 1)[:budget]
        return np.sort(candidates[top])

    def __repr__(self) -> str:
        return "PopularityCrawl()"


class LinkFollowingCrawl:
    """Breadth-first along out-links from ``seeds`` random eligible pages.

    New pages link to older, popular ones, so a page nobody links to is reached only if it is
    drawn as a seed: this crawler over-samples hubs and under-samples weakly linked pages.
    Only eligible pages are fetched, so links are followed only out of eligible pages. When
    the crawl runs out of links before the budget is spent it restarts from fresh seeds, as
    many as the pages found per seed so far say the rest of the budget needs, for at most
    ``max_rounds`` rounds in all.
    """

    def __init__(self, seeds: int = 100, max_rounds: int = 10) -> None:
        self.seeds = _positive_int(seeds, "seeds")
        self.max_rounds = _positive_int(max_rounds, "max_rounds")

    def select(
        self,
        web: Web,
        budget: int,
        rng: np.random.Generator,
        *,
        eligible: np.ndarray | None = None,
    ) -> np.ndarray:
        """Up to ``budget`` eligible pages in breadth-first order, the last level cut at random.

        Returned ascending. Fewer than ``budget`` only if ``max_rounds`` rounds reach fewer.
        """
        budget = _budget(budget)
        unseen = _eligible_mask(web, eligible).copy()
        found: list[np.ndarray] = []
        remaining, seeded = budget, 0
        for _ in range(self.max_rounds):
            candidates = np.flatnonzero(unseen)
            if remaining == 0 or candidates.size == 0:
                break
            # Later rounds: enough seeds for the remainder at the pages found per seed so far.
            wanted = max(self.seeds, -(-remaining * seeded // max(budget - remaining, 1)))
            size = min(wanted, remaining, candidates.size)
            seeded += size
            frontier = np.sort(rng.choice(candidates, size=size, replace=False))
            while frontier.size:
                if frontier.size > remaining:
                    frontier = np.sort(rng.choice(frontier, size=remaining, replace=False))
                unseen[frontier] = False
                found.append(frontier)
                remaining -= frontier.size
                if remaining == 0:
                    break
                neighbours = web.out_links(frontier)
                frontier = np.unique(neighbours[unseen[neighbours]])
        if not found:
            return np.empty(0, dtype=np.int64)
        return np.sort(np.concatenate(found))

    def __repr__(self) -> str:
        return f"LinkFollowingCrawl(seeds={self.seeds}, max_rounds={self.max_rounds})"


_REGISTRY: dict[str, type] = {
    "uniform": UniformCrawl,
    "popularity": PopularityCrawl,
    "links": LinkFollowingCrawl,
}
CRAWLERS = tuple(_REGISTRY)
"""The registered crawlers' names, in registration order."""


def crawler_parameters(name: str) -> tuple[str, ...]:
    """The parameters the crawler ``name`` accepts (its constructor's keywords)."""
    return tuple(p for p in inspect.signature(_crawler_class(name)).parameters if p != "self")


def make_crawler(name: str, **params: Any) -> CrawlStrategy:
    """The crawler named ``name`` (one of :data:`CRAWLERS`), built with ``params``; an
    unknown parameter is a one-line error naming the accepted ones."""
    allowed = crawler_parameters(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        close = difflib.get_close_matches(unknown[0], allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        raise ValueError(
            f"crawler {name!r} has no parameter {unknown[0]!r}{hint} allowed: {', '.join(allowed)}"
            if allowed
            else f"crawler {name!r} takes no parameters, got {unknown[0]!r}"
        )
    return _REGISTRY[name](**params)


def _crawler_class(name: str) -> type:
    if name not in _REGISTRY:
        raise ValueError(f"crawler must be one of {', '.join(CRAWLERS)}, got {name!r}")
    return _REGISTRY[name]


def _eligible_mask(web: Web, eligible: np.ndarray | None) -> np.ndarray:
    """The boolean mask of pages that may be returned: ``eligible`` and alive."""
    if eligible is None:
        return web.alive
    mask = np.asarray(eligible)
    if mask.dtype != np.bool_ or mask.shape != (web.size,):
        raise ValueError(
            f"eligible must be a boolean mask of shape ({web.size},), got {mask.dtype} {mask.shape}"
        )
    return mask & web.alive


def _candidates(web: Web, budget: int, eligible: np.ndarray | None) -> tuple[int, np.ndarray]:
    """The checked budget and the indices of the pages that may be returned."""
    return _budget(budget), np.flatnonzero(_eligible_mask(web, eligible))


def _budget(budget: int) -> int:
    if not _is_integer(budget) or budget < 0:
        raise ValueError(f"budget must be an integer >= 0, got {budget!r}")
    return int(budget)


def _positive_int(value: int, name: str) -> int:
    if not _is_integer(value) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _is_integer(value: object) -> bool:
    """True for a Python or NumPy integer (bools excluded)."""
    return isinstance(value, Integral) and not isinstance(value, bool)
