"""The ground truth: sampling, scoring, topic assignment, head and tail."""

import math

import pytest
import torch

from ecosystem.world.culture import Culture, zipf_weights


def test_zipf_weights_are_normalised_and_decreasing():
    w = zipf_weights(50, 1.1)
    assert torch.isclose(w.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert torch.all(w[:-1] > w[1:])
    assert float(w[0] / w[1]) == pytest.approx(2**1.1)


def test_zipf_zero_exponent_is_uniform():
    assert torch.allclose(zipf_weights(4, 0.0), torch.full((4,), 0.25, dtype=torch.float64))


def test_head_holds_threshold_mass_and_tail_is_the_rest(small_culture):
    c = small_culture
    head_mass = float(c.weights[c.head].sum())
    assert head_mass >= c.tail_threshold
    # the head is minimal: without its least popular topic it would hold less
    assert head_mass - float(c.weights[c.head].min()) < c.tail_threshold
    assert len(c.head) + len(c.tail) == c.topics
    assert c.tail_mass == pytest.approx(1 - head_mass)
    assert set(c.tail.tolist()) == set(range(len(c.head), c.topics))


def test_default_culture_has_a_long_tail():
    c = Culture.generate(torch.Generator().manual_seed(0), reference_size=200)
    assert (c.topics, c.dim) == (50, 16)
    assert len(c.tail) > len(c.head)
    assert 0.15 < c.tail_mass <= 0.2


def test_sample_shapes_and_popularity(small_culture):
    g = torch.Generator().manual_seed(1)
    x, topics = small_culture.sample(20000, g)
    assert x.shape == (20000, 4) and x.dtype == torch.float32
    freq = torch.bincount(topics, minlength=12).double() / 20000
    assert torch.allclose(freq, small_culture.weights, atol=0.015)


def test_sample_for_given_topics(small_culture):
    g = torch.Generator().manual_seed(2)
    wanted = torch.tensor([3] * 500 + [7] * 500)
    x, topics = small_culture.sample(1000, g, topics=wanted)
    assert torch.equal(topics, wanted)
    assert torch.allclose(x[:500].double().mean(0), small_culture.means[3], atol=0.2)
    with pytest.raises(ValueError, match="topics"):
        small_culture.sample(2, g, topics=torch.tensor([0, 12]))


def test_assign_recovers_the_generating_topic(small_culture):
    g = torch.Generator().manual_seed(3)
    x, topics = small_culture.sample(5000, g)
    agreement = float((small_culture.assign(x) == topics).double().mean())
    assert agreement > 0.9


def test_log_prob_is_a_density(small_culture):
    # 1-D culture: the density integrates to one on a fine grid
    c = Culture.generate(torch.Generator().manual_seed(5), topics=3, dim=1, reference_size=100)
    grid = torch.linspace(-40, 40, 80001, dtype=torch.float64)[:, None]
    integral = float(torch.trapezoid(c.log_prob(grid).exp(), grid[:, 0]))
    assert integral == pytest.approx(1.0, abs=1e-4)
    g = torch.Generator().manual_seed(4)
    x, _ = small_culture.sample(3000, g)
    assert float(small_culture.log_prob(x).mean()) > float(small_culture.log_prob(x + 5).mean())


def test_same_generator_same_culture():
    a = Culture.generate(torch.Generator().manual_seed(9), topics=5, dim=3, reference_size=200)
    b = Culture.generate(torch.Generator().manual_seed(9), topics=5, dim=3, reference_size=200)
    c = Culture.generate(torch.Generator().manual_seed(10), topics=5, dim=3, reference_size=200)
    assert torch.equal(a.means, b.means) and torch.equal(a.reference.x, b.reference.x)
    assert not torch.equal(a.means, c.means)


def test_reference_sample_is_held_out_and_prepared(small_culture):
    ref = small_culture.reference
    assert ref.x.shape == (1000, 4) and ref.k == 5
    assert ref.radii.shape == (1000,)


def test_entropy_bound_matches_weights(small_culture):
    w = small_culture.weights
    assert small_culture.entropy_bound() == pytest.approx(
        float(-(w * w.log()).sum()) / math.log(12)
    )


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="tail_threshold"):
        c = Culture.generate(torch.Generator().manual_seed(0), topics=3, dim=2, reference_size=100)
        Culture(c.weights, c.means, c.covariances, c.reference.x, tail_threshold=1.0)
    c = Culture.generate(torch.Generator().manual_seed(0), topics=3, dim=2, reference_size=100)
    with pytest.raises(ValueError, match="shape"):
        c.log_prob(torch.zeros(4, 3))
