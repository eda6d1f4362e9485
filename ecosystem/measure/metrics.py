"""Quality and diversity metrics for samples of the web's content, on fixed-size samples.

Core objects:

- `Reference`: a real sample prepared once (k-NN radii, mean, covariance) so that many fake
  samples can be scored against it without recomputing anything on the real side.
- `precision_recall`, `density_coverage`: k-NN manifold metrics (fidelity and diversity).
- `frechet_distance`: distance between Gaussian fits of the two samples.
- `topic_coverage`, `tail_mass_ratio`, `topic_entropy`: what a sample keeps of the truth's topics.
- `subsample`: caps a population at a fixed size so the cost of a step stays flat.
- `topic_metrics`: the three topic metrics of points already assigned to topics.
- `evaluate`: every metric of one sample against a culture in a single call.

All distance work runs in float64, in row blocks of bounded size, and every result is exactly
invariant to the order of rows: k-NN metrics are counts, and moments are taken over rows in a
canonical (lexicographic) order. A `Reference` built with ``device="cuda"`` does its k-NN
distance work there (the counts, moments and results stay on the CPU); on the CPU, the
default for arrays, the results are bit-identical from run to run.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ecosystem.measure.catalogue import content_metric_names
from models.devices import resolve_device

__all__ = [
    "METRIC_NAMES",
    "Reference",
    "density_coverage",
    "evaluate",
    "frechet_distance",
    "knn_metrics",
    "knn_radii",
    "precision_recall",
    "subsample",
    "tail_mass_ratio",
    "topic_coverage",
    "topic_entropy",
    "topic_histogram",
    "topic_metrics",
]

# The keys of `evaluate`'s result, in a stable order: the vector world's content metrics.
METRIC_NAMES = content_metric_names("vector")

# Largest distance block held in memory at once (float64 elements, 32 MiB), and its row cap.
_BLOCK_ELEMENTS = 1 << 22
_MAX_BLOCK_ROWS = 4096
# Pairwise differences rather than the |a|^2 + |b|^2 - 2ab expansion: each distance then depends
# only on its two points, so it is bit-identical whatever the rows' order or block.
_EXACT_DISTANCES = "donot_use_mm_for_euclid_dist"
_WEIGHT_SUM_TOLERANCE = 1e-6
_MEMO_ELEMENTS = 1 << 24
"""Largest sample whose distances (to the reference and within) a memo keeps, in elements."""
_CPU = torch.device("cpu")

ArrayLike = np.ndarray | Tensor


# ---------------------------------------------------------------------------------------------
# Input checks


def _as_points(x: Any, name: str) -> Tensor:
    """`x` as a contiguous float64 CPU tensor of shape [n, d] with finite entries."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "iuf":
            raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
        x = np.asarray(x, dtype=np.float64)
        # torch.from_numpy warns on read-only arrays; the copy also fixes foreign byte order.
        x = torch.from_numpy(x if x.flags.writeable else x.copy())
    elif isinstance(x, Tensor):
        if x.dtype.is_complex or x.dtype == torch.bool:
            raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
        x = x.detach()
    else:
        raise ValueError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"{name} must have shape [n, d] with d >= 1, got {tuple(x.shape)}")
    x = x.to(device="cpu", dtype=torch.float64).contiguous()
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} must contain only finite values")
    return x


def _is_integer(value: object) -> bool:
    """True for a Python or NumPy integer (bools excluded)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    """True for a Python or NumPy real number (bools excluded)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return int(k)


def _check_same_dim(real: Tensor, fake: Tensor, name: str = "fake") -> None:
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"{name} must have the real sample's dimension {real.shape[1]}, got {fake.shape[1]}"
        )


