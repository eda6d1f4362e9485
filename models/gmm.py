"""Full-covariance Gaussian mixture fitted by expectation-maximisation, batched in torch float64.

Core object: `GaussianMixtureModel` (registered as "gmm"). Each EM pass streams the data in
chunks; per chunk one matrix product of the quadratic features with the mixture's coefficients
gives every component's log-density, and one more product with the responsibilities gives every
component's weighted zeroth, first and second moments.
"""

from __future__ import annotations

import math
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
    is_integer,
    state_entries,
)
from models.categorical import draw_categorical, temperature_weights
from models.gaussian_math import (
    cholesky_factors,
    chunk_rows,
    logsumexp_columns_,
    mixture_log_prob,
    quadratic_coefficients,
    quadratic_features,
    sample_components,
)
from models.params import ModelParams, parameter
from models.registry import register

__all__ = ["GaussianMixtureModel"]

_INITIALISATIONS = ("kmeans++", "random")
_EMPTY_GUARD = 10.0 * torch.finfo(torch.float64).eps
_DEAD_MASS = 1e-3
"""A component explaining less than this much responsibility mass (in points) is re-seeded."""


@register("gmm")
class GaussianMixtureModel:
    """Mixture of `components` full-covariance Gaussians fitted by EM (float64).

    Initialisation: k-means++ seeds (or uniformly random data points for init="random") drawn
    with the generator, then hard assignment to the nearest seed gives the initial weights,
    means and covariances. Every covariance gets `reg_covar` * I added. A component whose
    responsibility mass drops below 1e-3 points is re-seeded once at a random data point (with
    the pooled covariance); if it dies again it keeps its last parameters at negligible weight.
    EM stops when the mean log-likelihood changes by less than `tol`, or after `max_iter` passes.
    With `warm_start`, refitting a model already fitted with the same dimension and component
    count starts EM from the previous parameters (the previous generation). With n < components
    only n components are used.

    Sampling with bias lambda is temperature sampling: component weights become
    w_k^(1/lambda) / sum_j w_j^(1/lambda) and each covariance shrinks to lambda * Sigma_k;
    lambda = 1 samples the fitted mixture exactly.
    """

    class Params(ModelParams):
        """The constructor's parameters, declared."""

        components: int = parameter(
            50, "Mixture components (at most one per training point is used)", ge=1, le=1000
        )
        max_iter: int = parameter(100, "Most EM passes per fit", ge=1, le=100_000)
        tol: float = parameter(
            1e-4,
            "EM stops when the mean log-likelihood changes by less than this",
            ge=0.0,
            le=1e3,
        )
        reg_covar: float = parameter(1e-6, "Added to every covariance's diagonal", ge=0.0, le=1e6)
        warm_start: bool = parameter(
            False, "Start EM from the previous fit when its dimension and size match"
        )
        init: Literal["kmeans++", "random"] = parameter(
            "kmeans++", "Initial seeds: k-means++ or uniformly random data points"
        )

    # Fitted parameters, set by `fit` or `load_state_dict`.
    weights_: torch.Tensor
    means_: torch.Tensor
    covariances_: torch.Tensor

    def __init__(
        self,
        components: int = 50,
        max_iter: int = 100,
        tol: float = 1e-4,
        reg_covar: float = 1e-6,
        warm_start: bool = False,
        init: str = "kmeans++",
    ) -> None:
        self.components = components
        self.max_iter = max_iter
        self.tol = tol
        self.reg_covar = reg_covar
        self.warm_start = warm_start
        self.init = init

    def _validate_params(self) -> None:
        for name in ("components", "max_iter"):
            value = getattr(self, name)
            if not is_integer(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("tol", "reg_covar"):
            value = getattr(self, name)
            if not is_finite_number(value) or value < 0:
                raise ValueError(f"{name} must be a finite float >= 0, got {value!r}")
        if not isinstance(self.warm_start, bool):
            raise ValueError(f"warm_start must be True or False, got {self.warm_start!r}")
        if self.init not in _INITIALISATIONS:
            raise ValueError(f"init must be one of {list(_INITIALISATIONS)}, got {self.init!r}")

    def fit(self, x: Any, *, generator: torch.Generator) -> Self:
        """Fit the mixture to x [n, d] by EM and return self."""
        self._validate_params()
        check_generator(generator)
        data = as_data(x)
        n, d = data.shape
        n_components = min(n, int(self.components))
        centre = data.mean(dim=0)
        centred = data - centre

        previous = getattr(self, "means_", None)
        if self.warm_start and previous is not None and previous.shape == (n_components, d):
            weights = self.weights_.clone()
            means = self.means_ - centre
            covariances = self.covariances_.clone()
            reseeded = torch.zeros(n_components, dtype=torch.bool)
        else:
            seeds = self._initial_seeds(centred, n_components, generator)
            moments = _hard_assignment_moments(centred, seeds)
            weights, means, covariances, reseeded = self._maximisation(
                moments, None, centred, generator
            )
        previous_log_likelihood = -math.inf
        log_likelihood = -math.inf
        converged = False
        n_iter = 0
        for iteration in range(1, self.max_iter + 1):
            n_iter = iteration
            log_likelihood, moments = _expectation(centred, weights, means, covariances)
            weights, means, covariances, reseeded_now = self._maximisation(
                moments, (means, covariances, reseeded), centred, generator
            )
            reseeded |= reseeded_now
            change = abs(log_likelihood - previous_log_likelihood)
            if change < self.tol and not reseeded_now.any():
                converged = True
                break
            previous_log_likelihood = log_likelihood

        self.weights_ = weights
        self.means_ = means + centre
        self.covariances_ = covariances
        self.n_iter_ = n_iter
        self.converged_ = converged
        self.lower_bound_ = log_likelihood
        return self

    def _initial_seeds(
        self, centred: torch.Tensor, n_components: int, generator: torch.Generator
    ) -> torch.Tensor:
        if self.init == "random":
            rows = torch.randperm(centred.shape[0], generator=generator)[:n_components]
            return centred[rows]
        return _kmeans_plus_plus(centred, n_components, generator)

    def _maximisation(
        self,
        moments: torch.Tensor,
        previous: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
        centred: torch.Tensor,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Weights, means, covariances from moments [D, K]; also which components were re-seeded."""
        d = centred.shape[1]
        n_pairs = d * (d + 1) // 2
        mass = moments[-1] + _EMPTY_GUARD
        means = (moments[n_pairs:-1] / mass).T.contiguous()
        covariances = _symmetric_from_upper(moments[:n_pairs] / mass, d)
        covariances -= means[:, :, None] * means[:, None, :]
        covariances.diagonal(dim1=1, dim2=2).add_(float(self.reg_covar))
        weights = mass / mass.sum()

        dead = moments[-1] < _DEAD_MASS
        reseed = dead.clone()
        if previous is not None:
            old_means, old_covariances, already_reseeded = previous
            keep = dead & already_reseeded
            means[keep] = old_means[keep]
            covariances[keep] = old_covariances[keep]
            reseed &= ~already_reseeded
        if reseed.any():
            alive = ~dead
            pooled = (
                (weights[alive, None, None] * covariances[alive]).sum(dim=0) / weights[alive].sum()
                if alive.any()
                else torch.cov(centred.T, correction=0).reshape(d, d)
            )
            rows = torch.randint(centred.shape[0], (int(reseed.sum()),), generator=generator)
            means[reseed] = centred[rows]
            covariances[reseed] = pooled
            weights[reseed] = 1.0 / len(weights)
            weights /= weights.sum()
        return weights, means, covariances, reseed

    def sample(self, n: int, *, bias: float = 1.0, generator: torch.Generator) -> torch.Tensor:
        """Draw n points with temperature `bias` (see class docstring) as float32 [n, d]."""
        check_fitted(self, "means_")
        n, bias = check_sample_size(n), check_bias(bias)
        check_generator(generator)
        weights = temperature_weights(self.weights_.log(), 1.0 / bias)
        components = draw_categorical(weights, n, generator=generator)
        chols = cholesky_factors(self.covariances_)
        draws = sample_components(self.means_, chols, components, generator, scale=bias)
        return draws.to(torch.float32).contiguous()

    def log_prob(self, x: Any) -> torch.Tensor:
        """Log-density of each row of x under the fitted mixture, float64 [n]."""
        check_fitted(self, "means_")
        data = check_dimension(as_data(x, min_rows=0), self.means_.shape[1])
        chols = cholesky_factors(self.covariances_)
        return mixture_log_prob(data, self.weights_, self.means_, chols)

    def state_dict(self) -> dict[str, Any]:
        """Fitted parameters (copies) and convergence diagnostics."""
        check_fitted(self, "means_")
        return {
            "weights_": self.weights_.clone(),
            "means_": self.means_.clone(),
            "covariances_": self.covariances_.clone(),
            "n_iter_": self.n_iter_,
            "converged_": self.converged_,
            "lower_bound_": self.lower_bound_,
        }

    def load_state_dict(self, state: dict[str, Any]) -> Self:
        """Restore a fitted mixture from `state_dict` output."""
        names = ["weights_", "means_", "covariances_", "n_iter_", "converged_", "lower_bound_"]
        weights, means, covariances, n_iter, converged, lower_bound = state_entries(state, names)
        weights, means, covariances = (
            torch.as_tensor(value, dtype=torch.float64).clone()
            for value in (weights, means, covariances)
        )
        K, d = means.shape if means.ndim == 2 else (0, 0)
        if K == 0 or weights.shape != (K,) or covariances.shape != (K, d, d):
            raise ValueError("state must hold weights_ [K], means_ [K, d], covariances_ [K, d, d]")
        self.weights_, self.means_, self.covariances_ = weights, means, covariances
        self.n_iter_, self.converged_ = int(n_iter), bool(converged)
        self.lower_bound_ = float(lower_bound)
        return self


def _rows_per_chunk(d: int, n_components: int) -> int:
    return chunk_rows(2 * (d * (d + 1) // 2 + d + 1) + n_components + 2 * d)


def _symmetric_from_upper(upper: torch.Tensor, d: int) -> torch.Tensor:
    """[K, d, d] symmetric matrices from their upper triangles stored as [d(d+1)/2, K]."""
    rows, cols = torch.triu_indices(d, d)
    matrices = torch.empty(upper.shape[1], d, d, dtype=upper.dtype)
    matrices[:, rows, cols] = upper.T
    matrices[:, cols, rows] = upper.T
    return matrices


def _expectation(
    centred: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor
) -> tuple[float, torch.Tensor]:
    """Mean log-likelihood and responsibility-weighted feature moments [D, K] in one data pass."""
    n, d = centred.shape
    coefficients, constants = quadratic_coefficients(means, cholesky_factors(covariances))
    offsets = (constants + weights.log())[:, None]
    transposed = coefficients.T.contiguous()
    moments = torch.zeros(coefficients.shape[0], means.shape[0], dtype=torch.float64)
    total = 0.0
    step = _rows_per_chunk(d, means.shape[0])
    for start in range(0, n, step):
        features = quadratic_features(centred[start : start + step])
        log_joint = torch.addmm(offsets, transposed, features, alpha=-0.5)
        torch.clamp_(log_joint, max=offsets)  # the Mahalanobis form is >= 0
        total += float(logsumexp_columns_(log_joint, normalise=True).sum())
        moments.addmm_(features, log_joint.T)
    return total / n, moments


def _hard_assignment_moments(centred: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """Feature moments [D, K] when every point belongs wholly to its nearest seed."""
    n, d = centred.shape
    n_components = seeds.shape[0]
    seed_norms = seeds.square().sum(dim=1)
    n_features = d * (d + 1) // 2 + d + 1
    moments = torch.zeros(n_features, n_components, dtype=torch.float64)
    step = _rows_per_chunk(d, n_components)
    for start in range(0, n, step):
        block = centred[start : start + step]
        labels = torch.addmm(seed_norms, block, seeds.T, alpha=-2.0).argmin(dim=1)
        features = quadratic_features(block)
        moments.T.index_add_(0, labels, features.T)
    return moments


def _kmeans_plus_plus(
    centred: torch.Tensor, n_components: int, generator: torch.Generator
) -> torch.Tensor:
    """Greedy k-means++ seeds [K, d]: each step keeps the best of 2 + log K D^2-weighted draws."""
    n = centred.shape[0]
    n_trials = 2 + int(math.log(n_components))
    norms = centred.square().sum(dim=1)
    first = int(torch.randint(n, (1,), generator=generator))
    chosen = [first]
    closest = _squared_distances(centred, norms, centred[first : first + 1])[:, 0]
    for _ in range(1, n_components):
        if closest.sum() > 0:
            candidates = draw_categorical(closest, n_trials, generator=generator)
        else:
            candidates = torch.randint(n, (n_trials,), generator=generator)
        distances = _squared_distances(centred, norms, centred[candidates])
        torch.minimum(distances, closest[:, None], out=distances)
        best = int(distances.sum(dim=0).argmin())
        chosen.append(int(candidates[best]))
        closest = distances[:, best].contiguous()
    return centred[chosen]


def _squared_distances(points: torch.Tensor, norms: torch.Tensor, seeds: torch.Tensor):
    """||p_i - s_j||^2 as [n, m] via the expansion, clamped at zero."""
    expanded = torch.addmm(norms[:, None], points, seeds.T, alpha=-2.0)
    return expanded.add_(seeds.square().sum(dim=1)).clamp_min_(0.0)
