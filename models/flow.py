"""A normalizing flow over vectors: a neural spline flow from the `zuko` library.

Core object: `FlowModel` (registered as "flow"). Zuko keeps its flows as torch modules
whose forward pass returns a distribution, is maintained and tested, and offers rational-
quadratic spline transforms; the model builds its `zuko.flows.NSF`, trains it by maximum
likelihood and samples by pushing its own Gaussian draws through the inverse transform, so
every draw comes from the caller's generator.
"""

from __future__ import annotations

from typing import Any

import torch
import zuko

from models.base import (
    as_data,
    check_bias,
    check_dimension,
    check_fitted,
    check_generator,
    check_sample_size,
)
from models.neural import (
    NeuralParams,
    NeuralVectorModel,
)
from models.params import parameter
from models.registry import register

__all__ = ["FlowModel"]


@register("flow")
class FlowModel(NeuralVectorModel):
    """A neural spline flow (zuko's `NSF`: ``transforms`` rational-quadratic spline
    transforms of ``bins`` bins, each a coupling layer whose spline parameters come from an
    MLP of ``hidden`` units x ``layers`` on the other half of the dimensions, halves
    alternating), on the standardised data.

    Fitting: ``epochs`` passes of Adam over shuffled minibatches minimising the negative
    log-likelihood, initial weights drawn from the fit's generator. `log_prob` is the exact
    log-density in the data's units. Sampling with bias lambda is latent temperature: the
    base Gaussian draws are scaled by lambda before the inverse transform, so lambda < 1
    writes points near the modes (fidelity) and loses the outskirts (diversity); lambda = 1
    samples the fitted flow exactly.
    """

    class Params(NeuralParams):
        """The constructor's parameters, declared."""

        transforms: int = parameter(4, "Spline coupling transforms", ge=1, le=64)
        bins: int = parameter(8, "Bins of each rational-quadratic spline", ge=2, le=256)
        hidden: int = parameter(64, "Hidden units of each transform's network", ge=1, le=8192)
        layers: int = parameter(2, "Hidden layers of each transform's network", ge=1, le=16)
        epochs: int = parameter(40, "Passes over the training data per fit", ge=1, le=100_000)
        batch_size: int = parameter(256, "Points per optimisation step", ge=1, le=1_000_000)

    def __init__(
        self,
        transforms: int = 4,
        bins: int = 8,
        hidden: int = 64,
        layers: int = 2,
        epochs: int = 40,
        batch_size: int = 256,
        learning_rate: float = 2e-3,
        device: str = "auto",
    ) -> None:
        self.transforms = transforms
        self.bins = bins
        self.hidden = hidden
        self.layers = layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.device = device

    def _new_network(self, d: int) -> zuko.flows.NSF:
        return zuko.flows.NSF(
            d,
            bins=self.bins,
            transforms=self.transforms,
            passes=2,  # coupling: the inverse (sampling) costs one pass, like the density
            hidden_features=[self.hidden] * self.layers,
        )

    def _loss(self, network: Any, batch: torch.Tensor, generator: torch.Generator):
        return -network().log_prob(batch).mean()

    def sample(self, n: int, *, bias: float = 1.0, generator: torch.Generator) -> torch.Tensor:
        """n points: base draws scaled by ``bias``, through the inverse transform."""
        check_fitted(self, "network_")
        n, bias = check_sample_size(n), check_bias(bias)
        check_generator(generator)
        device = self._device
        z = bias * torch.randn(n, self.d_, generator=generator)
        with torch.no_grad():
            x = self.network_().transform.inv(z.to(device)) if n else z
        return self.standardiser_.inverse(x)

    def log_prob(self, x: Any) -> torch.Tensor:
        """Exact log-density of each row of x in the data's units, float64 [n]."""
        check_fitted(self, "network_")
        data = check_dimension(as_data(x), self.d_)
        device = self._device
        with torch.no_grad():
            scores = self.network_().log_prob(self.standardiser_.forward(data).to(device))
        return scores.cpu().double() - self.standardiser_.log_scale
