"""Batched multivariate-Gaussian arithmetic in float64: Cholesky factors, log-densities, draws.

Core objects: `cholesky_factors`, `component_log_prob`, `mixture_log_prob`, `sample_components`;
the quadratic-feature pair `quadratic_features` / `quadratic_coefficients`, which turns a whole
batch of Gaussian log-densities (and EM's weighted moments) into one matrix product; and
`logsumexp_columns_`, a log-sum-exp that avoids x86's slow exp underflow path.

Shared by the generative models and by the ground-truth culture, so signatures are stable.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "MAX_CHUNK_BYTES",
    "cholesky_factors",
    "chunk_rows",
    "component_log_prob",
    "logsumexp_columns_",
    "mixture_log_prob",
    "quadratic_coefficients",
    "quadratic_features",
    "sample_components",
]

MAX_CHUNK_BYTES = 4 * 2**20
"""Upper bound on the per-chunk temporaries; small enough to stay cache-friendly."""

_LOG_2PI = math.log(2.0 * math.pi)
_JITTER_STEPS = 8
_EXP_FLOOR = -700.0


def cholesky_factors(covs: torch.Tensor) -> torch.Tensor:
    """Lower Cholesky factors of a [K, d, d] stack, adding growing diagonal jitter if not PD."""
    covs = torch.as_tensor(covs, dtype=torch.float64)
    if covs.ndim != 3 or covs.shape[1] != covs.shape[2]:
        raise ValueError(f"covs must have shape [K, d, d], got {tuple(covs.shape)}")
    if not torch.isfinite(covs).all():
        raise ValueError("covs contains NaN or infinite values")
    covs = 0.5 * (covs + covs.transpose(1, 2))
    chols, info = torch.linalg.cholesky_ex(covs)
    failed = info != 0
    if not failed.any():
        return chols
    eye = torch.eye(covs.shape[1], dtype=torch.float64)
    scale = covs.diagonal(dim1=1, dim2=2).abs().mean(dim=1)
    scale = torch.where(scale > 0, scale, 1.0)  # jitter is relative to each matrix's size
    for step in range(_JITTER_STEPS):
        jitter = (scale[failed] * 10.0 ** (step - 10))[:, None, None] * eye
        retry, info = torch.linalg.cholesky_ex(covs[failed] + jitter)
        chols[failed] = retry
        still = torch.zeros_like(failed)
        still[failed] = info != 0
        failed = still
        if not failed.any():
            return chols
    raise ValueError("covs are not positive definite even after adding diagonal jitter")


def quadratic_features(x: torch.Tensor) -> torch.Tensor:
    """Feature matrix [D, n] with rows x_a*x_b (a <= b), then x_a, then 1; D = d(d+1)/2 + d + 1.

    Laid out feature-major so each row is written contiguously (much faster than row-major).
    """
    n, d = x.shape
    n_pairs = d * (d + 1) // 2
    xt = x.T.contiguous()
    features = torch.empty(n_pairs + d + 1, n, dtype=x.dtype)
    offset = 0
    for a in range(d):
        width = d - a
        torch.mul(xt[a : a + 1], xt[a:], out=features[offset : offset + width])
        offset += width
    features[n_pairs : n_pairs + d] = xt
    features[-1] = 1.0
    return features


def quadratic_coefficients(
    means: torch.Tensor, chols: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights [D, K] and constants [K] with log N(x; mu_k, L_k L_k^T) = -0.5 * phi(x) @ W + c.

    `phi(x)` is a column of `quadratic_features`; the constant term of the Mahalanobis form
    mu^T P mu is folded into W's last row so that phi @ W is the (non-negative) form itself.
    """
    K, d = means.shape
    precisions = torch.cholesky_inverse(chols)
    rows, cols = torch.triu_indices(d, d)
    off_diagonal = 2.0 - (rows == cols).to(torch.float64)
    scaled_means = torch.einsum("kde,ke->kd", precisions, means)
    weights = torch.empty(rows.numel() + d + 1, K, dtype=torch.float64)
    weights[: rows.numel()] = (precisions[:, rows, cols] * off_diagonal).T
    weights[rows.numel() : -1] = -2.0 * scaled_means.T
    weights[-1] = (scaled_means * means).sum(dim=1)
    log_det = chols.diagonal(dim1=1, dim2=2).log().sum(dim=1)
    constants = -0.5 * d * _LOG_2PI - log_det
    return weights, constants


