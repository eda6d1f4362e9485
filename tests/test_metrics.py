"""Tests for ecosystem.measure.metrics: known distributions, exactness and bad input."""

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ecosystem.measure.metrics import (
    Reference,
    density_coverage,
    evaluate,
    frechet_distance,
    knn_radii,
    precision_recall,
    subsample,
    tail_mass_ratio,
    topic_coverage,
    topic_entropy,
    topic_histogram,
)

METRIC_KEYS = {
    "precision",
    "recall",
    "density",
    "coverage",
    "frechet",
    "log_likelihood",
    "topic_coverage",
    "tail_mass_ratio",
    "topic_entropy",
}
WEIGHTS = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
TAIL_MASK = torch.tensor([False, False, True, True])
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None)


def make_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def gaussian(n: int, d: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(n, d, generator=generator, dtype=torch.float64)


class Mixture:
    """Isotropic Gaussian mixture with unit spread; `scale` < 1 pulls points to their means."""

    def __init__(self, d: int, generator: torch.Generator, separation: float = 4.0) -> None:
        self.means = separation * gaussian(len(WEIGHTS), d, generator)

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        scale: float = 1.0,
        shift: float | torch.Tensor = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        topics = torch.multinomial(WEIGHTS, n, replacement=True, generator=generator)
        noise = gaussian(n, self.means.shape[1], generator)
        return self.means[topics] + scale * noise + shift, topics


class StandInCulture:
    """The duck-typed culture `evaluate` expects, built on a 4-topic 2-D Gaussian mixture."""

    def __init__(self, seed: int = 0, n_reference: int = 500, k: int = 5) -> None:
        generator = make_generator(seed)
        self.mixture = Mixture(2, generator, separation=6.0)
        self.weights = WEIGHTS
        self.tail_mask = TAIL_MASK
        self.topics = len(WEIGHTS)
        self.reference = Reference(self.sample(n_reference, generator), k)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.mixture.sample(n, generator)[0]

    def _joint_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float64)
        squared = (x[:, None, :] - self.mixture.means[None]).square().sum(-1)
        d = x.shape[1]
        return self.weights.log() - squared / 2 - d / 2 * math.log(2 * math.pi)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self._joint_log_prob(x), dim=1)

    def assign(self, x: torch.Tensor) -> torch.Tensor:
        return self._joint_log_prob(x).argmax(dim=1)


@pytest.fixture(scope="module")
def truth_pair():
    """Two independent samples of one 8-D mixture, and the mixture to draw more from."""
    generator = make_generator(2024)
    mixture = Mixture(8, generator)
    real = mixture.sample(2000, generator)[0]
    fake = mixture.sample(2000, generator)[0]
    return mixture, Reference(real), fake


@pytest.fixture(scope="module")
def culture():
    return StandInCulture()


def every_metric(real, fake, k: int = 3) -> tuple[float, ...]:
    return (
        *precision_recall(real, fake, k),
        *density_coverage(real, fake, k),
        frechet_distance(real, fake),
    )


# --- k-NN radii -------------------------------------------------------------------------------


def test_knn_radii_match_brute_force():
    x = gaussian(300, 5, make_generator(1))
    distances = np.sort(scipy.spatial.distance.cdist(x.numpy(), x.numpy()), axis=1)
    for k in (1, 5, 17):
        np.testing.assert_allclose(knn_radii(x, k).numpy(), distances[:, k], rtol=1e-12)


def test_knn_radii_exclude_only_the_point_itself_among_duplicates():
    x = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
    assert knn_radii(x, k=1).tolist() == [0.0, 0.0, 5.0]
    assert knn_radii(x, k=2).tolist() == [5.0, 5.0, 5.0]


def test_knn_radii_accept_float32_numpy_and_return_float64():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    radii = knn_radii(x, k=2)
    assert radii.dtype == torch.float64
    assert radii.shape == (10,)


# --- behaviour on known distributions ---------------------------------------------------------


