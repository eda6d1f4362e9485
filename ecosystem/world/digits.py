"""The digits world: pages are real 8x8 images of handwritten digits, models are generators
of 64-pixel vectors, and quality and diversity are measured in a fixed CNN feature space.

Core object: :class:`DigitsWorld`. Its scenario settings are the ``[digits]`` section. The
truth is the 1,797 images that ship inside scikit-learn (:mod:`ecosystem.world.digit_features`),
split once into images human pages are drawn from and held-out images of the metrics'
reference; the ten digits are the topics, with Zipf popularity (digit 0 the most popular).
The truth has no likelihood: a page's score (:meth:`DigitsWorld.log_prob`, the quality
that search ranks by) is the classifier's log-probability of the digit it sees, and the
metrics have no log-likelihood.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch

from ecosystem.measure.catalogue import content_metric_names
from ecosystem.measure.metrics import Reference, frechet_distance, knn_metrics, topic_metrics
from ecosystem.world.content import DenseStore
from ecosystem.world.culture import draw_topics, tail_mask, zipf_weights
from ecosystem.world.digit_features import (
    SIDE,
    DigitClassifier,
    real_digits,
    shift,
    split,
    trained_classifier,
)
from ecosystem.world.vectors import assist_toward
from models.base import GenerativeModel
from models.devices import resolve_device

if TYPE_CHECKING:
    from ecosystem.scenario import MetricSettings, Scenario

__all__ = ["DigitsWorld", "ImagePool"]

_BATCH = 2048
"""Images per forward pass of the classifier."""


class ImagePool:
    """Images grouped by digit, to draw from: float32 ``[n, 64]`` and their labels."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        labels = labels.long()
        self.counts = torch.bincount(labels, minlength=10)
        if bool((self.counts == 0).any()):
            raise ValueError("every digit needs at least one image to draw pages from")
        order = torch.argsort(labels, stable=True)
        self.images = images.float()[order].contiguous()
        self.starts = torch.cumsum(self.counts, 0) - self.counts

    def __len__(self) -> int:
        return len(self.images)

    def draw(self, digits: torch.Tensor, generator: torch.Generator, augment: bool) -> torch.Tensor:
        """One image of each of ``digits``, uniformly among that digit's images, translated
        by up to one pixel (:func:`~ecosystem.world.digit_features.shift`) when ``augment``."""
        if len(digits) == 0:
            return torch.empty(0, SIDE * SIDE)
        counts = self.counts[digits]
        picks = (torch.rand(len(digits), generator=generator) * counts).long()
        images = self.images[self.starts[digits] + picks.minimum(counts - 1)]
        return (shift(images, generator) if augment else images).contiguous()


