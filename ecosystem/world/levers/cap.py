"""The cap on AI publishing: the companies' pages at most a share of each month's new pages.

Core objects: :class:`CapPolicy` (the ``policy.cap`` section) and :class:`Cap`
(the lever, at publishing).
"""

from __future__ import annotations

import numpy as np

from ecosystem.scenario.fields import Section, setting

__all__ = ["Cap", "CapPolicy"]


class CapPolicy(Section):
    """A cap on AI publishing."""

    ai_share_max: float = setting(
        1.0, "Most the companies' pages may be of all new pages in a month", ge=0.0, le=1.0
    )


class Cap:
    """Cuts the companies' output in proportion when it would pass the cap."""

    name = "cap"
    Settings = CapPolicy
    order = 60
    scenario = "policy-cap"
    directional_test = "tests/test_policy.py::test_a_cap_lowers_the_synthetic_share"
    switch = "ai_share_max"

    def __init__(self, settings: CapPolicy) -> None:
        self.settings = settings

    def limit_output(self, counts: np.ndarray, human_pages: int) -> np.ndarray:
        """Companies' page counts cut in proportion so that fully AI pages are at most
        ``ai_share_max`` of all new pages (``counts`` itself when the cap does not bind)."""
        cap = self.settings.ai_share_max
        total = int(counts.sum())
        if cap >= 1 or total == 0:
            return counts
        allowed = int(np.floor(cap * human_pages / (1 - cap) + 1e-9))
        if total <= allowed:
            return counts
        return np.floor(counts * (allowed / total)).astype(counts.dtype)


LEVER = Cap
