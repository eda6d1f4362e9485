"""Detection: an AI-content detector's verdict on every page, and training sets screened by it.

Core objects: :class:`DetectionPolicy` (the ``policy.detection`` section) and
:class:`Detection` (the lever, at publication and at screening). The verdict is
fixed per page when it is published, so the detector also measures the
detected synthetic share whether or not companies screen by it.
"""

from __future__ import annotations

import numpy as np

from ecosystem.scenario.fields import Section, setting
from ecosystem.world.web import AI, AI_ASSISTED, Web

__all__ = ["Detection", "DetectionPolicy"]


class DetectionPolicy(Section):
    """AI-content detection: also the instrument that measures the detected synthetic share."""

    enabled: bool = setting(False, "Drop pages the detector flags when assembling training sets")
    tpr: float = setting(
        0.95, "Share of fully AI pages the detector flags (true positive rate)", ge=0.0, le=1.0
    )
    tpr_edited: float = setting(
        0.3,
        "Share of AI-assisted (human-edited) pages it flags: editing defeats detectors",
        ge=0.0,
        le=1.0,
    )
    fpr: float = setting(
        0.04, "Share of human pages it flags (false positive rate)", ge=0.0, le=1.0
    )


class Detection:
    """Flags pages at publication; drops the flagged ones at screening when enabled."""

    name = "detection"
    Settings = DetectionPolicy
    order = 10
    scenario = "policy-detection"
    directional_test = (
        "tests/test_policy.py::test_detection_raises_the_human_share_of_training_data"
    )
    switch = "enabled"
    stamp_column = "flagged"
    stamp_row = 2
    dropped_series = "dropped_detected"

    def __init__(self, settings: DetectionPolicy) -> None:
        self.settings = settings

    def stamp(self, origin: np.ndarray, draw: np.ndarray) -> np.ndarray:
        """The verdict: flags AI pages at ``tpr``, AI-assisted at ``tpr_edited``, human at
        ``fpr``."""
        s = self.settings
        chance = np.select([origin == AI, origin == AI_ASSISTED], [s.tpr, s.tpr_edited], s.fpr)
        return draw < chance

    def screen(self, web: Web, pages: np.ndarray, company: int) -> np.ndarray:
        """The flagged pages, when detection is enabled."""
        if not self.settings.enabled:
            return np.zeros(len(pages), bool)
        return web.flagged[pages]


LEVER = Detection
