"""A variational autoencoder over vectors, in torch.

Core object: `VAEModel` (registered as "vae"): an MLP encoder to a diagonal Gaussian over
``latent`` dimensions, an MLP decoder to a diagonal Gaussian over the data (one learned
noise scale per dimension), a standard normal prior, trained on the evidence lower bound.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

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
    mlp,
)
from models.params import parameter
from models.registry import register

__all__ = ["VAEModel"]

_LOG_2PI = math.log(2.0 * math.pi)


class _Network(nn.Module):
    def __init__(self, d: int, latent: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = mlp(d, hidden, layers, 2 * latent)
        self.decoder = mlp(latent, hidden, layers, d)
        self.log_noise = nn.Parameter(torch.full((d,), -1.0))  # decoder noise, log std

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.encoder(x).chunk(2, dim=-1)
        return mean, log_std.clamp(-8.0, 4.0)

    def decoder_log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x | z), summed over dimensions (broadcast over leading dimensions)."""
        log_noise = self.log_noise.clamp(-7.0, 3.0)
        residual = (x - self.decoder(z)) / log_noise.exp()
        return -(0.5 * residual.square() + log_noise + 0.5 * _LOG_2PI).sum(-1)

    def elbo(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One-sample evidence lower bound of each row of x."""
        mean, log_std = self.encode(x)
        noise = torch.randn(mean.shape, generator=generator).to(mean.device)
        z = mean + log_std.exp() * noise
        kl = 0.5 * (mean.square() + (2 * log_std).exp() - 1.0 - 2 * log_std).sum(-1)
        return self.decoder_log_prob(x, z) - kl


@register("vae")
class VAEModel(NeuralVectorModel):
    """A variational autoencoder on the standardised data: encoder and decoder are MLPs of
    ``layers`` hidden layers of ``hidden`` units (SiLU); the decoder's output is the mean of
    a diagonal Gaussian whose per-dimension scale is learned.

    Fitting: ``epochs`` passes of Adam over shuffled minibatches maximising the one-sample
    evidence lower bound, initial weights and reparameterisation noise drawn from the fit's
    generator. `log_prob` is an importance-weighted estimate of the log-density
    (``importance`` draws from the encoder per point, a fixed seed, so it is a function of
    the fitted model and the point alone; it is a lower bound in expectation). Sampling with
    bias lambda is latent temperature: z ~ N(0, lambda^2 I), then the decoder's mean plus its
    noise scaled by lambda; lambda < 1 writes typical, smoother points and loses the rare
    ones; lambda = 1 samples the fitted model exactly.
    """

    class Params(NeuralParams):
        """The constructor's parameters, declared."""

        latent: int = parameter(8, "Latent dimensions", ge=1, le=4096)
        hidden: int = parameter(128, "Hidden units of the encoder and the decoder", ge=1)
        layers: int = parameter(2, "Hidden layers of the encoder and the decoder", ge=1, le=16)
        importance: int = parameter(
            64, "Encoder draws per point of the log-density estimate", ge=1, le=100_000
        )

    def __init__(
        self,
        latent: int = 8,
        hidden: int = 128,
        layers: int = 2,
        importance: int = 64,
        epochs: int = 60,
        batch_size: int = 128,
        learning_rate: float = 2e-3,
        device: str = "auto",
    ) -> None:
        self.latent = latent
        self.hidden = hidden
        self.layers = layers
        self.importance = importance
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.device = device

    def _new_network(self, d: int) -> _Network:
        return _Network(d, self.latent, self.hidden, self.layers)

    def _loss(self, network: Any, batch: torch.Tensor, generator: torch.Generator):
        return -network.elbo(batch, generator).mean()

    def sample(self, n: int, *, bias: float = 1.0, generator: torch.Generator) -> torch.Tensor:
        """n points at latent temperature ``bias``."""
        check_fitted(self, "network_")
        n, bias = check_sample_size(n), check_bias(bias)
        check_generator(generator)
        network = self.network_
        device = network.log_noise.device
        z = bias * torch.randn(n, self.latent, generator=generator)
        noise = bias * torch.randn(n, self.d_, generator=generator)
        with torch.no_grad():
            scale = network.log_noise.clamp(-7.0, 3.0).exp()
            x = network.decoder(z.to(device)) + scale * noise.to(device)
        return self.standardiser_.inverse(x)

    def log_prob(self, x: Any) -> torch.Tensor:
        """Importance-weighted log-density estimate of each row of x, float64 [n]."""
        check_fitted(self, "network_")
        data = check_dimension(as_data(x), self.d_)
        network = self.network_
        device = network.log_noise.device
        generator = torch.Generator().manual_seed(0)
        out = torch.empty(len(data), dtype=torch.float64)
        k = self.importance
        with torch.no_grad():
            for start in range(0, len(data), 256):
                rows = self.standardiser_.forward(data[start : start + 256]).to(device)
                mean, log_std = network.encode(rows)
                noise = torch.randn((k, *mean.shape), generator=generator).to(device)
                z = mean + log_std.exp() * noise
                log_q = -(0.5 * noise.square() + log_std + 0.5 * _LOG_2PI).sum(-1)
                log_prior = -(0.5 * z.square() + 0.5 * _LOG_2PI).sum(-1)
                weights = network.decoder_log_prob(rows, z).double() + (log_prior - log_q)
                out[start : start + len(rows)] = (
                    torch.logsumexp(weights.double(), dim=0) - math.log(k)
                ).cpu()
        return out - self.standardiser_.log_scale
