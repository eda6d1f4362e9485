"""Tests for ecosystem.world.economy: inequality, income, costs, quitting, entry and opt-out."""

import copy
import math

import numpy as np
import pytest

from ecosystem.scenario import CreatorSettings, load_scenario
from ecosystem.world.attention import Attention
from ecosystem.world.creators import draw_creators
from ecosystem.world.economy import CreatorEconomy, gini
from ecosystem.world.model import EcosystemModel
from ecosystem.world.web import HUMAN, Web

TINY = "tests/data/tiny-web.toml"
STILL = ["creators.attrition=0", "creators.entry_rate=0"]
OPT_OUT_STEP = 20


@pytest.fixture(scope="module")
def tiny():
    """The tiny model just after construction, with neither attrition nor entry."""
    return EcosystemModel(load_scenario(TINY, STILL))


def fresh(model, **settings):
    """A copy of ``model``'s creator table and an economy with changed creator settings,
    as calibrated at construction."""
    economy = CreatorEconomy(
        model.scenario.creators.model_copy(update=settings), model.economy.opt_out_step
    )
    economy.reference_income = model.economy.reference_income
    return copy.deepcopy(model.creators), economy


def idle(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``assisted`` and ``fidelity`` for creators without an assistant on the market."""
    return np.zeros(n, dtype=bool), np.zeros(n)


def creators(n: int, seed: int = 0, **settings):
    """``n`` creators well above break-even, each with one page on a small web."""
    s = CreatorSettings(**({"attrition": 0.0, "entry_rate": 0.0} | settings))
    rng = np.random.default_rng(seed)
    table = draw_creators(n, s, np.full(4, 0.25), np.array([3]), np.ones(1), 0, rng)
    table.rate[:] = 1.0
    table.cost[:] = 10.0
    table.income[:] = 100.0
    table.income_smooth[:] = 100.0
    table.established[:] = True
    web = Web(2)
    web.add_pages(
        np.zeros((2 * n, 2)),
        origin=HUMAN,
        topic=0,
        quality=0.0,
        step=0,
        author=np.concatenate([np.arange(n), np.full(n, -1)]),
    )
    return table, web, CreatorEconomy(s, opt_out_step=OPT_OUT_STEP)


def heavily_crawled(table):
    table.crawls[:] = 1e9  # far above opt_out_notice (1e6)
    table.referrals[:] = 0.0  # crawl-to-referral ratio 1e9, far above opt_out_ratio (3000)


# ----------------------------------------------------------------- gini


def test_gini_of_equal_values_is_zero():
    assert gini(np.full(7, 3.5)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 100])
def test_gini_when_one_holds_all_is_n_minus_one_over_n(n):
    values = np.zeros(n)
    values[n // 2] = 42.0
    assert gini(values) == pytest.approx((n - 1) / n)


def test_gini_known_value_and_order_independence():
    assert gini(np.array([3.0, 1.0, 2.0])) == pytest.approx(2 / 9)
    assert gini([1, 2, 3]) == gini([3, 2, 1])


def test_gini_of_nothing_is_nan():
    assert math.isnan(gini(np.array([])))
    assert math.isnan(gini(np.zeros(4)))


# ----------------------------------------------------------------- calibration


def test_every_creator_with_income_covers_its_costs_after_construction(tiny):
    model = tiny
    table = model.creators
    earning = (table.income > 0) & (table.rate > 0)
    assert earning.sum() > len(table) / 2
    np.testing.assert_array_equal(table.income_smooth, table.income)
    margin = table.income_smooth[earning] / (table.rate[earning] * table.cost[earning])
    assert (margin > 1.0).all()
    # creators without income get the median cost of those with income
    typical = np.median(table.cost[earning])
    np.testing.assert_allclose(table.cost[~earning], typical)
    assert model.economy.reference_income == pytest.approx(table.income.mean())


def test_calibrated_margin_has_the_configured_median():
    table, _, economy = creators(4000, margin=1.5, margin_spread=0.5)
    table.income[:] = np.random.default_rng(1).uniform(10, 200, len(table))
    table.rate[:] = np.random.default_rng(2).uniform(0.1, 3, len(table))
    economy.calibrate(table, np.random.default_rng(3))
    margin = table.income / (table.rate * table.cost)
    assert margin.min() > 1.0
    assert np.median(margin) == pytest.approx(1.5, abs=0.03)  # 1 + 0.5 x log-normal median 1
    assert economy.reference_income == pytest.approx(table.income.mean())


# ----------------------------------------------------------------- quitting


def test_a_creator_without_income_quits_after_exactly_patience_months(tiny):
    model = tiny
    table, economy = fresh(model, patience=4)
    assert table.established[7]  # a step-0 creator with an audience is judged from the start
    table.income_smooth[7] = 0.0
    # creators without income at step 0 are judged only after their runway
    below = table.established & (table.income_smooth < table.rate * table.cost)
    assisted, fidelity = idle(len(table))
    rng = np.random.default_rng(0)
    for step in range(1, 4):
        month, entrants = economy.respond(table, model.web, assisted, fidelity, step, rng)
        assert month.quits == 0 and entrants == 0 and table.active.all()
        assert table.months_below[7] == step
    month, _ = economy.respond(table, model.web, assisted, fidelity, 4, rng)
    assert month.quits == below.sum() >= 1
    assert not table.active[7] and table.left[7] == 4
    np.testing.assert_array_equal(table.active, ~below)
    np.testing.assert_array_equal(table.left[table.active], -1)


def test_a_good_month_resets_the_count(tiny):
    model = tiny
    table, economy = fresh(model, patience=3)
    income = table.income_smooth[5]
    assisted, fidelity = idle(len(table))
    rng = np.random.default_rng(0)
    schedule = [0.0, 0.0, income, 0.0, 0.0]  # never 3 months in a row below
    for step, smooth in enumerate(schedule, start=1):
        table.income_smooth[5] = smooth
        economy.respond(table, model.web, assisted, fidelity, step, rng)
    assert table.active[5] and table.months_below[5] == 2
    economy.respond(table, model.web, assisted, fidelity, 6, rng)
    assert not table.active[5] and table.left[5] == 6


def test_new_creators_are_judged_only_after_their_runway():
    table, web, economy = creators(3, runway=5, patience=1)
    table.entered[:] = [0, 10, 10]
    table.established[:] = [True, False, False]
    table.income_smooth[:] = 0.0
    assisted, fidelity = idle(3)
    economy.respond(table, web, assisted, fidelity, 14, np.random.default_rng(0))
    np.testing.assert_array_equal(table.active, [False, True, True])
    economy.respond(table, web, assisted, fidelity, 15, np.random.default_rng(0))
    assert not table.active.any()


def test_attrition_takes_its_share_of_creators():
    table, web, economy = creators(5000, attrition=0.1)
    month, _ = economy.respond(table, web, *idle(5000), 1, np.random.default_rng(0))
    assert month.quits / 5000 == pytest.approx(0.1, abs=0.015)
    assert (~table.active).sum() == month.quits


# ----------------------------------------------------------------- entry


class RecordingRng:
    """A generator whose Poisson draw returns (and records) its mean, rounded."""

    def __init__(self, seed: int = 0) -> None:
        self.inner = np.random.default_rng(seed)
        self.means: list[float] = []

    def random(self, *args):
        return self.inner.random(*args)

    def poisson(self, lam):
        self.means.append(float(lam))
        return round(lam)


@pytest.mark.parametrize("ratio", [0.5, 1.0, 2.0])
def test_entrants_scale_with_income_ratio_to_the_elasticity(tiny, ratio):
    model = tiny
    table, economy = fresh(model, entry_rate=0.05, entry_elasticity=2.0)
    table.cost[:] = 0.0  # nobody quits whatever their income
    table.income_smooth[:] = table.income * ratio
    rng = RecordingRng()
    _, entrants = economy.respond(table, model.web, *idle(len(table)), 1, rng)
    expected = 0.05 * len(table) * ratio**2
    assert rng.means == [pytest.approx(expected)]
    assert entrants == round(expected)


def test_entrants_are_poisson_around_their_mean(tiny):
    model = tiny
    table, economy = fresh(model, entry_rate=0.05)
    table.cost[:] = 0.0
    table.income_smooth[:] = table.income * 1.5
    rng = np.random.default_rng(0)
    counts = [economy.respond(table, model.web, *idle(len(table)), 1, rng)[1] for _ in range(400)]
    expected = 0.05 * len(table) * 1.5**2  # 6.75
    assert np.mean(counts) == pytest.approx(expected, abs=0.4)
    assert np.var(counts) == pytest.approx(expected, rel=0.25)


def test_no_entry_rate_or_no_active_creator_means_no_entrants(tiny):
    table, economy = fresh(tiny)
    assert economy.respond(table, tiny.web, *idle(60), 1, np.random.default_rng(0))[1] == 0
    table, web, economy = creators(10, entry_rate=0.5)
    table.active[:] = False
    assert economy.respond(table, web, *idle(10), 1, np.random.default_rng(0))[1] == 0


# ----------------------------------------------------------------- AI adoption


def test_assisted_creators_move_toward_their_target_share():
    table, web, economy = creators(4, adoption_speed=0.5, assisted_cost=0.4)
    table.ai_share[:] = 0.1
    table.propensity[:] = 0.8
    assisted = np.array([True, True, False, True])
    fidelity = np.array([1.0, 0.25, 1.0, 1.0])
    table.income_smooth[3] = 0.0  # below break-even: target doubled (capped at 1)
    economy.respond(table, web, assisted, fidelity, 1, np.random.default_rng(0))
    targets = np.array([0.8 * 0.6, 0.8 * 0.6 * 0.25, 0.1, min(2 * 0.8 * 0.6, 1.0)])
    np.testing.assert_allclose(table.ai_share[[0, 1, 3]], 0.1 + 0.5 * (targets[[0, 1, 3]] - 0.1))
    assert table.ai_share[2] == 0.1  # its assistant is not on the market


# ----------------------------------------------------------------- opt-out


def test_the_opt_out_month_follows_the_calendar(tiny):
    assert tiny.economy.opt_out_step == 20  # 2023-08 in a run starting 2022-01


def test_no_opt_out_before_it_is_possible():
    table, web, economy = creators(2000)
    heavily_crawled(table)
    for step in range(OPT_OUT_STEP):
        month, _ = economy.respond(table, web, *idle(2000), step, np.random.default_rng(step))
        assert month.opted_out == 0
    assert not table.opt_out.any() and not web.opt_out.any()


def test_a_high_crawl_to_referral_ratio_makes_creators_opt_out():
    table, web, economy = creators(4000, opt_out_rate=0.25)
    heavily_crawled(table)
    np.testing.assert_allclose(economy.crawl_to_referral(table), 1e9)
    month, _ = economy.respond(table, web, *idle(4000), OPT_OUT_STEP, np.random.default_rng(0))
    assert month.opted_out == table.opt_out.sum()
    assert month.opted_out / 4000 == pytest.approx(0.25, abs=0.025)
    # their pages opt out with them; pages without an author do not
    np.testing.assert_array_equal(web.opt_out[:4000], table.opt_out)
    assert not web.opt_out[4000:].any()
    # a creator opts out once: the next month only the others are candidates
    before = table.opt_out.copy()
    month, _ = economy.respond(table, web, *idle(4000), OPT_OUT_STEP + 1, np.random.default_rng(1))
    assert month.opted_out == table.opt_out.sum() - before.sum()
    assert (table.opt_out >= before).all()


def test_a_low_ratio_or_few_crawls_keep_creators_in():
    table, web, economy = creators(4000)
    table.crawls[:] = 1e9
    table.referrals[:] = 1e9  # ratio ~1: rate 0.25 / 3001
    month, _ = economy.respond(table, web, *idle(4000), OPT_OUT_STEP, np.random.default_rng(0))
    assert month.opted_out <= 3
    table, web, economy = creators(4000)
    table.crawls[:] = 10.0  # unnoticed: rate 0.25 x 1e-5
    month, _ = economy.respond(table, web, *idle(4000), OPT_OUT_STEP, np.random.default_rng(0))
    assert month.opted_out <= 3


def test_inactive_creators_do_not_opt_out():
    table, web, economy = creators(200, opt_out_rate=1.0)
    heavily_crawled(table)
    table.active[:100] = False
    economy.respond(table, web, *idle(200), OPT_OUT_STEP, np.random.default_rng(0))
    assert not table.opt_out[:100].any() and table.opt_out[100:].mean() > 0.95


def test_licensing_income_deters_opting_out():
    counts = {}
    for licensing in (0.0, 50.0):  # half of a 100 income
        table, web, economy = creators(4000, opt_out_rate=0.25, licensing_deterrence=5.0)
        heavily_crawled(table)
        table.licensing_smooth[:] = licensing
        month, _ = economy.respond(table, web, *idle(4000), OPT_OUT_STEP, np.random.default_rng(0))
        counts[licensing] = month.opted_out
    assert counts[0.0] / 4000 == pytest.approx(0.25, abs=0.025)
    assert counts[50.0] / 4000 == pytest.approx(0.25 * math.exp(-2.5), abs=0.01)
    assert counts[50.0] < counts[0.0] / 5


def test_opt_out_saturates_at_the_share_of_creators_who_would_ever_opt_out():
    n = 4000
    s = CreatorSettings(attrition=0.0, entry_rate=0.0, opt_out_ceiling=0.3, opt_out_rate=1.0)
    rng = np.random.default_rng(0)
    table = draw_creators(
        n, s, np.full(4, 0.25), np.array([3]), np.ones(1), 0, rng, np.random.default_rng(1)
    )
    assert table.opt_out_willing.mean() == pytest.approx(0.3, abs=0.025)
    table.income_smooth[:] = 100.0
    web = Web(2)
    web.add_pages(np.zeros((n, 2)), origin=HUMAN, topic=0, quality=0.0, step=0, author=np.arange(n))
    economy = CreatorEconomy(s, opt_out_step=OPT_OUT_STEP)
    heavily_crawled(table)
    for month in range(12):
        economy.respond(table, web, *idle(n), OPT_OUT_STEP + month, np.random.default_rng(month))
    np.testing.assert_array_equal(table.opt_out, table.opt_out_willing)  # all of them, no more


def test_without_a_ceiling_every_creator_is_willing_and_no_draw_is_made():
    s = CreatorSettings()
    rng, willing = np.random.default_rng(0), np.random.default_rng(1)
    table = draw_creators(50, s, np.full(4, 0.25), np.array([3]), np.ones(1), 0, rng, willing)
    assert table.opt_out_willing.all()
    assert willing.random() == np.random.default_rng(1).random()  # its stream untouched


def test_a_steeper_notice_separates_big_sites_from_small_ones():
    opted = {}
    for steepness in (1.0, 8.0):
        table, web, economy = creators(
            4000, opt_out_rate=1.0, opt_out_notice=1e5, opt_out_steepness=steepness
        )
        table.referrals[:] = 0.0
        table.crawls[:2000] = 3e5  # big sites
        table.crawls[2000:] = 3e4  # small ones
        economy.respond(table, web, *idle(4000), OPT_OUT_STEP, np.random.default_rng(0))
        opted[steepness] = (table.opt_out[:2000].mean(), table.opt_out[2000:].mean())
    assert opted[1.0][0] == pytest.approx(0.75, abs=0.04)
    assert opted[1.0][1] == pytest.approx(0.3 / 1.3, abs=0.04)
    assert opted[8.0][0] == pytest.approx(3**8 / (3**8 + 1), abs=0.02)
    assert opted[8.0][1] < 0.01


def test_no_opt_out_at_rate_zero():
    table, web, economy = creators(500, opt_out_rate=0.0)
    heavily_crawled(table)
    month, _ = economy.respond(table, web, *idle(500), OPT_OUT_STEP, np.random.default_rng(0))
    assert month.opted_out == 0


# ----------------------------------------------------------------- money


def test_record_crawl_adds_requests_and_fees_per_author():
    table, _, economy = creators(4)
    economy.record_crawl(table, np.array([0, 0, 2]), fee=0.5, requests=1000.0)
    np.testing.assert_allclose(table.pending_crawls, [2000.0, 0.0, 1000.0, 0.0])
    np.testing.assert_allclose(table.pending_licensing, [1.0, 0.0, 0.5, 0.0])
    economy.record_crawl(table, np.array([3, 0]), fee=2.0, requests=10.0)
    np.testing.assert_allclose(table.pending_crawls, [2010.0, 0.0, 1000.0, 10.0])
    np.testing.assert_allclose(table.pending_licensing, [3.0, 0.0, 0.5, 2.0])
    economy.record_crawl(table, np.zeros(0, np.int64), fee=2.0, requests=10.0)
    np.testing.assert_allclose(table.pending_licensing, [3.0, 0.0, 0.5, 2.0])


def test_pay_turns_visits_into_income_and_pending_licensing_into_licensing():
    table, _, economy = creators(3, income_memory=4.0)
    web = Web(2)
    web.add_pages(
        np.zeros((5, 2)),
        origin=HUMAN,
        topic=0,
        quality=0.0,
        step=0,
        author=np.array([0, 0, 2, -1, 1]),
    )
    attention = Attention(
        pages=np.array([0, 1, 2, 3]),  # page 4 (creator 1's) is not live
        visits=np.array([100.0, 50.0, 20.0, 999.0]),
        ai_referrals=np.array([12.0, 0.0, 24.0, 5.0]),
        answers=np.zeros(1),
        searches=0.0,
        chat_questions=0.0,
        answered_searches=0.0,
        clicks_plain=0.0,
        clicks_answered=0.0,
    )
    table.income_smooth[:] = [100.0, 100.0, 0.0]
    table.licensing_smooth[:] = 0.0
    table.pending_licensing[:] = [0.0, 3.0, 4.0]
    table.pending_crawls[:] = [120.0, 0.0, 0.0]
    table.crawls[:] = 0.0
    table.referrals[:] = 0.0
    economy.pay(table, web, attention, revenue_per_visit=0.1)
    np.testing.assert_allclose(table.licensing, [0.0, 3.0, 4.0])
    np.testing.assert_allclose(table.income, [15.0, 3.0, 6.0])
    np.testing.assert_array_equal(table.pending_licensing, 0.0)
    np.testing.assert_array_equal(table.pending_crawls, 0.0)
    np.testing.assert_allclose(
        table.income_smooth, [100 + (15 - 100) / 4, 100 + (3 - 100) / 4, 6 / 4]
    )
    np.testing.assert_allclose(table.licensing_smooth, [0.0, 3 / 4, 4 / 4])
    np.testing.assert_allclose(table.referrals, [1.0, 0.0, 2.0])  # smoothed over 12 months
    np.testing.assert_allclose(table.crawls, [10.0, 0.0, 0.0])
    # next month, no pending licensing: licensing income is gone
    economy.pay(table, web, attention, revenue_per_visit=0.1)
    np.testing.assert_allclose(table.licensing, 0.0)
    np.testing.assert_allclose(table.income, [15.0, 0.0, 2.0])


def test_draw_costs_come_from_the_active_creators():
    table, _, economy = creators(4)
    table.cost[:] = [5.0, 7.0, 0.0, 100.0]
    table.active[3] = False
    drawn = economy.draw_costs(table, 500, np.random.default_rng(0))
    assert set(np.unique(drawn).tolist()) == {5.0, 7.0}
