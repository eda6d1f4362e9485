"""Validation of the digits world: a diffusion model retrained on its own images goes MAD.

Core object: :data:`DIGITS_CHECKS` (the registry of check functions, each returning
:class:`~ecosystem.experiments.validation.Check` rows). Every check runs the packaged digits
lab scenarios (``mad-digits-*``: a denoising diffusion model on real 8x8 digits) over several
seeds and tests the direction the seed experiment reports (Alemohammad et al., ICLR 2024)
under a two-standard-error tolerance, in the feature space of the digit classifier.
``fast=True`` (the test suite) runs smaller models on fewer images, seeds and generations.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ecosystem.experiments.validation import ALEMOHAMMAD, GERSTGRASSER, Check, _mean_se
from ecosystem.scenario import load_scenario
from ecosystem.world.lab import lab_steps

__all__ = ["DIGITS_CHECKS"]

_FAST = [
    "lab.n_real=500",
    "lab.n_synthetic=500",
    "metrics.samples=500",
    "model.params.steps=100",
    "model.params.epochs=60",
]
"""The smaller budget of ``fast``: about a second a generation."""


def _runs(fast: bool) -> tuple[int, int]:
    """Seeds and generations."""
    return (2, 3) if fast else (3, 5)


@functools.cache
def _series(scenario: str, fast: bool) -> dict[str, np.ndarray]:
    """The model scope's metrics of ``scenario`` per seed and generation, ``[seeds, gens]``
    (computed once per process: several checks compare the same runs)."""
    seeds, generations = _runs(fast)
    extra = [*(_FAST if fast else []), f"steps={generations}"]
    values: dict[str, np.ndarray] = {}
    for seed in range(seeds):
        loaded = load_scenario(scenario, [*extra, f"seed={seed}"])
        for step, rows in lab_steps(loaded):
            for _, scope, metric, value in rows:
                if scope == "model":
                    values.setdefault(metric, np.full((seeds, generations), np.nan))
                    values[metric][seed, step - 1] = value
    return values


def _change(series: np.ndarray) -> tuple[float, float]:
    """Mean and standard error over seeds of the last generation minus the first."""
    return _mean_se(series[:, -1] - series[:, 0])


def fully_synthetic_goes_mad(fast: bool) -> list[Check]:
    """Fully synthetic, noise temperature 1: by the last generation the Fréchet distance of
    the model's images has risen, or their recall has fallen, significantly."""
    seeds, generations = _runs(fast)
    series = _series("mad-digits-fully-synthetic", fast)
    frechet, frechet_se = _change(series["frechet"])
    recall, recall_se = _change(series["recall"])
    rises, falls = frechet - 2 * frechet_se > 0, recall + 2 * recall_se < 0
    return [
        Check(
            check=f"diffusion, fully synthetic: Fréchet distance rises or recall falls, "
            f"generation {generations} - 1",
            source=ALEMOHAMMAD,
            expected="either, significantly",
            measured=f"Fréchet {series['frechet'][:, 0].mean():.1f} -> "
            f"{series['frechet'][:, -1].mean():.1f} ({frechet:+.1f} ± {frechet_se:.1f}); "
            f"recall {series['recall'][:, 0].mean():.3f} -> "
            f"{series['recall'][:, -1].mean():.3f} ({recall:+.3f} ± {recall_se:.3f})",
            tolerance=f"Fréchet mean - 2 se > 0 or recall mean + 2 se < 0, {seeds} seeds",
            passed=rises or falls,
        )
    ]


