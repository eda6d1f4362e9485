"""Tests for ecosystem.world.creators: drawing creators, growing the table, drawing authors."""

import numpy as np
import pytest

from ecosystem.randomness import Streams
from ecosystem.scenario import CreatorSettings, load_scenario
from ecosystem.world.creators import CreatorTable, draw_authors, draw_creators
from ecosystem.world.worlds import make_world

TINY = "tests/data/tiny-web.toml"
N = 3000
SETTINGS = CreatorSettings(
    count=N, pages_per_month=0.5, topics_per_creator=3, ai_assisted_share=0.1, adoption=0.3
)


@pytest.fixture(scope="module")
def culture():
    """The tiny model's culture (drawn as EcosystemModel draws it)."""
    scenario = load_scenario(TINY)
    return make_world(scenario, Streams(scenario.seed).torch("culture"))


@pytest.fixture(scope="module")
def weights(culture):
    return culture.weights.numpy()


@pytest.fixture(scope="module")
def tail(culture):
    return culture.tail.numpy()


@pytest.fixture(scope="module")
def drawn(weights, tail):
    market = np.array([0.75, 0.25])
    return draw_creators(N, SETTINGS, weights, tail, market, 7, np.random.default_rng(0))


# ----------------------------------------------------------------- draw_creators


def test_every_column_has_one_row_per_creator(drawn):
    assert len(drawn) == N
    for name, value in vars(drawn).items():
        assert len(value) == N, name
    assert drawn.active.all() and (drawn.entered == 7).all() and (drawn.left == -1).all()
    assert not drawn.opt_out.any() and (drawn.income == 0).all() and (drawn.cost == 0).all()


def test_mean_rate_is_pages_per_month(drawn):
    assert drawn.rate.mean() == pytest.approx(0.5, rel=0.1)
    assert (drawn.rate > 0).all()
    # log-normal with sd 1 of the log: the rates really spread
    assert np.log(drawn.rate).std() == pytest.approx(SETTINGS.rate_spread, rel=0.1)


def test_zero_rate_spread_gives_every_creator_the_mean_rate(weights, tail):
    settings = SETTINGS.model_copy(update={"rate_spread": 0.0})
    table = draw_creators(50, settings, weights, tail, np.ones(1), 0, np.random.default_rng(1))
    np.testing.assert_allclose(table.rate, 0.5)


def test_topics_are_distinct_one_to_three_and_padded(drawn, weights):
    topics = drawn.topics
    assert topics.shape == (N, 3)
    widths = drawn.widths
    assert widths.min() == 1 and widths.max() == 3
    for width in (1, 2, 3):
        assert np.mean(widths == width) == pytest.approx(1 / 3, abs=0.03)
    for row, width in zip(topics, widths, strict=True):
        assert (row[:width] >= 0).all() and (row[:width] < len(weights)).all()
        assert (row[width:] == -1).all()
        assert len(set(row[:width].tolist())) == width


def test_first_topic_follows_topic_popularity(drawn, weights):
    share = np.bincount(drawn.topics[:, 0], minlength=len(weights)) / N
    np.testing.assert_allclose(share, weights, atol=0.03)


def test_niche_creators_write_only_tail_topics_and_are_few(drawn, tail):
    in_tail = np.isin(drawn.topics, tail) | (drawn.topics < 0)
    np.testing.assert_array_equal(drawn.niche, in_tail.all(axis=1))
    assert drawn.niche.any()
    assert drawn.niche.mean() < 0.15  # tail mass is ~0.13 and most write several topics
    for row in drawn.topics[drawn.niche]:
        assert set(row[row >= 0].tolist()) <= set(tail.tolist())


def test_assistant_is_drawn_by_market_share(drawn):
    assert set(np.unique(drawn.assistant).tolist()) == {0, 1}
    assert np.mean(drawn.assistant == 0) == pytest.approx(0.75, abs=0.03)


def test_no_company_on_the_market_means_no_assistant(weights, tail):
    table = draw_creators(100, SETTINGS, weights, tail, np.zeros(3), 0, np.random.default_rng(2))
    assert (table.assistant == -1).all()
    empty = draw_creators(100, SETTINGS, weights, tail, np.zeros(0), 0, np.random.default_rng(2))
    assert (empty.assistant == -1).all()


def test_ai_share_and_propensity_are_beta_around_their_means(drawn):
    assert drawn.ai_share.mean() == pytest.approx(0.1, abs=0.015)
    assert drawn.propensity.mean() == pytest.approx(0.3, abs=0.02)
    assert drawn.ai_share.std() > 0.1  # Beta(0.2, 1.8): sd 0.17
    assert ((drawn.ai_share >= 0) & (drawn.ai_share <= 1)).all()
    assert ((drawn.propensity >= 0) & (drawn.propensity <= 1)).all()


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_extreme_shares_are_constants(weights, tail, share):
    settings = SETTINGS.model_copy(update={"ai_assisted_share": share, "adoption": share})
    table = draw_creators(20, settings, weights, tail, np.ones(1), 0, np.random.default_rng(3))
    assert (table.ai_share == share).all() and (table.propensity == share).all()


