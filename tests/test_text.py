"""The text world's parts: documents in a ragged column, the language (the truth) and the
n-gram language model, checked against their exact definitions."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ecosystem.experiments.sweep import read_sweep
from ecosystem.scenario import load_scenario
from ecosystem.world.documents import DocumentStore
from ecosystem.world.language import Language, vocabulary_words
from models import available, make
from models.checks import ModelCheckError
from models.documents import Documents
from models.language_checks import LANGUAGE_CHECKS, check_language_model
from models.ngram import NGramModel
from models.transformer import TransformerModel


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tiny_language(**overrides) -> Language:
    settings = dict(topics=2, vocab=4, cluster_size=2, stickiness=0.6, mean_length=3.0)
    settings |= overrides
    return Language.generate(seeded(0), **settings)


def every_document(vocab: int, length: int) -> Documents:
    return Documents.from_lists(list(itertools.product(range(vocab), repeat=length)))


# --- documents ---------------------------------------------------------------------------


def test_a_column_appends_and_takes_documents_in_amortised_constant_time():
    store = DocumentStore(50)
    column = store.column(2)
    batches = [Documents.from_lists([[1, 2, 3], [], [4]]), Documents.from_lists([[5] * 200])]
    for batch in batches * 20:
        column.append(store.as_batch(batch))
    assert len(column) == 80
    assert column.nbytes < 4 * (2 * 20 * 204 * 4 + 2 * 81 * 8)  # doubling, not per page
    taken = column.take(np.array([3, 0, 79, 1]))
    assert taken.to_lists() == [[5] * 200, [1, 2, 3], [5] * 200, []]
    assert column.view().to_lists()[:4] == [[1, 2, 3], [], [4], [5] * 200]


def test_the_store_joins_indexes_and_checks_batches():
    store = DocumentStore(10)
    a, b = store.as_batch([[1, 2], [3]]), store.as_batch([[4, 5, 6]])
    joined = store.concat([a, store.empty(), b])
    assert joined.to_lists() == [[1, 2], [3], [4, 5, 6]]
    assert store.take(joined, np.array([True, False, True])).to_lists() == [[1, 2], [4, 5, 6]]
    assert store.take(joined, torch.tensor([2, 2])).to_lists() == [[4, 5, 6], [4, 5, 6]]
    with pytest.raises(ValueError, match=r"word ids in \[0, 10\)"):
        store.as_batch([[1, 10]])
    with pytest.raises(ValueError, match="offsets must start at 0"):
        store.as_batch(Documents(np.array([1, 2], np.int32), np.array([0, 3], np.int64)))
    with pytest.raises(ValueError, match="content must be Documents or sequences"):
        store.as_batch("the cat")


# --- the language ------------------------------------------------------------------------


def test_the_language_is_a_normalised_distribution_over_documents():
    """Summed over every document of a length, the truth's probabilities add up to 1, and
    each topic's chain leaves its Zipf-shaped unigram distribution invariant."""
    language = tiny_language()
    for length in (1, 2, 4):
        total = language.log_prob(every_document(4, length)).exp().sum()
        assert float(total) == pytest.approx(1.0, abs=1e-12)
    pairs = every_document(4, 2)
    joint = language.topic_log_likelihoods(pairs).exp()  # [16, K]: p(w1, w2 | k)
    second_word = joint.reshape(4, 4, -1).sum(dim=0)  # marginal of w2
    torch.testing.assert_close(second_word, language.unigrams.T, atol=1e-12, rtol=0)


def test_sampled_documents_follow_the_chain():
    """Word-pair frequencies of 40,000 two-word documents on one topic match P_k(w1, w2)."""
    language = tiny_language()
    topics = torch.zeros(40_000, dtype=torch.long)
    documents, _ = language.sample(40_000, seeded(1), topics=topics)
    lengths = documents.lengths
    pairs = np.stack(
        [documents.tokens[documents.offsets[:-1]], documents.tokens[documents.offsets[:-1] + 1]]
    )
    pairs = pairs[:, lengths >= 2]
    counts = np.bincount(pairs[0] * 4 + pairs[1], minlength=16)
    expected = language.topic_log_likelihoods(every_document(4, 2))[:, 0].exp().numpy()
    observed = counts / counts.sum()
    error = np.sqrt(expected * (1 - expected) / counts.sum())
    assert np.all(np.abs(observed - expected) < 4.5 * error + 1e-9)
    assert lengths.mean() == pytest.approx(3.0, abs=0.05)


