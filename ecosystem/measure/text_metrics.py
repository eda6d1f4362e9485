"""Quality and diversity of samples of documents against a language (the text world's truth).

Core objects:

- `word_log_likelihood`: quality, the mean per-word log-likelihood of a sample under the truth;
- `perplexity`: a model's per-word perplexity on the truth's held-out reference documents
  (its diversity: a model that lost words or topics is surprised by human text);
- `word_histogram`, `vocabulary_coverage`, `tail_word_mass_ratio`, `distinct_words`,
  `distinct_n`, `unigram_divergence`: what a sample keeps of the truth's vocabulary;
- `BagOfWords`: a fixed embedding of documents (word frequencies projected on a fixed
  random basis), so that the vector world's k-NN precision, recall, density and coverage
  apply to text and figures can put both worlds side by side.

Every function is a pure function of its inputs (no hidden randomness) and exactly invariant
to the order of the documents.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from models.documents import Documents

__all__ = [
    "BagOfWords",
    "distinct_n",
    "distinct_words",
    "perplexity",
    "tail_word_mass_ratio",
    "unigram_divergence",
    "vocabulary_coverage",
    "word_histogram",
    "word_log_likelihood",
]


def word_histogram(documents: Documents, vocab: int) -> np.ndarray:
    """Share of the sample's words that is each word id, float64 ``[vocab]`` (zeros if empty)."""
    counts = np.bincount(documents.tokens, minlength=vocab).astype(np.float64)
    total = counts.sum()
    return counts / total if total else counts


def word_log_likelihood(truth: Any, documents: Documents) -> float:
    """Sum of the documents' log-likelihoods under ``truth`` over their number of words: the
    mean per-word log-likelihood (higher: more typical human text)."""
    words = int(documents.lengths.sum())
    if words == 0:
        return math.nan
    scores = torch.as_tensor(truth.log_prob(documents), dtype=torch.float64)
    return float(scores.sort().values.sum()) / words


def perplexity(model: Any, reference: Documents) -> float:
    """exp(-sum of log q(document) / number of words) of ``model`` on ``reference``: 1 is a
    perfect prediction, the truth's own value is the floor, and infinity means the model
    gives some reference word no probability at all."""
    words = int(reference.lengths.sum())
    if words == 0:
        return math.nan
    scores = torch.as_tensor(model.log_prob(reference), dtype=torch.float64)
    return math.exp(-float(scores.sort().values.sum()) / words)


def vocabulary_coverage(
    histogram: np.ndarray, true_weights: np.ndarray, min_fraction: float = 0.1
) -> float:
    """Share of the truth's words whose sample share is at least ``min_fraction`` of their
    true share. A finite sample misses rare words, so compare samples of one size."""
    present = true_weights > 0
    return float(np.mean(histogram[present] >= min_fraction * true_weights[present]))


def tail_word_mass_ratio(
    histogram: np.ndarray, true_weights: np.ndarray, tail_mask: np.ndarray
) -> float:
    """Sample share of the tail words over their true share: 1 = tail intact, 0 = gone."""
    true_tail = float(true_weights[tail_mask].sum())
    return float(histogram[tail_mask].sum()) / true_tail if true_tail > 0 else math.nan


def distinct_words(documents: Documents) -> float:
    """Number of distinct words in the sample."""
    return float(np.count_nonzero(np.bincount(documents.tokens))) if len(documents.tokens) else 0.0


def distinct_n(documents: Documents, n: int) -> float:
    """Distinct n-grams over all n-grams within documents (distinct-n of Li et al. 2016)."""
    tokens = documents.tokens.astype(np.int64)
    rank = np.arange(len(tokens)) - np.repeat(documents.offsets[:-1], documents.lengths)
    remaining = np.repeat(documents.lengths, documents.lengths) - rank
    starts = np.flatnonzero(remaining >= n)
    if len(starts) == 0:
        return math.nan
    base = int(tokens.max()) + 1
    if base**n < 2**62:  # one int64 key per n-gram
        keys = np.zeros(len(starts), dtype=np.int64)
        for i in range(n):
            keys = keys * base + tokens[starts + i]
        return float(len(np.unique(keys))) / len(starts)
    grams = np.stack([tokens[starts + i] for i in range(n)], axis=1)
    return float(len(np.unique(grams, axis=0))) / len(starts)


def unigram_divergence(histogram: np.ndarray, true_weights: np.ndarray) -> float:
    """Jensen-Shannon divergence (natural log, in [0, ln 2]) between the sample's word
    shares and the truth's."""
    if histogram.sum() == 0:
        return math.nan
    middle = 0.5 * (histogram + true_weights)

    def kl(p: np.ndarray) -> float:
        mask = p > 0
        return float(np.sum(p[mask] * np.log(p[mask] / middle[mask])))

    return 0.5 * kl(histogram) + 0.5 * kl(true_weights)


class BagOfWords:
    """A fixed embedding of documents in ``dim`` dimensions: each document's word shares
    times a fixed random Gaussian basis [vocab, dim] / sqrt(dim), drawn once from
    ``generator``. Two documents with the same word shares embed to the same point."""

    def __init__(self, vocab: int, dim: int, generator: torch.Generator) -> None:
        self.vocab, self.dim = int(vocab), int(dim)
        basis = torch.randn(self.vocab, self.dim, generator=generator, dtype=torch.float64)
        self.basis = basis / math.sqrt(self.dim)

    def __call__(self, documents: Documents) -> torch.Tensor:
        """Embeddings of the documents, float64 ``[n, dim]`` (zeros for an empty document)."""
        n = len(documents)
        if n == 0:
            return torch.empty(0, self.dim, dtype=torch.float64)
        lengths = torch.from_numpy(documents.lengths).to(torch.float64).clamp_min(1.0)
        rows = torch.from_numpy(documents.document_of_token)
        words = torch.from_numpy(documents.tokens.astype(np.int64))
        out = torch.zeros(n, self.dim, dtype=torch.float64)
        out.index_add_(0, rows, self.basis[words])
        return out / lengths[:, None]
