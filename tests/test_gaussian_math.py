"""Checks of the batched Gaussian helpers against scipy and against their own definitions.

Core objects: the tests; `random_covariances` builds well-conditioned SPD stacks from a seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import models.gaussian_math as gaussian_math
from models.gaussian_math import (
    cholesky_factors,
    component_log_prob,
    logsumexp_columns_,
    mixture_log_prob,
    sample_components,
)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_covariances(K: int, d: int, generator: torch.Generator) -> torch.Tensor:
    """K random SPD matrices [K, d, d] with eigenvalues roughly in [0.05, 5]."""
    factors = torch.randn(K, d, d, generator=generator, dtype=torch.float64)
    return factors @ factors.transpose(1, 2) / d + 0.05 * torch.eye(d, dtype=torch.float64)


def random_problem(seed: int, n: int, K: int, d: int, offset: float = 0.0):
    generator = seeded(seed)
    means = 2.0 * torch.randn(K, d, generator=generator, dtype=torch.float64) + offset
    covs = random_covariances(K, d, generator)
    x = 3.0 * torch.randn(n, d, generator=generator, dtype=torch.float64) + offset
    weights = torch.rand(K, generator=generator, dtype=torch.float64) + 0.1
    return x, weights / weights.sum(), means, covs


def scipy_component_log_prob(x, means, covs) -> np.ndarray:
    return np.stack(
        [
            multivariate_normal(mean.numpy(), cov.numpy()).logpdf(x.numpy()).reshape(-1)
            for mean, cov in zip(means, covs, strict=True)
        ],
        axis=1,
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 30),
    K=st.integers(1, 6),
    d=st.integers(1, 7),
)
def test_component_log_prob_matches_scipy(seed, n, K, d):
    """Both internal routes (quadratic expansion and direct whitening) agree with scipy."""
    x, _, means, covs = random_problem(seed, n, K, d)
    ours = component_log_prob(x, means, cholesky_factors(covs))
    assert ours.dtype == torch.float64 and ours.shape == (n, K)
    np.testing.assert_allclose(
        ours.numpy(), scipy_component_log_prob(x, means, covs), rtol=1e-9, atol=1e-9
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 30),
    K=st.integers(1, 6),
    d=st.integers(1, 7),
)
def test_mixture_log_prob_matches_scipy(seed, n, K, d):
    x, weights, means, covs = random_problem(seed, n, K, d)
    ours = mixture_log_prob(x, weights, means, cholesky_factors(covs))
    expected = logsumexp(scipy_component_log_prob(x, means, covs) + np.log(weights.numpy()), axis=1)
    assert ours.dtype == torch.float64 and ours.shape == (n,)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("K", "d"), [(50, 16), (1, 16), (3, 2)])
def test_far_offset_data_keeps_float64_accuracy(K, d):
    """Centring keeps the expansion accurate when data sit far from the origin."""
    x, _, means, covs = random_problem(7, 200, K, d, offset=1e4)
    x = means[torch.arange(200) % K] + 0.5 * (x - 1e4)
    ours = component_log_prob(x, means, cholesky_factors(covs))
    np.testing.assert_allclose(
        ours.numpy(), scipy_component_log_prob(x, means, covs), rtol=1e-8, atol=1e-6
    )


@pytest.mark.parametrize(("K", "d"), [(50, 16), (1, 9)])
def test_chunking_does_not_change_the_answer(monkeypatch, K, d):
    x, weights, means, covs = random_problem(3, 500, K, d)
    chols = cholesky_factors(covs)
    whole = component_log_prob(x, means, chols)
    whole_mixture = mixture_log_prob(x, weights, means, chols)
    monkeypatch.setattr(gaussian_math, "MAX_CHUNK_BYTES", 1)  # one row per chunk
    torch.testing.assert_close(component_log_prob(x, means, chols), whole, rtol=1e-12, atol=1e-10)
    torch.testing.assert_close(
        mixture_log_prob(x, weights, means, chols), whole_mixture, rtol=1e-12, atol=1e-10
    )


def test_zero_weight_components_are_ignored():
    x, _, means, covs = random_problem(5, 20, 3, 4)
    chols = cholesky_factors(covs)
    zeroed = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(
        mixture_log_prob(x, zeroed, means, chols), component_log_prob(x, means, chols)[:, 0]
    )


def test_logsumexp_columns_matches_torch_and_handles_minus_infinity():
    generator = seeded(0)
    values = 400.0 * torch.randn(7, 300, generator=generator, dtype=torch.float64)
    values[:, 0] = -math.inf
    values[1:, 1] = -math.inf
    expected = torch.logsumexp(values, dim=0)
    probabilities = values.clone()
    got = logsumexp_columns_(probabilities, normalise=True)
    torch.testing.assert_close(got, expected)
    assert got[0] == -math.inf
    torch.testing.assert_close(
        probabilities[:, 1:].sum(dim=0), torch.ones(299, dtype=torch.float64)
    )


def test_cholesky_factors_reconstruct_and_repair_singular_matrices():
    covs = random_covariances(4, 5, seeded(1))
    chols = cholesky_factors(covs)
    torch.testing.assert_close(chols @ chols.transpose(1, 2), covs)
    assert torch.equal(chols, chols.tril())
    singular = torch.zeros(2, 3, 3, dtype=torch.float64)
    singular[1] = torch.ones(3, 3, dtype=torch.float64)  # rank one
    repaired = cholesky_factors(singular)
    assert torch.isfinite(repaired).all()
    torch.testing.assert_close(repaired @ repaired.transpose(1, 2), singular, atol=1e-6, rtol=0)


def test_cholesky_factors_reject_bad_input():
    with pytest.raises(ValueError, match="covs"):
        cholesky_factors(torch.ones(3, 3))
    with pytest.raises(ValueError, match="NaN"):
        cholesky_factors(torch.full((1, 2, 2), math.nan))
    with pytest.raises(ValueError, match="positive definite"):
        cholesky_factors(-torch.eye(2).expand(1, 2, 2))


def test_sample_components_moments():
    """Per-component sample mean and covariance match mu_k and scale * Sigma_k (n = 200k)."""
    generator = seeded(2)
    means = torch.tensor([[0.0, 0.0, 0.0], [5.0, -3.0, 1.0]], dtype=torch.float64)
    covs = random_covariances(2, 3, generator)
    components = torch.arange(200_000) % 2
    scale = 0.5
    draws = sample_components(means, cholesky_factors(covs), components, generator, scale=scale)
    assert draws.dtype == torch.float64 and draws.shape == (200_000, 3)
    for k in range(2):
        chosen = draws[components == k]
        torch.testing.assert_close(chosen.mean(dim=0), means[k], atol=0.02, rtol=0)
        torch.testing.assert_close(torch.cov(chosen.T), scale * covs[k], atol=0.03, rtol=0)


def test_sample_components_depends_only_on_generator_state():
    means = torch.randn(3, 2, generator=seeded(0), dtype=torch.float64)
    chols = cholesky_factors(random_covariances(3, 2, seeded(1)))
    components = torch.tensor([2, 0, 1, 1, 0, 2])
    first = sample_components(means, chols, components, seeded(5))
    again = sample_components(means, chols, components, seeded(5))
    other = sample_components(means, chols, components, seeded(6))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    noise = torch.randn(6, 2, generator=seeded(5), dtype=torch.float64)
    expected = means[components] + torch.einsum("nde,ne->nd", chols[components], noise)
    torch.testing.assert_close(first, expected)


def test_sample_components_rejects_out_of_range_components():
    means, chols = torch.zeros(2, 2), torch.eye(2).expand(2, 2, 2)
    with pytest.raises(ValueError, match="components"):
        sample_components(means, chols, torch.tensor([0, 2]), seeded(0))