def _as_topics(topics: Any, n_topics: int) -> Tensor:
    """Topic ids as a non-empty 1-D int64 tensor with values in [0, n_topics)."""
    if isinstance(topics, np.ndarray):
        if topics.dtype.kind not in "iu":
            raise ValueError(f"topics must hold integer topic ids, got dtype {topics.dtype}")
        topics = torch.from_numpy(np.array(topics, dtype=np.int64))
    elif isinstance(topics, Tensor):
        if topics.dtype.is_floating_point or topics.dtype.is_complex or topics.dtype == torch.bool:
            raise ValueError(f"topics must hold integer topic ids, got dtype {topics.dtype}")
    else:
        raise ValueError(
            f"topics must be a numpy array or torch tensor, got {type(topics).__name__}"
        )
    if topics.ndim != 1 or topics.numel() == 0:
        raise ValueError(f"topics must be a non-empty 1-D array, got shape {tuple(topics.shape)}")
    topics = topics.to(device="cpu", dtype=torch.int64)
    if int(topics.min()) < 0 or int(topics.max()) >= n_topics:
        raise ValueError(f"topics must lie in [0, {n_topics}), got values outside it")
    return topics


def _check_n_topics(n_topics: Any, minimum: int = 1) -> int:
    if isinstance(n_topics, bool) or not isinstance(n_topics, Integral) or n_topics < minimum:
        raise ValueError(f"n_topics must be an integer >= {minimum}, got {n_topics!r}")
    return int(n_topics)


def _as_weights(true_weights: Any) -> Tensor:
    """The truth's topic weights as float64: 1-D, non-negative, summing to 1."""
    weights = torch.as_tensor(true_weights).detach().to(device="cpu", dtype=torch.float64)
    if weights.ndim != 1 or weights.numel() == 0:
        raise ValueError(
            f"true_weights must be a non-empty 1-D array, got shape {tuple(weights.shape)}"
        )
    total = float(weights.sum())
    if (
        not torch.isfinite(weights).all()
        or (weights < 0).any()
        or abs(total - 1.0) > _WEIGHT_SUM_TOLERANCE
    ):
        raise ValueError("true_weights must be finite, non-negative and sum to 1")
    return weights / total


# ---------------------------------------------------------------------------------------------
# k-NN geometry


