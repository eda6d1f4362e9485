"""Watermarks: each company marks a share of its output; crawlers drop the marks they read.

Core objects: :class:`WatermarkPolicy` (the ``policy.watermark`` section) and
:class:`Watermark` (the lever, at publication and at screening).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ecosystem.scenario.fields import Section, setting
from ecosystem.world.web import AI, AI_ASSISTED, Web

__all__ = ["Watermark", "WatermarkPolicy"]


class WatermarkPolicy(Section):
    """Watermarks on each company's output, and crawlers that drop marked pages."""

    share: float = setting(
        0.0, "Share of each company's output that carries its watermark", ge=0.0, le=1.0
    )
    survival: float = setting(
        0.5, "Chance that a mark survives the human editing of an AI-assisted page", ge=0.0, le=1.0
    )
    drop_marked: bool = setting(True, "Crawlers drop the marked pages they can read")
    readable_by: Literal["issuer", "all"] = setting(
        "all", "Who can read a mark: only the company that issued it, or every company"
    )


class Watermark:
    """Marks AI output at publication; drops the marks a company can read at screening."""

    name = "watermark"
    Settings = WatermarkPolicy
    order = 20
    scenario = "policy-watermark"
    directional_test = (
        "tests/test_policy.py::"
        "test_watermarks_dropped_by_crawlers_raise_the_human_share_of_training_data"
    )
    switch = "share"
    stamp_column = "watermarked"
    stamp_row = 0
    dropped_series = "dropped_marked"

    def __init__(self, settings: WatermarkPolicy) -> None:
        self.settings = settings

    def stamp(self, origin: np.ndarray, draw: np.ndarray) -> np.ndarray:
        """A mark on a ``share`` of AI pages, and on AI-assisted pages only if it survives
        the editing (``share`` x ``survival``); never on human pages."""
        s = self.settings
        chance = np.select(
            [origin == AI, origin == AI_ASSISTED], [s.share, s.share * s.survival], 0.0
        )
        return draw < chance

    def screen(self, web: Web, pages: np.ndarray, company: int) -> np.ndarray:
        """The marked pages this company can read, when crawlers drop marked pages."""
        s = self.settings
        if not (s.drop_marked and s.share > 0):
            return np.zeros(len(pages), bool)
        readable = web.watermarked[pages]
        if s.readable_by == "issuer":
            readable = readable & (web.company[pages] == company)
        return readable


LEVER = Watermark
