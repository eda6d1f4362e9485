"""Licensing: AI companies pay the authors of the creator pages they scrape.

Core objects: :class:`LicensingPolicy` (the ``policy.licensing`` section) and
:class:`Licensing` (the lever, at payment). The fees reach creators with next
month's income (:meth:`ecosystem.world.economy.CreatorEconomy.record_crawl`),
where licensing income also deters opting out.
"""

from __future__ import annotations

import numpy as np

from ecosystem.scenario.fields import Section, setting
from ecosystem.world.web import Web

__all__ = ["Licensing", "LicensingPolicy"]


class LicensingPolicy(Section):
    """Payments from AI companies to the authors of the human pages they scrape."""

    fee_per_page: float = setting(
        0.0, "Fee per scraped human page, paid to its author", unit="$/page", ge=0.0, le=1e6
    )


class Licensing:
    """A fixed fee per scraped creator page."""

    name = "licensing"
    Settings = LicensingPolicy
    order = 50
    scenario = "policy-licensing"
    directional_test = "tests/test_policy.py::test_licensing_raises_creator_income_and_lowers_quits"
    switch = "fee_per_page"

    def __init__(self, settings: LicensingPolicy) -> None:
        self.settings = settings

    def fee(self, web: Web, pages: np.ndarray) -> float:
        """``fee_per_page`` for every crawled creator page."""
        return self.settings.fee_per_page


LEVER = Licensing
