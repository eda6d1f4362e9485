"""A denoising diffusion model over vectors (DDPM), in torch.

Core object: `DiffusionModel` (registered as "diffusion"): an MLP that predicts the noise
added to a point at step t of a cosine noise schedule, trained on the simple noise-matching
loss, sampled by the ancestral sampler and scored by the variational bound.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import nn

from models.base import (
    as_data,
    check_bias,
    check_dimension,
    check_fitted,
    check_generator,
    check_sample_size,
    state_entries,
)
from models.neural import (
    NeuralParams,
    NeuralVectorModel,
    mlp,
)
from models.params import parameter
from models.registry import register

__all__ = ["DiffusionModel", "cosine_schedule"]

_FREQUENCIES = 16
"""Sinusoidal frequencies of the step embedding."""


def cosine_schedule(steps: int) -> torch.Tensor:
    """The noise levels beta_1 .. beta_T (float64 [T]) of the cosine schedule (Nichol and
    Dhariwal 2021): alpha-bar_t = f(t) / f(0) with f(t) = cos^2((t / T + 0.008) / 1.008 *
    pi / 2), each beta clipped at 0.999."""
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + 0.008) / 1.008 * math.pi / 2).square()
    alpha_bar = f / f[0]
    return (1.0 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)


class _Denoiser(nn.Module):
    """epsilon_theta(x_t, t): an MLP on the point and a sinusoidal embedding of t / T."""

    def __init__(self, d: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.frequencies: torch.Tensor
        self.register_buffer(
            "frequencies", torch.exp(torch.linspace(0.0, math.log(1000.0), _FREQUENCIES))
        )
        self.net = mlp(d + 2 * _FREQUENCIES, hidden, layers, d)

    def forward(self, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """Predicted noise of x [n, d] at noise levels ``level`` = t / T [n]."""
        angles = level[:, None] * self.frequencies
        return self.net(torch.cat([x, angles.sin(), angles.cos()], dim=1))


@register("diffusion")
class DiffusionModel(NeuralVectorModel):
    """A DDPM on the standardised data with an MLP denoiser (``layers`` hidden layers of
    ``hidden`` units, SiLU, the step given as a sinusoidal embedding).

    Noise schedule: ``steps`` steps of the cosine schedule (`cosine_schedule`). Fitting:
    ``epochs`` passes of Adam over shuffled minibatches of the noise-matching loss
    ||eps - eps_theta(sqrt(abar_t) x + sqrt(1 - abar_t) eps, t)||^2 with t uniform, initial
    weights, steps and noise drawn from the fit's generator. Sampler (``sampler =
    "ancestral"``): DDPM's, from x_T ~ N(0, lambda^2 I) through x_{t-1} = (x_t - beta_t /
    sqrt(1 - abar_t) eps_theta) / sqrt(alpha_t) + s_t sigma_t z with the posterior variance
    sigma_t^2 = beta_t (1 - abar_{t-1}) / (1 - abar_t), no noise at the last step, and s_t =
    lambda on the coarse half of the steps (t > T/2) and 1 on the fine half. ``"ddim"`` is
    the deterministic DDIM sampler (eta = 0) from the same x_T. Either way the mean is
    computed from the predicted clean point, clipped to the training data's range widened
    by one standard deviation on each side (DDPM's "clip denoised": at the noisiest steps
    the division by sqrt(abar_t) would otherwise amplify the denoiser's error without
    bound). The bias lambda is this noise temperature of the coarse steps: lambda < 1
    concentrates which shapes are drawn on the modes (precision kept, rare shapes and
    spread lost: recall), while the fine steps keep their noise and so their detail
    (scaling every step's noise instead blurs the images toward the mean image);
    lambda = 1 samples the fitted model. `log_prob` is the variational lower bound on the
    log-density (prior term, every step's Gaussian KL term and the Gaussian decoder at
    step 1 with variance beta_1), each step's expectation estimated with one noise draw of
    a fixed seed, so it is a function of the model and the point.
    """

    class Params(NeuralParams):
        """The constructor's parameters, declared."""

        steps: int = parameter(100, "Diffusion steps T of the noise schedule", ge=2, le=10_000)
        hidden: int = parameter(256, "Hidden units of the denoiser", ge=1, le=16_384)
        layers: int = parameter(3, "Hidden layers of the denoiser", ge=1, le=32)
        sampler: Literal["ancestral", "ddim"] = parameter(
            "ancestral",
            "ancestral: DDPM's stochastic sampler; ddim: the deterministic DDIM sampler "
            "(eta = 0), where the bias scales only the starting noise",
        )

    def __init__(
        self,
        steps: int = 100,
        hidden: int = 256,
        layers: int = 3,
        sampler: str = "ancestral",
        epochs: int = 60,
        batch_size: int = 128,
        learning_rate: float = 2e-3,
        device: str = "auto",
    ) -> None:
        self.steps = steps
        self.hidden = hidden
        self.layers = layers
        self.sampler = sampler
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.device = device

    def _new_network(self, d: int) -> _Denoiser:
        return _Denoiser(d, self.hidden, self.layers)

    def _schedule(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        beta = cosine_schedule(self.steps)
        alpha_bar = torch.cumprod(1.0 - beta, dim=0)
        return beta.float().to(device), (1.0 - beta).float().to(device), alpha_bar.to(device)

    def _loss(self, network: Any, batch: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        _, _, alpha_bar = self._schedule(batch.device)
        t = torch.randint(self.steps, (len(batch),), generator=g).to(batch.device)
        noise = torch.randn(batch.shape, generator=g).to(batch.device)
        a = alpha_bar[t].float()[:, None]
        noisy = a.sqrt() * batch + (1.0 - a).sqrt() * noise
        return (network(noisy, (t + 1).float() / self.steps) - noise).square().sum(1).mean()

    def _after_fit(self, standardised: torch.Tensor) -> None:
        data = standardised.double()
        self.range_ = torch.stack([data.min(0).values - 1, data.max(0).values + 1])

    def _extra_state(self) -> dict[str, Any]:
        return {"range": self.range_}

    def _load_extra(self, state: dict[str, Any]) -> None:
        (self.range_,) = state_entries(state, ["range"])

    def sample(self, n: int, *, bias: float = 1.0, generator: torch.Generator) -> torch.Tensor:
        """n points by the ancestral sampler at noise temperature ``bias``."""
        check_fitted(self, "network_")
        n, bias = check_sample_size(n), check_bias(bias)
        check_generator(generator)
        network = self.network_
        device = next(network.parameters()).device
        beta, alpha, alpha_bar = (v.double() for v in self._schedule(device))
        previous = torch.cat([torch.ones(1, dtype=torch.float64, device=device), alpha_bar[:-1]])
        low, high = self.range_[0].to(device), self.range_[1].to(device)
        x = (bias * torch.randn(n, self.d_, generator=generator, dtype=torch.float64)).to(device)
        with torch.no_grad():
            for t in range(self.steps - 1, -1, -1):
                level = torch.full((n,), (t + 1) / self.steps, device=device)
                eps = network(x.float(), level).double()
                start = (x - (1 - alpha_bar[t]).sqrt() * eps) / alpha_bar[t].sqrt()
                start = torch.maximum(torch.minimum(start, high), low)
                if self.sampler == "ddim":  # x_{t-1} from the clipped start and its noise
                    eps = (x - alpha_bar[t].sqrt() * start) / (1 - alpha_bar[t]).sqrt()
                    x = previous[t].sqrt() * start + (1 - previous[t]).sqrt() * eps
                    continue
                x = (
                    previous[t].sqrt() * beta[t] * start + alpha[t].sqrt() * (1 - previous[t]) * x
                ) / (1 - alpha_bar[t])
                if t > 0:
                    variance = beta[t] * (1 - previous[t]) / (1 - alpha_bar[t])
                    z = torch.randn(n, self.d_, generator=generator, dtype=torch.float64)
                    scale = bias if t >= self.steps // 2 else 1.0  # coarse steps only
                    x = x + scale * variance.sqrt() * z.to(device)
        return self.standardiser_.inverse(x)

    def log_prob(self, x: Any) -> torch.Tensor:
        """The variational lower bound on the log-density of each row of x, float64 [n]."""
        check_fitted(self, "network_")
        data = check_dimension(as_data(x), self.d_)
        network = self.network_
        device = next(network.parameters()).device
        beta, alpha, alpha_bar = (v.double() for v in self._schedule(device))
        generator = torch.Generator().manual_seed(0)
        out = torch.empty(len(data), dtype=torch.float64)
        d = self.d_
        with torch.no_grad():
            for start in range(0, len(data), 1024):
                x0 = self.standardiser_.forward(data[start : start + 1024]).double().to(device)
                last = alpha_bar[-1]
                bound = -0.5 * ((1 - last) + last * x0.square() - 1 - (1 - last).log()).sum(1)
                for t in range(self.steps):
                    noise = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
                    noise = noise.to(device)
                    noisy = alpha_bar[t].sqrt() * x0 + (1 - alpha_bar[t]).sqrt() * noise
                    level = torch.full((len(x0),), (t + 1) / self.steps, device=device)
                    error = (network(noisy.float(), level).double() - noise).square().sum(1)
                    if t == 0:  # the decoder N(mu_theta(x_1), beta_1 I)
                        bound -= 0.5 * (error / alpha[0] + d * torch.log(2 * math.pi * beta[0]))
                    else:
                        posterior = beta[t] * (1 - alpha_bar[t - 1]) / (1 - alpha_bar[t])
                        weight = beta[t].square() / (2 * posterior * alpha[t] * (1 - alpha_bar[t]))
                        bound -= weight * error
                out[start : start + len(x0)] = bound.cpu()
        return out - self.standardiser_.log_scale
