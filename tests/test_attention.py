"""Tests for ecosystem.world.attention: demand split, clicks, answers, ranking, topic fidelity."""

import math

import numpy as np
import pytest
import torch

from ecosystem.scenario import AttentionSettings
from ecosystem.world.attention import allocate, topic_fidelity
from ecosystem.world.culture import Culture
from ecosystem.world.web import AI, AI_ASSISTED, HUMAN, Web

WEIGHTS = np.array([0.5, 0.3, 0.2])
START = "2022-01"
CTR, CTR_ANSWER, CHAT_CTR = 0.15, 0.08, 0.01


def settings(**changes) -> AttentionSettings:
    values = {"searches_per_month": 1000.0, "demand_growth": 0.0} | changes
    return AttentionSettings(**values)


def web_with(topics, *, origin=HUMAN, quality=0.0, step=0) -> Web:
    topics = np.asarray(topics)
    web = Web(2)
    web.add_pages(
        np.zeros((len(topics), 2)), origin=origin, topic=topics, quality=quality, step=step
    )
    return web


@pytest.fixture
def web():
    """Two pages in each of the three topics, all alike."""
    return web_with([0, 0, 1, 1, 2, 2])


def visits_per_topic(web, attention):
    return np.bincount(web.topic[attention.pages], weights=attention.visits, minlength=3)


# ----------------------------------------------------------------- demand


def test_without_a_company_on_the_market_every_search_is_plain(web):
    s = settings(chat_share=0.5, ai_answer_share=0.5)
    attention = allocate(web, WEIGHTS, [np.ones(3), np.ones(3)], np.zeros(2), s, START, 5)
    assert attention.searches == pytest.approx(1000.0)
    assert attention.chat_questions == 0 and attention.answered_searches == 0
    assert attention.clicks_plain == pytest.approx(1000.0 * CTR)
    assert attention.clicks_answered == 0
    assert attention.visits.sum() == pytest.approx(1000.0 * CTR)
    np.testing.assert_allclose(visits_per_topic(web, attention), 1000.0 * CTR * WEIGHTS)
    assert (attention.ai_referrals == 0).all() and (attention.answers == 0).all()
    assert math.isnan(attention.click_through_ratio)


def test_no_companies_at_all_is_a_web_of_plain_searches(web):
    s = settings(chat_share=0.5, ai_answer_share=0.5)
    attention = allocate(web, WEIGHTS, [], np.zeros(0), s, START, 1)
    assert attention.answers.shape == (0,)
    assert attention.visits.sum() == pytest.approx(1000.0 * CTR)


def test_demand_grows_every_month(web):
    s = settings(demand_growth=0.01)
    attention = allocate(web, WEIGHTS, [np.ones(3)], np.zeros(1), s, START, 10)
    assert attention.searches == pytest.approx(1000.0 * 1.01**10)
    assert attention.visits.sum() == pytest.approx(1000.0 * 1.01**10 * CTR)


def test_a_full_fidelity_answer_cuts_clicks_to_click_through_with_answer(web):
    s = settings(ai_answer_share=0.4)
    attention = allocate(web, WEIGHTS, [np.ones(3)], np.ones(1), s, START, 1)
    assert attention.answered_searches == pytest.approx(400.0)
    assert attention.clicks_answered == pytest.approx(400.0 * CTR_ANSWER)
    assert attention.clicks_plain == pytest.approx(600.0 * CTR)
    assert attention.click_through_ratio == pytest.approx(CTR_ANSWER / CTR, rel=1e-12)
    assert attention.answers.sum() == pytest.approx(400.0)
    assert attention.ai_referrals.sum() == pytest.approx(400.0 * CHAT_CTR)


def test_every_search_answered_leaves_no_plain_searches(web):
    s = settings(ai_answer_share=1.0)
    attention = allocate(web, WEIGHTS, [np.ones(3)], np.ones(1), s, START, 1)
    assert attention.answered_searches == pytest.approx(attention.searches)
    assert attention.clicks_plain == 0
    assert attention.clicks_answered / attention.answered_searches == pytest.approx(CTR_ANSWER)
    assert math.isnan(attention.click_through_ratio)  # no plain search to compare with


