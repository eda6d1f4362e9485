"""The text world's ground truth: a human language of topics, words and documents.

Core objects: :class:`Language` (``topics`` topics over a vocabulary of ``vocab`` words, each
topic a first-order Markov chain over words, with an exact batched log-likelihood, the topic
posterior, head and tail of topics and of words, and a held-out reference set) and
:func:`vocabulary_words` (readable words for the ids: English words by frequency rank when
the ``wordfreq`` package is installed, otherwise synthetic syllable words).

The chain of topic k. Its stationary distribution is the topic's unigram distribution

    pi_k(w)  proportional to  (rank(w) + 1) ** -word_zipf * (boost if w is preferred by k),

a Zipf law over the words' ranks in which each topic prefers its own random share of the
vocabulary (``preferred``). Words fall into fixed clusters of ``cluster_size`` (collocations
shared by all topics). The first word of a document is drawn from pi_k; each next word, with
probability ``stickiness``, from pi_k restricted to the previous word's cluster, and otherwise
from pi_k:

    P_k(v | w) = (1 - s) pi_k(v) + s [c(v) = c(w)] pi_k(v) / pi_k(c(w)).

Both parts leave pi_k invariant, so pi_k is the chain's stationary distribution, and
log P_k(v | w) = log pi_k(v) + log(1 - s + s [c(v) = c(w)] / pi_k(c(v))) is exact and cheap.
A document's length is 1 + Poisson(mean_length - 1), independent of its topic; log-likelihoods
are of the words given the length (the length carries no information about quality).
"""

from __future__ import annotations

import functools
import math
from typing import Self

import numpy as np
import torch

from ecosystem.world.culture import draw_topics, tail_mask, zipf_weights
from models.documents import Documents

__all__ = ["Language", "vocabulary_words"]

_SCORE_ELEMENTS = 1 << 21
"""Topic-by-token scores held at once while scoring (float64 elements, 16 MiB)."""
_ONSETS: tuple[str, ...] = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r")
_ONSETS += ("s", "t", "v", "w", "z", "br", "ch", "cl", "dr", "fl", "gr", "pl", "sh", "st", "th")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "io", "ou")


def vocabulary_words(vocab: int, source: str = "english") -> tuple[list[str], str]:
    """``vocab`` distinct readable words, most frequent first, and their source: the English
    words of ``wordfreq`` by frequency when ``source`` is "english" and the package has enough
    of them, else synthetic syllable words ("synthetic")."""
    if source == "english":
        english = _english_words(vocab)
        if len(english) == vocab:
            return list(english), "english"
    syllables = [onset + vowel for onset in _ONSETS for vowel in _VOWELS]
    words = []
    for index in range(vocab):
        parts, value = [], index
        while True:
            parts.append(syllables[value % len(syllables)])
            value //= len(syllables)
            if value == 0:
                break
        words.append("".join(reversed(parts)))
    return words, "synthetic"


@functools.lru_cache(maxsize=8)
def _english_words(vocab: int) -> tuple[str, ...]:
    """The ``vocab`` most frequent alphabetic English words of ``wordfreq`` (fewer when it
    lacks them or is not installed); loading the list takes a second, so it is kept."""
    try:
        from wordfreq import top_n_list
    except ImportError:
        return ()
    words = [w for w in top_n_list("en", vocab * 2, wordlist="best") if w.isalpha()]
    return tuple(dict.fromkeys(words))[:vocab]