def test_the_posterior_recovers_the_topic_of_long_documents():
    language = Language.generate(seeded(2), topics=10, vocab=500, mean_length=200.0)
    documents, topics = language.sample(300, seeded(3))
    assert (language.assign(documents) == topics).float().mean() > 0.95
    posterior = language.posterior(documents)
    torch.testing.assert_close(posterior.sum(dim=1), torch.ones(300, dtype=torch.float64))


def test_head_and_tail_of_topics_and_words():
    language = Language.generate(seeded(4), topics=50, vocab=2000)
    assert 0 < int(language.tail_mask.sum()) < 50 and language.tail_mask[-1]
    assert 0 < int(language.word_tail_mask.sum()) < 2000
    assert float(language.word_weights[language.word_head_mask].sum()) >= 0.8
    assert language.word_weights.sum().item() == pytest.approx(1.0)


def test_words_are_readable_and_distinct():
    """English words by frequency (wordfreq is a dependency), or synthetic syllables."""
    for source in ("english", "synthetic"):
        words, used = vocabulary_words(3000, source)
        assert len(set(words)) == 3000 and all(word.isalpha() for word in words)
        assert used == source
    assert vocabulary_words(5, "english")[0] == ["the", "to", "and", "of", "a"]
    assert vocabulary_words(2, "synthetic")[0] == ["ba", "be"]


def test_the_language_is_reproducible_from_its_generator():
    first = Language.generate(seeded(5), topics=5, vocab=100).sample(50, seeded(6))[0]
    again = Language.generate(seeded(5), topics=5, vocab=100).sample(50, seeded(6))[0]
    assert first.to_lists() == again.to_lists()


# --- the n-gram model --------------------------------------------------------------------


def training(n: int = 3000, seed: int = 7) -> tuple[Language, Documents]:
    language = tiny_language(mean_length=3.0)
    documents, _ = language.sample(n, seeded(seed))
    return language, documents


@pytest.mark.parametrize("order", [1, 2, 3])
def test_a_smoothed_ngram_model_is_a_distribution_over_every_document(order):
    _, documents = training()
    model = NGramModel(vocab=4, order=order).fit(documents, generator=seeded(0))
    for length in (1, 2, 3):
        total = model.log_prob(every_document(4, length)).exp().sum()
        assert float(total) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("smoothing", ["dirichlet", "none"])
def test_ngram_samples_follow_the_model_on_both_sampling_paths(smoothing):
    """Two-word documents: pair frequencies of the exact path and of the controlled path at
    temperature 1 both match exp(log_prob)."""
    documents = Documents.from_lists([[0, 1], [1, 1], [2, 0], [0, 0], [3, 2]] * 10 + [[1, 3]])
    model = NGramModel(vocab=4, order=2, smoothing=smoothing, prior=2.0)
    model.fit(documents, generator=seeded(0))
    expected = model.log_prob(every_document(4, 2)).exp().numpy()
    assert expected.sum() == pytest.approx(1.0)
    sample = model.sample(30_000, generator=seeded(1))
    counts = np.bincount(sample.tokens[0::2] * 4 + sample.tokens[1::2], minlength=16)
    starts = np.full((30_000, 1), 4)
    first = model._draw_controlled(starts, 1.0, seeded(2))
    second = model._draw_controlled(first[:, None], 1.0, seeded(3))
    controlled = np.bincount(first * 4 + second, minlength=16)
    error = np.sqrt(expected * (1 - expected) / 30_000)
    for observed in (counts / counts.sum(), controlled / controlled.sum()):
        assert np.all(np.abs(observed - expected) < 4.5 * error + 1e-9)
    if smoothing == "none":
        assert set(np.flatnonzero(counts)) <= {1, 5, 8, 0, 14, 7}  # only pairs seen in training


