"""Opt-out: crawlers skip a share of the pages whose creator blocks AI crawlers.

Core objects: :class:`OptOutPolicy` (the ``policy.opt_out`` section) and
:class:`OptOut` (the lever, at crawl eligibility). Creators decide to opt out
in :mod:`ecosystem.world.economy`; this lever is how crawlers honour it.
"""

from __future__ import annotations

import numpy as np

from ecosystem.scenario.fields import Section, setting
from ecosystem.world.web import Web

__all__ = ["OptOut", "OptOutPolicy"]


class OptOutPolicy(Section):
    """How crawlers treat pages whose creator blocks AI crawlers."""

    compliance: float = setting(
        0.9, "Share of opted-out pages a crawler skips (robots.txt compliance)", ge=0.0, le=1.0
    )


class OptOut:
    """Removes the opted-out pages a crawler honours from what it may crawl."""

    name = "opt_out"
    Settings = OptOutPolicy
    order = 40
    scenario = "policy-opt-out"
    directional_test = "tests/test_policy.py::test_honoured_opt_out_lowers_the_human_pages_crawled"
    switch = "compliance"

    def __init__(self, settings: OptOutPolicy) -> None:
        self.settings = settings

    def crawlable(self, web: Web, eligible: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``eligible`` minus the opted-out pages this crawler honours (each with probability
        ``compliance``); draws only when some eligible page opted out."""
        opted = np.flatnonzero(eligible & web.opt_out)
        if opted.size == 0:
            return eligible
        honoured = opted[rng.random(opted.size) < self.settings.compliance]
        result = eligible.copy()
        result[honoured] = False
        return result


LEVER = OptOut
