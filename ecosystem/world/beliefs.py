"""Readers' beliefs about the culture, pulled by what they read (knowledge collapse).

Core objects: :class:`ReaderBeliefs` (the public's belief about how content is spread over
the topics, updated every month from the pages readers visit and the AI answers they get)
and :func:`hellinger`.

After Peterson (AI & Society 2025): readers hold a belief about the distribution of
knowledge and update it from what they read. A visit to a page on topic k teaches topic k.
An AI answer to a question on topic k teaches topic k with the answering model's fidelity
on k; otherwise the answer speaks of what the model knows, spread as its own topic shares.
Models that have lost the tail topics thus pull the public's belief toward the head, the
more so the more questions go to AI. The belief moves each month a share
``belief_learning`` of the way toward the month's mix of what was read.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["ReaderBeliefs", "hellinger"]


def hellinger(p: np.ndarray, q: np.ndarray) -> float:
    """Hellinger distance of two distributions over the same topics (0: equal, 1: disjoint)."""
    overlap = float(np.sqrt(np.clip(p, 0, None) * np.clip(q, 0, None)).sum())
    return float(np.sqrt(max(1.0 - overlap, 0.0)))


class ReaderBeliefs:
    """The public's belief over the topics; it starts at the truth (the pre-AI web)."""

    def __init__(self, truth: np.ndarray, learning: float) -> None:
        self.truth = np.asarray(truth, dtype=np.float64)
        self.belief = self.truth.copy()
        self.learning = learning

    def read(
        self,
        page_visits: np.ndarray,
        answers: np.ndarray,
        share: np.ndarray,
        fidelity: Sequence[np.ndarray],
        topic_shares: Sequence[np.ndarray],
    ) -> None:
        """One month: ``page_visits`` per topic, ``answers`` per topic (questions answered
        by AI), served by the companies in proportion to ``share``, each with its topic
        ``fidelity`` and the ``topic_shares`` of its model."""
        read = np.asarray(page_visits, dtype=np.float64).copy()
        total_share = float(np.sum(share))
        if total_share > 0 and float(np.sum(answers)) > 0:
            for weight, kept, spoken in zip(share, fidelity, topic_shares, strict=True):
                if weight <= 0:
                    continue
                mine = answers * (weight / total_share)
                read += mine * kept
                read += float((mine * (1.0 - kept)).sum()) * spoken
        total = read.sum()
        if total <= 0 or self.learning == 0:
            return
        self.belief += self.learning * (read / total - self.belief)

    @property
    def distance(self) -> float:
        """Hellinger distance of the belief from the truth."""
        return hellinger(self.belief, self.truth)

    def tail_mass_ratio(self, tail: np.ndarray) -> float:
        """The belief's mass on the tail topics over the truth's (1: the tail kept)."""
        truth = float(self.truth[tail].sum())
        return float(self.belief[tail].sum()) / truth if truth > 0 else float("nan")
