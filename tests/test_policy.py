"""Tests for ecosystem.world.levers: each lever's mechanism through the levers of a scenario,
then directional scenario tests (each lever names its own in ``directional_test``)."""

import functools
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch

from ecosystem.runs.runner import simulate
from ecosystem.scenario import PolicySettings, load_scenario
from ecosystem.world.levers import Levers
from ecosystem.world.web import AI, AI_ASSISTED, HUMAN, Web

# --- mechanisms


def policy(**sections) -> Levers:
    """The levers with some sections changed, e.g. ``policy(cap={"ai_share_max": 0.3})``."""
    return Levers(PolicySettings.model_validate(sections))


def within_binomial(hits: np.ndarray, p: float) -> bool:
    """Whether the share of ``hits`` is within 4 binomial standard deviations of ``p``."""
    n = len(hits)
    return abs(hits.mean() - p) <= 4 * math.sqrt(p * (1 - p) / n) + 1e-12


def test_cap_keeps_ai_pages_within_their_share_of_all_new_pages():
    rng = np.random.default_rng(0)
    for _ in range(300):
        cap = float(rng.choice([0.0, 0.1, 0.3, 0.5, 0.75, 0.9, 0.99]))
        counts = rng.integers(0, 200, rng.integers(1, 5))
        human = int(rng.integers(0, 500))
        capped = policy(cap={"ai_share_max": cap}).limit_output(counts, human)
        assert capped.dtype == counts.dtype and capped.shape == counts.shape
        assert (capped >= 0).all() and (capped <= counts).all()
        total = int(capped.sum())
        if total:
            assert total / (total + human) <= cap + 1e-12
        # one page more would break the cap, except for pages lost to rounding per company
        allowed = math.floor(cap * human / (1 - cap) + 1e-9)
        assert total >= min(int(counts.sum()), allowed) - len(counts)


def test_cap_cuts_companies_in_proportion():
    capped = policy(cap={"ai_share_max": 0.5}).limit_output(np.array([300, 100]), 200)
    np.testing.assert_array_equal(capped, [150, 50])
    capped = policy(cap={"ai_share_max": 0.2}).limit_output(np.array([60, 30, 10]), 400)
    np.testing.assert_array_equal(capped, [60, 30, 10])  # 100 of 500: exactly the cap
    capped = policy(cap={"ai_share_max": 0.2}).limit_output(np.array([60, 30, 10]), 200)
    np.testing.assert_array_equal(capped, [30, 15, 5])


def test_cap_zero_stops_ai_publishing():
    capped = policy(cap={"ai_share_max": 0.0}).limit_output(np.array([5, 7]), 1000)
    np.testing.assert_array_equal(capped, [0, 0])


def test_no_cap_leaves_counts_alone():
    no_cap = policy()
    counts = np.array([1000, 0, 3])
    assert no_cap.limit_output(counts, 0) is counts
    np.testing.assert_array_equal(no_cap.limit_output(counts, 5), [1000, 0, 3])
    capped = policy(cap={"ai_share_max": 0.5})
    assert capped.limit_output(np.zeros(2, np.int64), 0).sum() == 0


N = 40_000


@pytest.fixture(scope="module")
def stamped():
    settings = {
        "watermark": {"share": 0.6, "survival": 0.5},
        "provenance": {"certified_share": 0.3},
        "detection": {"tpr": 0.9, "tpr_edited": 0.25, "fpr": 0.05},
    }
    origin = np.repeat(np.array([HUMAN, AI, AI_ASSISTED], dtype=np.int8), N)
    return origin, policy(**settings).stamp(origin, np.random.default_rng(0))


def test_watermarks_on_ai_output_and_surviving_edits_only(stamped):
    origin, stamps = stamped
    marked = stamps["watermarked"]
    assert not marked[origin == HUMAN].any()
    assert within_binomial(marked[origin == AI], 0.6)
    assert within_binomial(marked[origin == AI_ASSISTED], 0.6 * 0.5)


def test_certificates_only_on_human_pages(stamped):
    origin, stamps = stamped
    assert within_binomial(stamps["certified_human"][origin == HUMAN], 0.3)
    assert not stamps["certified_human"][origin != HUMAN].any()


