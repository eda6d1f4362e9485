"""Word n-gram language models of order 1 to 3, with sampling temperature, top-k and top-p.

Core object: `NGramModel` (registered as "ngram"). It fits `models.documents.Documents`,
samples new documents and scores the words of any document. Counts live in sorted arrays of
int64 keys (context, word), so a vocabulary of 50,000 words costs memory in proportion to the
n-grams seen, not to V ** order.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

import numpy as np
import torch

from models.base import (
    check_bias,
    check_fitted,
    check_generator,
    check_sample_size,
    state_entries,
)
from models.documents import Documents
from models.params import ModelParams, parameter
from models.registry import register
from models.sampling import controlled_cumulative

__all__ = ["NGramModel", "as_documents"]

_SMOOTHINGS = ("dirichlet", "none")
_DENSE_ELEMENTS = 1 << 22
"""Next-word probabilities held at once when sampling with temperature or truncation."""
_TABLE_ELEMENTS = 1 << 23
"""Largest table of every bigram context's distribution a model keeps (float64, 64 MiB)."""


def as_documents(x: Any, vocab: int, *, name: str = "x") -> Documents:
    """``x`` checked as documents over ``vocab`` words (a ValueError naming ``name``)."""
    if isinstance(x, Documents):
        documents = x
    elif isinstance(x, list | tuple):
        documents = Documents.from_lists(x)
    else:
        raise ValueError(f"{name} must be Documents or lists of word ids, got {type(x).__name__}")
    tokens = np.asarray(documents.tokens)
    if len(tokens) and (tokens.min() < 0 or tokens.max() >= vocab):
        raise ValueError(f"{name} holds word ids outside [0, {vocab})")
    return documents


