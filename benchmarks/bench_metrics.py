"""Wall time of the sample metrics, and proof that `subsample` keeps their cost flat.

Run: .venv/bin/python benchmarks/bench_metrics.py
"""

import time
from collections.abc import Callable

import torch

from ecosystem.measure.metrics import (
    Reference,
    density_coverage,
    evaluate,
    frechet_distance,
    precision_recall,
    subsample,
)
from ecosystem.world.culture import Culture

SAMPLE_SIZE = 5_000
DIMENSIONS = 16
POPULATIONS = (10_000, 100_000, 1_000_000)
REPEATS = 5


def best_time(call: Callable[[], object], repeats: int = REPEATS) -> float:
    """Fastest of `repeats` runs, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(SAMPLE_SIZE, DIMENSIONS, generator=generator, dtype=torch.float64)
    fake = 0.8 * torch.randn(SAMPLE_SIZE, DIMENSIONS, generator=generator, dtype=torch.float64)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; best of {REPEATS}")
    print(f"\n{SAMPLE_SIZE} real vs {SAMPLE_SIZE} fake points in {DIMENSIONS} dims")

    reference_time = best_time(lambda: Reference(real))
    reference = Reference(real)
    print(f"  {'Reference(real) (once per step)':<34}{reference_time:8.3f} s")
    print(f"  {'metric':<34}{'raw real':>10}{'Reference':>12}")
    metrics = {
        "precision_recall": lambda real_side: precision_recall(real_side, fake),
        "density_coverage": lambda real_side: density_coverage(real_side, fake),
        "frechet_distance": lambda real_side: frechet_distance(real_side, fake),
    }
    for name, metric in metrics.items():
        raw = best_time(lambda metric=metric: metric(real))
        prepared = best_time(lambda metric=metric: metric(reference))
        print(f"  {name:<34}{raw:8.3f} s{prepared:10.3f} s")

    print(f"\npopulation subsampled to {SAMPLE_SIZE}, all three metrics against the Reference")
    print(f"  {'population':>10}{'subsample':>12}{'metrics':>12}")
    for population_size in POPULATIONS:
        population = torch.randn(
            population_size, DIMENSIONS, generator=generator, dtype=torch.float64
        )
        sampling, scoring = time_population(population, reference)
        print(f"  {population_size:>10,}{sampling:10.3f} s{scoring:10.3f} s")

    culture = Culture.generate(generator, reference_size=SAMPLE_SIZE)
    sample, _ = culture.sample(SAMPLE_SIZE, generator)
    seconds = best_time(lambda: evaluate(culture, sample))
    print(f"\nevaluate(): all nine metrics of {SAMPLE_SIZE} items, default culture (K=50, d=16)")
    print(f"  {seconds:.3f} s")


def time_population(population: torch.Tensor, reference: Reference) -> tuple[float, float]:
    """Seconds to subsample `population`, and to score the subsample on every metric."""
    draw = torch.Generator().manual_seed(len(population))
    sampling = best_time(lambda: subsample(population, SAMPLE_SIZE, draw))
    sample = subsample(population, SAMPLE_SIZE, draw)

    def all_metrics() -> None:
        precision_recall(reference, sample)
        density_coverage(reference, sample)
        frechet_distance(reference, sample)

    return sampling, best_time(all_metrics)


if __name__ == "__main__":
    main()