def test_a_unigram_maximum_likelihood_model_never_writes_a_lost_word():
    documents = Documents.from_lists([[0, 1, 1, 2]] * 5)
    model = NGramModel(vocab=6, order=1, smoothing="none").fit(documents, generator=seeded(0))
    sample = model.sample(2000, generator=seeded(1))
    assert set(sample.tokens.tolist()) == {0, 1, 2}
    assert np.all(sample.lengths == 4)
    assert float(model.log_prob(Documents.from_lists([[3]]))[0]) == -np.inf


def test_top_k_top_p_and_temperature_cut_and_sharpen_the_tail():
    language = Language.generate(seeded(8), topics=3, vocab=60, mean_length=20.0)
    documents, _ = language.sample(2000, seeded(9))
    base = dict(vocab=60, order=1)
    full = NGramModel(**base).fit(documents, generator=seeded(0))
    ranked = np.argsort(
        -full._probabilities(np.zeros((60, 0), np.int64), np.arange(60)), kind="stable"
    )
    top = make("ngram", **base, top_k=5).fit(documents, generator=seeded(0))
    assert set(top.sample(500, generator=seeded(1)).tokens.tolist()) <= set(ranked[:5].tolist())
    nucleus = make("ngram", **base, top_p=0.5).fit(documents, generator=seeded(0))
    probabilities = full._probabilities(np.zeros((60, 0), np.int64), ranked)
    kept = ranked[: int(np.searchsorted(np.cumsum(probabilities), 0.5) + 1)]
    assert set(nucleus.sample(500, generator=seeded(2)).tokens.tolist()) == set(kept.tolist())
    cold = full.sample(2000, bias=0.5, generator=seeded(3))
    warm = full.sample(2000, bias=1.0, generator=seeded(3))

    def entropy(documents: Documents) -> float:
        shares = np.bincount(documents.tokens, minlength=60) / len(documents.tokens)
        return float(-(shares[shares > 0] * np.log(shares[shares > 0])).sum())

    assert entropy(cold) < entropy(warm) - 0.1
    assert (
        full.log_prob(cold).mean() / cold.lengths.mean()
        > full.log_prob(warm).mean() / warm.lengths.mean()
    )


def test_an_ngram_model_round_trips_its_state_and_is_reproducible():
    _, documents = training()
    model = NGramModel(vocab=4, order=3).fit(documents, generator=seeded(0))
    restored = NGramModel(vocab=4, order=3).load_state_dict(model.state_dict())
    probe = every_document(4, 3)
    assert torch.equal(model.log_prob(probe), restored.log_prob(probe))
    a = model.sample(100, bias=0.8, generator=seeded(5)).to_lists()
    assert a == restored.sample(100, bias=0.8, generator=seeded(5)).to_lists()
    with pytest.raises(ValueError, match=r"outside \[0, 4\)"):
        model.log_prob(Documents.from_lists([[4]]))


# --- text metrics ------------------------------------------------------------------------


def small_transformer(**overrides) -> TransformerModel:
    settings = dict(vocab=4, context=3, layers=1, heads=2, head_width=4, steps=60, device="cpu")
    return TransformerModel(**(settings | overrides))


def test_a_transformer_is_a_distribution_over_every_document_across_blocks():
    """Blocks of 3 words: documents of 1 to 5 words cross a block boundary, and for each
    length the probabilities of every document sum to 1."""
    _, documents = training()
    model = small_transformer().fit(documents, generator=seeded(0))
    for length in (1, 3, 5):
        total = model.log_prob(every_document(4, length)).exp().sum()
        assert float(total) == pytest.approx(1.0, abs=1e-5)