@register("ngram")
class NGramModel:
    """A word n-gram model: the next word given the ``order - 1`` previous ones.

    Contexts before a document's first word are padded with a start symbol. Smoothing:

    - ``"none"``: maximum likelihood, p(w | h) = c(h, w) / c(h). With order 1 this is pure
      resampling of the training words: a word absent from the training set is never
      written again, which is the Wright-Fisher loss of rare words.
    - ``"dirichlet"`` (the default): interpolation towards the next lower order,
      p_m(w | h) = (c(h, w) + prior * p_{m-1}(w | h')) / (c(h) + prior), with h' the shorter
      context and p_0 uniform over the ``vocab`` words, so every word keeps some probability.

    Sampling controls, applied to each next-word distribution in this order: temperature
    (``bias`` of `sample`, lambda in (0, 1]: probabilities raised to 1 / lambda and
    renormalised, sharpening towards likely words), then top-k (only the ``top_k`` most likely
    words, 0 = all), then top-p (the smallest set of most likely words whose probability
    reaches ``top_p``, 1 = all), renormalised. Ties are broken by word id. A document's length
    is drawn from the training lengths (their empirical distribution). `log_prob` scores the
    words of a document given its length, under the untruncated model at temperature 1.
    """

    content: ClassVar[str] = "documents"
    """What it fits: documents (`models.documents.Documents`), not vectors."""

    class Params(ModelParams):
        """The constructor's parameters, declared."""

        vocab: int = parameter(2000, "Number of words (ids 0 .. vocab - 1)", ge=2, le=1_000_000)
        order: int = parameter(2, "n: the next word given the n - 1 previous ones", ge=1, le=3)
        smoothing: Literal["dirichlet", "none"] = parameter(
            "dirichlet", "Interpolation towards lower orders, or maximum likelihood"
        )
        prior: float = parameter(
            1.0, "Pseudo-counts of the lower order in each context (dirichlet)", gt=0.0, le=1e9
        )
        top_k: int = parameter(0, "Sample only the k most likely next words (0: all)", ge=0)
        top_p: float = parameter(
            1.0, "Sample only from the most likely words holding this mass", gt=0.0, le=1.0
        )

    def __init__(
        self,
        vocab: int = 2000,
        order: int = 2,
        smoothing: str = "dirichlet",
        prior: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
    ) -> None:
        self.vocab = vocab
        self.order = order
        self.smoothing = smoothing
        self.prior = prior
        self.top_k = top_k
        self.top_p = top_p

    def _validate_params(self) -> None:
        self.Params(
            vocab=self.vocab,
            order=self.order,
            smoothing=self.smoothing,  # type: ignore[arg-type]
            prior=float(self.prior),
            top_k=self.top_k,
            top_p=float(self.top_p),
        )

    # --- fitting ------------------------------------------------------------------------

    def fit(self, x: Any, *, generator: torch.Generator) -> Self:
        """Count the n-grams of documents ``x`` (at least one word in all) and return self."""
        self._validate_params()
        check_generator(generator)
        documents = as_documents(x, self.vocab)
        if len(documents.tokens) == 0:
            raise ValueError("x must hold at least one word")
        tokens = documents.tokens.astype(np.int64)
        self.__dict__.pop("_cached_tables", None)
        self.levels_ = []
        for level in range(1, self.order + 1):
            history = _histories(tokens, documents.offsets, level - 1, self.vocab)
            keys = _pack(history, self.vocab) * self.vocab
            joint, counts = np.unique(keys + tokens, return_counts=True)
            contexts, first = np.unique(joint // self.vocab, return_index=True)
            totals = np.add.reduceat(counts, first) if len(first) else counts[:0]
            self.levels_.append(
                {
                    "joint": joint,
                    "cumulative": np.cumsum(counts),
                    "counts": counts,
                    "contexts": contexts,
                    "first": first,
                    "totals": totals,
                }
            )
        lengths = documents.lengths
        self.lengths_ = np.sort(lengths[lengths > 0])
        return self

    # --- probabilities ------------------------------------------------------------------

    def _probabilities(self, histories: np.ndarray, words: np.ndarray) -> np.ndarray:
        """p(words | histories) under the untruncated model; ``histories`` [m, order - 1]
        (most recent last, the start symbol = vocab)."""
        V = self.vocab
        p = np.full(len(words), 1.0 / V)
        smoothed = self.smoothing == "dirichlet"
        for level, table in enumerate(self.levels_, start=1):
            context = _pack(histories[:, histories.shape[1] - (level - 1) :], V)
            total = _lookup(table["contexts"], table["totals"], context)
            joint = _lookup(table["joint"], table["counts"], context * V + words)
            if smoothed:
                p = (joint + self.prior * p) / (total + self.prior)
            else:
                p = np.where(total > 0, joint / np.maximum(total, 1), p)
        return p

    def log_prob(self, x: Any) -> torch.Tensor:
        """Log-probability of each document's words given its length, float64 ``[n]``."""
        check_fitted(self, "levels_")
        documents = as_documents(x, self.vocab)
        tokens = documents.tokens.astype(np.int64)
        histories = _histories(tokens, documents.offsets, self.order - 1, self.vocab)
        with np.errstate(divide="ignore"):
            scores = np.log(self._probabilities(histories, tokens))
        out = np.zeros(len(documents))
        np.add.at(out, documents.document_of_token, scores)
        return torch.from_numpy(out)

    # --- sampling -----------------------------------------------------------------------

    def sample(self, n: int, *, bias: float = 1.0, generator: torch.Generator) -> Documents:
        """``n`` documents at temperature ``bias`` with the model's top-k and top-p."""
        check_fitted(self, "levels_")
        n, bias = check_sample_size(n), check_bias(bias)
        check_generator(generator)
        picks = torch.randint(len(self.lengths_), (n,), generator=generator).numpy()
        lengths = self.lengths_[picks] if n else np.zeros(0, dtype=np.int64)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        tokens = np.empty(offsets[-1], dtype=np.int64)
        history = np.full((n, self.order - 1), self.vocab, dtype=np.int64)
        exact = bias == 1.0 and self.top_k in (0, self.vocab) and self.top_p == 1.0
        for position in range(int(lengths.max()) if n else 0):
            active = np.flatnonzero(lengths > position)
            if exact:
                words = self._draw_exact(history[active], generator)
            else:
                words = self._draw_controlled(history[active], bias, generator)
            tokens[offsets[active] + position] = words
            if self.order > 1:
                history[active] = np.concatenate([history[active, 1:], words[:, None]], axis=1)
        return Documents(tokens.astype(np.int32), offsets)

    def _draw_exact(self, histories: np.ndarray, generator: torch.Generator) -> np.ndarray:
        """Next words from the untruncated model at temperature 1: the interpolation is a
        mixture, so each draw picks a level (highest first), then a word seen after that
        level's context in proportion to its count (uniform at level 0)."""
        m, V = len(histories), self.vocab
        draws = torch.rand(m, self.order + 1, generator=generator, dtype=torch.float64)
        uniforms = draws.numpy()
        words = np.minimum((uniforms[:, 0] * V).astype(np.int64), V - 1)
        undecided = np.ones(m, dtype=bool)
        for level in range(self.order, 0, -1):
            table = self.levels_[level - 1]
            context = _pack(histories[:, histories.shape[1] - (level - 1) :], V)
            slot = np.searchsorted(table["contexts"], context)
            slot = np.minimum(slot, len(table["contexts"]) - 1)
            seen = table["contexts"][slot] == context
            total = np.where(seen, table["totals"][slot], 0).astype(np.float64)
            if self.smoothing == "dirichlet":
                weight = total / (total + self.prior)  # the level's share of the mixture
            else:
                weight = (total > 0).astype(np.float64)
            chosen = undecided & seen & (uniforms[:, level] < weight)
            if chosen.any():
                start = table["first"][slot[chosen]]
                before = np.where(start > 0, table["cumulative"][start - 1], 0)
                # below the weight, the uniform divided by it is uniform again
                target = before + uniforms[chosen, level] / weight[chosen] * total[chosen]
                index = np.searchsorted(table["cumulative"], target, side="right")
                index = np.clip(index, start, start + _context_sizes(table, slot[chosen]) - 1)
                words[chosen] = table["joint"][index] % V
            undecided &= ~chosen
        return words

    def _draw_controlled(
        self, histories: np.ndarray, bias: float, generator: torch.Generator
    ) -> np.ndarray:
        """Next words with temperature, top-k and top-p: the full next-word distribution of
        each distinct history, in blocks of bounded size."""
        V = self.vocab
        uniforms = torch.rand(len(histories), generator=generator, dtype=torch.float64)
        words = np.empty(len(histories), dtype=np.int64)
        rows = max(1, _DENSE_ELEMENTS // V)
        if self.order == 1 or (self.order == 2 and (V + 1) * V <= _TABLE_ELEMENTS):
            # every context fits one table, kept per temperature for the next draws
            table = self._tables.get(bias)
            if table is None:
                cumulative = controlled_cumulative(
                    torch.from_numpy(self._every_context()), bias, self.top_k, self.top_p
                )
                # one sorted int64 array for all rows: row r's cumulative mass in units of
                # 2^-52, plus r * 2^53 (one binary search per draw, no row copied)
                offsets = torch.arange(len(cumulative), dtype=torch.int64)[:, None] << 53
                table = ((cumulative * 2.0**52).floor().long() + offsets).reshape(-1)
                self._tables[bias] = table
            context = histories[:, 0] if self.order == 2 else np.zeros(len(histories), np.int64)
            row = torch.from_numpy(context)
            target = (uniforms * 2.0**52).floor().long() + (row << 53)
            flat = torch.searchsorted(table, target, right=True)
            words[:] = (flat - row * V).clamp_(0, V - 1).numpy()
            return words
        unique, inverse = np.unique(histories, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        for start in range(0, len(unique), rows):
            block = unique[start : start + rows]
            cumulative = self._cumulative_rows(block, bias)
            mine = np.flatnonzero((inverse >= start) & (inverse < start + len(block)))
            for chunk in range(0, len(mine), rows):
                these = mine[chunk : chunk + rows]
                local = torch.from_numpy(inverse[these] - start)
                drawn = torch.searchsorted(
                    cumulative[local], uniforms[these, None].contiguous(), right=True
                )
                words[these] = drawn[:, 0].clamp_(max=V - 1).numpy()
        return words

    def _every_context(self) -> np.ndarray:
        """p(w | h) of every context h of an order-1 or order-2 model, [1 or V + 1, V]: the
        counts scattered into a dense table, then exactly the arithmetic of
        `_probabilities`."""
        V = self.vocab
        p = np.full((1, V), 1.0 / V)
        for level, table in enumerate(self.levels_, start=1):
            rows = 1 if level == 1 else V + 1
            counts = np.zeros((rows, V))
            counts.reshape(-1)[table["joint"]] = table["counts"]
            totals = np.zeros((rows, 1))
            totals[table["contexts"], 0] = table["totals"]
            if self.smoothing == "dirichlet":
                p = (counts + self.prior * p) / (totals + self.prior)
            else:
                p = np.where(totals > 0, counts / np.maximum(totals, 1), p)
        return p

    def _cumulative_rows(self, block: np.ndarray, bias: float) -> torch.Tensor:
        """Cumulative controlled next-word distributions of the histories ``block``, [m, V]."""
        V = self.vocab
        probabilities = self._probabilities(
            np.repeat(block, V, axis=0), np.tile(np.arange(V, dtype=np.int64), len(block))
        ).reshape(len(block), V)
        return controlled_cumulative(torch.from_numpy(probabilities), bias, self.top_k, self.top_p)

    @property
    def _tables(self) -> dict[float, torch.Tensor]:
        """Flat cumulative tables of every context by temperature (orders 1 and 2), a cache."""
        if "_cached_tables" not in self.__dict__:
            self._cached_tables: dict[float, torch.Tensor] = {}
        return self._cached_tables

    def __getstate__(self) -> dict[str, Any]:
        # the tables are a cache, recomputed exactly when needed: checkpoints leave them out
        return {k: v for k, v in self.__dict__.items() if k != "_cached_tables"}

    # --- state --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The count tables and training lengths (copies)."""
        check_fitted(self, "levels_")
        return {
            "levels_": [{key: value.copy() for key, value in t.items()} for t in self.levels_],
            "lengths_": self.lengths_.copy(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> Self:
        """Restore a fitted model from `state_dict` output."""
        levels, lengths = state_entries(state, ["levels_", "lengths_"])
        if not isinstance(levels, list) or len(levels) != self.order:
            raise ValueError(f"state must hold {self.order} count tables (levels_)")
        self.levels_ = [{key: np.asarray(value).copy() for key, value in t.items()} for t in levels]
        self.lengths_ = np.asarray(lengths, dtype=np.int64).copy()
        self.__dict__.pop("_cached_tables", None)
        return self


def _context_sizes(table: dict[str, np.ndarray], slots: np.ndarray) -> np.ndarray:
    """Number of distinct words seen after each context ``slots``."""
    first = table["first"]
    ends = np.append(first[1:], len(table["joint"]))
    return ends[slots] - first[slots]


def _pack(history: np.ndarray, V: int) -> np.ndarray:
    """One int64 key per row of word ids (start symbol = V), in base V + 1."""
    key = np.zeros(len(history), dtype=np.int64)
    for column in range(history.shape[1]):
        key = key * (V + 1) + history[:, column]
    return key


def _histories(tokens: np.ndarray, offsets: np.ndarray, width: int, V: int) -> np.ndarray:
    """The ``width`` words before every token (start symbol before a document), [T, width]."""
    out = np.full((len(tokens), width), V, dtype=np.int64)
    if width == 0 or len(tokens) == 0:
        return out
    lengths = np.diff(offsets)
    rank = np.arange(len(tokens)) - np.repeat(offsets[:-1], lengths)
    for back in range(1, width + 1):
        valid = rank >= back
        out[valid, width - back] = tokens[np.flatnonzero(valid) - back]
    return out


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """values[keys == query] for each query (0 where absent); ``keys`` sorted."""
    if len(keys) == 0:
        return np.zeros(len(query))
    slot = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[slot] == query, values[slot], 0).astype(np.float64)