def test_truth_against_truth_has_precision_and_recall_near_one(truth_pair):
    # Observed at k=5, d=8, n=2000: 0.925-0.944 over 10 seeds (a finite sample's k-NN balls
    # miss some of the support in 8-D), so 0.9 leaves margin without hiding a real failure.
    _, reference, fake = truth_pair
    precision, recall = precision_recall(reference, fake)
    assert precision > 0.9
    assert recall > 0.9


def test_truth_against_truth_has_density_one_and_coverage_one_minus_half_to_the_k(truth_pair):
    # Naeem et al. 2020: for identical distributions E[density] = 1 and
    # E[coverage] = 1 - prod_{i=1..k} (N - i) / (N + M - i), about 1 - 2^-k = 0.969 here.
    # Observed over 10 seeds: density 0.962-1.029, coverage 0.964-0.972.
    _, reference, fake = truth_pair
    n_real, n_fake, k = len(reference), len(fake), reference.k
    expected_coverage = 1 - math.prod((n_real - i) / (n_real + n_fake - i) for i in range(1, k + 1))
    density, coverage = density_coverage(reference, fake)
    assert 0.9 < density < 1.1
    assert abs(coverage - expected_coverage) < 0.015


def test_shrunk_sample_keeps_precision_and_loses_recall(truth_pair):
    # Covariance scaled by 0.3 around each component mean: observed precision 1.0, recall ~0.31.
    mixture, reference, fake = truth_pair
    generator = make_generator(31)
    shrunk = mixture.sample(2000, generator, scale=math.sqrt(0.3))[0]
    truth_recall = precision_recall(reference, fake)[1]
    precision, recall = precision_recall(reference, shrunk)
    assert precision > 0.9
    assert recall < 0.5 * truth_recall
    assert density_coverage(reference, shrunk)[1] < density_coverage(reference, fake)[1]
    assert frechet_distance(reference, shrunk) > frechet_distance(reference, fake)


def test_shifted_sample_loses_precision_and_recall(truth_pair):
    # 4 sd along one axis: observed precision 0.35, recall 0.27 (truth: 0.93 both).
    # 3 sd along every axis (8.5 sd away): observed 0.0 for both.
    mixture, reference, fake = truth_pair
    generator = make_generator(32)
    one_axis = torch.zeros(fake.shape[1], dtype=torch.float64)
    one_axis[0] = 4.0
    nudged = mixture.sample(2000, generator, shift=one_axis)[0]
    precision, recall = precision_recall(reference, nudged)
    assert precision < 0.5
    assert recall < 0.5
    shifted = mixture.sample(2000, generator, shift=3.0)[0]
    precision, recall = precision_recall(reference, shifted)
    assert precision < 0.1
    assert recall < 0.1
    assert frechet_distance(reference, shifted) > 50 * frechet_distance(reference, fake)


# --- exactness --------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(
    n_real=st.integers(6, 60),
    n_fake=st.integers(6, 60),
    d=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    coarse=st.booleans(),
)
def test_every_metric_is_exactly_invariant_to_row_order(n_real, n_fake, d, seed, coarse):
    generator = make_generator(seed)
    real, fake = gaussian(n_real, d, generator), gaussian(n_fake, d, generator)
    if coarse:  # ties and duplicate points, where order effects would show first
        real, fake = real.round(), fake.round()
    real_order = torch.randperm(n_real, generator=generator)
    fake_order = torch.randperm(n_fake, generator=generator)
    expected = every_metric(real, fake)
    assert every_metric(real[real_order], fake) == expected
    assert every_metric(real, fake[fake_order]) == expected
    assert every_metric(real[real_order].numpy(), fake[fake_order].numpy()) == expected


@PROPERTY_SETTINGS
@given(n_real=st.integers(6, 60), n_fake=st.integers(6, 60), seed=st.integers(0, 2**32 - 1))
def test_reference_gives_exactly_the_raw_array_results(n_real, n_fake, seed):
    generator = make_generator(seed)
    real, fake = gaussian(n_real, 3, generator), gaussian(n_fake, 3, generator)
    assert every_metric(Reference(real, k=3), fake) == every_metric(real, fake)