def test_transformer_samples_follow_its_log_prob():
    """Four-word documents (two blocks of 3 and 1): the sampler's cached keys and values
    give the distribution that log_prob's full blocks give, word by word."""
    documents = Documents.from_lists([[0, 1, 2, 3], [1, 1, 0, 2], [3, 2, 1, 0]] * 20)
    model = small_transformer(steps=300, learning_rate=0.02).fit(documents, generator=seeded(0))
    every = every_document(4, 4)
    expected = model.log_prob(every).exp().numpy()
    sample = model.sample(40_000, generator=seeded(1))
    assert np.all(sample.lengths == 4)
    codes = sample.tokens.reshape(-1, 4) @ np.array([64, 16, 4, 1])
    observed = np.bincount(codes, minlength=256) / 40_000
    error = np.sqrt(expected * (1 - expected) / 40_000)
    assert np.all(np.abs(observed - expected) < 4.5 * error + 2e-4)
    # it learnt the documents: at most 1/3, as the fourth word opens a block of its own
    assert expected[[27, 82, 228]].sum() > 0.2


def test_transformer_top_k_one_is_greedy_and_temperature_sharpens():
    language = Language.generate(seeded(8), topics=3, vocab=40, mean_length=12.0)
    documents, _ = language.sample(400, seeded(9))
    base = dict(vocab=40, context=16, steps=80, device="cpu")
    greedy = make("transformer", **base, top_k=1).fit(documents, generator=seeded(0))
    drawn = greedy.sample(50, generator=seeded(1))
    same_length = [drawn.document(i) for i in range(50) if drawn.lengths[i] == drawn.lengths[0]]
    assert len(same_length) > 1 and all(np.array_equal(d, same_length[0]) for d in same_length)
    full = make("transformer", **base).fit(documents, generator=seeded(0))
    cold = full.sample(400, bias=0.5, generator=seeded(2))
    warm = full.sample(400, bias=1.0, generator=seeded(2))
    assert len(np.unique(cold.tokens)) < len(np.unique(warm.tokens))
    assert (
        full.log_prob(cold).sum() / cold.lengths.sum()
        > full.log_prob(warm).sum() / warm.lengths.sum()
    )


def test_a_transformer_learns_and_pickles_exactly():
    import pickle

    language = Language.generate(seeded(3), topics=2, vocab=30, mean_length=10.0)
    documents, _ = language.sample(300, seeded(4))
    held_out, _ = language.sample(200, seeded(5))
    model = make("transformer", vocab=30, context=8, steps=150, device="cpu")
    model.fit(documents, generator=seeded(0))
    words = held_out.lengths.sum()
    assert math.exp(-float(model.log_prob(held_out).sum()) / words) < 0.8 * 30  # beats uniform
    restored = pickle.loads(pickle.dumps(model))
    assert torch.equal(restored.log_prob(held_out), model.log_prob(held_out))
    a = model.sample(20, bias=0.7, generator=seeded(6))
    b = restored.sample(20, bias=0.7, generator=seeded(6))
    assert np.array_equal(a.tokens, b.tokens)


