"""Validation of the text world: the laws of word loss under self-consuming language models.

Core objects: :data:`TEXT_CHECKS` (the registry of check functions, each returning
:class:`~ecosystem.experiments.validation.Check` rows) and :func:`binomial_chain_survival`
(the exact Wright-Fisher survival of a word). Every check runs the lab loop of the text world
(:mod:`ecosystem.world.lab`) with the registered language models over several seeds and
compares it with an exact prediction or a published direction under a statistical
tolerance. ``fast=True`` (the test suite) runs fewer seeds and generations.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import models
from ecosystem.experiments.validation import ALEMOHAMMAD, GERSTGRASSER, SHUMAILOV, Check
from ecosystem.randomness import Streams
from ecosystem.scenario import LabSettings, Scenario, load_scenario
from ecosystem.world.lab import self_consuming_loop
from ecosystem.world.text import TextWorld
from ecosystem.world.worlds import make_world
from models.documents import Documents

__all__ = ["TEXT_CHECKS", "binomial_chain_survival"]

DOHMATOB = "Dohmatob et al., ICML 2024"
KAZDAN = "Kazdan et al. 2024 (arXiv 2410.16713)"


def _mean_se(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


def binomial_chain_survival(n: int, generations: int) -> np.ndarray:
    """``[n + 1, generations + 1]``: the probability that a word of count ``c`` among ``n``
    words is still written after ``k`` generations of resampling ``n`` words from the
    previous generation's frequencies (the Wright-Fisher chain, count_{k+1} ~ Binomial(n,
    count_k / n)), computed exactly from the chain's transition matrix."""
    counts = torch.arange(n + 1, dtype=torch.float64)
    p = counts / n
    log_choose = (
        torch.lgamma(torch.tensor(n + 1.0, dtype=torch.float64))
        - torch.lgamma(counts + 1)
        - torch.lgamma(n - counts + 1)
    )
    log_pmf = (
        log_choose[None, :]
        + torch.special.xlogy(counts[None, :], p[:, None])
        + torch.special.xlogy(n - counts[None, :], 1 - p[:, None])
    )
    transition = log_pmf.exp()  # transition[i, j] = P(j words next | i words now)
    state = torch.eye(n + 1, dtype=torch.float64)
    survival = torch.empty(n + 1, generations + 1, dtype=torch.float64)
    for k in range(generations + 1):
        survival[:, k] = 1 - state[:, 0]
        state = state @ transition
    return survival.numpy()


def _world(seed: int, name: str, **text) -> tuple[TextWorld, Scenario]:
    overrides = [f"text.{key}={value}" for key, value in text.items()]
    scenario = load_scenario("text-fully-synthetic", overrides)
    world = make_world(scenario, Streams(seed).torch(f"text-world:{name}"))
    assert isinstance(world, TextWorld)
    return world, scenario


def _counts(documents: Documents, vocab: int) -> np.ndarray:
    return np.bincount(documents.tokens, minlength=vocab)


def _unigram_probabilities(model, vocab: int) -> np.ndarray:
    """A unigram model's word probabilities, from its scores of every one-word document."""
    every = Documents.from_lists([[w] for w in range(vocab)])
    return model.log_prob(every).exp().numpy()