def test_clicks_with_an_answer_follow_the_fidelity_on_each_topic(web):
    s = settings(ai_answer_share=0.4)
    lost = allocate(web, WEIGHTS, [np.zeros(3)], np.ones(1), s, START, 1)
    # mean fidelity 0: the company serves no answers, so no AI answer is shown at all
    assert lost.answered_searches == 0 and lost.visits.sum() == pytest.approx(1000.0 * CTR)
    # a company that covers one topic serves the answers: the other two click as plain
    half = allocate(web, WEIGHTS, [np.array([1.0, 0.0, 0.0])], np.ones(1), s, START, 1)
    referrals = np.bincount(web.topic[half.pages], weights=half.ai_referrals, minlength=3)
    clicks = visits_per_topic(web, half) - referrals
    expected = 1000.0 * WEIGHTS * (0.6 * CTR + 0.4 * np.array([CTR_ANSWER, CTR, CTR]))
    np.testing.assert_allclose(clicks, expected)


def test_click_through_ratio_is_one_at_fidelity_zero_on_the_asked_topics(web):
    s = settings(ai_answer_share=0.4)
    # readers ask only about topics 0 and 1, which the answering model has lost
    weights = np.array([0.6, 0.4, 0.0])
    attention = allocate(web, weights, [np.array([0.0, 0.0, 1.0])], np.ones(1), s, START, 1)
    assert attention.answered_searches == pytest.approx(400.0)
    assert attention.click_through_ratio == 1.0
    half = allocate(web, WEIGHTS, [np.full(3, 0.5)], np.ones(1), s, START, 1)
    assert half.click_through_ratio == pytest.approx((CTR_ANSWER + 0.5 * (CTR - CTR_ANSWER)) / CTR)


def test_chat_moves_demand_to_answers_and_sends_ai_referrals(web):
    s = settings(chat_share=0.3, ai_answer_share=0.5)
    market = np.array([0.6, 0.4])
    attention = allocate(web, WEIGHTS, [np.ones(3), np.ones(3)], market, s, START, 1)
    assert attention.chat_questions == pytest.approx(300.0)
    assert attention.searches == pytest.approx(700.0)
    assert attention.answered_searches == pytest.approx(350.0)
    assert attention.answers.sum() == pytest.approx(300.0 + 350.0)
    np.testing.assert_allclose(attention.answers, [0.6 * 650.0, 0.4 * 650.0])
    assert attention.ai_referrals.sum() == pytest.approx(CHAT_CTR * 650.0)
    total = 350.0 * CTR + 350.0 * CTR_ANSWER + CHAT_CTR * 650.0
    assert attention.visits.sum() == pytest.approx(total)
    assert (attention.ai_referrals <= attention.visits).all()


def test_answers_go_by_market_share_times_mean_fidelity(web):
    s = settings(ai_answer_share=1.0)
    fidelity = [np.ones(3), np.array([1.0, 0.0, 0.5])]  # means 1 and 0.5
    attention = allocate(web, WEIGHTS, fidelity, np.array([0.5, 0.5]), s, START, 1)
    np.testing.assert_allclose(attention.answers, [1000.0 * 2 / 3, 1000.0 / 3])


def test_dated_schedules_apply_at_the_right_step(web):
    # 2022-03 is step 3, 2022-07 step 7: the answer share is 0.2 in 2022-05 (step 5)
    s = settings(
        ai_answer_share={"2022-03": 0.0, "2022-07": 0.4},
        chat_share={"2022-01": 0.0, "2022-11": 0.5},
    )
    for step, answer, chat in [
        (0, 0.0, 0.0),
        (2, 0.0, 0.05),
        (5, 0.2, 0.2),
        (7, 0.4, 0.3),
        (30, 0.4, 0.5),
    ]:
        attention = allocate(web, WEIGHTS, [np.ones(3)], np.ones(1), s, START, step)
        assert attention.chat_questions == pytest.approx(1000.0 * chat)
        assert attention.searches == pytest.approx(1000.0 * (1 - chat))
        assert attention.answered_searches == pytest.approx(1000.0 * (1 - chat) * answer)
    later = allocate(web, WEIGHTS, [np.ones(3)], np.ones(1), s, "2021-11", 7)  # 2022-05
    assert later.answered_searches / later.searches == pytest.approx(0.2)