def test_detector_flags_at_its_rates(stamped):
    origin, stamps = stamped
    assert within_binomial(stamps["flagged"][origin == AI], 0.9)
    assert within_binomial(stamps["flagged"][origin == AI_ASSISTED], 0.25)
    assert within_binomial(stamps["flagged"][origin == HUMAN], 0.05)


def test_stamps_are_reproducible_and_empty_for_no_pages():
    origin = np.array([HUMAN, AI, AI_ASSISTED] * 10, dtype=np.int8)
    levers = policy(watermark={"share": 0.5}, provenance={"certified_share": 0.5})
    first = levers.stamp(origin, np.random.default_rng(3))
    again = levers.stamp(origin, np.random.default_rng(3))
    assert first.columns.keys() == again.columns.keys()
    assert {"watermarked", "certified_human", "flagged"} <= first.columns.keys()
    for column in first.columns:
        np.testing.assert_array_equal(first[column], again[column])
    empty = levers.stamp(np.zeros(0, np.int8), np.random.default_rng(3))
    assert all(stamp.shape == (0,) for stamp in empty.columns.values())


def test_default_policy_stamps_nothing_but_detector_verdicts():
    origin = np.repeat(np.array([HUMAN, AI, AI_ASSISTED], dtype=np.int8), 1000)
    stamps = Levers(PolicySettings()).stamp(origin, np.random.default_rng(1))
    assert not stamps["watermarked"].any()  # watermark share 0 by default
    assert stamps["flagged"][origin == AI].mean() > 0.9  # the detector still measures


def opted_web(n: int = 20_000) -> Web:
    """Half of the pages opted out (even rows)."""
    web = Web(2)
    web.add_pages(
        np.zeros((n, 2)), origin=HUMAN, topic=0, quality=0.0, step=0, opt_out=np.arange(n) % 2 == 0
    )
    return web


def test_crawlers_skip_about_compliance_of_opted_out_pages():
    web = opted_web()
    eligible = np.ones(web.size, dtype=bool)
    eligible[:100] = False
    before = eligible.copy()
    result = policy(opt_out={"compliance": 0.7}).crawlable(web, eligible, np.random.default_rng(0))
    np.testing.assert_array_equal(eligible, before)  # the input is not modified
    opted = web.opt_out
    assert result[~opted & eligible].all()  # never a page that did not opt out
    assert not result[~eligible].any()  # never a page that was not eligible
    assert within_binomial(~result[opted & eligible], 0.7)


@pytest.mark.parametrize("compliance", [0.0, 1.0])
def test_compliance_extremes(compliance):
    web = opted_web(1000)
    eligible = np.ones(web.size, dtype=bool)
    levers = policy(opt_out={"compliance": compliance})
    result = levers.crawlable(web, eligible, np.random.default_rng(0))
    expected = eligible if compliance == 0 else ~web.opt_out
    np.testing.assert_array_equal(result, expected)


def test_without_opted_out_pages_the_eligible_set_is_returned():
    web = Web(2)
    web.add_pages(np.zeros((10, 2)), origin=HUMAN, topic=0, quality=0.0, step=0)
    eligible = np.arange(10) % 3 == 0
    assert policy().crawlable(web, eligible, np.random.default_rng(0)) is eligible


@pytest.fixture
def crawl_web():
    """Eight pages: origin, publishing company, detector flag and watermark."""
    web = Web(2)
    web.add_pages(
        np.zeros((8, 2)),
        origin=np.array([HUMAN, HUMAN, AI, AI, AI, AI, AI_ASSISTED, HUMAN]),
        company=np.array([-1, -1, 0, 0, 1, 1, 0, -1]),
        flagged=np.array([False, True, True, False, False, False, False, False]),
        watermarked=np.array([False, False, True, True, True, False, False, False]),
        topic=0,
        quality=0.0,
        step=0,
    )
    return web


PAGES = np.arange(8)


