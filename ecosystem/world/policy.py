"""The policy levers, each applied at one named point of the month.

Core object: :class:`Policy` (the scenario's ``policy`` section as mechanisms).

=====================  ===========================  ===========================================
lever                  applied at                   method
=====================  ===========================  ===========================================
cap on AI publishing   publishing                   :meth:`Policy.cap_output`
watermarks             publishing / assembly        :meth:`Policy.stamp` / :meth:`Policy.screen`
provenance             publishing                   :meth:`Policy.stamp`
detection              assembly (the detector's     :meth:`Policy.stamp` / :meth:`Policy.screen`
                       verdict is fixed per page)
opt-out                crawl                        :meth:`Policy.crawlable`
human-data quota       assembly                     :meth:`Policy.apply_quota`
licensing              crawl                        :meth:`Policy.licensing_fees`
=====================  ===========================  ===========================================

Data accumulation and the archive share are company settings
(``companies.<name>.data`` and ``archive_share``) applied in
:meth:`ecosystem.world.agents.AICompany.retrain`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ecosystem.scenario import PolicySettings
from ecosystem.world.web import AI, AI_ASSISTED, HUMAN, Web

__all__ = ["Policy", "Screening", "Stamps"]


@dataclass(frozen=True)
class Stamps:
    """What a month's new pages carry: a watermark, a certificate, the detector's verdict."""

    watermarked: np.ndarray
    certified: np.ndarray
    flagged: np.ndarray


@dataclass(frozen=True)
class Screening:
    """A crawl screened at training-set assembly."""

    kept: np.ndarray
    """The crawled pages that enter the training set."""
    crawled: int
    crawl_synthetic_share: float
    """True synthetic share of the crawl."""
    crawl_detected_share: float
    """Synthetic share of the crawl as the detector measures it (flagged share)."""
    dropped_detected: int
    dropped_marked: int


class Policy:
    """The levers of one scenario; every random draw takes an explicit generator."""

    def __init__(self, settings: PolicySettings) -> None:
        self.settings = settings

    # ------------------------------------------------------------ publishing

    def cap_output(self, counts: np.ndarray, human_pages: int) -> np.ndarray:
        """Companies' page counts cut in proportion so that fully AI pages are at most
        ``cap.ai_share_max`` of all new pages."""
        cap = self.settings.cap.ai_share_max
        total = int(counts.sum())
        if cap >= 1 or total == 0:
            return counts
        allowed = int(np.floor(cap * human_pages / (1 - cap) + 1e-9))
        if total <= allowed:
            return counts
        scaled = np.floor(counts * (allowed / total)).astype(counts.dtype)
        return scaled

    def stamp(self, origin: np.ndarray, rng: np.random.Generator) -> Stamps:
        """Watermarks (a share of AI output; on AI-assisted pages only if they survive
        editing), provenance certificates (a share of human pages) and the detector's
        verdict (flags AI pages at ``tpr``, edited ones at ``tpr_edited``, human at ``fpr``)."""
        s = self.settings
        n = len(origin)
        draw = rng.random((3, n))
        mark_chance = np.select(
            [origin == AI, origin == AI_ASSISTED],
            [s.watermark.share, s.watermark.share * s.watermark.survival],
            0.0,
        )
        flag_chance = np.select(
            [origin == AI, origin == AI_ASSISTED],
            [s.detection.tpr, s.detection.tpr_edited],
            s.detection.fpr,
        )
        certify_chance = np.where(origin == HUMAN, s.provenance.certified_share, 0.0)
        return Stamps(
            watermarked=draw[0] < mark_chance,
            certified=draw[1] < certify_chance,
            flagged=draw[2] < flag_chance,
        )

    # ----------------------------------------------------------------- crawl

    def crawlable(self, web: Web, eligible: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``eligible`` minus the opted-out pages this crawler honours (each with
        probability ``opt_out.compliance``)."""
        opted = np.flatnonzero(eligible & web.opt_out)
        if opted.size == 0:
            return eligible
        honoured = opted[rng.random(opted.size) < self.settings.opt_out.compliance]
        result = eligible.copy()
        result[honoured] = False
        return result

    def licensing_fees(self, web: Web, pages: np.ndarray) -> tuple[np.ndarray, float]:
        """Authors of the scraped creator pages (human or AI-assisted) and the fee each earns."""
        authors = web.author[pages]
        return authors[authors >= 0].astype(np.int64), self.settings.licensing.fee_per_page

    # -------------------------------------------------------------- assembly

    def screen(self, web: Web, pages: np.ndarray, company: int) -> Screening:
        """Drop, from a crawl, the pages the detector flags (when detection is enabled) and
        the watermarked pages this company can read (when crawlers drop marked pages)."""
        s = self.settings
        synthetic = web.origin[pages] != HUMAN
        flagged = web.flagged[pages]
        drop_detected = flagged if s.detection.enabled else np.zeros(len(pages), bool)
        drop_marked = np.zeros(len(pages), bool)
        if s.watermark.drop_marked and s.watermark.share > 0:
            readable = web.watermarked[pages]
            if s.watermark.readable_by == "issuer":
                readable = readable & (web.company[pages] == company)
            drop_marked = readable & ~drop_detected
        kept = pages[~(drop_detected | drop_marked)]
        return Screening(
            kept=kept,
            crawled=len(pages),
            crawl_synthetic_share=_mean(synthetic),
            crawl_detected_share=_mean(flagged),
            dropped_detected=int(drop_detected.sum()),
            dropped_marked=int(drop_marked.sum()),
        )

    def apply_quota(
        self,
        x: torch.Tensor,
        synthetic: torch.Tensor,
        certified: torch.Tensor,
        rng: np.random.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Keep the training set's certified-human share at least ``min_certified_share`` by
        keeping a random part of the uncertified rows: the set shrinks, the quota holds."""
        quota = self.settings.provenance.min_certified_share
        n_certified = int(certified.sum())
        uncertified = np.flatnonzero(~certified.numpy())
        if quota == 0 or len(x) == 0 or n_certified >= quota * len(x):
            return x, synthetic, certified
        allowed = int(np.floor(n_certified * (1 - quota) / quota + 1e-9)) if quota < 1 else 0
        dropped = rng.choice(uncertified, len(uncertified) - allowed, replace=False)
        keep = np.ones(len(x), dtype=bool)
        keep[dropped] = False
        rows = torch.from_numpy(keep)
        return x[rows], synthetic[rows], certified[rows]


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")