def words_vanish_in_order(fast: bool) -> list[Check]:
    """Unigram MLE, fully synthetic, n one-word documents per generation: the chance that a
    word of initial count c is still written after k generations is the binomial chain's,
    and so is the expected number of distinct words."""
    n, vocab = 1000, 1000
    chains, generations = (20, 10) if fast else (60, 25)
    ks = (1, 5, generations - 1)
    cs = (1, 2, 4, 8)
    survival = binomial_chain_survival(n, generations)
    settings = LabSettings(loop="fully_synthetic", n_real=n, n_synthetic=n)
    alive: dict[tuple[int, int], list[bool]] = {(c, k): [] for c in cs for k in ks}
    distinct_gap = []
    for chain in range(chains):
        world, _ = _world(chain, "wright-fisher", vocab=vocab, mean_length=1.0, topics=10)
        model = models.make("ngram", vocab=vocab, order=1, smoothing="none")
        generator = Streams(chain).torch("text:wright-fisher")
        initial = None
        for generation in self_consuming_loop(world, model, settings, generations, generator):
            counts = _counts(generation.train, vocab)
            k = generation.index - 1  # binomial steps since the human words
            if initial is None:
                initial = counts
            for c in cs:
                if k in ks:
                    alive[c, k].extend((counts[initial == c] > 0).tolist())
        assert initial is not None
        expected_distinct = survival[initial, generations - 1].sum()
        distinct_gap.append(int((counts > 0).sum()) - expected_distinct)
    checks = []
    for c in cs:
        measured = []
        for k in ks:
            words = np.asarray(alive[c, k], dtype=np.float64)
            expected = float(survival[c, k])
            se = math.sqrt(max(expected * (1 - expected), 1e-12) / len(words))
            measured.append((k, words.mean(), expected, se, len(words)))
        worst = max(abs(m - e) / se for _, m, e, se, _ in measured)
        checks.append(
            Check(
                check=f"Wright-Fisher: survival of a word of initial count {c} (n={n} words)",
                source=f"{SHUMAILOV} (exact binomial chain)",
                expected=", ".join(f"k={k}: {e:.3f}" for k, _, e, _, _ in measured),
                measured=", ".join(f"{m:.3f} ({words} words)" for _, m, _, _, words in measured),
                tolerance=f"|measured - expected| <= 4 binomial se at every k, {chains} chains",
                passed=worst <= 4,
            )
        )
    final = [np.mean(alive[c, ks[-1]]) for c in cs]
    gap, gap_se = _mean_se(distinct_gap)
    checks.append(
        Check(
            check=f"Wright-Fisher: rare words vanish first (survival at k={ks[-1]} by count)",
            source=SHUMAILOV,
            expected=f"increasing in c = {', '.join(map(str, cs))}",
            measured=", ".join(f"{value:.3f}" for value in final),
            tolerance=f"strictly increasing, {chains} chains",
            passed=all(a < b for a, b in itertools.pairwise(final)),
        )
    )
    checks.append(
        Check(
            check=f"Wright-Fisher: distinct words at k={generations - 1} minus the chain's "
            "expectation",
            source=f"{SHUMAILOV} (exact binomial chain)",
            expected="0",
            measured=f"{gap:+.2f} ± {gap_se:.2f} words",
            tolerance=f"|mean| <= 4 se, {chains} chains",
            passed=abs(gap) <= 4 * gap_se,
        )
    )
    return checks


def top_k_cuts_the_tail(fast: bool) -> list[Check]:
    """Unigram MLE sampled with top-k: after generation 1 no word beyond the model's rank k
    is written, the true mass lost is the truth's mass beyond rank k, and fresh human text
    at share pi brings tail words back at pi times that mass."""
    n, vocab, top_k, length = 1000, 2000, 100, 20.0
    seeds, generations = (3, 4) if fast else (8, 6)
    cut: list[int] = []
    missing: list[float] = []
    gaps: dict[float, list[float]] = {0.2: [], 0.5: []}
    for seed in range(seeds):
        world, _ = _world(seed, "top-k", vocab=vocab, mean_length=length)
        truth = world.word_weights.numpy()
        beyond = np.sort(truth)[::-1][top_k:].sum()
        for share in (0.0, 0.2, 0.5):
            human = round(share * n)
            settings = LabSettings(
                loop="fresh_data" if share else "fully_synthetic",
                n_real=human if share else n,
                n_synthetic=n - human,
            )
            model = models.make("ngram", vocab=vocab, order=1, smoothing="none", top_k=top_k)
            generator = Streams(seed).torch(f"text:top-k:{share}")
            kept = None
            for generation in self_consuming_loop(world, model, settings, generations, generator):
                counts = _counts(generation.train, vocab)
                if kept is not None:
                    outside = ~kept
                    written = counts[outside].sum() / counts.sum()
                    if share == 0:
                        cut.append(int(counts[outside].sum()))
                    else:
                        real = ~generation.synthetic.numpy()
                        lengths = generation.train.lengths
                        human_share = lengths[real].sum() / lengths.sum()
                        gaps[share].append(written - human_share * truth[outside].sum())
                order = np.argsort(-_unigram_probabilities(model, vocab), kind="stable")
                kept = np.zeros(vocab, dtype=bool)
                kept[order[:top_k]] = True
                if share == 0 and generation.index == 1:
                    missing.append(truth[~kept].sum() - beyond)
    gap, gap_se = _mean_se(missing)
    checks = [
        Check(
            check=f"top-k={top_k}: words written beyond the previous model's top {top_k}",
            source=DOHMATOB,
            expected="0 after generation 1",
            measured=f"{sum(cut)} words in {len(cut)} generations",
            tolerance="exact",
            passed=sum(cut) == 0,
        ),
        Check(
            check=f"top-k={top_k}: true mass the first model cannot write minus the truth's "
            f"mass beyond rank {top_k}",
            source=DOHMATOB,
            expected="0 (a finite sample ranks a few boundary words wrongly: >= 0)",
            measured=f"{gap:+.4f} ± {gap_se:.4f}",
            tolerance="0 <= mean <= 0.01 + 4 se",
            passed=-4 * gap_se <= gap <= 0.01 + 4 * gap_se,
        ),
    ]
    for share, values in gaps.items():
        mean, se = _mean_se(values)
        checks.append(
            Check(
                check=f"top-k={top_k} with fresh human text at share {share}: tail words "
                "written minus human share x tail mass",
                source=DOHMATOB,
                expected="0",
                measured=f"{mean:+.4f} ± {se:.4f}",
                tolerance=f"|mean| <= 4 se, {len(values)} generations",
                passed=abs(mean) <= 4 * se,
            )
        )
    return checks