def test_screening_reports_true_and_detected_shares_exactly(crawl_web):
    screening = policy().screen(crawl_web, PAGES, company=0)
    assert screening.crawled == 8
    assert screening.crawl_synthetic_share == 5 / 8
    assert screening.crawl_detected_share == 2 / 8
    # nothing enabled: everything is kept
    np.testing.assert_array_equal(screening.kept, PAGES)
    assert screening.dropped == {"dropped_detected": 0, "dropped_marked": 0}
    part = policy().screen(crawl_web, np.array([2, 3, 7]), company=0)
    assert part.crawl_synthetic_share == 2 / 3 and part.crawl_detected_share == 1 / 3


def test_screening_drops_flagged_pages_only_when_detection_is_enabled(crawl_web):
    screening = policy(detection={"enabled": True}).screen(crawl_web, PAGES, company=0)
    np.testing.assert_array_equal(screening.kept, [0, 3, 4, 5, 6, 7])
    assert screening.dropped == {"dropped_detected": 2, "dropped_marked": 0}


def test_screening_drops_marked_pages_every_company_can_read(crawl_web):
    levers = policy(watermark={"share": 0.5, "readable_by": "all"})
    for company in (0, 1, 2):
        screening = levers.screen(crawl_web, PAGES, company=company)
        np.testing.assert_array_equal(screening.kept, [0, 1, 5, 6, 7])
        assert screening.dropped == {"dropped_detected": 0, "dropped_marked": 3}


def test_screening_drops_only_its_own_marks_when_only_the_issuer_reads_them(crawl_web):
    levers = policy(watermark={"share": 0.5, "readable_by": "issuer"})
    own = levers.screen(crawl_web, PAGES, company=0)
    np.testing.assert_array_equal(own.kept, [0, 1, 4, 5, 6, 7])
    assert own.dropped["dropped_marked"] == 2
    other = levers.screen(crawl_web, PAGES, company=1)
    np.testing.assert_array_equal(other.kept, [0, 1, 2, 3, 5, 6, 7])
    assert other.dropped["dropped_marked"] == 1
    assert levers.screen(crawl_web, PAGES, company=2).dropped["dropped_marked"] == 0


def test_screening_keeps_marked_pages_when_crawlers_do_not_drop_them(crawl_web):
    levers = policy(watermark={"share": 0.5, "drop_marked": False})
    np.testing.assert_array_equal(levers.screen(crawl_web, PAGES, company=0).kept, PAGES)


def test_a_page_both_flagged_and_marked_counts_once_as_detected(crawl_web):
    levers = policy(detection={"enabled": True}, watermark={"share": 0.5})
    screening = levers.screen(crawl_web, PAGES, company=0)
    np.testing.assert_array_equal(screening.kept, [0, 5, 6, 7])
    assert screening.dropped == {"dropped_detected": 2, "dropped_marked": 2}
    assert screening.crawled - len(screening.kept) == 4


def test_screening_an_empty_crawl(crawl_web):
    screening = policy(detection={"enabled": True}).screen(crawl_web, PAGES[:0], company=0)
    assert screening.crawled == 0 and screening.kept.size == 0
    assert math.isnan(screening.crawl_synthetic_share)
    assert math.isnan(screening.crawl_detected_share)


def training_set(n: int, n_certified: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    certified = np.zeros(n, dtype=bool)
    certified[rng.choice(n, n_certified, replace=False)] = True
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 2)  # row i holds i
    synthetic = torch.from_numpy(~certified & (np.arange(n) % 2 == 0))
    return x, synthetic, torch.from_numpy(certified)


@pytest.mark.parametrize(("quota", "n_certified"), [(0.5, 20), (0.3, 3), (0.25, 7), (1.0, 9)])
def test_quota_keeps_every_certified_row_and_the_certified_share(quota, n_certified):
    x, synthetic, certified = training_set(100, n_certified)
    levers = policy(provenance={"min_certified_share": quota})
    kept_x, kept_synthetic, kept_certified = levers.assemble(
        x, synthetic, certified, np.random.default_rng(1)
    )
    assert int(kept_certified.sum()) == n_certified
    assert kept_certified.float().mean() >= quota - 1e-12
    # as many uncertified rows as the quota allows (one may be lost to float rounding)
    exact = math.floor(n_certified / Fraction(str(quota)))
    assert exact - 1 <= len(kept_x) <= exact
    # rows stay aligned and in their original order
    rows = kept_x[:, 0].long()
    assert (rows[1:] > rows[:-1]).all()
    assert torch.equal(kept_synthetic, synthetic[rows])
    assert torch.equal(kept_certified, certified[rows])


