"""Creator economics: income, costs, quitting, entry, AI adoption and opt-out.

Core objects: :class:`CreatorEconomy` (pays creators from a month's
attention and licensing, and makes every creator's decisions in batch over
the :class:`~ecosystem.world.creators.CreatorTable`) and :func:`gini`.

- **Income and costs.** Income = visits x revenue per visit + licensing. A
  creator's monthly cost is its publishing rate x its cost per page (lower
  for AI-assisted pages by ``assisted_cost``). At step 0 every creator covers
  its costs: its cost per page is set from its step-0 income and a margin
  above 1 whose excess is log-normal (median ``margin``).
- **Quitting.** A creator quits after ``patience`` months in a row with
  smoothed income below its costs, or at rate ``attrition`` for reasons
  outside the model. A new creator is judged only after ``runway`` months,
  the time it takes to build an audience (the creators with income at step 0
  have one; those without are judged like new creators).
- **Entry.** New creators arrive at ``entry_rate`` per active creator, scaled
  by (mean income per active creator / its step-0 level) ^
  ``entry_elasticity``; their cost per page is drawn from the active creators'.
- **AI adoption.** A creator's AI-assisted share moves toward propensity x
  cost saving x its assistant's fidelity on its topics (doubled while it is
  below break-even): cheap, good help is adopted; help that has lost a
  creator's topics is not.
- **Opt-out.** From ``opt_out_from``, a creator blocks AI crawlers at a rate
  rising with the crawl-to-referral ratio it sees (half of ``opt_out_rate`` at
  ``opt_out_ratio``) and with how much it is crawled (half at
  ``opt_out_notice`` requests a month, more sharply with ``opt_out_steepness``: big sites
  notice crawlers first), damped
  by the share of its income from licensing. Only the creators who would ever opt out
  (a share ``opt_out_ceiling``) do, so the opt-out share saturates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecosystem.scenario import CreatorSettings
from ecosystem.world.attention import Attention
from ecosystem.world.creators import CreatorTable
from ecosystem.world.web import Web

__all__ = ["CreatorEconomy", "MonthOfCreators", "gini"]

YEAR = 12.0


@dataclass(frozen=True)
class MonthOfCreators:
    """What creators did this month."""

    quits: int
    entrants: int
    opted_out: int


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: equal; toward 1: one holds all)."""
    values = np.sort(np.asarray(values, dtype=np.float64))
    n, total = len(values), values.sum()
    if n == 0 or total <= 0:
        return float("nan")
    ranks = np.arange(1, n + 1)
    return float((2 * ranks - n - 1) @ values / (n * total))