def test_more_topics_than_the_culture_has_are_capped(weights, tail):
    settings = SETTINGS.model_copy(update={"topics_per_creator": 50})
    table = draw_creators(200, settings, weights, tail, np.ones(1), 0, np.random.default_rng(4))
    assert table.topics.shape == (200, len(weights))
    assert table.widths.max() == len(weights)


# ----------------------------------------------------------------- extend


def _table(topics, rate=None):
    topics = np.asarray(topics, dtype=np.int16)
    n = len(topics)
    table = draw_creators(
        n, SETTINGS, np.full(4, 0.25), np.array([3]), np.ones(1), 0, np.random.default_rng(5)
    )
    table.topics = topics
    if rate is not None:
        table.rate = np.asarray(rate, dtype=np.float64)
    return table


def test_extend_pads_topic_widths_and_returns_the_new_rows():
    table = _table([[0, 1], [2, -1]], rate=[1.0, 2.0])
    wider = _table([[3, 1, 0]], rate=[5.0])
    rows = table.extend(wider)
    np.testing.assert_array_equal(rows, [2])
    np.testing.assert_array_equal(table.topics, [[0, 1, -1], [2, -1, -1], [3, 1, 0]])
    np.testing.assert_array_equal(table.rate, [1.0, 2.0, 5.0])
    np.testing.assert_array_equal(table.widths, [2, 1, 3])

    rows = table.extend(_table([[1], [2]], rate=[7.0, 8.0]))
    np.testing.assert_array_equal(rows, [3, 4])
    np.testing.assert_array_equal(table.topics[3:], [[1, -1, -1], [2, -1, -1]])
    assert table.topics.dtype == np.int16
    for name, value in vars(table).items():
        assert len(value) == 5, name


def test_extend_an_empty_table():
    table = CreatorTable()
    assert len(table) == 0
    rows = table.extend(_table([[0, 2], [1, -1]], rate=[1.0, 3.0]))
    np.testing.assert_array_equal(rows, [0, 1])
    np.testing.assert_array_equal(table.topics, [[0, 2], [1, -1]])
    assert table.active.all() and table.rate.tolist() == [1.0, 3.0]


# ----------------------------------------------------------------- draw_authors


def _writers():
    # creator: topics, rate (weight per topic = rate / number of topics)
    table = CreatorTable(
        topics=np.array([[0, 1], [0, -1], [1, 2], [0, 2], [2, -1]], dtype=np.int16),
        rate=np.array([2.0, 1.0, 4.0, 60.0, 3.0]),
        active=np.array([True, True, True, False, True]),
    )
    return table


def test_authors_write_the_topic_in_proportion_to_rate_per_topic():
    table = _writers()
    n = 30_000
    expected = {
        0: {0: 0.5, 1: 0.5},  # weights 1 and 1 (creator 3 is inactive)
        1: {0: 1 / 3, 2: 2 / 3},  # weights 1 and 2
        2: {2: 0.4, 4: 0.6},  # weights 2 and 3
    }
    rng = np.random.default_rng(6)
    for topic, shares in expected.items():
        authors = draw_authors(table, np.full(n, topic), rng)
        assert set(np.unique(authors).tolist()) == set(shares)
        for author, share in shares.items():
            assert np.mean(authors == author) == pytest.approx(share, abs=0.015)


def test_mixed_topics_in_one_call_each_get_a_writer_of_that_topic():
    table = _writers()
    topics = np.random.default_rng(7).integers(0, 3, 5000)
    authors = draw_authors(table, topics, np.random.default_rng(8))
    assert (authors >= 0).all()
    for author, topic in zip(authors, topics, strict=True):
        assert topic in table.topics[author]
    assert not (authors == 3).any()


def test_topics_nobody_writes_get_no_author():
    table = _writers()
    authors = draw_authors(table, np.array([3, 0, 7, 2, 3]), np.random.default_rng(9))
    assert authors[0] == -1 and authors[2] == -1 and authors[4] == -1
    assert authors[1] in (0, 1) and authors[3] in (2, 4)


def test_inactive_creators_are_never_drawn():
    table = _writers()
    table.active[:] = [False, True, False, False, True]
    topics = np.repeat([0, 1, 2], [200, 50, 200])
    authors = draw_authors(table, topics, np.random.default_rng(10))
    assert (authors[:200] == 1).all()  # creator 3 writes topic 0 at rate 30 but is inactive
    assert (authors[200:250] == -1).all()  # topic 1: creators 0 and 2, both inactive
    assert (authors[250:] == 4).all()
    table.active[:] = False
    assert (draw_authors(table, np.array([0, 1, 2]), np.random.default_rng(11)) == -1).all()


def test_zero_rate_creators_are_never_drawn():
    table = _writers()
    table.rate[0] = 0.0
    authors = draw_authors(table, np.repeat([0, 1], 2000), np.random.default_rng(12))
    assert (authors[:2000] == 1).all() and (authors[2000:] == 2).all()


def test_no_pages_no_authors():
    assert draw_authors(_writers(), np.zeros(0, np.int64), np.random.default_rng(0)).shape == (0,)
