"""A single multivariate Gaussian with full covariance, fitted in closed form.

Core object: `GaussianModel` (registered as "gaussian"), the model of Shumailov et al.'s
"curse of recursion" Gaussian experiment.
"""

from __future__ import annotations

from typing import Any, Literal, Self

import torch

from models.base import (
    as_data,
    check_bias,
    check_dimension,
    check_fitted,
    check_generator,
    check_sample_size,
    is_finite_number,
    state_entries,
)
from models.gaussian_math import cholesky_factors, mixture_log_prob, sample_components
from models.params import ModelParams, parameter
from models.registry import register

__all__ = ["GaussianModel"]

_COVARIANCE_ESTIMATORS = {"mle": 0, "unbiased": 1}


@register("gaussian")
class GaussianModel:
    """Gaussian N(mean_, covariance_) fitted by moments; bias lambda samples N(mu, lambda*Sigma).

    covariance="mle" divides the scatter by n (ddof=0, like the np.std in Shumailov et al.'s
    code, which makes the variance shrink in expectation every generation); "unbiased" divides
    by n - 1. `ridge` is added to the covariance diagonal after estimation.
    """

    class Params(ModelParams):
        """The constructor's parameters, declared."""

        covariance: Literal["mle", "unbiased"] = parameter(
            "mle", "Covariance estimator: divide the scatter by n (mle) or n - 1 (unbiased)"
        )
        ridge: float = parameter(0.0, "Added to the covariance's diagonal", ge=0.0, le=1e6)

    def __init__(self, covariance: str = "mle", ridge: float = 0.0) -> None:
        self.covariance = covariance
        self.ridge = ridge

    def _validate_params(self) -> None:
        if self.covariance not in _COVARIANCE_ESTIMATORS:
            raise ValueError(
                f"covariance must be one of {list(_COVARIANCE_ESTIMATORS)}, got {self.covariance!r}"
            )
        if not is_finite_number(self.ridge) or self.ridge < 0:
            raise ValueError(f"ridge must be a finite float >= 0, got {self.ridge!r}")

    def fit(self, x: Any, *, generator: torch.Generator) -> Self:
        """Estimate mean and full covariance of x; the generator is unused (closed form)."""
        self._validate_params()
        check_generator(generator)
        ddof = _COVARIANCE_ESTIMATORS[self.covariance]
        data = as_data(x, min_rows=1 + ddof)
        mean = data.mean(dim=0)
        centred = data - mean
        covariance = centred.T @ centred / (data.shape[0] - ddof)
        covariance.diagonal().add_(float(self.ridge))
        self.mean_ = mean
        self.covariance_ = 0.5 * (covariance + covariance.T)
        return self

    def sample(self, n: int, *, bias: float = 1.0, generator: torch.Generator) -> torch.Tensor:
        """Draw n points from N(mean_, bias * covariance_) as float32 [n, d]."""
        check_fitted(self, "mean_")
        n, bias = check_sample_size(n), check_bias(bias)
        check_generator(generator)
        chols = cholesky_factors(self.covariance_[None])
        components = torch.zeros(n, dtype=torch.long)
        draws = sample_components(self.mean_[None], chols, components, generator, scale=bias)
        return draws.to(torch.float32).contiguous()

    def log_prob(self, x: Any) -> torch.Tensor:
        """Log-density of each row of x under the fitted Gaussian, float64 [n]."""
        check_fitted(self, "mean_")
        data = check_dimension(as_data(x, min_rows=0), self.mean_.shape[0])
        chols = cholesky_factors(self.covariance_[None])
        return mixture_log_prob(data, torch.ones(1, dtype=torch.float64), self.mean_[None], chols)

    def state_dict(self) -> dict[str, Any]:
        """Fitted mean and covariance (copies)."""
        check_fitted(self, "mean_")
        return {"mean_": self.mean_.clone(), "covariance_": self.covariance_.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> Self:
        """Restore a fitted model from `state_dict` output."""
        mean, covariance = (
            torch.as_tensor(value, dtype=torch.float64).clone()
            for value in state_entries(state, ["mean_", "covariance_"])
        )
        if mean.ndim != 1 or covariance.shape != (mean.numel(), mean.numel()):
            raise ValueError("state must hold mean_ [d] and covariance_ [d, d]")
        self.mean_, self.covariance_ = mean, covariance
        return self
