"""Tests for ecosystem.world.beliefs and the knowledge outcomes a run measures: readers'
belief, homogenisation of the models and the human stock of the tail."""

import numpy as np
import pytest

from ecosystem import load_scenario
from ecosystem.runs.runner import simulate
from ecosystem.world.beliefs import ReaderBeliefs, hellinger

TRUTH = np.array([0.5, 0.3, 0.15, 0.05])
TAIL = np.array([2, 3])
HEAD_ONLY = np.array([0.7, 0.3, 0.0, 0.0])
LOST_TAIL = np.array([1.0, 1.0, 0.0, 0.0])


def test_hellinger_is_zero_for_equal_and_one_for_disjoint_distributions():
    assert hellinger(TRUTH, TRUTH) == pytest.approx(0.0, abs=1e-9)
    assert hellinger(np.array([1.0, 0, 0, 0]), np.array([0, 0, 0, 1.0])) == pytest.approx(1.0)
    assert hellinger(TRUTH, HEAD_ONLY) == pytest.approx(hellinger(HEAD_ONLY, TRUTH))


def test_reading_the_truth_keeps_the_belief_at_the_truth():
    beliefs = ReaderBeliefs(TRUTH, 0.2)
    for _ in range(50):
        beliefs.read(1000 * TRUTH, np.zeros(4), np.ones(1), [np.ones(4)], [TRUTH])
    assert beliefs.distance == pytest.approx(0.0, abs=1e-7)
    assert beliefs.tail_mass_ratio(TAIL) == pytest.approx(1.0)


def test_answers_from_a_model_that_lost_the_tail_pull_the_belief_toward_the_head():
    beliefs = ReaderBeliefs(TRUTH, 0.2)
    for _ in range(100):
        beliefs.read(500 * TRUTH, 500 * TRUTH, np.ones(1), [LOST_TAIL], [HEAD_ONLY])
    # half of what is read is the truth, the other half the head-only model
    settled = 0.5 * TRUTH + 0.5 * (TRUTH * LOST_TAIL + TRUTH[TAIL].sum() * HEAD_ONLY)
    np.testing.assert_allclose(beliefs.belief, settled, atol=1e-6)
    assert beliefs.tail_mass_ratio(TAIL) == pytest.approx(0.5)


def test_the_more_questions_go_to_ai_the_farther_the_belief_ends_from_the_truth():
    distances = []
    for answered in (0.0, 0.25, 0.5, 0.75):
        beliefs = ReaderBeliefs(TRUTH, 0.1)
        for _ in range(100):
            beliefs.read(
                (1 - answered) * TRUTH, answered * TRUTH, np.ones(1), [LOST_TAIL], [HEAD_ONLY]
            )
        distances.append(beliefs.distance)
    assert distances[0] == pytest.approx(0.0, abs=1e-7)
    assert np.all(np.diff(distances) > 0)


def test_answers_are_shared_by_the_companies_weights():
    one = ReaderBeliefs(TRUTH, 1.0)
    one.read(np.zeros(4), TRUTH, np.array([1.0, 0.0]), [LOST_TAIL] * 2, [HEAD_ONLY, TRUTH])
    other = ReaderBeliefs(TRUTH, 1.0)
    other.read(
        np.zeros(4), TRUTH, np.array([0.0, 3.0]), [LOST_TAIL, np.ones(4)], [HEAD_ONLY, TRUTH]
    )
    assert one.distance > 0 and other.distance == pytest.approx(0.0, abs=1e-9)


def test_a_belief_that_does_not_learn_stays_put():
    beliefs = ReaderBeliefs(TRUTH, 0.0)
    beliefs.read(np.array([1.0, 0, 0, 0]), np.zeros(4), np.ones(1), [np.ones(4)], [TRUTH])
    np.testing.assert_array_equal(beliefs.belief, TRUTH)


@pytest.fixture(scope="module")
def knowledge_rows():
    """A tiny web whose readers get AI answers from its first month (start in 2025)."""
    scenario = load_scenario("tests/data/tiny-web.toml", ["start=2025-01", "steps=8"])
    series = {}
    for step, rows in simulate(scenario):
        for _, scope, metric, value in rows:
            series.setdefault((scope, metric), {})[step] = value
    return series


def test_a_run_measures_the_readers_belief_the_models_and_the_human_stock(knowledge_rows):
    belief = knowledge_rows[("attention", "belief_distance")]
    assert belief[0] == pytest.approx(0.0, abs=1e-9)
    assert 0 < belief[8] < 1
    assert 0 < knowledge_rows[("attention", "belief_tail_mass_ratio")][8] < 1.5
    overlap = knowledge_rows[("models", "topic_overlap")][8]
    distance = knowledge_rows[("models", "model_distance")][8]
    assert 0 < overlap <= 1 and 0 <= distance < 1
    for metric in ("effective_topics_web", "effective_topics_human", "effective_topics_models"):
        assert 1 <= knowledge_rows[("models", metric)][8] <= 8  # the tiny web has 8 topics
    assert 0 < knowledge_rows[("web", "tail_human_topics")][8] <= 1
    assert 0 <= knowledge_rows[("web", "tail_human_age")][8] <= 8 + 25


def test_a_run_measures_crawls_per_referral_per_company(knowledge_rows):
    for name in ("alpha", "beta", "gamma"):
        ratio = knowledge_rows[(f"company:{name}", "crawl_to_referral")]
        assert ratio[8] > 0
    shares = knowledge_rows[("attention", "ai_share_of_search_clicks")]
    assert 0 < shares[8] < 1
    ended = knowledge_rows[("attention", "session_end_with_answer")][8]
    assert ended > knowledge_rows[("attention", "session_end")][8]