# ----------------------------------------------------------------- ranking


def test_visits_in_a_topic_add_up_to_its_clicks_and_empty_topics_lose_theirs():
    web = web_with([0, 0, 0, 1])
    attention = allocate(web, WEIGHTS, [np.ones(3)], np.zeros(1), settings(), START, 1)
    expected = 1000.0 * CTR * np.array([WEIGHTS[0], WEIGHTS[1], 0.0])
    np.testing.assert_allclose(visits_per_topic(web, attention), expected)
    np.testing.assert_allclose(attention.visits[:3], 1000.0 * CTR * 0.5 / 3)


def test_a_fully_ai_page_gets_ai_visibility_times_a_human_page():
    web = web_with([0, 0, 0, 1], origin=np.array([HUMAN, AI, AI_ASSISTED, HUMAN]))
    s = settings(ai_visibility=0.16)
    attention = allocate(web, WEIGHTS, [np.ones(3)], np.zeros(1), s, START, 1)
    human, ai, assisted = attention.visits[:3]
    assert ai / human == pytest.approx(0.16)
    assert assisted == pytest.approx(human)
    assert human + ai + assisted == pytest.approx(1000.0 * CTR * 0.5)


def test_in_degree_raises_a_page_in_the_ranking():
    web = Web(2)
    linked = web.add_pages(np.zeros((1, 2)), origin=HUMAN, topic=0, quality=0.0, step=0)
    sources = web.add_pages(np.zeros((4, 2)), origin=HUMAN, topic=2, quality=0.0, step=0)
    web.link_new_pages(
        sources, np.random.default_rng(0), links_per_page=3.0, attachment=0.0, homophily=0.0
    )  # the only older page is `linked`
    plain = web.add_pages(np.zeros((1, 2)), origin=HUMAN, topic=0, quality=0.0, step=0)
    degree = int(web.in_degree[linked[0]])
    assert degree > 0 and web.in_degree[plain[0]] == 0
    s = settings(link_weight=0.5)
    attention = allocate(web, WEIGHTS, [np.ones(3)], np.zeros(1), s, START, 1)
    ratio = attention.visits[linked[0]] / attention.visits[plain[0]]
    assert ratio == pytest.approx((degree + 1) ** 0.5)


def test_fresher_pages_rank_higher():
    web = web_with([0, 0], step=np.array([0, 12]))
    s = settings(freshness_months=24.0)
    attention = allocate(web, WEIGHTS, [np.ones(3)], np.zeros(1), s, START, 12)
    old, new = attention.visits
    assert new / old == pytest.approx(math.exp(12 / 24))


def test_better_pages_rank_higher_by_their_standardised_quality():
    web = web_with([0, 0], quality=np.array([-3.0, 1.0]))  # z-scores -1 and +1
    s = settings(quality_weight=0.5)
    attention = allocate(web, WEIGHTS, [np.ones(3)], np.zeros(1), s, START, 1)
    worse, better = attention.visits
    assert better / worse == pytest.approx(math.exp(0.5 * 2))


def test_dead_pages_get_no_attention():
    web = web_with([0, 0, 1])
    web.step(np.random.default_rng(0), death_rate=1.0, traffic_decay=0.0)
    attention = allocate(web, WEIGHTS, [np.ones(3)], np.zeros(1), settings(), START, 1)
    assert attention.pages.size == 0 and attention.visits.size == 0
    assert attention.searches == pytest.approx(1000.0)
    web.add_pages(np.zeros((1, 2)), origin=HUMAN, topic=1, quality=0.0, step=1)
    attention = allocate(web, WEIGHTS, [np.ones(3)], np.zeros(1), settings(), START, 1)
    np.testing.assert_array_equal(attention.pages, [3])
    assert attention.visits[0] == pytest.approx(1000.0 * CTR * 0.3)


