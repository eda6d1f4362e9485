"""Wall time of the generative models at the sizes the simulator targets.

Core objects: `random_mixture_data` (the benchmark data: a random 50-component mixture in 16-D)
and `main`, which prints the best and median of a few repeats (the best is the least disturbed
by other load on a shared machine).

Run: .venv/bin/python benchmarks/bench_models.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from models import make
from models.gaussian_math import cholesky_factors, component_log_prob

__all__ = ["main", "random_mixture_data"]

REPEATS = 3


def random_mixture_data(
    n: int, d: int, components: int, *, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n points [n, d] from a random mixture, plus its means [K, d] and Cholesky factors."""
    means = 4.0 * torch.randn(components, d, generator=generator, dtype=torch.float64)
    factors = torch.randn(components, d, d, generator=generator, dtype=torch.float64) / d**0.5
    covariances = factors @ factors.transpose(1, 2) + 0.1 * torch.eye(d, dtype=torch.float64)
    chols = cholesky_factors(covariances)
    labels = torch.randint(components, (n,), generator=generator)
    noise = torch.randn(n, d, generator=generator, dtype=torch.float64)
    points = means[labels] + torch.einsum("nde,ne->nd", chols[labels], noise)
    return points, means, chols


def report(label: str, action: Callable[[], object], repeats: int = REPEATS) -> object:
    """Run action `repeats` times, print best and median wall time, return the last result."""
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    print(f"{label:<52s} best {min(times):7.3f} s   median {statistics.median(times):7.3f} s")
    return result


def main() -> None:
    """Print wall times of GMM fit / sample / log_prob and of a large component_log_prob."""
    generator = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, best/median of {REPEATS}")
    data, means, chols = random_mixture_data(100_000, 16, 50, generator=generator)

    model = report(
        "gmm fit 100k x 16, K=50 (defaults)",
        lambda: make("gmm", components=50).fit(data, generator=torch.Generator().manual_seed(1)),
    )
    print(
        f"  n_iter_={model.n_iter_} converged_={model.converged_} "
        f"lower_bound_={model.lower_bound_:.4f}"
    )
    forced = report(
        "gmm fit 100k x 16, K=50, 20 EM passes forced (tol=0)",
        lambda: make("gmm", components=50, max_iter=20, tol=0.0).fit(
            data, generator=torch.Generator().manual_seed(1)
        ),
    )
    assert forced.n_iter_ == 20
    samples = report("gmm sample 100k", lambda: model.sample(100_000, generator=generator))
    report("gmm log_prob 100k", lambda: model.log_prob(samples))
    big = torch.randn(1_000_000, 16, generator=generator, dtype=torch.float64)
    report("component_log_prob 1e6 x K=50 x d=16", lambda: component_log_prob(big, means, chols))


if __name__ == "__main__":
    main()