def _metric_changes(
    world: TextWorld,
    scenario: Scenario,
    model_params: dict,
    settings: LabSettings,
    generations: int,
    generator: torch.Generator,
    samples: int = 1000,
) -> list[dict[str, float]]:
    """Every text metric of each generation (a sample drawn at the loop's temperature)."""
    model = models.make("ngram", vocab=world.vocab, **model_params)
    rows = []
    for generation in self_consuming_loop(world, model, settings, generations, generator):
        drawn: Any = generation.model.sample(samples, bias=settings.bias, generator=generator)
        rows.append(world.evaluate(drawn, scenario.metrics, model=generation.model))
    return rows


def temperature_trades_diversity_for_quality(fast: bool) -> list[Check]:
    """Smoothed bigram, fully synthetic, temperature 0.7: within a few generations the
    samples' likelihood under the truth rises while vocabulary coverage and distinct-2
    fall and the model's perplexity on human text rises (the MAD lambda result in text)."""
    (seeds, generations), n = ((3, 4) if fast else (6, 6)), 1000
    deltas: dict[float, dict[str, list[float]]] = {0.7: {}, 1.0: {}}
    names = ("word_log_likelihood", "vocabulary_coverage", "distinct_2", "perplexity")
    for seed in range(seeds):
        world, scenario = _world(seed, "temperature", vocab=2000, mean_length=30.0)
        for bias in deltas:
            settings = LabSettings(loop="fully_synthetic", n_real=n, n_synthetic=n, bias=bias)
            generator = Streams(seed).torch(f"text:temperature:{bias}")
            rows = _metric_changes(world, scenario, {"order": 2}, settings, generations, generator)
            for name in names:
                change = rows[-1][name] - rows[0][name]
                if name == "perplexity":
                    change = math.log(rows[-1][name] / rows[0][name])
                deltas[bias].setdefault(name, []).append(change)
    checks = []
    directions = {
        "word_log_likelihood": ("quality (per-word log-likelihood under the truth)", 1),
        "vocabulary_coverage": ("vocabulary coverage", -1),
        "distinct_2": ("distinct-2", -1),
        "perplexity": ("log perplexity on human text", 1),
    }
    for name, (label, sign) in directions.items():
        mean, se = _mean_se(deltas[0.7][name])
        checks.append(
            Check(
                check=f"temperature 0.7: change of {label}, generation {generations} - 1",
                source=ALEMOHAMMAD,
                expected="rises" if sign > 0 else "falls",
                measured=f"{mean:+.4f} ± {se:.4f}",
                tolerance=f"{'mean - 2 se > 0' if sign > 0 else 'mean + 2 se < 0'}, {seeds} seeds",
                passed=sign * mean - 2 * se > 0,
            )
        )
    control, _ = _mean_se(deltas[1.0]["word_log_likelihood"])
    biased, _ = _mean_se(deltas[0.7]["word_log_likelihood"])
    checks.append(
        Check(
            check="control temperature 1: quality rises less than at temperature 0.7",
            source=ALEMOHAMMAD,
            expected=f"< {biased:+.4f}",
            measured=f"{control:+.4f}",
            tolerance=f"mean over {seeds} seeds",
            passed=control < biased,
        )
    )
    return checks


