"""Measurement: scopes, fixed-size samples, company caching, exact shares, common random
numbers (permanent page keys, one base noise per model) and exact page-scope values."""

import numpy as np
import pytest

from ecosystem.measure.metrics import topic_metrics
from ecosystem.scenario import load_scenario
from ecosystem.world.measurement import page_keys, smallest_keys
from ecosystem.world.model import EcosystemModel
from ecosystem.world.vectors import VectorWorld
from ecosystem.world.web import AI, HUMAN

TINY = "tests/data/tiny-web.toml"


def test_every_sample_has_the_fixed_size(monkeypatch):
    sizes = []
    original = VectorWorld.evaluate

    def recording(world, batch, settings, **memory):
        sizes.append(len(batch))
        return original(world, batch, settings, **memory)

    monkeypatch.setattr(VectorWorld, "evaluate", recording)
    model = EcosystemModel(load_scenario(TINY, ["metrics.samples=150"]))
    model.step()
    assert max(sizes) == 150  # web has 600+ pages, archive 600 items: all capped
    assert model.web.count_alive > 600


def test_company_rows_are_reused_until_a_new_generation():
    model = EcosystemModel(load_scenario(TINY))
    rows = {}
    for _ in range(2):
        model.step()
        rows[model.steps] = {(s, m): v for _, s, m, v in model.rows if s == "company:beta"}
    # beta first retrains at the end of step 3: steps 1 and 2 measure the same model
    monthly = {"pages_published", "answers", "revenue", "licensing_paid"}
    same = {k: v for k, v in rows[1].items() if k[1] not in monthly}
    assert same == {k: v for k, v in rows[2].items() if k[1] not in monthly}
    model.step()
    assert model.companies[1].generation == 2
    after = {(s, m): v for _, s, m, v in model.rows if s == "company:beta"}
    assert after[("company:beta", "generation")] == 2
    metrics = ("precision", "recall", "density", "coverage", "frechet", "log_likelihood")
    assert [after[("company:beta", m)] for m in metrics] != [
        rows[2][("company:beta", m)] for m in metrics
    ]


def test_shares_are_exact_on_the_live_web():
    model = EcosystemModel(load_scenario(TINY, ["metrics.samples=5000"]))  # > pages alive
    model.step()
    values = {(s, m): v for _, s, m, v in model.rows}
    live = model.web.live()
    origin = model.web.origin[live]
    assert values[("web", "synthetic_share")] == pytest.approx(np.mean(origin != HUMAN))
    assert values[("web", "ai_share")] == pytest.approx(np.mean(origin == AI))
    assert values[("web", "pages_alive")] == len(live)
    assert values[("web_new", "pages_new")] == len(model.published)
    assert (model.web.created_step[model.published] == 1).all()
    assert values[("creators", "active")] == model.creators.active.sum() > 50


def test_pages_that_die_in_their_month_still_count_as_published():
    model = EcosystemModel(load_scenario(TINY, ["web.death_rate=1"]))
    model.step()
    values = {(s, m): v for _, s, m, v in model.rows}
    assert model.web.count_alive == 0
    assert values[("web_new", "pages_new")] == len(model.published) > 0
    assert values[("company:alpha", "pages_published")] == 40
    assert values[("web_new", "precision")] == values[("web_new", "precision")]  # not NaN


def test_a_culture_without_tail_topics_measures_nan_tail_mass():
    model = EcosystemModel(load_scenario(TINY, ["culture.topics=2"]))
    assert not model.world.tail_mask.any()
    model.step()
    values = {(s, m): v for _, s, m, v in model.rows}
    assert values[("web", "tail_mass_ratio")] != values[("web", "tail_mass_ratio")]
    assert 0 < values[("web", "recall")] <= 1


def test_page_keys_are_a_fixed_function_of_the_page_and_the_seed():
    pages = np.arange(10_000)
    keys = page_keys(pages, seed=7)
    assert keys.dtype == np.uint64 and len(np.unique(keys)) == len(pages)
    assert np.array_equal(page_keys(pages[::-1], seed=7), keys[::-1])
    assert not np.array_equal(page_keys(pages, seed=8), keys)


def test_a_sample_by_smallest_keys_is_uniform_and_keeps_the_pages_still_there():
    pages = np.arange(100_000)
    sample = smallest_keys(pages, 2000, seed=3)
    assert len(sample) == 2000 and np.all(np.diff(sample) > 0)
    # uniform over the pages: a tenth of them in each tenth of the rows, within 4 sd
    counts = np.bincount(sample // 10_000, minlength=10)
    assert np.abs(counts - 200).max() < 4 * np.sqrt(200 * 0.9)
    # a month later some pages died and some were added: the survivors stay in the sample
    alive = np.setdiff1d(pages, np.arange(0, 100_000, 50))
    later = smallest_keys(np.concatenate([alive, np.arange(100_000, 101_000)]), 2000, seed=3)
    kept = np.intersect1d(sample, alive)
    assert np.isin(kept, later).all() and len(np.setdiff1d(later, kept)) < 100
    assert np.array_equal(smallest_keys(pages[:50], 2000, seed=3), pages[:50])


def test_a_page_scope_log_likelihood_and_topics_are_over_all_its_pages():
    model = EcosystemModel(load_scenario(TINY, ["metrics.samples=100"]))
    model.step()
    values = {(s, m): v for _, s, m, v in model.rows}
    live = model.web.live()
    assert len(live) > 600
    quality = model.web.quality[live].astype(np.float64)
    assert values[("web", "log_likelihood")] == pytest.approx(quality.mean(), rel=1e-12)
    topics = model.world.assign(model.web.content_of(live))
    exact = topic_metrics(model.world, topics, model.scenario.metrics.min_topic_fraction)
    for metric, value in exact.items():
        assert values[("web", metric)] == pytest.approx(value, rel=1e-12, nan_ok=True)


def test_a_model_is_measured_with_the_same_base_noise_every_time():
    model = EcosystemModel(load_scenario(TINY))
    first = model.measurement._company(model.companies[0])
    model.measurement._company_rows.clear()
    assert model.measurement._company(model.companies[0]) == first


def test_the_web_sample_memo_changes_no_value():
    """The web's k-NN distances kept from month to month give exactly the values that
    computing them afresh gives, month after month (pages come, go and stay)."""
    model = EcosystemModel(load_scenario(TINY, ["metrics.samples=150"]))
    for _ in range(4):
        model.step()
        web, measurement = model.web, model.measurement
        assert measurement._memos["web"]["ids"] is not None
        keys, _ = measurement._page_columns(web)
        sample = smallest_keys(web.live(), 150, measurement.key_seed, keys)
        fresh = model.world.evaluate(web.content_of(sample), measurement.settings)
        kept = {m: v for _, s, m, v in model.rows if s == "web" and m in fresh}
        for metric in ("precision", "recall", "density", "coverage", "frechet"):
            assert kept[metric] == fresh[metric], metric
