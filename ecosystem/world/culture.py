"""The ground truth: the distribution of human content.

Core object: :class:`Culture`, a mixture of ``topics`` Gaussians in ``dim``
dimensions whose topic popularity follows a Zipf law. Popular topics form the
*head* (the fewest topics holding ``tail_threshold`` of the mass), the rest the
*tail*. The culture samples human content, scores it (log-likelihood under the
truth), assigns a topic to any vector (posterior argmax) and holds a fixed,
held-out reference sample against which every quality and diversity metric is
measured.
"""

from __future__ import annotations

import math
from typing import Self

import torch

from ecosystem.measure.metrics import Reference
from models.gaussian_math import (
    cholesky_factors,
    component_log_prob,
    mixture_log_prob,
    sample_components,
)

__all__ = ["Culture", "draw_topics", "tail_mask", "zipf_weights"]


def zipf_weights(topics: int, exponent: float) -> torch.Tensor:
    """Topic popularity ``w_k ∝ (k + 1) ** -exponent``: topic 0 is the most popular."""
    if topics < 1:
        raise ValueError(f"topics must be >= 1, got {topics}")
    if exponent < 0:
        raise ValueError(f"zipf exponent must be >= 0, got {exponent}")
    ranks = torch.arange(1, topics + 1, dtype=torch.float64)
    weights = ranks.pow(-exponent)
    return weights / weights.sum()