# ----------------------------------------------------------------- topic fidelity


@pytest.fixture(scope="module")
def separated_culture():
    """Well-separated topics, so that assigning a topic to a vector is almost never wrong."""
    generator = torch.Generator().manual_seed(5)
    return Culture.generate(generator, topics=10, dim=4, separation=30.0, reference_size=200)


def test_a_sample_of_the_culture_itself_has_full_fidelity(separated_culture):
    x, _ = separated_culture.sample(50_000, torch.Generator().manual_seed(0))
    fidelity = topic_fidelity(separated_culture, x)
    assert fidelity.shape == (10,)
    assert fidelity.max() <= 1.0
    assert fidelity.min() > 0.9 and fidelity.mean() > 0.97


def test_a_lost_topic_has_fidelity_near_zero(separated_culture):
    weights = separated_culture.weights.clone()
    weights[2] = 0.0
    generator = torch.Generator().manual_seed(1)
    topics = torch.multinomial(weights, 20_000, replacement=True, generator=generator)
    x, _ = separated_culture.sample(len(topics), generator, topics=topics)
    fidelity = topic_fidelity(separated_culture, x)
    assert fidelity[2] < 0.02
    assert np.delete(fidelity, 2).min() > 0.9


def test_an_empty_sample_has_no_fidelity(separated_culture):
    np.testing.assert_array_equal(topic_fidelity(separated_culture, torch.zeros(0, 4)), 0.0)


# ----------------------------------------------------- answers' links and sessions


def test_each_company_sends_referrals_by_its_own_clicks_per_answer(web):
    s = settings(chat_share=0.5, ai_answer_share=0.5)
    market = np.array([0.5, 0.5])
    attention = allocate(
        web, WEIGHTS, [np.ones(3), np.ones(3)], market, s, START, 1, links=[0.1, None]
    )
    answers = 500.0 + 250.0  # the chat questions and the searches that showed an answer
    np.testing.assert_allclose(attention.answers, [answers / 2, answers / 2])
    np.testing.assert_allclose(attention.referrals, [answers / 2 * 0.1, answers / 2 * CHAT_CTR])
    assert attention.ai_referrals.sum() == pytest.approx(attention.referrals.sum())
    np.testing.assert_allclose(attention.answered_topics, answers * WEIGHTS)
    default = allocate(web, WEIGHTS, [np.ones(3), np.ones(3)], market, s, START, 1)
    assert default.ai_referrals.sum() == pytest.approx(answers * CHAT_CTR)


def test_answers_may_weigh_ai_pages_apart_from_the_search_ranking():
    web = web_with([0, 0, 1, 1, 2, 2])
    web.origin[[1, 3, 5]] = AI
    s = settings(chat_share=0.5, ai_answer_share=0.5, ai_visibility=0.25, answer_ai_visibility=1.0)
    attention = allocate(web, WEIGHTS, [np.ones(3)], np.ones(1), s, START, 1)
    is_ai = web.origin[attention.pages] == AI
    clicks, cited = attention.search_clicks, attention.ai_referrals
    assert clicks[is_ai].sum() / clicks.sum() == pytest.approx(0.2)
    assert cited[is_ai].sum() / cited.sum() == pytest.approx(0.5)
    np.testing.assert_allclose(attention.visits, attention.search_clicks + attention.ai_referrals)


def test_an_answer_ends_the_session_of_the_readers_it_keeps_from_clicking(web):
    s = settings(ai_answer_share=0.5, session_end=0.16)
    covered = allocate(web, WEIGHTS, [np.ones(3)], np.ones(1), s, START, 1)
    assert covered.session_end_with_answer == pytest.approx(0.16 + CTR - CTR_ANSWER)
    lost = allocate(web, WEIGHTS, [np.zeros(3)], np.ones(1), s, START, 1)
    assert math.isnan(lost.session_end_with_answer)  # a model that lost everything answers none