def replace_loses_accumulate_keeps(fast: bool) -> list[Check]:
    """Unigram MLE, fully synthetic, one-word documents: the expected number of human words
    missing from a sample of n words of a generation's model grows with the generation under
    replace and stays bounded under accumulate."""
    n, vocab = 1000, 1000
    chains, generations = (12, 12) if fast else (40, 24)
    half = generations // 2
    lost: dict[str, np.ndarray] = {}
    for data in ("replace", "accumulate"):
        series = np.empty((chains, generations))
        for chain in range(chains):
            world, _ = _world(chain, "accumulate", vocab=vocab, mean_length=1.0, topics=10)
            settings = LabSettings(loop="fully_synthetic", n_real=n, n_synthetic=n, data=data)
            model = models.make("ngram", vocab=vocab, order=1, smoothing="none")
            generator = Streams(chain).torch(f"text:accumulate:{data}")
            human = None
            for generation in self_consuming_loop(world, model, settings, generations, generator):
                if human is None:
                    human = _counts(generation.train, vocab) > 0
                p = _unigram_probabilities(generation.model, vocab)
                series[chain, generation.index - 1] = ((1 - p[human]) ** n).sum()
        lost[data] = series
    growth = {data: lost[data][:, -1] - lost[data][:, half - 1] for data in lost}
    replace_growth, replace_se = _mean_se(growth["replace"])
    accumulate_growth, accumulate_se = _mean_se(growth["accumulate"])
    first, last = lost["replace"][:, 0].mean(), lost["replace"][:, -1].mean()
    kept_first, kept_last = lost["accumulate"][:, 0].mean(), lost["accumulate"][:, -1].mean()
    return [
        Check(
            check=f"replace: human words lost, generation {half} to {generations}",
            source=f"{GERSTGRASSER}; {KAZDAN}",
            expected="grows",
            measured=f"{first:.0f} -> {last:.0f} words (growth {replace_growth:+.1f} "
            f"± {replace_se:.1f})",
            tolerance=f"growth - 2 se > 0, {chains} chains",
            passed=replace_growth - 2 * replace_se > 0,
        ),
        Check(
            check=f"accumulate: human words lost, generation {half} to {generations}",
            source=f"{GERSTGRASSER}; {KAZDAN}",
            expected="bounded: growth under a quarter of replace's",
            measured=f"{kept_first:.0f} -> {kept_last:.0f} words (growth "
            f"{accumulate_growth:+.1f} ± {accumulate_se:.1f})",
            tolerance=f"growth + 2 se < replace growth / 4, {chains} chains",
            passed=accumulate_growth + 2 * accumulate_se < replace_growth / 4,
        ),
    ]


def fresh_text_settles(fast: bool) -> list[Check]:
    """Smoothed bigram at temperature 0.9 with fresh human text each generation: vocabulary
    coverage settles at a level that grows with the human share."""
    (seeds, generations), n = ((2, 16) if fast else (4, 20)), 1000
    shares = (0.1, 0.3, 0.6)
    coverage: dict[float, list[np.ndarray]] = {share: [] for share in shares}
    for seed in range(seeds):
        world, scenario = _world(seed, "fresh", vocab=2000, mean_length=30.0)
        for share in shares:
            human = round(share * n)
            settings = LabSettings(loop="fresh_data", n_real=human, n_synthetic=n - human, bias=0.9)
            generator = Streams(seed).torch(f"text:fresh:{share}")
            rows = _metric_changes(world, scenario, {"order": 2}, settings, generations, generator)
            coverage[share].append(np.array([row["vocabulary_coverage"] for row in rows]))
    final = {share: np.mean([c[-3:].mean() for c in coverage[share]]) for share in shares}
    drift = {
        share: np.mean([c[-3:].mean() - c[-6:-3].mean() for c in coverage[share]])
        for share in shares
    }
    return [
        Check(
            check="fresh text: final vocabulary coverage rises with the human share "
            f"({', '.join(map(str, shares))})",
            source=ALEMOHAMMAD,
            expected="increasing in the human share",
            measured=", ".join(f"{final[s]:.3f}" for s in shares),
            tolerance=f"mean of the last 3 generations, {seeds} seeds",
            passed=final[shares[0]] < final[shares[1]] < final[shares[2]],
        ),
        Check(
            check=f"fresh text: human share {shares[-1]} settles (coverage change over the "
            "last 6 generations)",
            source=ALEMOHAMMAD,
            expected="|change| <= 0.02",
            measured=f"{drift[shares[-1]]:+.4f}",
            tolerance=f"mean over {seeds} seeds",
            passed=abs(drift[shares[-1]]) <= 0.02,
        ),
    ]


TEXT_CHECKS: dict[str, Callable[[bool], list[Check]]] = {
    "wright-fisher": words_vanish_in_order,
    "top-k": top_k_cuts_the_tail,
    "temperature": temperature_trades_diversity_for_quality,
    "accumulate": replace_loses_accumulate_keeps,
    "fresh-data": fresh_text_settles,
}
