"""Wall-clock benchmarks of the generative models on the sizes the simulator targets.

Core objects: `random_mixture_data` (the benchmark data) and `main` (prints the timings).
Run as `python benchmarks/bench_models.py`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import make  # noqa: E402
from models.gaussian_math import cholesky_factors, component_log_prob  # noqa: E402

__all__ = ["main", "random_mixture_data"]


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


def timed(label: str, action: Callable[[], object]) -> object:
    """Run action once, print its wall time, return its result."""
    start = time.perf_counter()
    result = action()
    print(f"{label:<48s} {time.perf_counter() - start:8.3f} s")
    return result


def main() -> None:
    """Print wall times of GMM fit/sample/log_prob and of a large component_log_prob."""
    generator = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    data, means, chols = random_mixture_data(100_000, 16, 50, generator=generator)
    model = make("gmm", components=50)
    timed("gmm fit 100k x 16, K=50", lambda: model.fit(data, generator=generator))
    print(f"  n_iter_={model.n_iter_} converged_={model.converged_} "
          f"lower_bound_={model.lower_bound_:.4f}")
    samples = timed("gmm sample 100k", lambda: model.sample(100_000, generator=generator))
    timed("gmm log_prob 100k", lambda: model.log_prob(samples))
    big = torch.randn(1_000_000, 16, generator=generator, dtype=torch.float64)
    timed("component_log_prob 1e6 x K=50 x d=16", lambda: component_log_prob(big, means, chols))


if __name__ == "__main__":
    main()