class Language:
    """Topics as word-level Markov chains over a Zipf vocabulary (see the module docstring).

    Build one with :meth:`generate`; every array is fixed after construction. Topic
    popularity is Zipf with exponent ``zipf`` as in the vector world.
    """

    def __init__(
        self,
        topic_weights: torch.Tensor,
        unigrams: torch.Tensor,
        clusters: np.ndarray,
        *,
        stickiness: float,
        mean_length: float,
        words: list[str],
        word_source: str,
        tail_threshold: float = 0.8,
    ) -> None:
        if not 0.0 <= stickiness < 1.0:
            raise ValueError(f"stickiness must be in [0, 1), got {stickiness}")
        if not mean_length >= 1.0:
            raise ValueError(f"mean_length must be >= 1, got {mean_length}")
        self.weights = torch.as_tensor(topic_weights, dtype=torch.float64)
        self.unigrams = torch.as_tensor(unigrams, dtype=torch.float64)  # pi [K, V]
        self.clusters = np.asarray(clusters, dtype=np.int64)  # cluster of each word [V]
        self.stickiness = float(stickiness)
        self.mean_length = float(mean_length)
        self.words, self.word_source = list(words), word_source
        self.tail_threshold = float(tail_threshold)
        self.tail_mask = tail_mask(self.weights, self.tail_threshold)
        self.word_weights = self.weights @ self.unigrams  # the marginal word distribution [V]
        self.word_tail_mask = tail_mask(self.word_weights, self.tail_threshold)
        n_clusters = int(self.clusters.max()) + 1
        cluster_index = torch.from_numpy(self.clusters)
        self.cluster_mass = torch.zeros(self.topics, n_clusters, dtype=torch.float64)
        self.cluster_mass.index_add_(1, cluster_index, self.unigrams)
        log_unigrams = self.unigrams.log()
        # log(1 - s + s / pi_k(c)) for a word in the previous word's cluster, per (k, cluster)
        log_stay = torch.log(1 - self.stickiness + self.stickiness / self.cluster_mass)
        log_move = math.log(1 - self.stickiness)
        # a token's score under every topic [3 V, K]: first word, moved, stayed in the cluster
        self._token_scores = torch.cat(
            [log_unigrams, log_unigrams + log_move, log_unigrams + log_stay[:, cluster_index]],
            dim=1,
        ).T.contiguous()
        # draws: words in cluster order, the cumulative mass of every topic in that order
        self._order = np.argsort(self.clusters, kind="stable")
        counts = np.bincount(self.clusters, minlength=n_clusters)
        self._cluster_start = np.concatenate([[0], np.cumsum(counts)])
        flat = self.unigrams[:, torch.from_numpy(self._order)].reshape(-1)
        self._cumulative = torch.cat([torch.zeros(1, dtype=torch.float64), flat.cumsum(0)])

    @classmethod
    def generate(
        cls,
        generator: torch.Generator,
        *,
        topics: int = 50,
        vocab: int = 2000,
        zipf: float = 1.1,
        word_zipf: float = 1.0,
        preferred: float = 0.05,
        boost: float = 20.0,
        cluster_size: int = 20,
        stickiness: float = 0.5,
        mean_length: float = 50.0,
        words: str = "english",
        tail_threshold: float = 0.8,
    ) -> Self:
        """Draw a language: each topic prefers a random ``preferred`` share of the words,
        whose probability it multiplies by ``boost``; words fall into random clusters of
        ``cluster_size``."""
        if topics < 1 or vocab < 2:
            raise ValueError(f"need topics >= 1 and vocab >= 2, got {topics} and {vocab}")
        topic_weights = zipf_weights(topics, zipf)
        base = torch.arange(1, vocab + 1, dtype=torch.float64).pow(-word_zipf)
        chosen = torch.rand(topics, vocab, generator=generator, dtype=torch.float64) < preferred
        unigrams = base * torch.where(chosen, float(boost), 1.0)
        unigrams /= unigrams.sum(dim=1, keepdim=True)
        permutation = torch.randperm(vocab, generator=generator).numpy()
        clusters = np.empty(vocab, dtype=np.int64)
        clusters[permutation] = np.arange(vocab) // max(int(cluster_size), 1)
        labels, source = vocabulary_words(vocab, words)
        return cls(
            topic_weights,
            unigrams,
            clusters,
            stickiness=stickiness,
            mean_length=mean_length,
            words=labels,
            word_source=source,
            tail_threshold=tail_threshold,
        )

    @property
    def topics(self) -> int:
        """Number of topics K."""
        return int(self.weights.shape[0])

    @property
    def vocab(self) -> int:
        """Number of words V."""
        return int(self.unigrams.shape[1])

    @property
    def head_mask(self) -> torch.Tensor:
        """The popular topics, bool ``[K]``."""
        return ~self.tail_mask

    @property
    def word_head_mask(self) -> torch.Tensor:
        """The frequent words (holding ``tail_threshold`` of the mass), bool ``[V]``."""
        return ~self.word_tail_mask

    def sample_topics(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Topics of ``n`` new documents, drawn by popularity."""
        return draw_topics(self.weights, n, generator)

    def sample_lengths(self, n: int, generator: torch.Generator) -> np.ndarray:
        """Lengths of ``n`` documents: 1 + Poisson(mean_length - 1), ``int64 [n]``."""
        rates = torch.full((n,), self.mean_length - 1.0, dtype=torch.float64)
        return (1 + torch.poisson(rates, generator=generator)).long().numpy()

    def sample(
        self, n: int, generator: torch.Generator, topics: torch.Tensor | None = None
    ) -> tuple[Documents, torch.Tensor]:
        """``n`` human documents and their topics (long ``[n]``), about ``topics`` when given."""
        topics = draw_topics(self.weights, n, generator, topics)
        n = len(topics)
        lengths = self.sample_lengths(n, generator)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        tokens = np.empty(offsets[-1], dtype=np.int32)
        topic_of = topics.numpy()
        previous = np.zeros(n, dtype=np.int64)
        for position in range(int(lengths.max()) if n else 0):
            active = np.flatnonzero(lengths > position)
            k = topic_of[active]
            uniform = torch.rand(len(active), generator=generator, dtype=torch.float64).numpy()
            lo, hi = np.zeros(len(active), np.int64), np.full(len(active), self.vocab)
            if position:
                stay = torch.rand(len(active), generator=generator, dtype=torch.float64).numpy()
                stay = stay < self.stickiness
                cluster = self.clusters[previous[active[stay]]]
                lo[stay], hi[stay] = self._cluster_start[cluster], self._cluster_start[cluster + 1]
            words = self._draw(k, lo, hi, uniform)
            tokens[offsets[active] + position] = words
            previous[active] = words
        return Documents(tokens, offsets), topics

    def _draw(self, topics: np.ndarray, lo: np.ndarray, hi: np.ndarray, u: np.ndarray):
        """Words of the topics drawn from pi_k restricted to cluster-order positions [lo, hi)."""
        base = topics * self.vocab
        start = self._cumulative[torch.from_numpy(base + lo)]
        stop = self._cumulative[torch.from_numpy(base + hi)]
        target = start + torch.from_numpy(u) * (stop - start)
        flat = torch.searchsorted(self._cumulative, target, right=True).numpy() - 1
        position = np.clip(flat - base, lo, hi - 1)
        return self._order[position]

    def topic_log_likelihoods(self, documents: Documents) -> torch.Tensor:
        """log P(words | topic k) of every document and topic, float64 ``[n, K]``."""
        n, V = len(documents), self.vocab
        out = torch.zeros(n, self.topics, dtype=torch.float64)
        if n == 0:
            return out
        tokens, offsets = documents.tokens.astype(np.int64), documents.offsets
        # each token's state: 0 first of its document, 1 moved, 2 stayed in the cluster
        state = np.ones(len(tokens), dtype=np.int64)
        if len(tokens) > 1:
            stayed = self.clusters[tokens[1:]] == self.clusters[tokens[:-1]]
            state[1:] += stayed
        state[offsets[:-1][documents.lengths > 0]] = 0
        index = torch.from_numpy(tokens + V * state)
        document_of = torch.from_numpy(documents.document_of_token)
        step = max(1, _SCORE_ELEMENTS // self.topics)
        for start in range(0, len(tokens), step):
            scores = self._token_scores.index_select(0, index[start : start + step])
            out.index_add_(0, document_of[start : start + step], scores)
        return out

    def log_prob(self, documents: Documents) -> torch.Tensor:
        """Log-likelihood of each document's words (given its length), float64 ``[n]``."""
        return torch.logsumexp(self.topic_log_likelihoods(documents) + self.weights.log(), dim=1)

    def posterior(self, documents: Documents) -> torch.Tensor:
        """The truth's topic posterior of each document, float64 ``[n, K]``."""
        return torch.softmax(self.topic_log_likelihoods(documents) + self.weights.log(), dim=1)

    def assign(self, documents: Documents) -> torch.Tensor:
        """Topic of each document: the posterior argmax (long ``[n]``)."""
        if len(documents) == 0:
            return torch.empty(0, dtype=torch.long)
        return (self.topic_log_likelihoods(documents) + self.weights.log()).argmax(dim=1)

    def text(self, document: np.ndarray) -> str:
        """A document's words, space-separated."""
        return " ".join(self.words[int(w)] for w in document)

    def __repr__(self) -> str:
        return (
            f"Language(topics={self.topics}, vocab={self.vocab}, words={self.word_source}, "
            f"stickiness={self.stickiness}, mean_length={self.mean_length})"
        )