def test_quota_keeps_exactly_as_many_rows_as_it_allows():
    x, synthetic, certified = training_set(100, 3)
    levers = policy(provenance={"min_certified_share": 0.3})
    kept_x, _, _ = levers.assemble(x, synthetic, certified, np.random.default_rng(1))
    assert len(kept_x) == 10  # 3 certified rows are 0.3 of 10


def test_quota_already_met_or_zero_leaves_the_set_unchanged():
    x, synthetic, certified = training_set(50, 30)
    met = policy(provenance={"min_certified_share": 0.6})
    out = met.assemble(x, synthetic, certified, np.random.default_rng(0))
    assert out[0] is x and out[1] is synthetic and out[2] is certified
    x, synthetic, certified = training_set(50, 0)
    out = policy().assemble(x, synthetic, certified, np.random.default_rng(0))
    assert out[0] is x and out[1] is synthetic and out[2] is certified


def test_quota_without_certified_rows_empties_the_set():
    x, synthetic, certified = training_set(40, 0)
    levers = policy(provenance={"min_certified_share": 0.1})
    kept_x, _, _ = levers.assemble(x, synthetic, certified, np.random.default_rng(0))
    assert len(kept_x) == 0


def test_licensing_fees_go_to_the_authors_of_creator_pages():
    web = Web(2)
    web.add_pages(
        np.zeros((6, 2)),
        origin=np.array([HUMAN, AI, AI_ASSISTED, HUMAN, HUMAN, AI]),
        author=np.array([4, -1, 2, -1, 4, -1]),
        topic=0,
        quality=0.0,
        step=0,
    )
    levers = policy(licensing={"fee_per_page": 0.25})
    authors, fee = levers.pay(web, np.array([0, 1, 2, 3, 4, 5, 0]))
    assert fee == 0.25
    np.testing.assert_array_equal(authors, [4, 2, 4, 4])
    assert authors.dtype == np.int64
    authors, fee = policy().pay(web, np.array([1, 3]))
    assert authors.size == 0 and fee == 0.0


# --- directional effects: each lever against the same small scenario without it

SMALL = "tests/data/small-policy.toml"
SEEDS = (0, 1, 2)
MORE_SEEDS = (0, 1, 2, 3, 4)
LAST_YEAR = 12


@functools.cache
def _run(overrides: tuple[str, ...], seed: int) -> pd.DataFrame:
    scenario = load_scenario(SMALL, [f"seed={seed}", *overrides])
    rows = [(step, *row) for step, rows in simulate(scenario) for row in rows]
    return pd.DataFrame(rows, columns=["step", "generation", "scope", "metric", "value"])


def _last_year(frame: pd.DataFrame, scope: str, metric: str) -> float:
    """Mean over the last year of a metric, over every scope starting with ``scope``."""
    recent = frame[frame["step"] > frame["step"].max() - LAST_YEAR]
    chosen = recent[recent["scope"].str.startswith(scope) & (recent["metric"] == metric)]
    return float(chosen["value"].mean())


def _human_pages_crawled(frame: pd.DataFrame) -> float:
    """Human pages per crawl, averaged over every crawl of every company."""
    training = frame[frame["scope"].str.startswith("training:")]
    table = training.pivot_table(index=["step", "scope"], columns="metric", values="value")
    return float((table["crawled"] * (1 - table["crawl_synthetic_share"])).mean())


def _effect(
    lever: list[str], measure, control: list[str] = (), seeds: tuple[int, ...] = SEEDS
) -> np.ndarray:
    """Per seed, the measure with the lever minus the measure without it (paired seeds)."""
    return np.array(
        [measure(_run(tuple(lever), s)) - measure(_run(tuple(control), s)) for s in seeds]
    )