class Culture:
    """A Zipf-weighted Gaussian mixture of topics: what humans write about, and how.

    Build one with :meth:`generate` (random topic geometry from a generator) or
    directly from its parameters. Content vectors are float32; densities float64.
    """

    def __init__(
        self,
        weights: torch.Tensor,
        means: torch.Tensor,
        covariances: torch.Tensor,
        reference_x: torch.Tensor,
        *,
        tail_threshold: float = 0.8,
        reference_k: int = 5,
        metrics_device: str | torch.device = "cpu",
    ) -> None:
        if not 0.0 < tail_threshold < 1.0:
            raise ValueError(f"tail_threshold must be in (0, 1), got {tail_threshold}")
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.means = torch.as_tensor(means, dtype=torch.float64)
        self.covariances = torch.as_tensor(covariances, dtype=torch.float64)
        self.chols = cholesky_factors(self.covariances)
        self.tail_threshold = float(tail_threshold)
        self.tail_mask = tail_mask(self.weights, self.tail_threshold)
        self.reference = Reference(
            torch.as_tensor(reference_x), k=reference_k, device=metrics_device
        )

    @classmethod
    def generate(
        cls,
        generator: torch.Generator,
        *,
        topics: int = 50,
        dim: int = 16,
        zipf: float = 1.1,
        separation: float = 3.0,
        spread: float = 1.0,
        tail_threshold: float = 0.8,
        reference_size: int = 5000,
        reference_k: int = 5,
        metrics_device: str | torch.device = "cpu",
    ) -> Self:
        """Draw a culture: topic centres ~ N(0, separation² I), each topic an
        anisotropic Gaussian whose axis scales lie in [0.5, 1.5] x ``spread``."""
        weights = zipf_weights(topics, zipf)
        means = separation * torch.randn(topics, dim, generator=generator, dtype=torch.float64)
        rotations, _ = torch.linalg.qr(
            torch.randn(topics, dim, dim, generator=generator, dtype=torch.float64)
        )
        scales = spread * (0.5 + torch.rand(topics, dim, generator=generator, dtype=torch.float64))
        covariances = rotations @ torch.diag_embed(scales**2) @ rotations.transpose(1, 2)
        covariances = 0.5 * (covariances + covariances.transpose(1, 2))
        chols = cholesky_factors(covariances)
        reference_topics = torch.multinomial(weights, reference_size, True, generator=generator)
        reference_x = sample_components(means, chols, reference_topics, generator).float()
        return cls(
            weights,
            means,
            covariances,
            reference_x,
            tail_threshold=tail_threshold,
            reference_k=reference_k,
            metrics_device=metrics_device,
        )

    @property
    def topics(self) -> int:
        """Number of topics K."""
        return int(self.weights.shape[0])

    @property
    def dim(self) -> int:
        """Dimension of the content space."""
        return int(self.means.shape[1])

    @property
    def head(self) -> torch.Tensor:
        """Indices of the head topics (most popular first)."""
        return torch.nonzero(~self.tail_mask).flatten()

    @property
    def tail(self) -> torch.Tensor:
        """Indices of the tail topics."""
        return torch.nonzero(self.tail_mask).flatten()

    @property
    def tail_mass(self) -> float:
        """The truth's probability mass in tail topics."""
        return float(self.weights[self.tail_mask].sum())

    def sample_topics(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Topics of ``n`` new pieces of content, drawn by popularity."""
        return draw_topics(self.weights, n, generator)

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        topics: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Human content: ``(x float32 [n, dim], topics long [n])``.

        With ``topics`` given (one topic id per item) it writes about those
        topics; otherwise topics are drawn by popularity.
        """
        topics = draw_topics(self.weights, n, generator, topics)
        if topics.numel() == 0:
            return torch.empty(0, self.dim, dtype=torch.float32), topics
        x = sample_components(self.means, self.chols, topics, generator)
        return x.float(), topics

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log density of each vector under the truth (float64 [n])."""
        return mixture_log_prob(_as_points(x, self.dim), self.weights, self.means, self.chols)

    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """Topic of each vector: the posterior argmax over topics (long [n])."""
        x = _as_points(x, self.dim)
        if x.shape[0] == 0:
            return torch.empty(0, dtype=torch.long)
        scores = component_log_prob(x, self.means, self.chols) + self.weights.log()
        return scores.argmax(dim=1)

    def entropy_bound(self) -> float:
        """Normalised entropy of the true topic popularity (the ideal topic_entropy)."""
        w = self.weights[self.weights > 0]
        return float(-(w * w.log()).sum() / math.log(self.topics)) if self.topics > 1 else 0.0

    def __repr__(self) -> str:
        return (
            f"Culture(topics={self.topics}, dim={self.dim}, head={len(self.head)}, "
            f"tail={len(self.tail)}, tail_mass={self.tail_mass:.3f})"
        )


def draw_topics(
    weights: torch.Tensor,
    n: int,
    generator: torch.Generator,
    topics: torch.Tensor | None = None,
) -> torch.Tensor:
    """The topics of ``n`` new items: drawn by popularity ``weights``, or ``topics`` checked
    (a 1-D array of topic ids, whose length then replaces ``n``), long ``[n]``."""
    K = len(weights)
    if topics is not None:
        topics = torch.as_tensor(topics, dtype=torch.long)
        if topics.ndim != 1 or (topics.numel() and (topics.min() < 0 or topics.max() >= K)):
            raise ValueError(f"topics must be a 1-D array of ids in [0, {K})")
        return topics
    if n == 0:
        return torch.empty(0, dtype=torch.long)
    return torch.multinomial(weights, n, replacement=True, generator=generator)


def tail_mask(weights: torch.Tensor, threshold: float) -> torch.Tensor:
    """Tail = the entries (topics, words) beyond the fewest most probable ones that hold
    ``threshold`` of the mass, bool ``[len(weights)]``."""
    order = torch.argsort(weights, descending=True, stable=True)
    cumulative = torch.cumsum(weights[order], dim=0)
    head_count = int(torch.searchsorted(cumulative, torch.tensor(threshold, dtype=torch.float64)))
    head_count = min(head_count + 1, len(weights))
    mask = torch.ones(len(weights), dtype=torch.bool)
    mask[order[:head_count]] = False
    return mask


def _as_points(x, dim: int) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"content must have shape [n, {dim}], got {tuple(x.shape)}")
    return x
