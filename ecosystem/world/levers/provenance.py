"""Provenance: certificates on human pages, and a human-data quota on every training set.

Core objects: :class:`ProvenancePolicy` (the ``policy.provenance`` section)
and :class:`Provenance` (the lever, at publication and at assembly).
"""

from __future__ import annotations

import numpy as np
import torch

from ecosystem.scenario.fields import Section, setting
from ecosystem.world.web import HUMAN

__all__ = ["Provenance", "ProvenancePolicy"]


class ProvenancePolicy(Section):
    """Provenance: certified human pages and a human-data quota at training-set assembly."""

    certified_share: float = setting(
        0.002, "Share of new human pages that carry a provenance certificate", ge=0.0, le=1.0
    )
    min_certified_share: float = setting(
        0.0,
        "Minimum certified-human share of every training set (the pre-AI archive counts as "
        "certified); the set shrinks rather than break it",
        ge=0.0,
        le=1.0,
    )


class Provenance:
    """Certifies human pages at publication; holds the certified share at assembly."""

    name = "provenance"
    Settings = ProvenancePolicy
    order = 30
    scenario = "policy-provenance"
    directional_test = (
        "tests/test_policy.py::"
        "test_a_human_data_quota_holds_and_raises_the_human_share_of_training_data"
    )
    switch = "min_certified_share"
    stamp_column = "certified_human"
    stamp_row = 1

    def __init__(self, settings: ProvenancePolicy) -> None:
        self.settings = settings

    def stamp(self, origin: np.ndarray, draw: np.ndarray) -> np.ndarray:
        """A certificate on a ``certified_share`` of human pages, never on written ones."""
        return draw < np.where(origin == HUMAN, self.settings.certified_share, 0.0)

    def assemble(
        self, synthetic: torch.Tensor, certified: torch.Tensor, rng: np.random.Generator
    ) -> np.ndarray | None:
        """Keep the training set's certified-human share at least ``min_certified_share`` by
        keeping a random part of the uncertified rows: the set shrinks, the quota holds.
        Draws only when the quota binds (else ``None``: every row stays)."""
        quota = self.settings.min_certified_share
        n = len(certified)
        n_certified = int(certified.sum())
        uncertified = np.flatnonzero(~certified.numpy())
        if quota == 0 or n == 0 or n_certified >= quota * n:
            return None
        allowed = int(np.floor(n_certified * (1 - quota) / quota + 1e-9)) if quota < 1 else 0
        dropped = rng.choice(uncertified, len(uncertified) - allowed, replace=False)
        keep = np.ones(n, dtype=bool)
        keep[dropped] = False
        return keep


LEVER = Provenance
