"""The text world: pages are documents and companies train language models (a :class:`World`).

Core objects: :class:`TextWorld` (a :class:`~ecosystem.world.language.Language` with a
:class:`~ecosystem.world.documents.DocumentStore`, the language models, the text metrics of
:mod:`ecosystem.measure.text_metrics` plus the k-NN metrics on a fixed bag-of-words
embedding, and assisted writing) and :func:`rewrite_positions` (how an AI-assisted document
is written). Its scenario settings are the ``[text]`` section.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from ecosystem.measure.catalogue import content_metric_names
from ecosystem.measure.metrics import Reference, knn_metrics, topic_metrics
from ecosystem.measure.text_metrics import (
    BagOfWords,
    distinct_n,
    distinct_words,
    perplexity,
    tail_word_mass_ratio,
    unigram_divergence,
    vocabulary_coverage,
    word_histogram,
)
from ecosystem.world.documents import DocumentStore
from ecosystem.world.language import Language
from models.base import GenerativeModel
from models.devices import resolve_device
from models.documents import Documents

if TYPE_CHECKING:
    from ecosystem.scenario import MetricSettings, Scenario

__all__ = ["TextWorld", "rewrite_positions"]


def rewrite_positions(
    drafts: Documents,
    generative: GenerativeModel,
    strength: float,
    generator: torch.Generator,
    *,
    bias: float = 1.0,
) -> Documents:
    """AI-assisted documents: the model writes one document per draft (at temperature
    ``bias``), and each word of the draft is replaced, with probability ``strength``, by the
    model's word at the same position (cycling through the model's document when it is
    shorter). The draft keeps its length and the words left alone, so assisted pages carry
    the model's vocabulary into human text in proportion to ``strength``."""
    if len(drafts) == 0 or strength == 0:
        return drafts
    written: Any = generative.sample(len(drafts), bias=bias, generator=generator)
    if not isinstance(written, Documents):
        raise ValueError(f"a text world's model must sample Documents, got {type(written)}")
    lengths = drafts.lengths
    rank = np.arange(len(drafts.tokens)) - np.repeat(drafts.offsets[:-1], lengths)
    document = drafts.document_of_token
    source = written.offsets[document] + rank % np.maximum(written.lengths[document], 1)
    replace = torch.rand(len(drafts.tokens), generator=generator).numpy() < strength
    replace &= written.lengths[document] > 0
    tokens = drafts.tokens.copy()
    tokens[replace] = written.tokens[source[replace]]
    return Documents(tokens, drafts.offsets.copy())


class TextWorld(Language):
    """Documents written in a language of topics (see :mod:`ecosystem.world.language`).

    The held-out ``reference`` documents are what a model's perplexity is measured on; their
    bag-of-words embeddings (``embedding``) are the real sample of the k-NN metrics.
    """

    name: ClassVar[str] = "text"
    models: ClassVar[tuple[str, ...]] = ("ngram", "transformer")
    metric_names: ClassVar[tuple[str, ...]] = content_metric_names("text")
    readable: ClassVar[bool] = True
    pictured: ClassVar[bool] = False

    def __init__(
        self,
        *args: Any,
        reference_documents: Documents,
        embedding: BagOfWords,
        reference_k: int = 5,
        metrics_device: str | torch.device = "cpu",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.store = DocumentStore(self.vocab)
        self.reference_documents = reference_documents
        self.embedding = embedding
        self.reference = Reference(
            embedding(reference_documents), k=reference_k, device=metrics_device
        )

    @classmethod
    def from_scenario(cls, scenario: Scenario, generator: torch.Generator) -> TextWorld:
        """The scenario's language (its ``[text]`` section), drawn from ``generator``: the
        language, then the reference documents, then the embedding's basis."""
        settings = scenario.text.model_dump()
        reference_size = settings.pop("reference_size")
        dim = settings.pop("embedding_dim")
        language = Language.generate(generator, **settings)
        reference, _ = language.sample(reference_size, generator)
        embedding = BagOfWords(language.vocab, dim, generator)
        return cls(
            language.weights,
            language.unigrams,
            language.clusters,
            stickiness=language.stickiness,
            mean_length=language.mean_length,
            words=language.words,
            word_source=language.word_source,
            tail_threshold=language.tail_threshold,
            reference_documents=reference,
            embedding=embedding,
            reference_k=scenario.metrics.k,
            metrics_device=resolve_device(scenario.metrics.device, "metrics.device"),
        )

    def evaluate(
        self,
        batch: Documents,
        settings: MetricSettings,
        *,
        ids: np.ndarray | None = None,
        memo: dict | None = None,
        model: Any = None,
    ) -> dict[str, float]:
        """Every metric of :attr:`metric_names`: quality (per-word log-likelihood under the
        truth), the vocabulary kept, distinct-n, the unigram divergence, the topics kept, the
        k-NN metrics of the embeddings and, given the ``model`` the batch came from, its
        perplexity on the reference documents. ``memo`` keeps the k-NN distances by ``ids``."""
        results = dict.fromkeys(self.metric_names, math.nan)
        if model is not None:
            results["perplexity"] = perplexity(model, self.reference_documents)
        if len(batch) == 0:
            return results
        histogram = word_histogram(batch, self.vocab)
        weights = self.word_weights.numpy()
        joint = self.topic_log_likelihoods(batch) + self.weights.log()  # once for both uses
        words = int(batch.lengths.sum())
        scores = torch.logsumexp(joint, dim=1).sort().values  # sorted: order-free sums
        results |= {
            "word_log_likelihood": float(scores.sum()) / words if words else math.nan,
            "vocabulary_coverage": vocabulary_coverage(
                histogram, weights, settings.min_topic_fraction
            ),
            "tail_word_mass_ratio": tail_word_mass_ratio(
                histogram, weights, self.word_tail_mask.numpy()
            ),
            "distinct_words": distinct_words(batch),
            "distinct_2": distinct_n(batch, 2),
            "distinct_3": distinct_n(batch, 3),
            "unigram_divergence": unigram_divergence(histogram, weights),
        }
        points = self.embedding(batch)
        results |= knn_metrics(self.reference, points, self.reference.k, ids=ids, memo=memo)
        results |= topic_metrics(self, joint.argmax(dim=1), settings.min_topic_fraction)
        return {name: float(results[name]) for name in self.metric_names}

    def excerpt(self, batch: Documents, count: int, words: int) -> list[str]:
        """The first ``count`` documents of ``batch`` as text, each cut after ``words``
        words (marked with an ellipsis)."""
        texts = []
        for i in range(min(count, len(batch))):
            document = batch.document(i)
            text = self.text(document[:words])
            texts.append(text + " …" if len(document) > words else text)
        return texts

    def picture(self, batch: Documents, count: int) -> np.ndarray:
        """No pictures: documents are read, not looked at."""
        return np.zeros((0, 0, 0), dtype=np.uint8)

    def assist(
        self,
        drafts: Documents,
        generative: GenerativeModel,
        strength: float,
        generator: torch.Generator,
        *,
        bias: float = 1.0,
    ) -> Documents:
        """Drafts with a share ``strength`` of their words rewritten by the model
        (:func:`rewrite_positions`)."""
        return rewrite_positions(drafts, generative, strength, generator, bias=bias)

    def __repr__(self) -> str:
        return "TextWorld" + super().__repr__().removeprefix("Language")