class DigitsWorld:
    """Real images of digits: human pages drawn with replacement from the training images of
    a digit chosen by popularity (translated by up to one pixel when ``augment``), the
    held-out images, each once (shifted once when ``augment``), as the metrics' reference
    (duplicates would shrink its k-NN balls to the copies; the Fréchet moments weight each
    image by its digit's popularity), and a classifier whose penultimate
    layer is the feature space of the k-NN metrics and the Fréchet distance (the FID of
    digits) and whose prediction assigns the topic."""

    name: ClassVar[str] = "digits"
    models: ClassVar[tuple[str, ...]] = ("diffusion", "flow", "gaussian", "gmm", "kde", "vae")
    metric_names: ClassVar[tuple[str, ...]] = content_metric_names("digits")
    readable: ClassVar[bool] = False
    pictured: ClassVar[bool] = True

    def __init__(
        self,
        weights: torch.Tensor,
        *,
        pool: ImagePool,
        classifier: DigitClassifier,
        accuracy: float,
        reference_images: torch.Tensor,
        reference_labels: torch.Tensor,
        tail_threshold: float = 0.8,
        augment: bool = True,
        reference_k: int = 5,
        metrics_device: str | torch.device = "cpu",
    ) -> None:
        self.weights = weights.double()
        self.tail_mask = tail_mask(self.weights, tail_threshold)
        self.pool = pool
        self.device = resolve_device(metrics_device)
        # the features are computed where the metrics run (a copy: the cached one stays put)
        self.classifier = (
            classifier if self.device.type == "cpu" else copy.deepcopy(classifier).to(self.device)
        )
        self.accuracy = accuracy
        self.augment = augment
        self.store = DenseStore(SIDE * SIDE)
        if augment:  # the reference looks like human pages: each image shifted once
            reference_images = shift(reference_images, torch.Generator().manual_seed(0))
        self.reference_images = reference_images
        # each held-out image stands for its digit's popularity in the Fréchet moments
        labels = reference_labels.long()
        weights = self.weights[labels] / torch.bincount(labels, minlength=10)[labels]
        self.reference = Reference(
            self.features(reference_images).double(),
            k=reference_k,
            weights=weights,
            device=self.device,
        )

    @classmethod
    def from_scenario(cls, scenario: Scenario, generator: torch.Generator) -> DigitsWorld:
        """The scenario's digits (its ``[digits]`` section): the split and the classifier
        are fixed by ``classifier_seed`` (``generator`` is not drawn from: the truth is the
        same in every run)."""
        settings = scenario.digits
        images, labels = real_digits()
        train_rows, test_rows = split(settings.held_out, settings.classifier_seed)
        classifier, accuracy = trained_classifier(
            settings.held_out, settings.classifier_seed, settings.classifier_epochs
        )
        return cls(
            zipf_weights(10, settings.zipf),
            pool=ImagePool(images[train_rows], labels[train_rows]),
            classifier=classifier,
            accuracy=accuracy,
            reference_images=images[test_rows],
            reference_labels=labels[test_rows],
            tail_threshold=settings.tail_threshold,
            augment=settings.augment,
            reference_k=scenario.metrics.k,
            metrics_device=resolve_device(scenario.metrics.device, "metrics.device"),
        )

    # --- the truth --------------------------------------------------------------------

    @property
    def topics(self) -> int:
        """The ten digits."""
        return 10

    @property
    def head_mask(self) -> torch.Tensor:
        """The popular digits, bool ``[10]``."""
        return ~self.tail_mask

    def sample(
        self, n: int, generator: torch.Generator, topics: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` human pages (float32 ``[n, 64]``, pixels in [0, 1]) and their digits: each
        a training image of its digit drawn uniformly, then translated when ``augment``."""
        digits = draw_topics(self.weights, n, generator, topics)
        return self.pool.draw(digits, generator, self.augment), digits

    def _classify(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features float32 ``[n, 64]`` and class log-probabilities float64 ``[n, 10]``."""
        features, logits = [], []
        with torch.no_grad():
            for start in range(0, len(batch), _BATCH):
                chunk = self.classifier.features(batch[start : start + _BATCH].to(self.device))
                features.append(chunk.cpu())
                logits.append(self.classifier.classes(chunk).cpu())
        if not features:
            return torch.empty(0, SIDE * SIDE), torch.empty(0, 10, dtype=torch.float64)
        return torch.cat(features), torch.cat(logits).double().log_softmax(dim=1)

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        """The classifier's features of each image, float32 ``[n, 64]``."""
        return self._classify(self.store.as_batch(batch))[0]

    def log_prob(self, batch: torch.Tensor) -> torch.Tensor:
        """Each page's score, float64 ``[n]``: the classifier's log-probability of the digit
        it sees (0 for an unmistakable digit). Not a likelihood: the truth has none."""
        return self._classify(self.store.as_batch(batch))[1].max(dim=1).values

    def assign(self, batch: torch.Tensor) -> torch.Tensor:
        """The digit the classifier sees in each image, long ``[n]``."""
        return self._classify(self.store.as_batch(batch))[1].argmax(dim=1)

    # --- metrics, writing, pictures ---------------------------------------------------

    def evaluate(
        self,
        batch: torch.Tensor,
        settings: MetricSettings,
        *,
        ids: np.ndarray | None = None,
        memo: dict | None = None,
        model: GenerativeModel | None = None,
    ) -> dict[str, float]:
        """Precision, recall, density and coverage against the held-out reference and the
        Fréchet distance, all in the classifier's feature space, and the digits kept (topic
        coverage, tail mass ratio, topic entropy) by the classifier's assignment."""
        results = dict.fromkeys(self.metric_names, float("nan"))
        if len(batch) == 0:
            return results
        features, log_probabilities = self._classify(self.store.as_batch(batch))
        features = features.double()
        results |= knn_metrics(self.reference, features, self.reference.k, ids=ids, memo=memo)
        if len(features) >= 2:
            results["frechet"] = frechet_distance(self.reference, features)
        assigned = log_probabilities.argmax(dim=1)
        results |= topic_metrics(self, assigned, settings.min_topic_fraction)
        return {name: float(results[name]) for name in self.metric_names}

    def assist(
        self,
        drafts: torch.Tensor,
        generative: GenerativeModel,
        strength: float,
        generator: torch.Generator,
        *,
        bias: float = 1.0,
    ) -> torch.Tensor:
        """Drafts moved toward the nearest of the model's images (pixel space, as
        :func:`~ecosystem.world.vectors.assist_toward` does for vectors)."""
        return assist_toward(drafts, generative, strength, generator, bias=bias)

    def excerpt(self, batch: torch.Tensor, count: int, words: int) -> list[str]:
        """No text: the pages are pictures."""
        return []

    def picture(self, batch: torch.Tensor, count: int) -> np.ndarray:
        """The first ``count`` images as uint8 ``[m, 8, 8]`` ink levels (pixels clipped to
        [0, 1], then times 255)."""
        images = self.store.as_batch(batch)[:count].clamp(0.0, 1.0)
        return (images * 255).round().to(torch.uint8).view(-1, SIDE, SIDE).numpy()

    def __repr__(self) -> str:
        return (
            f"DigitsWorld(pool={len(self.pool)}, reference={len(self.reference)}, "
            f"classifier accuracy={self.accuracy:.3f}, tail digits="
            f"{torch.nonzero(self.tail_mask)[:, 0].tolist()})"
        )