@PROPERTY_SETTINGS
@given(n_real=st.integers(6, 60), n_fake=st.integers(6, 60), seed=st.integers(0, 2**32 - 1))
def test_knn_metrics_lie_in_their_ranges(n_real, n_fake, seed):
    generator = make_generator(seed)
    real, fake = gaussian(n_real, 2, generator), gaussian(n_fake, 2, generator) + 1.0
    precision, recall, density, coverage, frechet = every_metric(real, fake)
    assert 0 <= precision <= 1
    assert 0 <= recall <= 1
    assert 0 <= coverage <= 1
    assert density >= 0
    assert frechet >= 0


def test_reference_does_not_alias_the_caller_array():
    x = gaussian(20, 2, make_generator(3))
    reference = Reference(x, k=3)
    x += 100.0
    assert reference.x.max() < 100.0


# --- Frechet distance -------------------------------------------------------------------------


def scipy_frechet(real: np.ndarray, fake: np.ndarray) -> float:
    covariance_real = np.atleast_2d(np.cov(real, rowvar=False))
    covariance_fake = np.atleast_2d(np.cov(fake, rowvar=False))
    root = scipy.linalg.sqrtm(covariance_real @ covariance_fake).real
    mean_gap = real.mean(axis=0) - fake.mean(axis=0)
    return float(mean_gap @ mean_gap + np.trace(covariance_real + covariance_fake - 2 * root))


