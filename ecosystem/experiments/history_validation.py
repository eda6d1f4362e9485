"""Validation of the calibrated ``baseline`` against the measured history of 2023-2025.

Core objects: :func:`history_checks` (``ecosystem validate --history``: the rows below, each
with its source and a tolerance that reflects how precisely the figure was measured) and
:data:`SOURCES`. Every figure and its source are in ``docs/calibration.md`` (its row numbers
are the ``#n`` here and in ``scenarios/baseline.toml``).

The baseline runs from January 2022 to December 2025 over several seeds; a row compares a
window of months (averaged per seed, then over the seeds) with the measurement:

- the AI share of new articles, as Graphite's detector (FNR 0.6%, FPR 4.2%) would measure
  it, at three dates and over 2025 (the plateau);
- the visibility gap: the AI share of search clicks and of the pages AI answers link to;
- opt-out of the top sites at four dates (the burst after GPTBot's launch, then
  saturation) and of all sites in 2025;
- crawls per referral of the three calibrated companies;
- click-through and session ends with and without an AI answer (Pew);
- Google referrals to creators and zero-click searches (their direction and size);
- knowledge collapse (Peterson): readers who take more questions to AI end farther from
  the truth.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ecosystem.calendar import step_of_month
from ecosystem.experiments.validation import Check
from ecosystem.scenario import Scenario, load_scenario

__all__ = ["DETECTOR_FNR", "DETECTOR_FPR", "SOURCES", "detector_reading", "history_checks"]

HISTORY_END = "2025-12"
DETECTOR_FNR, DETECTOR_FPR = 0.006, 0.042
"""Graphite's detector (calibration #40): the AI share it reports is a reading of the truth."""

SOURCES = {
    "graphite": "Graphite 2025 (calibration #1, #40)",
    "visibility": "Graphite 2025 (calibration #3, #41)",
    "originality": "Originality.ai 2023 (calibration #44)",
    "longpre": "Longpre et al. 2024, Data Provenance Initiative (calibration #16)",
    "bouchaud": "Bouchaud & Ramaciotti 2025 (calibration #17)",
    "cloudflare": "Cloudflare, Jul 2025 (calibration #19, #46)",
    "pew": "Pew Research Center, Jul 2025 (calibration #22, #50)",
    "chartbeat": "Chartbeat via Reuters Institute 2026 (calibration #25, #53)",
    "similarweb": "Similarweb 2025 (calibration #25, #52)",
    "peterson": "Peterson, AI & Society 2025 (knowledge collapse)",
}
RELIANCE = 2.0
"""Peterson's discount on AI content, read as readers taking this many times as many questions
to AI chats (capped at all of them)."""

Series = dict[tuple[str, str], np.ndarray]


def detector_reading(true_share: float | np.ndarray) -> float | np.ndarray:
    """What Graphite's detector reports for a true AI share."""
    return (1 - DETECTOR_FNR) * true_share + DETECTOR_FPR * (1 - true_share)


def _history(seeds: int, change: Callable[[Scenario], Scenario] | None = None) -> list[Series]:
    """Per seed: every (scope, metric) of the baseline by step, January 2022 - December 2025."""
    from ecosystem.runs.runner import simulate

    runs = []
    for seed in range(seeds):
        scenario = load_scenario("baseline", [f"seed={seed}"])
        steps = step_of_month(scenario.start, HISTORY_END)
        scenario = scenario.model_copy(update={"steps": steps})
        if change is not None:
            scenario = change(scenario)
        series: Series = {}
        for step, rows in simulate(scenario):
            for _, scope, metric, value in rows:
                series.setdefault((scope, metric), np.full(steps + 1, np.nan))[step] = value
        runs.append(series)
    return runs


def _window(runs: list[Series], scope: str, metric: str, first: str, last: str) -> np.ndarray:
    """Per seed, the mean of a series over the months ``first`` to ``last``."""
    start = load_scenario("baseline").start
    lo, hi = step_of_month(start, first), step_of_month(start, last)
    return np.array([np.nanmean(run[(scope, metric)][lo : hi + 1]) for run in runs])


