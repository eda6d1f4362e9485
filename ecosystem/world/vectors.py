"""The vector world: content as points of a Gaussian-topic culture (the first :class:`World`).

Core objects: :class:`VectorWorld` (a :class:`~ecosystem.world.culture.Culture` with a
:class:`~ecosystem.world.content.DenseStore`, the dense models, the nine k-NN and topic
metrics of :mod:`ecosystem.measure.metrics`, and assisted writing) and :func:`assist_toward`
(how an AI-assisted vector is written). Its scenario settings are the ``[culture]`` section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from ecosystem.measure.metrics import METRIC_NAMES, evaluate
from ecosystem.world.content import DenseStore
from ecosystem.world.culture import Culture
from models.base import GenerativeModel
from models.devices import resolve_device

if TYPE_CHECKING:
    from ecosystem.scenario import MetricSettings, Scenario

__all__ = ["ASSIST_CANDIDATES", "VectorWorld", "assist_toward"]

ASSIST_CANDIDATES = 8
"""Model samples an assisted page chooses its nearest from."""


def assist_toward(
    drafts: torch.Tensor,
    generative: GenerativeModel,
    strength: float,
    generator: torch.Generator,
    *,
    bias: float = 1.0,
) -> torch.Tensor:
    """AI-assisted pages: each human draft moves a share ``strength`` of the way
    toward the closest of a few of the model's outputs.

    The closest of ``ASSIST_CANDIDATES`` model samples stands for what the
    model would write on the draft's subject, so assisted pages inherit the
    model's blind spots: where it has lost a topic, the nearest output is far
    away and the page is pulled off its topic.
    """
    n, dim = drafts.shape
    if n == 0 or strength == 0:
        return drafts
    candidates = generative.sample(n * ASSIST_CANDIDATES, bias=bias, generator=generator)
    candidates = candidates.view(n, ASSIST_CANDIDATES, dim)
    nearest = ((candidates - drafts[:, None, :]) ** 2).sum(-1).argmin(dim=1)
    chosen = candidates[torch.arange(n), nearest]
    return (1 - strength) * drafts + strength * chosen


class VectorWorld(Culture):
    """Dense content vectors drawn from a Zipf-weighted Gaussian mixture of topics.

    Build one with :meth:`from_scenario` (the ``[culture]`` section), :meth:`generate` or
    from a culture's parameters; everything of :class:`Culture` holds.
    """

    name: ClassVar[str] = "vectors"
    models: ClassVar[tuple[str, ...]] = ("diffusion", "flow", "gaussian", "gmm", "kde", "vae")
    metric_names: ClassVar[tuple[str, ...]] = METRIC_NAMES
    readable: ClassVar[bool] = False
    pictured: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.store = DenseStore(self.dim)

    @classmethod
    def from_scenario(cls, scenario: Scenario, generator: torch.Generator) -> VectorWorld:
        """The scenario's culture, drawn from ``generator``."""
        return cls.generate(
            generator,
            **scenario.culture.model_dump(),
            reference_k=scenario.metrics.k,
            metrics_device=resolve_device(scenario.metrics.device, "metrics.device"),
        )

    @property
    def head_mask(self) -> torch.Tensor:
        """The head topics, bool ``[K]``."""
        return ~self.tail_mask

    def evaluate(
        self,
        batch: torch.Tensor,
        settings: MetricSettings,
        *,
        ids: np.ndarray | None = None,
        memo: dict | None = None,
        model: GenerativeModel | None = None,
    ) -> dict[str, float]:
        """The nine metrics of :data:`~ecosystem.measure.metrics.METRIC_NAMES` against the
        reference sample; ``memo`` keeps the k-NN distances of the items by their ``ids``
        (the ``model`` a sample came from changes none of them)."""
        return evaluate(
            self,
            batch,
            k=settings.k,
            min_topic_fraction=settings.min_topic_fraction,
            ids=ids,
            memo=memo,
        )

    def assist(
        self,
        drafts: torch.Tensor,
        generative: GenerativeModel,
        strength: float,
        generator: torch.Generator,
        *,
        bias: float = 1.0,
    ) -> torch.Tensor:
        """Drafts moved toward the nearest of the model's samples (:func:`assist_toward`)."""
        return assist_toward(drafts, generative, strength, generator, bias=bias)

    def excerpt(self, batch: torch.Tensor, count: int, words: int) -> list[str]:
        """No text: content vectors do not read as words."""
        return []

    def picture(self, batch: torch.Tensor, count: int) -> np.ndarray:
        """No pictures: content vectors are not images."""
        return np.zeros((0, 0, 0), dtype=np.uint8)

    def __repr__(self) -> str:
        return "VectorWorld" + super().__repr__().removeprefix("Culture")