@PROPERTY_SETTINGS
@given(
    n=st.integers(40, 200),
    d=st.integers(1, 12),
    spread=st.floats(0.1, 10.0),
    offset=st.floats(-5.0, 5.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_frechet_distance_matches_scipy_sqrtm(n, d, spread, offset, seed):
    generator = make_generator(seed)
    mixing = gaussian(d, d, generator)
    real = gaussian(n, d, generator) @ mixing
    fake = spread * gaussian(n + 7, d, generator) + offset
    expected = scipy_frechet(real.numpy(), fake.numpy())
    assert frechet_distance(real, fake) == pytest.approx(expected, rel=1e-7, abs=1e-9)


def test_frechet_distance_of_identical_samples_is_zero():
    x = gaussian(500, 16, make_generator(4)) * torch.linspace(0.01, 100.0, 16, dtype=torch.float64)
    assert frechet_distance(x, x) < 1e-9
    assert frechet_distance(Reference(x), x.flip(0)) < 1e-9


def test_frechet_distance_handles_singular_covariances():
    generator = make_generator(5)
    real = gaussian(50, 8, generator)
    collapsed = torch.zeros(30, 8, dtype=torch.float64)  # every point the same: covariance 0
    expected = float(real.mean(0).square().sum() + torch.cov(real.T).trace())
    assert frechet_distance(real, collapsed) == pytest.approx(expected, rel=1e-10)
    few = gaussian(3, 8, generator)  # rank 2 in 8-D
    assert frechet_distance(real, few) == pytest.approx(
        scipy_frechet(real.numpy(), few.numpy()), rel=1e-6
    )


# --- topic metrics ----------------------------------------------------------------------------


def test_topic_histogram_counts_every_topic_including_empty_ones():
    histogram = topic_histogram(np.array([0, 0, 1, 3]), n_topics=5)
    assert histogram.tolist() == [0.5, 0.25, 0.0, 0.25, 0.0]


def test_topic_coverage_on_a_hand_computed_example():
    weights = torch.tensor([0.5, 0.25, 0.125, 0.125], dtype=torch.float64)
    topics = torch.tensor([0] * 6 + [1] * 1 + [3] * 1)  # masses 0.75, 0.125, 0, 0.125
    assert topic_coverage(topics, weights, min_fraction=0.5) == 0.75  # topic 2 missing
    assert topic_coverage(topics, weights, min_fraction=1.0) == 0.5  # topic 1 at half
    assert topic_coverage(topics, weights, min_fraction=0.1) == 0.75


def test_topic_coverage_ignores_topics_the_truth_never_produces():
    weights = torch.tensor([0.5, 0.5, 0.0])
    assert topic_coverage(torch.tensor([0, 1]), weights) == 1.0


def test_tail_mass_ratio_on_hand_computed_examples():
    tail = torch.tensor([False, False, True, True])
    topics = torch.tensor([0, 0, 1, 2])  # tail mass 0.25 against a true tail mass of 0.25
    assert tail_mass_ratio(topics, torch.tensor([0.5, 0.25, 0.125, 0.125]), tail) == 1.0
    assert tail_mass_ratio(topics, torch.tensor([0.25, 0.25, 0.25, 0.25]), tail) == 0.5
    assert tail_mass_ratio(np.array([0, 1]), WEIGHTS, TAIL_MASK) == 0.0


def test_topic_entropy_on_hand_computed_examples():
    assert topic_entropy(torch.tensor([0, 1, 2, 3]), 4) == pytest.approx(1.0, abs=1e-15)
    assert topic_entropy(torch.tensor([2, 2, 2]), 4) == 0.0
    # masses 1/2, 1/4, 1/4, 0: entropy 1.5 ln 2 over ln 4
    assert topic_entropy(np.array([0, 0, 1, 2]), 4) == pytest.approx(0.75, abs=1e-15)


@PROPERTY_SETTINGS
@given(topics=st.lists(st.integers(0, 5), min_size=1, max_size=50))
def test_topic_metrics_lie_in_their_ranges(topics):
    ids = torch.tensor(topics)
    histogram = topic_histogram(ids, 6)
    assert float(histogram.sum()) == pytest.approx(1.0)
    assert 0 <= topic_entropy(ids, 6) <= 1 + 1e-12
    weights = torch.full((6,), 1 / 6, dtype=torch.float64)
    assert 0 <= topic_coverage(ids, weights) <= 1
    assert tail_mass_ratio(ids, weights, torch.arange(6) >= 4) >= 0
    assert topic_histogram(ids[torch.randperm(len(ids), generator=make_generator(0))], 6).equal(
        histogram
    )


# --- subsample --------------------------------------------------------------------------------


def test_subsample_returns_small_inputs_unchanged():
    x = gaussian(10, 3, make_generator(6))
    assert subsample(x, 10, make_generator(0)) is x
    assert subsample(x, 100, make_generator(0)) is x


def test_subsample_draws_distinct_rows_reproducibly():
    x = torch.arange(1000, dtype=torch.float64)[:, None].repeat(1, 2)
    first = subsample(x, 100, make_generator(7))
    assert first.shape == (100, 2)
    assert len(set(first[:, 0].tolist())) == 100
    assert subsample(x, 100, make_generator(7)).equal(first)
    assert not subsample(x, 100, make_generator(8)).equal(first)


def test_nothing_touches_the_global_random_state(culture):
    state = torch.get_rng_state()
    x = gaussian(40, 2, make_generator(9))
    subsample(x, 20, make_generator(0))
    every_metric(x, x + 0.1)
    evaluate(culture, x)
    assert torch.get_rng_state().equal(state)


# --- evaluate ---------------------------------------------------------------------------------


def test_evaluate_reports_every_metric_for_a_sample_of_the_truth(culture):
    x = culture.sample(400, make_generator(10))
    results = evaluate(culture, x)
    assert set(results) == METRIC_KEYS
    assert all(isinstance(value, float) for value in results.values())
    assert results["precision"] > 0.9
    assert results["recall"] > 0.9
    assert results["topic_coverage"] == 1.0
    assert results["tail_mass_ratio"] == pytest.approx(1.0, abs=0.2)
    assert results["log_likelihood"] == pytest.approx(float(culture.log_prob(x).mean()))


def test_evaluate_sees_a_collapse_onto_the_head_topic(culture):
    generator = make_generator(11)
    x = culture.mixture.means[0] + 0.3 * gaussian(200, 2, generator)
    results = evaluate(culture, x)
    assert results["topic_coverage"] == 0.25
    assert results["tail_mass_ratio"] == 0.0
    assert results["topic_entropy"] == 0.0
    assert results["recall"] < 0.3


def test_evaluate_matches_the_individual_metrics(culture):
    x = culture.sample(300, make_generator(12))
    results = evaluate(culture, x)
    assert (results["precision"], results["recall"]) == precision_recall(culture.reference, x)
    assert (results["density"], results["coverage"]) == density_coverage(culture.reference, x)
    assert results["frechet"] == frechet_distance(culture.reference, x)
    own_reference = culture.sample(500, make_generator(13))
    assert evaluate(culture, x, reference=own_reference, k=3) == evaluate(
        culture, x, reference=Reference(own_reference, k=3), k=3
    )


def test_evaluate_with_a_memo_gives_exactly_the_fresh_values(culture):
    """A sample that loses, gains and keeps rows from call to call, its ids in any order;
    a kept id whose point changed is computed afresh, not taken from the memo."""
    generator = make_generator(17)
    population = culture.sample(900, generator)
    memo: dict = {}
    ids = torch.randperm(900, generator=generator)[:300].numpy()
    for call in range(5):
        if call:
            stay = ids[torch.randperm(300, generator=generator)[:250].numpy()]
            others = np.setdiff1d(np.arange(900), stay)
            ids = np.concatenate(
                [stay, others[torch.randperm(len(others), generator=generator)[:50].numpy()]]
            )
        x = population[ids]
        if call == 4:
            x = x.clone()
            x[0] += 0.5  # the same id, another point
        assert evaluate(culture, x, ids=ids, memo=memo) == evaluate(culture, x)
    assert memo["ids"].tolist() == ids.tolist()
    with pytest.raises(ValueError, match="ids must be 300 distinct integers"):
        evaluate(culture, x, ids=np.zeros(300, dtype=np.int64), memo=memo)


def test_evaluate_is_exactly_invariant_to_row_order(culture):
    generator = make_generator(14)
    x = culture.sample(300, generator)
    assert evaluate(culture, x[torch.randperm(300, generator=generator)]) == evaluate(culture, x)


@pytest.mark.parametrize(
    "empty", [np.empty((0, 2)), torch.empty(0, 2), torch.empty(0)], ids=["numpy", "2d", "1d"]
)
def test_evaluate_gives_nan_for_an_empty_sample(culture, empty):
    results = evaluate(culture, empty)
    assert set(results) == METRIC_KEYS
    assert all(math.isnan(value) for value in results.values())


def test_evaluate_gives_nan_only_where_a_tiny_sample_leaves_a_metric_undefined(culture):
    results = evaluate(culture, culture.sample(3, make_generator(15)))
    assert math.isnan(results["recall"])
    assert not any(math.isnan(value) for key, value in results.items() if key != "recall")
    single = evaluate(culture, culture.sample(1, make_generator(16)))
    assert math.isnan(single["frechet"])
    assert math.isnan(single["recall"])
    assert not math.isnan(single["precision"])


# --- bad input --------------------------------------------------------------------------------

POINTS = gaussian(10, 2, make_generator(17))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: knn_radii(POINTS, k=0), "k must"),
        (lambda: knn_radii(POINTS, k=-2), "k must"),
        (lambda: knn_radii(POINTS, k=2.0), "k must"),
        (lambda: knn_radii(POINTS, k=True), "k must"),
        (lambda: knn_radii(POINTS, k=10), "k must be less than"),
        (lambda: knn_radii(POINTS[0], k=1), "x must have shape"),
        (lambda: knn_radii(POINTS[None], k=1), "x must have shape"),
        (lambda: knn_radii(POINTS.tolist(), k=1), "x must be a numpy array"),
        (lambda: knn_radii(POINTS + math.nan, k=1), "finite"),
        (lambda: knn_radii(POINTS.to(torch.complex128), k=1), "real numbers"),
        (lambda: Reference(POINTS, k=10), "k must be less than"),
        (lambda: precision_recall(POINTS, POINTS[:5], k=5), "points in fake"),
        (lambda: precision_recall(POINTS[:5], POINTS, k=5), "points in real"),
        (lambda: precision_recall(POINTS, gaussian(10, 3, make_generator(0))), "dimension"),
        (lambda: precision_recall(POINTS, POINTS[:, 0]), "fake must have shape"),
        (lambda: precision_recall(Reference(POINTS, k=3), POINTS, k=5), "Reference's k=3"),
        (lambda: density_coverage(Reference(POINTS, k=3), POINTS), "Reference's k=3"),
        (lambda: density_coverage(POINTS, POINTS[:0]), "fake must have at least 1"),
        (lambda: frechet_distance(POINTS, POINTS[:1]), "at least 2 points"),
        (lambda: frechet_distance(POINTS, gaussian(10, 3, make_generator(0))), "dimension"),
        (lambda: topic_histogram(torch.tensor([0, 4]), 4), r"\[0, 4\)"),
        (lambda: topic_histogram(torch.tensor([-1]), 4), r"\[0, 4\)"),
        (lambda: topic_histogram(torch.tensor([0.0, 1.0]), 4), "integer topic ids"),
        (lambda: topic_histogram(torch.tensor([], dtype=torch.int64), 4), "non-empty"),
        (lambda: topic_histogram(torch.tensor([0]), 0), "n_topics"),
        (lambda: topic_entropy(torch.tensor([0]), 1), "n_topics must be an integer >= 2"),
        (lambda: topic_coverage(torch.tensor([0]), torch.tensor([0.5, 0.6])), "sum to 1"),
        (lambda: topic_coverage(torch.tensor([0]), torch.tensor([1.5, -0.5])), "non-negative"),
        (lambda: topic_coverage(torch.tensor([0]), WEIGHTS, min_fraction=0.0), "min_fraction"),
        (lambda: tail_mass_ratio(torch.tensor([0]), WEIGHTS, TAIL_MASK[:2]), "tail_mask"),
        (lambda: tail_mass_ratio(torch.tensor([0]), WEIGHTS, TAIL_MASK.long()), "tail_mask"),
        (lambda: tail_mass_ratio(torch.tensor([0]), WEIGHTS, ~torch.ones(4, dtype=bool)), "tail"),
        (lambda: subsample(POINTS, 0, make_generator(0)), "n must"),
        (lambda: subsample(POINTS, 5, 0), "generator must"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_evaluate_rejects_mismatched_k_and_dimension(culture):
    x = culture.sample(50, make_generator(18))
    with pytest.raises(ValueError, match="Reference's k=5"):
        evaluate(culture, x, k=3)
    with pytest.raises(ValueError, match="dimension"):
        evaluate(culture, gaussian(50, 3, make_generator(0)))
    with pytest.raises(ValueError, match="k must"):
        evaluate(culture, x, k=0)


def test_a_reference_on_cuda_is_refused_where_there_is_none(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA device is available; allowed here: auto, cpu"):
        Reference(POINTS, k=3, device="cuda")
    with pytest.raises(ValueError, match="must be one of auto, cpu, cuda"):
        Reference(POINTS, k=3, device="tpu")
    assert Reference(POINTS, k=3, device="auto").device == torch.device("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_reference_on_cuda_counts_as_the_cpu_does(culture):
    """Float64 distances on the GPU round like the CPU's but for rare ties at a ball's edge."""
    x = culture.sample(600, make_generator(19))
    on_cpu = evaluate(culture, x)
    on_gpu = evaluate(culture, x, reference=Reference(culture.reference.x, k=5, device="cuda"))
    for name in ("precision", "recall", "density", "coverage"):
        assert on_gpu[name] == pytest.approx(on_cpu[name], abs=2 / 600)
    assert on_gpu["frechet"] == on_cpu["frechet"]