class CreatorEconomy:
    """Pays creators and makes their decisions, batched over the creator table."""

    def __init__(self, settings: CreatorSettings, opt_out_step: int) -> None:
        self.settings = settings
        self.opt_out_step = opt_out_step
        self.reference_income = float("nan")

    # ------------------------------------------------------------- money

    def pay(
        self,
        table: CreatorTable,
        web: Web,
        attention: Attention,
        revenue_per_visit: float,
    ) -> None:
        """This month's income: visits to each creator's pages, plus last month's licensing."""
        n = len(table)
        authors = web.author[attention.pages].astype(np.int64)
        mine = authors >= 0
        visits = np.bincount(authors[mine], weights=attention.visits[mine], minlength=n)
        referrals = np.bincount(authors[mine], weights=attention.ai_referrals[mine], minlength=n)
        table.licensing = table.pending_licensing.copy()
        table.pending_licensing[:] = 0.0
        table.income = visits * revenue_per_visit + table.licensing
        table.referrals += (referrals - table.referrals) / YEAR
        table.crawls += (table.pending_crawls - table.crawls) / YEAR
        table.pending_crawls[:] = 0.0
        memory = self.settings.income_memory
        table.income_smooth += (table.income - table.income_smooth) / memory
        table.licensing_smooth += (table.licensing - table.licensing_smooth) / memory

    def record_crawl(
        self, table: CreatorTable, authors: np.ndarray, fee: float, requests: float
    ) -> None:
        """A crawl fetched pages by ``authors``: requests they see, fees they are owed."""
        counts = np.bincount(authors, minlength=len(table)).astype(np.float64)
        table.pending_crawls += counts * requests
        table.pending_licensing += counts * fee

    def calibrate(self, table: CreatorTable, rng: np.random.Generator) -> None:
        """Step 0: each creator's cost per page sits below its income per page published by a
        margin of 1 + (``margin`` - 1) x log-normal; creators without income get the median
        cost."""
        s = self.settings
        margin = 1.0 + (s.margin - 1.0) * rng.lognormal(0.0, s.margin_spread, len(table))
        table.income_smooth = table.income.copy()
        known = (table.income > 0) & (table.rate > 0)
        per_page = np.where(known, table.income / np.where(known, table.rate, 1.0), 0.0)
        cost = per_page / margin
        typical = float(np.median(cost[known])) if known.any() else 0.0
        table.cost = np.where(known, cost, typical)
        table.established = known
        self.reference_income = float(table.income.mean()) if len(table) else float("nan")

    # --------------------------------------------------------- decisions

    def respond(
        self,
        table: CreatorTable,
        web: Web,
        assisted: np.ndarray,
        fidelity: np.ndarray,
        step: int,
        rng: np.random.Generator,
    ) -> tuple[MonthOfCreators, int]:
        """Quits, AI adoption and opt-out of this month; returns what happened and how many
        creators enter (the caller draws them).

        ``assisted[i]`` says whether creator i's assistant is on the market and
        ``fidelity[i]`` is that assistant's mean fidelity on creator i's topics.
        """
        s = self.settings
        active = table.active
        saving = 1.0 - s.assisted_cost
        share = np.where(assisted, table.ai_share, 0.0)
        costs = table.rate * table.cost * (1.0 - share * saving)
        judged = active & (table.established | (step - table.entered >= s.runway))
        below = judged & (table.income_smooth < costs)
        table.months_below = np.where(below, table.months_below + 1, 0)
        quitting = active & (
            (table.months_below >= s.patience) | (rng.random(len(table)) < s.attrition)
        )
        table.active = active & ~quitting
        table.left[quitting] = step

        target = np.minimum(table.propensity * saving * fidelity * (1.0 + below), 1.0)
        adopting = table.active & assisted
        table.ai_share[adopting] += s.adoption_speed * (target[adopting] - table.ai_share[adopting])

        opted = self._opt_out(table, web, step, rng)
        entrants = self._entrants(table, rng)
        return MonthOfCreators(int(quitting.sum()), entrants, opted), entrants

    def crawl_to_referral(self, table: CreatorTable) -> np.ndarray:
        """The crawl-to-referral ratio each creator sees (crawler requests per AI referral)."""
        return table.crawls / (table.referrals + 1.0)

    def _opt_out(self, table: CreatorTable, web: Web, step: int, rng: np.random.Generator) -> int:
        s = self.settings
        if step < self.opt_out_step or s.opt_out_rate == 0:
            return 0
        candidates = np.flatnonzero(table.active & ~table.opt_out & table.opt_out_willing)
        ratio = self.crawl_to_referral(table)[candidates]
        income = table.income_smooth[candidates]
        licensing_share = np.where(
            income > 0, table.licensing_smooth[candidates] / np.maximum(income, 1e-300), 0.0
        )
        crawls = table.crawls[candidates]
        if s.opt_out_steepness == 1.0:
            notice = crawls / (crawls + s.opt_out_notice)
        else:
            seen = (crawls / s.opt_out_notice) ** s.opt_out_steepness
            notice = seen / (seen + 1.0)
        rate = (
            s.opt_out_rate
            * ratio
            / (ratio + s.opt_out_ratio)
            * notice
            * np.exp(-s.licensing_deterrence * licensing_share)
        )
        newly = candidates[rng.random(len(candidates)) < rate]
        if newly.size:
            table.opt_out[newly] = True
            chosen = np.zeros(len(table), dtype=bool)
            chosen[newly] = True
            authors = web.author
            pages = np.flatnonzero(authors >= 0)
            web.opt_out[pages[chosen[authors[pages]]]] = True
        return int(newly.size)

    def _entrants(self, table: CreatorTable, rng: np.random.Generator) -> int:
        s = self.settings
        active = table.active
        if s.entry_rate == 0 or not active.any():
            return 0
        now = float(table.income_smooth[active].mean())
        attraction = now / self.reference_income if self.reference_income > 0 else 1.0
        expected = s.entry_rate * active.sum() * max(attraction, 0.0) ** s.entry_elasticity
        return int(rng.poisson(expected))

    def draw_costs(self, table: CreatorTable, n: int, rng: np.random.Generator) -> np.ndarray:
        """Costs of ``n`` entrants, drawn from the active creators' costs."""
        pool = table.cost[table.active & (table.cost > 0)]
        if pool.size == 0:
            pool = table.cost[table.cost > 0]
        return rng.choice(pool, n) if pool.size else np.zeros(n)
