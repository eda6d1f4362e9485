"""Gaussian kernel density estimate with an isotropic bandwidth (Gerstgrasser et al., 2024).

Core object: `KernelDensityModel` (registered as "kde").
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Self

import annotated_types
import torch

from models.base import (
    as_data,
    check_bias,
    check_dimension,
    check_fitted,
    check_generator,
    check_sample_size,
    is_finite_number,
    is_integer,
    state_entries,
)
from models.categorical import draw_categorical, temperature_weights
from models.gaussian_math import chunk_rows, logsumexp_columns_
from models.params import ModelParams, parameter
from models.registry import register

__all__ = ["KernelDensityModel"]

_BANDWIDTH_RULES = ("scott", "silverman")
_MIN_BANDWIDTH = 1e-12
"""Floor so that fully collapsed data (zero spread) still gives a valid, very peaked density."""


@register("kde")
class KernelDensityModel:
    """KDE p(x) = (1/m) sum_i N(x; x_i, h^2 I) over m stored training points.

    Fitting stores the data (a random subsample of `max_points` drawn with the generator when
    n is larger) and the bandwidth h: a positive float, or a rule applied to the stored points,
    "scott": h = m^(-1/(d+4)) * s, or "silverman": h = (m(d+2)/4)^(-1/(d+4)) * s, where s is the
    average per-dimension standard deviation (ddof=1); h is floored at 1e-12.

    Sampling with bias lambda approximates temperature sampling from p^(1/lambda): stored point
    i is picked with probability proportional to p_loo(x_i)^(1/lambda - 1), p_loo being the
    leave-one-out density at x_i (computed once, lazily, and cached), and N(0, lambda h^2 I)
    noise is added. lambda = 1 picks points uniformly, i.e. samples the KDE exactly.
    """

    class Params(ModelParams):
        """The constructor's parameters, declared."""

        bandwidth: (
            Annotated[float, annotated_types.Ge(_MIN_BANDWIDTH), annotated_types.Le(1e6)]
            | Literal["scott", "silverman"]
        ) = parameter("scott", "Kernel bandwidth h: a number, or the rule that chooses it")
        max_points: int = parameter(
            20000,
            "Most training points stored (a random subsample of larger data)",
            ge=1,
            le=1_000_000,
        )

    # The leave-one-out log-densities of the stored points, None until first needed.
    _loo_log_density: torch.Tensor | None

    def __init__(self, bandwidth: float | str = "scott", max_points: int = 20000) -> None:
        self.bandwidth = bandwidth
        self.max_points = max_points

    def _validate_params(self) -> None:
        if isinstance(self.bandwidth, str):
            if self.bandwidth not in _BANDWIDTH_RULES:
                raise ValueError(
                    f"bandwidth must be a positive float or one of {list(_BANDWIDTH_RULES)}, "
                    f"got {self.bandwidth!r}"
                )
        elif not is_finite_number(self.bandwidth) or self.bandwidth <= 0:
            raise ValueError(
                f"bandwidth must be a positive float or one of {list(_BANDWIDTH_RULES)}, "
                f"got {self.bandwidth!r}"
            )
        max_points = self.max_points
        if not is_integer(max_points) or max_points < 1:
            raise ValueError(f"max_points must be a positive integer, got {max_points!r}")

    def fit(self, x: Any, *, generator: torch.Generator) -> Self:
        """Store (a subsample of) x and choose the bandwidth."""
        self._validate_params()
        check_generator(generator)
        data = as_data(x)
        if data.shape[0] > self.max_points:
            rows = torch.randperm(data.shape[0], generator=generator)[: self.max_points]
            points = data[rows]
        else:
            points = data.clone()
        self.points_ = points
        self.bandwidth_ = self._bandwidth_for(points)
        self._loo_log_density = None
        return self

    def _bandwidth_for(self, points: torch.Tensor) -> float:
        if not isinstance(self.bandwidth, str):
            return float(self.bandwidth)
        m, d = points.shape
        spread = float(points.std(dim=0).mean()) if m > 1 else 0.0
        effective_size = m if self.bandwidth == "scott" else m * (d + 2) / 4.0
        return max(effective_size ** (-1.0 / (d + 4)) * spread, _MIN_BANDWIDTH)

    def sample(self, n: int, *, bias: float = 1.0, generator: torch.Generator) -> torch.Tensor:
        """Draw n points with temperature `bias` (see class docstring) as float32 [n, d]."""
        check_fitted(self, "points_")
        n, bias = check_sample_size(n), check_bias(bias)
        check_generator(generator)
        m, d = self.points_.shape
        if bias == 1.0 or m == 1:
            rows = torch.randint(m, (n,), generator=generator)
        else:
            weights = temperature_weights(self._leave_one_out_log_density(), 1.0 / bias - 1.0)
            rows = draw_categorical(weights, n, generator=generator)
        noise = torch.randn(n, d, generator=generator, dtype=torch.float64)
        draws = self.points_[rows].add_(noise, alpha=math.sqrt(bias) * self.bandwidth_)
        return draws.to(torch.float32).contiguous()

    def log_prob(self, x: Any) -> torch.Tensor:
        """Log-density of each row of x under the KDE, float64 [n]."""
        check_fitted(self, "points_")
        data = check_dimension(as_data(x, min_rows=0), self.points_.shape[1])
        return self._log_kernel_sums(data, exclude_self=False) - math.log(len(self.points_))

    def _leave_one_out_log_density(self) -> torch.Tensor:
        """log p_loo(x_i) for every stored point, cached after the first call."""
        if self._loo_log_density is None:
            sums = self._log_kernel_sums(self.points_, exclude_self=True)
            self._loo_log_density = sums - math.log(len(self.points_) - 1)
        return self._loo_log_density

    def _log_kernel_sums(self, queries: torch.Tensor, *, exclude_self: bool) -> torch.Tensor:
        """log sum_i N(q; x_i, h^2 I) per query row, streaming over query chunks.

        With `exclude_self`, queries are the stored points themselves and kernel i skips query i.
        """
        points = self.points_
        m, d = points.shape
        centre = points.mean(dim=0)
        centred_points = points - centre
        point_norms = centred_points.square().sum(dim=1, keepdim=True)
        inverse_two_h2 = 0.5 / self.bandwidth_**2
        normaliser = 0.5 * d * math.log(2.0 * math.pi * self.bandwidth_**2)
        out = torch.empty(queries.shape[0], dtype=torch.float64)
        step = chunk_rows(m + 2 * d)
        for start in range(0, queries.shape[0], step):
            block = (queries[start : start + step] - centre).T
            squared = torch.addmm(point_norms, centred_points, block, alpha=-2.0)
            squared.add_(block.square().sum(dim=0)).clamp_min_(0.0)
            log_kernels = squared.mul_(-inverse_two_h2)
            if exclude_self:
                columns = torch.arange(block.shape[1])
                log_kernels[columns + start, columns] = -math.inf
            out[start : start + block.shape[1]] = logsumexp_columns_(log_kernels)
        return out - normaliser

    def state_dict(self) -> dict[str, Any]:
        """Stored points (a copy) and bandwidth."""
        check_fitted(self, "points_")
        return {"points_": self.points_.clone(), "bandwidth_": self.bandwidth_}

    def load_state_dict(self, state: dict[str, Any]) -> Self:
        """Restore a fitted KDE from `state_dict` output."""
        points, bandwidth = state_entries(state, ["points_", "bandwidth_"])
        points = torch.as_tensor(points, dtype=torch.float64).clone()
        if points.ndim != 2 or points.shape[0] == 0 or not float(bandwidth) > 0:
            raise ValueError("state must hold points_ [m, d] with m >= 1 and bandwidth_ > 0")
        self.points_, self.bandwidth_ = points, float(bandwidth)
        self._loo_log_density = None
        return self