def chunk_rows(floats_per_row: int) -> int:
    """Rows per chunk so that `floats_per_row` float64 temporaries per row fit MAX_CHUNK_BYTES."""
    return max(1, MAX_CHUNK_BYTES // (8 * floats_per_row))


def _uses_expansion(d: int, K: int) -> bool:
    """Quadratic expansion needs d(d+1)/2 features per row, the direct route K*d; pick less."""
    return (d + 1) // 2 <= K


def _checked_inputs(
    x: torch.Tensor, means: torch.Tensor, chols: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(x, dtype=torch.float64)
    means = torch.as_tensor(means, dtype=torch.float64)
    chols = torch.as_tensor(chols, dtype=torch.float64)
    if means.ndim != 2 or chols.shape != (*means.shape, means.shape[1]):
        raise ValueError(
            f"means must be [K, d] and chols [K, d, d], got {tuple(means.shape)} "
            f"and {tuple(chols.shape)}"
        )
    if x.ndim != 2 or x.shape[1] != means.shape[1]:
        raise ValueError(f"x must have shape [n, {means.shape[1]}], got {tuple(x.shape)}")
    return x, means, chols


def _log_density_blocks(
    x: torch.Tensor, means: torch.Tensor, chols: torch.Tensor, log_weights: torch.Tensor
):
    """Yield (start, [K, rows] block of log w_k + log N(x_i; mu_k, L_k L_k^T)) over row chunks."""
    n, d = x.shape
    K = means.shape[0]
    centre = means.mean(dim=0)
    centred_means = means - centre
    if _uses_expansion(d, K):
        coefficients, constants = quadratic_coefficients(centred_means, chols)
        offsets = (constants + log_weights)[:, None]
        transposed = coefficients.T.contiguous()
        step = chunk_rows(2 * coefficients.shape[0] + K + 2 * d)
        for start in range(0, n, step):
            features = quadratic_features(x[start : start + step] - centre)
            block = torch.addmm(offsets, transposed, features, alpha=-0.5)
            yield start, torch.clamp_(block, max=offsets)  # the Mahalanobis form is >= 0
    else:
        eye = torch.eye(d, dtype=torch.float64).expand(K, d, d)
        inverse_chols_t = torch.linalg.solve_triangular(chols, eye, upper=False).transpose(1, 2)
        shifts = torch.einsum("kd,kde->ke", centred_means, inverse_chols_t)
        constants = -0.5 * d * _LOG_2PI - chols.diagonal(dim1=1, dim2=2).log().sum(dim=1)
        offsets = (constants + log_weights)[:, None]
        step = chunk_rows(K * d + K + 2 * d)
        for start in range(0, n, step):
            whitened = torch.matmul(x[start : start + step] - centre, inverse_chols_t)
            block = whitened.sub_(shifts[:, None, :]).square_().sum(dim=2)
            yield start, block.mul_(-0.5).add_(offsets)


def logsumexp_columns_(values: torch.Tensor, *, normalise: bool = False) -> torch.Tensor:
    """log sum_k exp(values[k, j]) per column j; overwrites values (with probabilities if asked).

    Shifted arguments are floored at -700 (e^-700 ~ 1e-304, negligible) because x86 evaluates
    exp about ten times slower when the result underflows to a subnormal or zero.
    """
    column_max = values.amax(dim=0)
    finite = torch.isfinite(column_max)
    shift = torch.where(finite, column_max, 0.0)
    values.sub_(shift).clamp_min_(_EXP_FLOOR).exp_()
    sums = values.sum(dim=0)
    if normalise:
        values.div_(sums)
    return torch.where(finite, sums.log_().add_(shift), column_max)


def component_log_prob(x: torch.Tensor, means: torch.Tensor, chols: torch.Tensor) -> torch.Tensor:
    """log N(x_i; mu_k, L_k L_k^T) as float64 [n, K], computed in memory-bounded chunks."""
    x, means, chols = _checked_inputs(x, means, chols)
    out = torch.empty(x.shape[0], means.shape[0], dtype=torch.float64)
    no_weights = torch.zeros(means.shape[0], dtype=torch.float64)
    for start, block in _log_density_blocks(x, means, chols, no_weights):
        out[start : start + block.shape[1]] = block.T
    return out


def mixture_log_prob(
    x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, chols: torch.Tensor
) -> torch.Tensor:
    """log sum_k w_k N(x_i; mu_k, L_k L_k^T) as float64 [n]; never materialises [n, K]."""
    x, means, chols = _checked_inputs(x, means, chols)
    log_weights = torch.as_tensor(weights, dtype=torch.float64).log()
    if log_weights.shape != (means.shape[0],):
        raise ValueError(
            f"weights must have shape [{means.shape[0]}], got {tuple(log_weights.shape)}"
        )
    out = torch.empty(x.shape[0], dtype=torch.float64)
    for start, block in _log_density_blocks(x, means, chols, log_weights):
        out[start : start + block.shape[1]] = logsumexp_columns_(block)
    return out


def sample_components(
    means: torch.Tensor,
    chols: torch.Tensor,
    components: torch.Tensor,
    generator: torch.Generator,
    scale: float = 1.0,
) -> torch.Tensor:
    """Draw x_i = mu_{c_i} + sqrt(scale) * L_{c_i} z_i, z_i ~ N(0, I) from `generator`; [n, d]."""
    means = torch.as_tensor(means, dtype=torch.float64)
    chols = torch.as_tensor(chols, dtype=torch.float64)
    components = torch.as_tensor(components, dtype=torch.long)
    if components.ndim != 1:
        raise ValueError(f"components must be 1-D, got shape {tuple(components.shape)}")
    if components.numel() and not (components.min() >= 0 and components.max() < len(means)):
        raise ValueError(f"components must index into [0, {len(means)}), got out-of-range values")
    if not scale >= 0.0:
        raise ValueError(f"scale must be a non-negative float, got {scale}")
    n, d = components.numel(), means.shape[1]
    noise = torch.randn(n, d, generator=generator, dtype=torch.float64)
    out = torch.empty(n, d, dtype=torch.float64)
    order = torch.argsort(components, stable=True)
    counts = torch.bincount(components, minlength=len(means)).tolist()
    start = 0
    for k, count in enumerate(counts):
        if count:
            rows = order[start : start + count]
            out[rows] = torch.addmm(means[k], noise[rows], chols[k].T, alpha=math.sqrt(scale))
            start += count
    return out
