"""Validation: the simulator reproduces published results before any new claim is trusted.

Core objects: :class:`Check` (one reproduced result: source, expected value,
tolerance, measured value, pass), :data:`CHECKS` (the registry of the vector world's
check functions; the text world's are in :mod:`ecosystem.experiments.text_validation`),
:func:`world_checks` and :func:`run_checks`. Each check runs the lab loop over several
seeds and compares a log, median or mean quantity with its published or
derived expectation under a statistical tolerance. Generation indexing: fit 1
is the fit on real data.

``fast=True`` runs the same checks with fewer seeds and generations (the test
suite uses it); the full size runs in a few minutes.

:mod:`ecosystem.experiments.history_validation` (``ecosystem validate --history``)
compares the calibrated ``baseline`` with the measured history of 2023-2025.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

import models
from ecosystem.measure.metrics import evaluate
from ecosystem.randomness import Streams
from ecosystem.scenario import LabSettings
from ecosystem.world.lab import self_consuming_loop
from ecosystem.world.vectors import VectorWorld

__all__ = ["CHECKS", "Check", "run_checks", "world_checks"]

SHUMAILOV = "Shumailov et al., Nature 2024"
ALEMOHAMMAD = "Alemohammad et al., ICLR 2024"
GERSTGRASSER = "Gerstgrasser et al. 2024 (arXiv 2404.01413)"
BERTRAND = "Bertrand et al., ICLR 2024"


@dataclass(frozen=True)
class Check:
    """One reproduced result."""

    check: str
    source: str
    expected: str
    measured: str
    tolerance: str
    passed: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "passed", bool(self.passed))

    def as_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


def _culture(seed: int, name: str, **params) -> VectorWorld:
    params.setdefault("reference_size", 2000)
    return VectorWorld.generate(Streams(seed).torch(f"culture:{name}"), **params)


def _run(
    culture: VectorWorld,
    model_name: str,
    settings: LabSettings,
    generations: int,
    generator: torch.Generator,
    model_params: dict | None = None,
    on_generation: Callable | None = None,
) -> list:
    model = models.make(model_name, **(model_params or {}))
    out = []
    for generation in self_consuming_loop(culture, model, settings, generations, generator):
        out.append(on_generation(generation) if on_generation else generation)
    return out


def _mixture_scores(
    culture: VectorWorld,
    settings: LabSettings,
    generations: int,
    generator: torch.Generator,
    components: int,
) -> list[dict[str, float]]:
    """Every metric of 2000 samples (drawn with the loop's bias) of each GMM generation."""
    return _run(
        culture,
        "gmm",
        settings,
        generations,
        generator,
        {"components": components},
        on_generation=lambda g: evaluate(
            culture, g.model.sample(2000, bias=settings.bias, generator=generator)
        ),
    )


def gaussian_variance_collapse(fast: bool) -> list[Check]:
    """Fully synthetic loop, 1-D Gaussian fitted by MLE: E[log sigma²_k] falls by
    psi((n-1)/2) + ln(2/n) per fit and sigma² collapses toward zero; with the
    unbiased estimator the drop is psi((n-1)/2) + ln(2/(n-1)) per fit."""
    n, generations, chains = 100, (60 if fast else 200), (60 if fast else 300)
    settings = LabSettings(loop="fully_synthetic", n_real=n, n_synthetic=n, bias=1.0)
    checks = []
    for estimator, ddof in (("mle", 0), ("unbiased", 1)):
        drop = float(torch.special.digamma(torch.tensor((n - 1) / 2))) + math.log(2 / (n - ddof))
        culture = _culture(0, "gauss1d", topics=1, dim=1, reference_size=200)
        true_var = float(culture.covariances[0, 0, 0])
        logs = np.empty((chains, generations))
        for chain in range(chains):
            generator = Streams(chain).torch(f"variance:{estimator}")
            variances = _run(
                culture,
                "gaussian",
                settings,
                generations,
                generator,
                {"covariance": estimator},
                on_generation=lambda g: float(g.model.covariance_[0, 0]),
            )
            logs[chain] = np.log(np.asarray(variances) / true_var)
        mean, se = _mean_se(logs[:, -1])
        expected = generations * drop
        median_ratio = float(np.exp(np.median(logs[:, -1])))
        checks.append(
            Check(
                check=f"gaussian-{estimator}: mean log(sigma²_{generations}/sigma²) (n={n})",
                source=f"{SHUMAILOV} (derived: {generations} x {drop:.6f})",
                expected=f"{expected:.3f}",
                measured=f"{mean:.3f} ± {se:.3f} (median sigma² ratio {median_ratio:.3f})",
                tolerance="|measured - expected| <= 4 se",
                passed=abs(mean - expected) <= 4 * se,
            )
        )
    return checks


def bias_keeps_precision_loses_recall(fast: bool) -> list[Check]:
    """Fully synthetic loop with sampling bias lambda < 1: precision stays high
    while recall falls toward zero within a few generations; unbiased sampling
    (the control) keeps recall."""
    seeds, generations = (3 if fast else 8), 10
    ratios: dict[float, list[float]] = {0.6: [], 1.0: []}
    precision: list[float] = []
    for seed in range(seeds):
        culture = _culture(seed, "bias", topics=10, dim=4)
        for bias in ratios:
            settings = LabSettings(loop="fully_synthetic", n_real=4000, n_synthetic=4000, bias=bias)
            generator = Streams(seed).torch(f"bias:{bias}")
            scores = _mixture_scores(culture, settings, generations, generator, components=10)
            ratios[bias].append(scores[-1]["recall"] / scores[0]["recall"])
            if bias < 1:
                precision.append(scores[-1]["precision"])
    p_mean, p_se = _mean_se(np.array(precision))
    r_mean, r_se = _mean_se(np.array(ratios[0.6]))
    c_mean, c_se = _mean_se(np.array(ratios[1.0]))
    return [
        Check(
            check=f"bias lambda=0.6: precision at generation {generations}",
            source=ALEMOHAMMAD,
            expected="stays high: >= 0.9",
            measured=f"{p_mean:.3f} ± {p_se:.3f}",
            tolerance=f"mean - 2 se, {seeds} seeds",
            passed=p_mean - 2 * p_se >= 0.9,
        ),
        Check(
            check=f"bias lambda=0.6: recall at generation {generations} / generation 1",
            source=ALEMOHAMMAD,
            expected="falls toward zero: <= 0.2",
            measured=f"{r_mean:.3f} ± {r_se:.3f}",
            tolerance=f"mean + 2 se, {seeds} seeds",
            passed=r_mean + 2 * r_se <= 0.2,
        ),
        Check(
            check=f"control lambda=1: recall at generation {generations} / generation 1",
            source=ALEMOHAMMAD,
            expected="kept: >= 0.9",
            measured=f"{c_mean:.3f} ± {c_se:.3f}",
            tolerance=f"mean - 2 se, {seeds} seeds",
            passed=c_mean - 2 * c_se >= 0.9,
        ),
    ]


def fresh_data_settles(fast: bool) -> list[Check]:
    """Fresh data loop with biased sampling: with enough fresh real data the
    metrics settle at a level that rises with the real share; without it they decay."""
    seeds, generations, total, bias = (2 if fast else 5), (10 if fast else 16), 2000, 0.8
    shares = (0.0, 0.2, 0.5)
    recall: dict[float, list[np.ndarray]] = {share: [] for share in shares}
    for seed in range(seeds):
        culture = _culture(seed, "fresh", topics=10, dim=4)
        for share in shares:
            n_real = max(2, round(share * total))
            settings = LabSettings(
                loop="fresh_data" if share > 0 else "fully_synthetic",
                n_real=n_real if share > 0 else total,
                n_synthetic=total - (n_real if share > 0 else 0),
                bias=bias,
            )
            generator = Streams(seed).torch(f"fresh:{share}")
            scores = _mixture_scores(culture, settings, generations, generator, components=10)
            recall[share].append(np.array([score["recall"] for score in scores]))
    final = {share: np.mean([s[-3:].mean() for s in recall[share]]) for share in shares}
    start = {share: np.mean([s[0] for s in recall[share]]) for share in shares}
    drift = {
        share: np.mean([s[-3:].mean() - s[-6:-3].mean() for s in recall[share]]) for share in shares
    }
    ordered = final[0.0] < final[0.2] < final[0.5]
    return [
        Check(
            check="fresh data: final recall rises with the real share (0, 0.2, 0.5)",
            source=ALEMOHAMMAD,
            expected="increasing in the real share",
            measured=", ".join(f"{final[s]:.3f}" for s in shares),
            tolerance=f"mean of last 3 generations, {seeds} seeds",
            passed=bool(ordered),
        ),
        Check(
            check="fresh data: no fresh data decays (final / first recall)",
            source=ALEMOHAMMAD,
            expected="<= 0.5",
            measured=f"{final[0.0] / start[0.0]:.3f}",
            tolerance=f"mean over {seeds} seeds",
            passed=final[0.0] / start[0.0] <= 0.5,
        ),
        Check(
            check="fresh data: real share 0.5 settles (recall change over the last 6 generations)",
            source=ALEMOHAMMAD,
            expected="|change| <= 0.03",
            measured=f"{drift[0.5]:+.4f}",
            tolerance=f"mean over {seeds} seeds",
            passed=abs(drift[0.5]) <= 0.03,
        ),
    ]


def replace_vs_accumulate(fast: bool) -> list[Check]:
    """Squared error of the fitted mean: replace grows as tr(S)(1 - ((n-1)/n)^k);
    accumulate stays below (pi²/6) tr(S)/n (the Gaussian analogue of Gerstgrasser et al.)."""
    n, generations, chains, dim = 100, (30 if fast else 60), (40 if fast else 200), 4
    culture = _culture(0, "accumulate", topics=1, dim=dim, reference_size=200)
    mean, cov = culture.means[0], culture.covariances[0]
    trace = float(torch.trace(cov))
    errors: dict[str, np.ndarray] = {}
    for data in ("replace", "accumulate"):
        settings = LabSettings(loop="fully_synthetic", n_real=n, n_synthetic=n, data=data)
        errors[data] = np.array(
            [
                _run(
                    culture,
                    "gaussian",
                    settings,
                    generations,
                    Streams(chain).torch(f"acc:{data}"),
                    on_generation=lambda g: float(((g.model.mean_ - mean) ** 2).sum()) / trace,
                )[-1]
                for chain in range(chains)
            ]
        )
    replace_mean, replace_se = _mean_se(errors["replace"])
    accumulate_mean, accumulate_se = _mean_se(errors["accumulate"])
    replace_expected = 1 - ((n - 1) / n) ** generations
    bound = math.pi**2 / 6 / n
    return [
        Check(
            check=f"replace: mean ||mu_{generations} - mu||² / tr(Sigma) (n={n}, d={dim})",
            source=f"{GERSTGRASSER} (derived for the Gaussian)",
            expected=f"{replace_expected:.4f}",
            measured=f"{replace_mean:.4f} ± {replace_se:.4f}",
            tolerance="|measured - expected| <= 4 se",
            passed=abs(replace_mean - replace_expected) <= 4 * replace_se,
        ),
        Check(
            check=f"accumulate: mean ||mu_{generations} - mu||² / tr(Sigma) stays bounded",
            source=GERSTGRASSER,
            expected=f"<= (pi²/6)/n = {bound:.4f}",
            measured=f"{accumulate_mean:.4f} ± {accumulate_se:.4f}",
            tolerance="measured - 4 se <= bound",
            passed=accumulate_mean - 4 * accumulate_se <= bound,
        ),
    ]


def tails_vanish_first(fast: bool) -> list[Check]:
    """Fully synthetic loop with a mixture model: tail topics lose their mass
    before head topics do. A topic is lost once the model gives it under 10% of
    its true mass."""
    seeds, generations, n = (5 if fast else 8), 15, 1000
    settings = LabSettings(loop="fully_synthetic", n_real=n, n_synthetic=n, bias=1.0)
    tail_lost, head_lost = [], []
    losses = {"tail": 0, "head": 0}
    for seed in range(seeds):
        culture = _culture(seed, "tails", topics=20, dim=2, zipf=1.3, separation=6.0)
        generator = Streams(seed).torch("tails")

        def lost_topics(g, c=culture, gen=generator):
            topics = c.assign(g.model.sample(10000, generator=gen))
            mass = torch.bincount(topics, minlength=c.topics).double() / len(topics)
            return mass < 0.1 * c.weights

        lost = torch.stack(
            _run(
                culture,
                "gmm",
                settings,
                generations,
                generator,
                {"components": 20},
                on_generation=lost_topics,
            )
        )
        tail_lost.append(float(lost[-1][culture.tail_mask].double().mean()))
        head_lost.append(float(lost[-1][~culture.tail_mask].double().mean()))
        ever = lost.any(dim=0)
        losses["tail"] += int(ever[culture.tail_mask].sum())
        losses["head"] += int(ever[~culture.tail_mask].sum())
        tail_share_of_topics = float(culture.tail_mask.double().mean())
    tail_mean, tail_se = _mean_se(np.array(tail_lost))
    head_mean, head_se = _mean_se(np.array(head_lost))
    total = losses["tail"] + losses["head"]
    p_value = _binomial_upper_tail(losses["tail"], total, tail_share_of_topics)
    return [
        Check(
            check=f"tails: share of topics lost by generation {generations} (n={n})",
            source=SHUMAILOV,
            expected="tail > head",
            measured=f"tail {tail_mean:.3f} ± {tail_se:.3f}, head {head_mean:.3f} ± {head_se:.3f}",
            tolerance=f"difference > 2 se, {seeds} seeds",
            passed=tail_mean - head_mean > 2 * math.hypot(tail_se, head_se),
        ),
        Check(
            check="tails: topics that vanish are tail topics far beyond their share of topics",
            source=SHUMAILOV,
            expected=f"tail share of losses > {tail_share_of_topics:.2f} (popularity-blind null)",
            measured=f"{losses['tail']} of {total} losses in the tail (binomial p = {p_value:.2g})",
            tolerance=f"one-sided p < 0.01, losses pooled over {seeds} seeds",
            passed=total > 0 and p_value < 0.01,
        ),
    ]


def _binomial_upper_tail(successes: int, trials: int, p: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, p)."""
    return sum(
        math.comb(trials, i) * p**i * (1 - p) ** (trials - i) for i in range(successes, trials + 1)
    )


def augmentation_needs_model_error(fast: bool) -> list[Check]:
    """Synthetic augmentation loop: a well-specified Gaussian stays stable
    (Bertrand et al.); a misspecified mixture (3 components for 10 topics) with
    lambda = 0.8 and 20% real data degrades, more slowly than in the fully synthetic loop."""
    chains, generations = (40 if fast else 60), 30
    gaussian = _culture(0, "augmentation", topics=1, dim=4, reference_size=200)
    true_logdet = float(torch.logdet(gaussian.covariances[0]))
    drift: dict[str, np.ndarray] = {}
    for loop in ("synthetic_augmentation", "fully_synthetic"):
        settings = LabSettings(loop=loop, n_real=100, n_synthetic=100)
        logdets = np.array(
            [
                _run(
                    gaussian,
                    "gaussian",
                    settings,
                    generations,
                    Streams(chain).torch(f"aug:{loop}"),
                    on_generation=lambda g: float(torch.logdet(g.model.covariance_)) - true_logdet,
                )
                for chain in range(chains)
            ]
        )
        drift[loop] = logdets[:, generations - 1] - logdets[:, 9]
    seeds, mixture_generations, bias = (2 if fast else 5), (10 if fast else 12), 0.8
    kept: dict[str, list[float]] = {"synthetic_augmentation": [], "fully_synthetic": []}
    for seed in range(seeds):
        culture = _culture(seed, "misspecified", topics=10, dim=4)
        for mixture_loop in ("synthetic_augmentation", "fully_synthetic"):
            settings = LabSettings(loop=mixture_loop, n_real=1000, n_synthetic=4000, bias=bias)
            generator = Streams(seed).torch(f"misspecified:{mixture_loop}")
            scores = _mixture_scores(
                culture, settings, mixture_generations, generator, components=3
            )
            recall = np.array([score["recall"] for score in scores])
            kept[mixture_loop].append(float(recall[-3:].mean() / recall[0]))
    stable_mean, stable_se = _mean_se(drift["synthetic_augmentation"])
    collapse_mean, _ = _mean_se(drift["fully_synthetic"])
    aug_mean, aug_se = _mean_se(np.array(kept["synthetic_augmentation"]))
    full_mean, full_se = _mean_se(np.array(kept["fully_synthetic"]))
    return [
        Check(
            check="augmentation, well-specified Gaussian: change of log det(Sigma_k) "
            f"from generation 10 to {generations}",
            source=BERTRAND,
            expected=f"stable: |change| <= 0.15 (fully synthetic: {collapse_mean:+.2f})",
            measured=f"{stable_mean:+.3f} ± {stable_se:.3f}",
            tolerance=f"|mean| + 2 se <= 0.15, {chains} chains, n_real = n_synthetic = 100",
            passed=abs(stable_mean) + 2 * stable_se <= 0.15,
        ),
        Check(
            check=f"augmentation, misspecified mixture, lambda={bias}: final / first recall",
            source=ALEMOHAMMAD,
            expected="degrades (< 1), more slowly than fully synthetic",
            measured=f"augmentation {aug_mean:.3f} ± {aug_se:.3f}, "
            f"fully synthetic {full_mean:.3f} ± {full_se:.3f}",
            tolerance=f"mean + 2 se < 1 and above fully synthetic by > 2 se, {seeds} seeds",
            passed=aug_mean + 2 * aug_se < 1
            and aug_mean - full_mean > 2 * math.hypot(aug_se, full_se),
        ),
    ]


CHECKS: dict[str, Callable[[bool], list[Check]]] = {
    "variance-collapse": gaussian_variance_collapse,
    "bias": bias_keeps_precision_loses_recall,
    "fresh-data": fresh_data_settles,
    "accumulate": replace_vs_accumulate,
    "tails": tails_vanish_first,
    "augmentation": augmentation_needs_model_error,
}


def world_checks(world: str = "vectors") -> dict[str, Callable[[bool], list[Check]]]:
    """The checks of ``world``: the vector world's (:data:`CHECKS`), the text world's
    (:data:`ecosystem.experiments.text_validation.TEXT_CHECKS`) or the digits world's
    (:data:`ecosystem.experiments.digits_validation.DIGITS_CHECKS`)."""
    if world == "vectors":
        return CHECKS
    if world == "text":
        from ecosystem.experiments.text_validation import TEXT_CHECKS  # it builds on this module

        return TEXT_CHECKS
    if world == "digits":
        from ecosystem.experiments.digits_validation import DIGITS_CHECKS

        return DIGITS_CHECKS
    raise ValueError(f"unknown world {world!r} for validation; available: vectors, text, digits")


def run_checks(
    names: list[str] | None = None,
    *,
    fast: bool = False,
    progress=None,
    world: str = "vectors",
) -> list[Check]:
    """Run the named checks of ``world`` (all by default) and return their rows."""
    checks = world_checks(world)
    names = list(checks) if names is None else names
    unknown = [name for name in names if name not in checks]
    if unknown:
        raise ValueError(
            f"unknown check {unknown[0]!r} of the {world} world; available: {', '.join(checks)}"
        )
    results: list[Check] = []
    for name in names:
        results.extend(checks[name](fast))
        if progress is not None:
            progress(name)
    return results