def _assert_direction(differences: np.ndarray, sign: int, margin: float) -> None:
    """The mean effect has the expected sign, exceeds ``margin`` and is significant: a one-sided
    t-test over the paired seeds at p < 0.05 (with 3 seeds: above 2.92 standard errors)."""
    mean = float(np.mean(differences)) * sign
    se = float(np.std(differences, ddof=1) / np.sqrt(len(differences)))
    critical = float(scipy.stats.t.ppf(0.95, len(differences) - 1))
    assert mean > margin, f"effect {mean * sign:+.4f} does not pass the margin {margin}"
    assert mean > critical * se, f"effect {mean * sign:+.4f} within {critical:.2f} se ({se:.4f})"


def _training_synthetic(frame):
    return _last_year(frame, "training:", "synthetic_share")


def test_detection_raises_the_human_share_of_training_data():
    _assert_direction(_effect(["policy.detection.enabled=true"], _training_synthetic), -1, 0.1)


def test_detected_and_true_synthetic_shares_differ_when_the_detector_errs():
    frame = _run((), 0)
    true = _last_year(frame, "web_new", "synthetic_share")
    detected = _last_year(frame, "web_new", "detected_share")
    # the detector misses most AI-assisted pages and flags 4% of human ones
    assert abs(true - detected) > 0.02


def test_watermarks_dropped_by_crawlers_raise_the_human_share_of_training_data():
    _assert_direction(_effect(["policy.watermark.share=1.0"], _training_synthetic), -1, 0.1)


def test_marks_readable_only_by_their_issuer_protect_less():
    issuer = ["policy.watermark.share=1.0", 'policy.watermark.readable_by="issuer"']
    shared = ["policy.watermark.share=1.0", 'policy.watermark.readable_by="all"']
    _assert_direction(_effect(issuer, _training_synthetic, control=shared), 1, 0.02)


def test_a_human_data_quota_holds_and_raises_the_human_share_of_training_data():
    quota = ["policy.provenance.certified_share=0.3", "policy.provenance.min_certified_share=0.5"]
    _assert_direction(_effect(quota, _training_synthetic), -1, 0.05)
    for seed in SEEDS:
        certified = _run(tuple(quota), seed)
        training = certified[certified["scope"].str.startswith("training:")]
        shares = training[training["metric"] == "certified_share"]["value"]
        assert shares.min() >= 0.5 - 1e-9


def test_accumulation_beats_replacement_on_model_recall():
    accumulate = ['companies.alpha.data="accumulate"', 'companies.beta.data="accumulate"']
    # the effect itself varies from one culture (seed) to another: five seeds see it
    recall = _effect(accumulate, lambda f: _last_year(f, "company:", "recall"), seeds=MORE_SEEDS)
    _assert_direction(recall, 1, 0.01)


def test_archive_data_keeps_model_recall_up():
    archive = ["companies.alpha.archive_share=0.5", "companies.beta.archive_share=0.5"]
    _assert_direction(_effect(archive, lambda f: _last_year(f, "company:", "recall")), 1, 0.005)


def test_honoured_opt_out_lowers_the_human_pages_crawled():
    effect = _effect(
        ["policy.opt_out.compliance=1.0"],
        _human_pages_crawled,
        control=["policy.opt_out.compliance=0.0"],
    )
    _assert_direction(effect, -1, 50)  # opt-out saturates near a third of the creators


def test_licensing_raises_creator_income_and_lowers_quits():
    licensing = ["policy.licensing.fee_per_page=20"]
    _assert_direction(_effect(licensing, lambda f: _last_year(f, "creators", "income_mean")), 1, 5)

    def quits(frame):
        chosen = frame[(frame["scope"] == "creators") & (frame["metric"] == "quits")]
        return float(chosen["value"].sum())

    _assert_direction(_effect(licensing, quits), -1, 20)
    opt_out = _effect(licensing, lambda f: _last_year(f, "creators", "opt_out_share"))
    _assert_direction(opt_out, -1, 0.05)  # licensing income deters blocking crawlers


def test_a_cap_lowers_the_synthetic_share():
    cap = ["policy.cap.ai_share_max=0.2"]
    _assert_direction(_effect(cap, lambda f: _last_year(f, "web", "synthetic_share")), -1, 0.1)
    for seed in SEEDS:
        frame = _run(tuple(cap), seed)
        ai = frame[(frame["scope"] == "web_new") & (frame["metric"] == "ai_share")]
        assert ai[ai["step"] > 0]["value"].max() <= 0.2 + 1e-9