def _block_rows(n_other: int) -> int:
    return max(1, min(_MAX_BLOCK_ROWS, _BLOCK_ELEMENTS // max(n_other, 1)))


def _knn_radii(x: Tensor, k: int, device: torch.device = _CPU) -> Tensor:
    """Each row's distance to its k-th nearest other row, computed on ``device`` (the
    result is where ``x`` is)."""
    rows = _block_rows(x.shape[0])
    points = x.to(device)
    # Written in place: small tensors kept between large block temporaries fragment the heap.
    radii = torch.empty(x.shape[0], dtype=torch.float64, device=device)
    for start in range(0, x.shape[0], rows):
        distances = torch.cdist(points[start : start + rows], points, compute_mode=_EXACT_DISTANCES)
        # Each point is its own nearest neighbour at distance 0, hence k + 1.
        nearest = torch.topk(distances, k + 1, dim=1, largest=False, sorted=True).values
        radii[start : start + rows] = nearest[:, k]
    return radii.to(x.device)


def knn_radii(x: ArrayLike, k: int = 5) -> Tensor:
    """Distance from each point of `x` [n, d] to its k-th nearest other point, as float64 [n].

    These radii define the k-NN balls that approximate a sample's support (Kynkaanniemi et al.
    2019).
    """
    k = _check_k(k)
    points = _as_points(x, "x")
    if k >= points.shape[0]:
        raise ValueError(f"k must be less than the number of points in x ({points.shape[0]})")
    return _knn_radii(points, k)


def _canonical_rows(x: Tensor) -> Tensor:
    """Rows of `x` in lexicographic order, so that sums over rows ignore the input order."""
    order = np.lexsort(x.numpy().T)
    return x[torch.from_numpy(order)]


def _moments(x: Tensor, name: str) -> tuple[Tensor, Tensor]:
    """Mean [d] and unbiased covariance [d, d] of the rows of `x`."""
    if x.shape[0] < 2:
        raise ValueError(f"{name} must have at least 2 points for a covariance")
    rows = _canonical_rows(x)
    mean = rows.mean(dim=0)
    centred = rows - mean
    covariance = centred.T @ centred / (rows.shape[0] - 1)
    return mean, (covariance + covariance.T) / 2


def _weighted_moments(x: Tensor, weights: ArrayLike) -> tuple[Tensor, Tensor]:
    """Weighted mean [d] and covariance [d, d] (reliability weights, unbiased) of rows `x`."""
    w = torch.as_tensor(weights, dtype=torch.float64).flatten()
    if w.shape != (x.shape[0],) or not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError(f"weights must be {x.shape[0]} finite non-negative numbers")
    w = w / w.sum()
    mean = w @ x
    centred = x - mean
    covariance = (centred * w[:, None]).T @ centred / (1.0 - float(w.square().sum()))
    return mean, (covariance + covariance.T) / 2


def _psd_sqrt(matrix: Tensor) -> Tensor:
    """Symmetric square root of a positive semi-definite matrix; tiny negative modes clamp to 0."""
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix)
    return (eigenvectors * eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T


class Reference:
    """A real sample prepared once: points, k-NN radii and Gaussian moments.

    Pass it wherever a metric takes `real` to score many fake samples against one fixed sample
    without recomputing the real side. Attributes: `x` [n, d] float64 (a private copy), `k`,
    `radii` [n], `mean` [d], `covariance` [d, d] and its symmetric root `covariance_sqrt`.
    With `weights` (one non-negative weight per point), the Gaussian moments of the Fréchet
    distance are the weighted ones: a reference whose points stand for the truth in other
    proportions than they were drawn (the k-NN metrics use the points as they are).
    """

    def __init__(
        self,
        x: ArrayLike,
        k: int = 5,
        *,
        weights: ArrayLike | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.k = _check_k(k)
        self.device = resolve_device(device)
        self.x = _as_points(x, "x").clone()
        if self.k >= self.x.shape[0]:
            raise ValueError(f"k must be less than the number of points in x ({self.x.shape[0]})")
        self.radii = _knn_radii(self.x, self.k, self.device)
        # the copies the distance work reads (the same tensors on the CPU)
        self.x_on_device = self.x.to(self.device)
        self.radii_on_device = self.radii.to(self.device)
        if weights is None:
            self.mean, self.covariance = _moments(self.x, "x")
        else:
            self.mean, self.covariance = _weighted_moments(self.x, weights)
        self.covariance_sqrt = _psd_sqrt(self.covariance)

    def __len__(self) -> int:
        return self.x.shape[0]

    def __repr__(self) -> str:
        n, d = self.x.shape
        where = "" if self.device == _CPU else f", device={self.device.type!r}"
        return f"Reference(n={n}, d={d}, k={self.k}{where})"


def _as_reference(real: ArrayLike | Reference, k: int) -> Reference:
    if isinstance(real, Reference):
        if real.k != k:
            raise ValueError(f"k must match the Reference's k={real.k}, got {k}")
        return real
    points = _as_points(real, "real")
    if k >= points.shape[0]:
        raise ValueError(f"k must be less than the number of points in real ({points.shape[0]})")
    return Reference(points, k)


def _ball_statistics(
    reference: Reference,
    fake: Tensor,
    fake_radii: Tensor | None,
    to_reference: Tensor | None = None,
) -> dict[str, float]:
    """Precision, density, coverage and (given fake radii) recall in one pass over distances
    (``to_reference``, the fake-to-real distances [n_fake, n_real], when already known)."""
    n_real, n_fake = reference.x.shape[0], fake.shape[0]
    device = reference.device
    fake = fake.to(device)
    if fake_radii is not None:
        fake_radii = fake_radii.to(device)
    fake_in_real_ball = torch.zeros(n_fake, dtype=torch.bool, device=device)
    real_ball_hit = torch.zeros(n_real, dtype=torch.bool, device=device)
    real_in_fake_ball = torch.zeros(n_real, dtype=torch.bool, device=device)
    members = torch.zeros((), dtype=torch.int64, device=device)
    rows = _block_rows(n_real)
    for start in range(0, n_fake, rows):
        stop = start + rows
        distances = (
            torch.cdist(fake[start:stop], reference.x_on_device, compute_mode=_EXACT_DISTANCES)
            if to_reference is None
            else to_reference[start:stop]
        )
        inside = distances <= reference.radii_on_device
        fake_in_real_ball[start:stop] = inside.any(dim=1)
        real_ball_hit |= inside.any(dim=0)
        members += torch.count_nonzero(inside)
        if fake_radii is not None:
            real_in_fake_ball |= (distances <= fake_radii[start:stop, None]).any(dim=0)
    memberships = int(members)
    statistics = {
        "precision": int(fake_in_real_ball.sum()) / n_fake,
        "density": memberships / (reference.k * n_fake),
        "coverage": int(real_ball_hit.sum()) / n_real,
    }
    if fake_radii is not None:
        statistics["recall"] = int(real_in_fake_ball.sum()) / n_real
    return statistics


def _prepare(real: ArrayLike | Reference, fake: ArrayLike, k: int) -> tuple[Reference, Tensor]:
    k = _check_k(k)
    fake_points = _as_points(fake, "fake")
    reference = _as_reference(real, k)
    _check_same_dim(reference.x, fake_points)
    return reference, fake_points


def precision_recall(
    real: ArrayLike | Reference, fake: ArrayLike, k: int = 5
) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019, NeurIPS).

    Precision is the share of fake points inside some real k-NN ball (fidelity); recall is the
    share of real points inside some fake k-NN ball (diversity).
    """
    reference, fake_points = _prepare(real, fake, k)
    if reference.k >= fake_points.shape[0]:
        raise ValueError(
            f"k must be less than the number of points in fake ({fake_points.shape[0]})"
        )
    statistics = _ball_statistics(
        reference, fake_points, _knn_radii(fake_points, reference.k, reference.device)
    )
    return statistics["precision"], statistics["recall"]


def density_coverage(
    real: ArrayLike | Reference, fake: ArrayLike, k: int = 5
) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020, ICML), robust versions of precision and recall.

    Density is the mean number of real k-NN balls holding a fake point, divided by k (1 when the
    samples match); coverage is the share of real balls holding at least one fake point.
    """
    reference, fake_points = _prepare(real, fake, k)
    if fake_points.shape[0] == 0:
        raise ValueError("fake must have at least 1 point")
    statistics = _ball_statistics(reference, fake_points, None)
    return statistics["density"], statistics["coverage"]


# ---------------------------------------------------------------------------------------------
# Frechet distance


def _frechet(
    mean_real: Tensor, covariance_real_sqrt: Tensor, covariance_real: Tensor, fake: Tensor
) -> float:
    mean_fake, covariance_fake = _moments(fake, "fake")
    # Tr (S_r S_f)^(1/2) = sum of sqrt eigenvalues of the symmetric S_r^(1/2) S_f S_r^(1/2).
    product = covariance_real_sqrt @ covariance_fake @ covariance_real_sqrt
    product = (product + product.T) / 2
    trace_sqrt = torch.linalg.eigvalsh(product).clamp(min=0).sqrt().sum()
    distance = (
        (mean_real - mean_fake).square().sum()
        + covariance_real.trace()
        + covariance_fake.trace()
        - 2 * trace_sqrt
    )
    # The true value is non-negative; rounding can leave about -1e-15 for identical samples.
    return max(float(distance), 0.0)


def frechet_distance(real: ArrayLike | Reference, fake: ArrayLike) -> float:
    """Frechet distance between Gaussian fits of two samples (Dowson & Landau 1982).

    ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)), the statistic behind FID (Heusel et
    al. 2017); it sees shifts of the mean and shrinkage of the spread.
    """
    fake_points = _as_points(fake, "fake")
    if isinstance(real, Reference):
        mean, covariance, covariance_sqrt = real.mean, real.covariance, real.covariance_sqrt
        _check_same_dim(real.x, fake_points)
    else:
        real_points = _as_points(real, "real")
        _check_same_dim(real_points, fake_points)
        mean, covariance = _moments(real_points, "real")
        covariance_sqrt = _psd_sqrt(covariance)
    return _frechet(mean, covariance_sqrt, covariance, fake_points)


# ---------------------------------------------------------------------------------------------
# Topic metrics


def topic_histogram(topics: ArrayLike, n_topics: int) -> Tensor:
    """Share of the sample in each of `n_topics` topics, as float64 [n_topics] summing to 1."""
    n_topics = _check_n_topics(n_topics)
    ids = _as_topics(topics, n_topics)
    return torch.bincount(ids, minlength=n_topics).to(torch.float64) / ids.numel()


def topic_coverage(topics: ArrayLike, true_weights: ArrayLike, min_fraction: float = 0.1) -> float:
    """Share of the truth's topics whose sample mass is at least `min_fraction` of their true mass.

    Topics with zero true mass are not counted. Tracks the loss of whole topics under recursive
    training (Shumailov et al. 2024, Nature).
    """
    if not _is_real(min_fraction) or not 0 < min_fraction < math.inf:
        raise ValueError(f"min_fraction must be a positive finite number, got {min_fraction!r}")
    weights = _as_weights(true_weights)
    histogram = topic_histogram(topics, weights.numel())
    present = weights > 0
    covered = histogram[present] >= min_fraction * weights[present]
    return int(covered.sum()) / int(present.sum())


def tail_mass_ratio(topics: ArrayLike, true_weights: ArrayLike, tail_mask: ArrayLike) -> float:
    """Sample mass in the tail topics over the truth's tail mass: 1 = tails intact, 0 = gone.

    Tails vanish first under model collapse (Shumailov et al. 2024, Nature).
    """
    weights = _as_weights(true_weights)
    mask = torch.as_tensor(tail_mask).detach().cpu()
    if mask.dtype != torch.bool or mask.shape != weights.shape:
        raise ValueError(f"tail_mask must be a boolean array of shape {tuple(weights.shape)}")
    true_tail = float(weights[mask].sum())
    if true_tail <= 0:
        raise ValueError("tail_mask must select topics with positive true weight")
    histogram = topic_histogram(topics, weights.numel())
    return float(histogram[mask].sum()) / true_tail


def topic_entropy(topics: ArrayLike, n_topics: int) -> float:
    """Shannon entropy of the topic histogram over log(n_topics): 1 = uniform, 0 = one topic.

    A scale-free measure of topical diversity (Shannon 1948).
    """
    n_topics = _check_n_topics(n_topics, minimum=2)
    histogram = topic_histogram(topics, n_topics)
    shares = histogram[histogram > 0]
    return float(-(shares * shares.log()).sum()) / math.log(n_topics)


# ---------------------------------------------------------------------------------------------
# Sampling and the one-call evaluation


def subsample(x: ArrayLike, n: int, generator: torch.Generator) -> Tensor:
    """At most `n` rows of `x`, drawn without replacement with `generator`.

    Returns `x` itself (as a tensor, sharing memory) when it has at most `n` rows; this keeps
    the cost of the metrics fixed whatever the population size.
    """
    if not _is_integer(n) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    rows = torch.as_tensor(x)
    if rows.ndim == 0:
        raise ValueError("x must have at least 1 dimension, got a scalar")
    if rows.shape[0] <= n:
        return rows
    chosen = torch.randperm(rows.shape[0], generator=generator, device=generator.device)[:n]
    return rows[chosen.to(rows.device)]


def _remembered_distances(
    reference: Reference, points: Tensor, ids: np.ndarray, memo: dict
) -> tuple[Tensor, Tensor]:
    """Distances of `points` to the reference [n, n_ref] and to each other [n, n], taking the
    rows and columns of ids that `memo`'s previous sample held (with the same points) from it,
    and keeping this sample's in it. Each distance depends on its two points only, so the
    result is exactly that of computing every distance afresh."""
    n, device = points.shape[0], reference.device
    kept = np.empty(0, dtype=np.int64)
    if memo.get("reference") is reference and "ids" in memo:
        _, kept, earlier = np.intersect1d(ids, memo["ids"], assume_unique=True, return_indices=True)
        same = (points[kept] == memo["points"][earlier]).all(dim=1).numpy()
        kept, earlier = kept[same], earlier[same]
    fresh = torch.from_numpy(np.setdiff1d(np.arange(n), kept, assume_unique=True))
    if len(kept):
        # every row taken from the memo (the fresh ones from its first row, then overwritten)
        source = np.zeros(n, dtype=np.int64)
        source[kept] = earlier
        rows = torch.from_numpy(source).to(device)
        to_reference = memo["to_reference"].index_select(0, rows)
        within = memo["within"].index_select(0, rows).index_select(1, rows)
    else:
        to_reference = torch.empty(n, reference.x.shape[0], dtype=torch.float64, device=device)
        within = torch.empty(n, n, dtype=torch.float64, device=device)
    if len(fresh):
        on_device, fresh = points.to(device), fresh.to(device)
        to_reference[fresh] = torch.cdist(
            on_device[fresh], reference.x_on_device, compute_mode=_EXACT_DISTANCES
        )
        across = torch.cdist(on_device[fresh], on_device, compute_mode=_EXACT_DISTANCES)
        within[fresh] = across
        within[:, fresh] = across.T
    memo.clear()
    memo.update(
        reference=reference,
        ids=ids.copy(),
        points=points,
        to_reference=to_reference,
        within=within,
    )
    return to_reference, within


def knn_metrics(
    reference: Reference,
    points: Tensor,
    k: int,
    *,
    ids: np.ndarray | None = None,
    memo: dict | None = None,
) -> dict[str, float]:
    """Precision, recall (NaN with at most k points), density and coverage of `points`
    [n, d] (float64, n >= 1) against a prepared `reference`, with the memo of `evaluate`."""
    n = points.shape[0]
    to_reference = None
    if memo is not None and ids is not None and n * (n + len(reference)) <= _MEMO_ELEMENTS:
        ids = np.asarray(ids, dtype=np.int64)
        if ids.shape != (n,) or len(np.unique(ids)) != n:
            raise ValueError(f"ids must be {n} distinct integers, one per row of x")
        to_reference, within = _remembered_distances(reference, points, ids, memo)
        fake_radii = (
            torch.topk(within, k + 1, dim=1, largest=False, sorted=True).values[:, k]
            if k < n
            else None
        )
    else:
        fake_radii = _knn_radii(points, k, reference.device) if k < n else None
    statistics = _ball_statistics(reference, points, fake_radii, to_reference)
    return {"recall": math.nan} | statistics


def evaluate(
    culture: Any,
    x: ArrayLike,
    *,
    reference: Reference | ArrayLike | None = None,
    k: int = 5,
    min_topic_fraction: float = 0.1,
    ids: np.ndarray | None = None,
    memo: dict | None = None,
) -> dict[str, float]:
    """Every metric of sample `x` against `culture` (the truth), as {name: float}.

    `culture` provides `reference`, `log_prob`, `assign`, `weights`, `tail_mask` and `topics`.
    An empty `x` gives NaN everywhere; with at most k points recall is NaN, with fewer than 2
    the Frechet distance is NaN; a culture without tail topics has a NaN tail mass ratio.

    With `ids` (distinct int64 ids of the rows, such as page rows) and `memo` (a dict the
    caller keeps from one call to the next), the k-NN distances of rows whose ids and points
    the previous call's sample had are taken from `memo` instead of computed: a sample that
    changes little from call to call costs little, and the values are exactly the same.
    """
    k = _check_k(k)
    results = dict.fromkeys(METRIC_NAMES, math.nan)
    if isinstance(x, np.ndarray | Tensor) and x.ndim in (1, 2) and x.shape[0] == 0:
        return results
    points = _as_points(x, "x")
    prepared = _as_reference(culture.reference if reference is None else reference, k)
    _check_same_dim(prepared.x, points, "x")
    n = points.shape[0]

    results.update(knn_metrics(prepared, points, k, ids=ids, memo=memo))
    if n >= 2:
        results["frechet"] = _frechet(
            prepared.mean, prepared.covariance_sqrt, prepared.covariance, points
        )

    log_prob = torch.as_tensor(culture.log_prob(points)).detach().to("cpu", torch.float64)
    if log_prob.shape != (n,):
        raise ValueError(f"culture.log_prob must return shape ({n},), got {tuple(log_prob.shape)}")
    # Sorted before summing so the mean does not depend on the order of rows.
    results["log_likelihood"] = float(log_prob.sort().values.mean())

    results.update(topic_metrics(culture, culture.assign(points), min_topic_fraction))
    return results


def topic_metrics(culture: Any, topics: ArrayLike, min_topic_fraction: float = 0.1) -> dict:
    """Topic coverage, tail mass ratio and topic entropy of a sample whose points `culture`
    assigned to `topics` (NaN tail mass ratio for a culture without tail topics)."""
    results = {"topic_coverage": topic_coverage(topics, culture.weights, min_topic_fraction)}
    results["tail_mass_ratio"] = (
        tail_mass_ratio(topics, culture.weights, culture.tail_mask)
        if bool(torch.as_tensor(culture.tail_mask).any())  # a culture may have no tail topics
        else math.nan
    )
    results["topic_entropy"] = topic_entropy(topics, culture.topics)
    return results