def _more_reliance(scenario: Scenario) -> Scenario:
    """The baseline with readers taking ``RELIANCE`` times as many questions to AI chats."""
    attention = scenario.attention
    chat = attention.chat_share
    if isinstance(chat, dict):
        more: float | dict[str, float] = {m: min(1.0, RELIANCE * v) for m, v in chat.items()}
    else:
        more = min(1.0, RELIANCE * chat)
    return scenario.model_copy(
        update={"attention": attention.model_copy(update={"chat_share": more})}
    )


def _spread(values: np.ndarray, form: str = ".3f") -> str:
    low, high = format(np.min(values), form), format(np.max(values), form)
    return f" (seeds {low}-{high})" if len(values) > 1 else ""


def history_checks(fast: bool = False) -> list[Check]:
    """The calibrated baseline against the measured history of 2023-2025."""
    seeds = 2 if fast else 5
    runs = _history(seeds)
    checks: list[Check] = []

    def row(name, source, values, low, high, expected, tolerance, detail=""):
        """A row that passes when the mean over the seeds lies in [low, high]."""
        mean = float(np.mean(values))
        checks.append(
            Check(
                check=f"{name} ({seeds} seeds)",
                source=SOURCES[source],
                expected=expected,
                measured=f"{mean:.3f}{_spread(values)}{detail}",
                tolerance=tolerance,
                passed=low <= mean <= high,
            )
        )

    def near(name, source, expected, tol, values, detail=""):
        tolerance = f"|mean - expected| <= {tol}"
        row(
            name,
            source,
            values,
            expected - tol,
            expected + tol,
            f"{expected:.3g}",
            tolerance,
            detail,
        )

    def within(name, source, low, high, values):
        tolerance = f"mean in [{low:.3g}, {high:.3g}]"
        row(name, source, values, low, high, f"{low:.3g}-{high:.3g}", tolerance)

    # the AI share of new articles, read by Graphite's detector
    for label, expected, window in (
        ("Nov 2023 (12 months after ChatGPT)", 0.39, ("2023-10", "2023-12")),
        ("Nov 2024", 0.50, ("2024-10", "2024-12")),
        ("May 2025", 0.52, ("2025-04", "2025-06")),
    ):
        share = _window(runs, "web_new", "synthetic_share", *window)
        near(
            f"history: AI share of new pages as Graphite's detector reads it, {label}, "
            "3-month mean",
            "graphite",
            expected,
            0.05,
            detector_reading(share),
            f"; true share {np.mean(share):.3f}",
        )
    quarters = [
        _window(runs, "web_new", "synthetic_share", f"2025-{m:02d}", f"2025-{m + 2:02d}")
        for m in (1, 4, 7, 10)
    ]
    means = [float(np.mean(detector_reading(q))) for q in quarters]
    checks.append(
        Check(
            check=f"history: the plateau, detector-read AI share each quarter of 2025 ({seeds} "
            "seeds)",
            source=SOURCES["graphite"],
            expected="0.47-0.57",
            measured=", ".join(f"Q{i + 1} {m:.3f}" for i, m in enumerate(means)),
            tolerance="every quarterly mean in [0.47, 0.57]",
            passed=all(0.47 <= m <= 0.57 for m in means),
        )
    )
    # the visibility gap
    near(
        "history: AI share of search clicks, 2025 (Google-ranked articles)",
        "visibility",
        0.14,
        0.04,
        _window(runs, "attention", "ai_share_of_search_clicks", "2025-01", "2025-12"),
    )
    near(
        "history: AI share of the pages AI answers link to, 2025 (ChatGPT/Perplexity citations)",
        "visibility",
        0.18,
        0.05,
        _window(runs, "attention", "ai_share_of_citations", "2025-01", "2025-12"),
    )
    # opt-out: a burst among the top sites, then saturation
    august = _window(runs, "creators", "opt_out_share_top", "2023-08", "2023-08")
    within(
        "history: opt-out share of the top 10% of sites at the end of Aug 2023 (GPTBot "
        "launched 7 Aug: 9.2% two weeks later, 25.9% by 22 Sep)",
        "originality",
        0.092,
        0.259,
        august,
    )
    near(
        "history: opt-out share of the top 10% of sites, Sep 2023",
        "originality",
        0.259,
        0.07,
        _window(runs, "creators", "opt_out_share_top", "2023-09", "2023-09"),
    )
    near(
        "history: opt-out share of the top 10% of sites, Apr 2024",
        "longpre",
        0.28,
        0.07,
        _window(runs, "creators", "opt_out_share_top", "2024-04", "2024-04"),
    )
    within(
        "history: opt-out of the top 10% of sites saturates, Jul-Dec 2025",
        "bouchaud",
        0.25,
        0.50,
        _window(runs, "creators", "opt_out_share_top", "2025-07", "2025-12"),
    )
    within(
        "history: opt-out share of all sites, 2025 (~10% of the top million; 3% blocked "
        "in Jun 2024)",
        "bouchaud",
        0.05,
        0.20,
        _window(runs, "creators", "opt_out_share", "2025-01", "2025-12"),
    )
    # crawls per referral, per company: from how each answers readers
    for company, who, expected in (
        ("alpha", "OpenAI", 1091.0),
        ("beta", "Anthropic", 38_000.0),
        ("gamma", "Perplexity", 194.0),
    ):
        ratio = _window(runs, f"company:{company}", "crawl_to_referral", "2025-07", "2025-07")
        error = abs(math.log10(float(np.mean(ratio)) / expected))
        checks.append(
            Check(
                check=f"history: crawls per referral of {company} ({who}-like), Jul 2025 "
                f"({seeds} seeds)",
                source=SOURCES["cloudflare"],
                expected=f"{expected:,.0f}",
                measured=f"{np.mean(ratio):,.0f}{_spread(ratio, ',.0f')}",
                tolerance="within a factor of 2 (|log10(measured / expected)| <= 0.3)",
                passed=error <= 0.3,
            )
        )
    # clicks and sessions
    near(
        "history: click-through with / without an AI answer, Mar-Dec 2025",
        "pew",
        0.08 / 0.15,
        0.06,
        _window(runs, "attention", "click_through_ratio", "2025-03", "2025-12"),
    )
    near(
        "history: sessions ended after a search with an AI answer, Mar-Dec 2025 (16% without)",
        "pew",
        0.26,
        0.05,
        _window(runs, "attention", "session_end_with_answer", "2025-03", "2025-12"),
    )
    # traffic to creators
    before = _window(runs, "attention", "creator_search_visits", "2024-10", "2024-12")
    after = _window(runs, "attention", "creator_search_visits", "2025-10", "2025-12")
    change = after / before - 1
    mean_change = float(np.mean(change))
    checks.append(
        Check(
            check=f"history: search visits to creators, Q4 2025 over Q4 2024 ({seeds} seeds)",
            source=SOURCES["chartbeat"],
            expected="-0.33: falls, within an order of magnitude",
            measured=f"{mean_change:+.3f}{_spread(change)}",
            tolerance="mean < 0 and |log10(mean / -0.33)| <= 1",
            passed=mean_change < 0 and abs(math.log10(mean_change / -0.33)) <= 1,
        )
    )
    zero_before = _window(runs, "attention", "zero_click_share", "2024-05", "2024-05")
    zero_after = _window(runs, "attention", "zero_click_share", "2025-05", "2025-05")
    rise = zero_after - zero_before
    checks.append(
        Check(
            check=f"history: zero-click searches, May 2024 to May 2025 ({seeds} seeds)",
            source=SOURCES["similarweb"],
            expected="rises (news: 0.56 -> 0.69)",
            measured=(
                f"{np.mean(zero_before):.3f} -> {np.mean(zero_after):.3f} "
                f"({np.mean(rise) * 100:+.1f} points)"
            ),
            tolerance="rises in every seed",
            passed=bool((rise > 0).all()),
        )
    )
    # knowledge collapse
    relying = _history(seeds, _more_reliance)
    base = _window(runs, "attention", "belief_distance", HISTORY_END, HISTORY_END)
    more = _window(relying, "attention", "belief_distance", HISTORY_END, HISTORY_END)
    ratio = more / base
    checks.append(
        Check(
            check=f"history: readers taking {RELIANCE:g}x the questions to AI end farther "
            f"from the truth, Dec 2025 ({seeds} seeds)",
            source=SOURCES["peterson"],
            expected="belief distance ratio > 1",
            measured=(
                f"Hellinger {np.mean(base):.4f} -> {np.mean(more):.4f} "
                f"(ratio {np.mean(ratio):.2f}{_spread(ratio)})"
            ),
            tolerance="ratio > 1 in every seed",
            passed=bool((ratio > 1).all()),
        )
    )
    return checks