def bias_keeps_precision_loses_recall(fast: bool) -> list[Check]:
    """Noise temperature below 1 (``mad-digits-biased``): precision stays (within 0.05 of
    generation 1, or rises) while recall falls."""
    seeds, generations = _runs(fast)
    bias = load_scenario("mad-digits-biased").lab.bias
    series = _series("mad-digits-biased", fast)
    precision, precision_se = _change(series["precision"])
    recall, recall_se = _change(series["recall"])
    return [
        Check(
            check=f"diffusion, noise temperature {bias}: precision, generation {generations} - 1",
            source=ALEMOHAMMAD,
            expected="kept (change >= -0.05)",
            measured=f"{series['precision'][:, 0].mean():.3f} -> "
            f"{series['precision'][:, -1].mean():.3f} ({precision:+.3f} ± {precision_se:.3f})",
            tolerance=f"mean + 2 se >= -0.05, {seeds} seeds",
            passed=precision + 2 * precision_se >= -0.05,
        ),
        Check(
            check=f"diffusion, noise temperature {bias}: recall, generation {generations} - 1",
            source=ALEMOHAMMAD,
            expected="falls",
            measured=f"{series['recall'][:, 0].mean():.3f} -> "
            f"{series['recall'][:, -1].mean():.3f} ({recall:+.3f} ± {recall_se:.3f})",
            tolerance=f"mean + 2 se < 0, {seeds} seeds",
            passed=recall + 2 * recall_se < 0,
        ),
    ]


def fresh_data_keeps_both(fast: bool) -> list[Check]:
    """Half fresh real images each generation: precision and recall stay within 0.05 of
    generation 1 (or improve), and the Fréchet distance rises less than a third as much as
    without fresh data."""
    seeds, generations = _runs(fast)
    fresh = _series("mad-digits-fresh-data", fast)
    replace = _series("mad-digits-fully-synthetic", fast)
    checks = []
    for metric in ("precision", "recall"):
        change, se = _change(fresh[metric])
        checks.append(
            Check(
                check=f"diffusion, half fresh real images: {metric}, generation {generations} - 1",
                source=ALEMOHAMMAD,
                expected="bounded (change >= -0.05)",
                measured=f"{fresh[metric][:, 0].mean():.3f} -> {fresh[metric][:, -1].mean():.3f}"
                f" ({change:+.3f} ± {se:.3f})",
                tolerance=f"mean + 2 se >= -0.05, {seeds} seeds",
                passed=change + 2 * se >= -0.05,
            )
        )
    fresh_growth, fresh_se = _change(fresh["frechet"])
    replace_growth, _ = _change(replace["frechet"])
    checks.append(
        Check(
            check=f"diffusion, half fresh real images: Fréchet distance, generation "
            f"{generations} - 1",
            source=ALEMOHAMMAD,
            expected=f"< a third of the fully synthetic rise ({replace_growth:+.1f})",
            measured=f"{fresh_growth:+.1f} ± {fresh_se:.1f}",
            tolerance=f"mean < fully synthetic / 3, {seeds} seeds",
            passed=fresh_growth < replace_growth / 3,
        )
    )
    return checks


def accumulate_stays_bounded(fast: bool) -> list[Check]:
    """Keeping every earlier generation's images: the Fréchet distance rises less than half
    as much as when each generation replaces the data."""
    seeds, generations = _runs(fast)
    accumulate = _series("mad-digits-accumulate", fast)
    replace = _series("mad-digits-fully-synthetic", fast)
    kept, kept_se = _change(accumulate["frechet"])
    replaced, replaced_se = _change(replace["frechet"])
    return [
        Check(
            check=f"diffusion, accumulate against replace: Fréchet distance, generation "
            f"{generations} - 1",
            source=GERSTGRASSER,
            expected="accumulate rises less than half as much as replace",
            measured=f"accumulate {kept:+.1f} ± {kept_se:.1f}, replace {replaced:+.1f} ± "
            f"{replaced_se:.1f}",
            tolerance=f"accumulate mean < replace mean / 2, {seeds} seeds",
            passed=kept < replaced / 2,
        )
    ]


DIGITS_CHECKS: dict[str, Callable[[bool], list[Check]]] = {
    "fully-synthetic": fully_synthetic_goes_mad,
    "bias": bias_keeps_precision_loses_recall,
    "fresh-data": fresh_data_keeps_both,
    "accumulate": accumulate_stays_bounded,
}
"""The checks of ``ecosystem validate --world digits``, by name."""