def test_a_transformer_refuses_cuda_where_there_is_none(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = small_transformer(device="cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        model.fit(Documents.from_lists([[0, 1]]), generator=seeded(0))
    auto = small_transformer(device="auto", steps=2).fit(
        Documents.from_lists([[0, 1]]), generator=seeded(0)
    )
    assert next(auto.network_.parameters()).device.type == "cpu"


def test_text_metrics_of_human_text_and_of_a_collapsed_sample():
    from ecosystem.measure.text_metrics import (
        BagOfWords,
        distinct_n,
        distinct_words,
        perplexity,
        tail_word_mass_ratio,
        unigram_divergence,
        vocabulary_coverage,
        word_histogram,
        word_log_likelihood,
    )

    language = Language.generate(seeded(10), topics=5, vocab=200, mean_length=30.0)
    human, _ = language.sample(2000, seeded(11))
    weights = language.word_weights.numpy()
    tail = language.word_tail_mask.numpy()
    collapsed = Documents.from_lists([[0, 1, 2] * 10] * 200)
    h_human, h_collapsed = word_histogram(human, 200), word_histogram(collapsed, 200)
    assert vocabulary_coverage(h_human, weights) > 0.95
    assert vocabulary_coverage(h_collapsed, weights) == pytest.approx(3 / 200)
    assert tail_word_mass_ratio(h_human, weights, tail) == pytest.approx(1.0, abs=0.05)
    assert tail_word_mass_ratio(h_collapsed, weights, tail) == 0.0
    assert unigram_divergence(h_human, weights) < 0.01 < unigram_divergence(h_collapsed, weights)
    assert unigram_divergence(weights, weights) == pytest.approx(0.0, abs=1e-15)
    assert distinct_words(collapsed) == 3.0 and distinct_words(human) > 190
    assert distinct_n(collapsed, 2) == pytest.approx(3 / (200 * 29))
    assert distinct_n(Documents.from_lists([[1, 2, 3], [1, 2]]), 2) == pytest.approx(2 / 3)
    assert distinct_n(human, 3) > distinct_n(human, 2) > 100 * distinct_n(collapsed, 2)
    quality = word_log_likelihood(language, human)
    assert quality == pytest.approx(float(language.log_prob(human).sum()) / human.lengths.sum())
    # the truth's own perplexity on human text is lower than any fitted model's
    reference, _ = language.sample(500, seeded(12))
    truth = perplexity(language, reference)
    fitted = NGramModel(vocab=200, order=2).fit(human, generator=seeded(0))
    thin = NGramModel(vocab=200, order=1, smoothing="none").fit(collapsed, generator=seeded(0))
    assert truth < perplexity(fitted, reference) < math.inf
    assert perplexity(thin, reference) == math.inf
    embed = BagOfWords(200, 16, seeded(13))
    points = embed(human)
    assert points.shape == (2000, 16)
    order = torch.randperm(2000, generator=seeded(14)).numpy()
    shuffled = DocumentStore(200).take(human, order)
    assert torch.equal(embed(shuffled), points[torch.from_numpy(order)])


# --- the language models' conformance suite ----------------------------------------------


LANGUAGE_MODEL_SETTINGS = {
    "ngram": {
        "default": {},
        "unigram-mle": {"order": 1, "smoothing": "none"},
        "trigram-top-k": {"order": 3, "top_k": 5},
        "top-p": {"top_p": 0.6},
    },
    "transformer": {
        "small": {"steps": 20, "device": "cpu"},
        "short-blocks-top-k": {"steps": 20, "context": 4, "top_k": 5, "device": "cpu"},
        "top-p": {"steps": 20, "layers": 1, "top_p": 0.6, "device": "cpu"},
    },
}
"""Settings each language model is checked with (a new model is checked with its defaults)."""

LANGUAGE_MODEL_CASES = [
    pytest.param(name, params, id=f"{name}-{label}")
    for name in available("documents")
    for label, params in LANGUAGE_MODEL_SETTINGS.get(name, {"default": {}}).items()
]


@pytest.mark.parametrize(("name", "params"), LANGUAGE_MODEL_CASES)
def test_every_language_model_passes_the_conformance_suite(name, params):
    assert check_language_model(name, params=params) == [c.__name__ for c in LANGUAGE_CHECKS]


class GlobalRandomNGram(NGramModel):
    def sample(self, n, *, bias=1.0, generator):
        np.random.random()  # noqa: NPY002 (the defect under test)
        return super().sample(n, bias=bias, generator=generator)


class ForgetfulNGram(NGramModel):
    def load_state_dict(self, state):
        state = dict(state, lengths_=state["lengths_"][:1])
        return super().load_state_dict(state)


@pytest.mark.parametrize(
    ("broken", "failed"),
    [
        (GlobalRandomNGram, "check_uses_only_the_given_generator"),
        (ForgetfulNGram, "check_state_dict_round_trip"),
    ],
)
def test_the_language_suite_catches_broken_models(broken, failed):
    with pytest.raises(ModelCheckError) as error:
        check_language_model(broken)
    assert failed in error.value.failures


# --- the text world ----------------------------------------------------------------------

TEXT_LAB = ["text.vocab=300", "text.reference_size=200", "lab.n_real=300"]
TEXT_LAB += ["lab.n_synthetic=300", "metrics.samples=200"]


@pytest.fixture(scope="module")
def text_world():
    from ecosystem.world.worlds import make_world

    scenario = load_scenario("text-fully-synthetic", TEXT_LAB)
    return make_world(scenario, seeded(20))


def test_the_text_world_satisfies_the_protocol(text_world):
    from ecosystem.world.protocol import ContentColumn, ContentStore, World
    from ecosystem.world.worlds import WORLDS

    assert isinstance(text_world, World) and WORLDS["text"] is type(text_world)
    assert isinstance(text_world.store, ContentStore)
    assert isinstance(text_world.store.column(3), ContentColumn)
    assert set(text_world.models) <= set(available("documents"))
    documents, topics = text_world.sample(30, seeded(21))
    assert len(documents) == 30 and topics.shape == (30,)
    assert text_world.log_prob(documents).shape == (30,)
    assert torch.equal(text_world.assign(documents), text_world.posterior(documents).argmax(1))


def test_the_text_world_evaluates_every_metric(text_world):
    from ecosystem.scenario import MetricSettings

    settings = MetricSettings(k=5)
    human, _ = text_world.sample(200, seeded(22))
    values = text_world.evaluate(human, settings)
    assert tuple(values) == text_world.metric_names
    assert math.isnan(values["perplexity"])  # no model behind human documents
    assert values["precision"] > 0.8 and values["recall"] > 0.8
    assert values["vocabulary_coverage"] > 0.5 and values["topic_coverage"] > 0.5
    model = NGramModel(vocab=300, order=2).fit(human, generator=seeded(0))
    drawn = model.sample(200, bias=0.5, generator=seeded(1))
    cold = text_world.evaluate(drawn, settings, model=model)
    assert 1 < cold["perplexity"] < math.inf
    assert cold["word_log_likelihood"] > values["word_log_likelihood"]  # sharper, "better"
    assert cold["distinct_words"] < values["distinct_words"]
    empty = text_world.evaluate(text_world.store.empty(), settings)
    assert all(math.isnan(v) for v in empty.values())
    memo: dict = {}
    ids = np.arange(200)
    assert text_world.evaluate(human, settings, ids=ids, memo=memo) == values


def test_assisted_documents_rewrite_a_share_of_their_words(text_world):
    drafts, _ = text_world.sample(400, seeded(23))
    writer = NGramModel(vocab=300, order=1, smoothing="none")
    model = writer.fit(Documents.from_lists([[7, 8]] * 10), generator=seeded(0))
    assisted = text_world.assist(drafts, model, 0.3, seeded(24))
    assert np.array_equal(assisted.offsets, drafts.offsets)
    changed = assisted.tokens != drafts.tokens
    assert set(assisted.tokens[changed].tolist()) <= {7, 8}
    assert 0.25 < np.mean(changed | np.isin(drafts.tokens, [7, 8])) < 0.35
    assert text_world.assist(drafts, model, 0.0, seeded(24)) is drafts


def test_the_text_lab_loops_lose_words_and_fresh_data_keeps_them():
    """Fully synthetic maximum-likelihood bigrams lose vocabulary generation after
    generation; fresh human text and accumulated data keep more of it."""
    from ecosystem.world.lab import lab_steps

    def coverage(name: str) -> list[float]:
        rows = lab_steps(load_scenario(name, [*TEXT_LAB, "steps=5"]))
        return [
            v
            for _, step in rows
            for _, s, m, v in step
            if s == "training" and m == "distinct_words"
        ]

    synthetic = coverage("text-fully-synthetic")
    assert synthetic == sorted(synthetic, reverse=True) and synthetic[-1] < synthetic[0]
    assert coverage("text-fresh-data")[-1] > synthetic[-1]
    assert coverage("text-accumulate")[-1] > synthetic[-1]


def test_the_text_world_runs_in_ecosystem_mode():
    from ecosystem.world.model import ecosystem_steps

    scenario = load_scenario("tests/data/tiny-text-web.toml", ["steps=3"])
    rows = [row for _, step in ecosystem_steps(scenario) for row in step]
    scopes = {scope for _, scope, _, _ in rows}
    assert {"web", "web_new", "company:alpha", "training:alpha", "creators"} <= scopes
    perplexities = [v for _, s, m, v in rows if s == "company:alpha" and m == "perplexity"]
    assert perplexities and all(1 < v < math.inf for v in perplexities)


def test_a_text_run_keeps_documents_to_read_and_a_vector_run_none(tmp_path):
    from ecosystem.runs.records import CorruptRun
    from ecosystem.runs.results import read_excerpts
    from ecosystem.runs.runner import run_scenario

    scenario = load_scenario(
        "text-fully-synthetic", [*TEXT_LAB, "steps=5", "metrics.excerpt_every=3"]
    )
    run_scenario(scenario, tmp_path / "text")
    excerpts = read_excerpts(tmp_path / "text")
    assert excerpts is not None
    assert sorted(excerpts["step"].unique()) == [1, 2, 3, 4, 5]  # a lab run keeps every one
    assert set(excerpts["scope"]) == {"model", "training"}
    assert excerpts.groupby(["step", "scope"]).size().eq(3).all()
    words = set(excerpts["text"].str.split().explode()) - {"…"}
    assert words <= set(vocabulary_words(300)[0])  # real words of the language
    web = load_scenario("tests/data/tiny-text-web.toml", ["steps=5", "metrics.excerpt_every=3"])
    run_scenario(web, tmp_path / "web")
    months = read_excerpts(tmp_path / "web")
    assert months is not None
    assert sorted(months["step"].unique()) == [0, 1, 3, 5]  # the first two, every 3rd, the last
    assert {"web", "web_new", "company:alpha"} <= set(months["scope"])
    vectors = load_scenario("mad-fully-synthetic", ["steps=2", "culture.dim=2"])
    run_scenario(vectors, tmp_path / "vectors")
    assert read_excerpts(tmp_path / "vectors") is None
    path = tmp_path / "text" / "excerpts.parquet"
    path.write_bytes(path.read_bytes()[:-9] + b"garbage!!")
    with pytest.raises(CorruptRun, match=r"excerpts\.parquet does not match its checksum"):
        read_excerpts(tmp_path / "text")


@pytest.mark.slow
def test_text_runs_go_through_compare_sweep_and_report(tmp_path, capsys):
    from ecosystem.interfaces.cli import main

    tiny = "tests/data/tiny-text-web.toml"
    small = ["--steps", "3", "--quiet", "--workers", "0"]
    capped = tmp_path / "tiny-text-cap.toml"
    capped.write_text(Path(tiny).read_text() + "\n[policy.cap]\nai_share_max = 0.2\n")
    compared = tmp_path / "compare"
    argv = ["compare", tiny, str(capped), "--seeds", "1"]
    assert main([*argv, *small, "--out", str(compared)]) == 0
    table = pd.read_csv(compared / "compare.csv")
    web = table[table["scope"] == "web"].set_index(["scenario", "metric"])["mean"]
    assert {"vocabulary_coverage", "tail_word_mass_ratio"} <= set(web.index.get_level_values(1))
    share = web.xs("synthetic_share", level="metric")
    assert share["tiny-text-cap"] < share["tiny-text-web"]  # the cap holds AI pages back
    swept = tmp_path / "sweep"
    grid = ["--grid", "companies.alpha.bias=0.7,1.0", "--seeds", "1"]
    assert main(["sweep", tiny, *grid, *small, "--out", str(swept)]) == 0
    runs = read_sweep(swept)
    coverage = runs[(runs["scope"] == "web_new") & (runs["metric"] == "vocabulary_coverage")]
    assert coverage["run"].nunique() == 2
    capsys.readouterr()
    run = tmp_path / "run"
    assert main(["run", tiny, "--steps", "2", "--quiet", "--out", str(run)]) == 0
    assert main(["report", str(run), "--out", str(tmp_path / "report.html")]) == 0
    html = (tmp_path / "report.html").read_text()
    assert "Sample documents" in html and "vocabulary coverage" in html.lower()
