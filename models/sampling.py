"""The sampling controls every language model applies to its next-word distributions.

Core object: `controlled_cumulative`: temperature (the sampling bias lambda of the text world),
then top-k, then top-p truncation, as cumulative distributions ready for inverse-CDF draws.
"""

from __future__ import annotations

import torch

__all__ = ["controlled_cumulative"]


def controlled_cumulative(
    probabilities: torch.Tensor, bias: float, top_k: int, top_p: float
) -> torch.Tensor:
    """Cumulative next-word distributions ``[rows, V]`` (float64) of ``probabilities``
    after the controls, in this order: temperature (probabilities raised to ``1 / bias`` and
    renormalised), top-k (only the ``top_k`` most likely words; 0 = all), top-p (the smallest
    set of most likely words whose mass reaches ``top_p``; 1 = all), renormalised. Ties are
    broken by word id. The last column is exactly 1."""
    probabilities = probabilities.to(torch.float64)
    V = probabilities.shape[1]
    tempered = probabilities.clamp_min(1e-300).log() / bias
    tempered = torch.softmax(tempered, dim=1)
    if not (0 < top_k < V or top_p < 1.0):
        cumulative = tempered.cumsum(dim=1)
        cumulative[:, -1] = 1.0
        return cumulative
    # most likely first, ties by word id (a stable sort of the negated probabilities)
    order = torch.sort(-tempered, dim=1, stable=True).indices
    ranked = tempered.gather(1, order)
    keep = torch.ones_like(ranked, dtype=torch.bool)
    if 0 < top_k < V:
        keep[:, top_k:] = False
    if top_p < 1.0:
        before = ranked.cumsum(dim=1) - ranked
        keep &= before < top_p
    ranked = torch.where(keep, ranked, 0.0)
    truncated = torch.zeros_like(tempered).scatter_(1, order, ranked)
    truncated /= truncated.sum(dim=1, keepdim=True)
    cumulative = truncated.cumsum(dim=1)
    cumulative[:, -1] = 1.0
    return cumulative
