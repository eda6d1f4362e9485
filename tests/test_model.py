"""The whole loop: step order, scopes, reproducibility, and the closed loop = the lab loop."""

import numpy as np
import pandas as pd
import pytest

from ecosystem.runs.runner import run_scenario
from ecosystem.scenario import load_scenario
from ecosystem.world.agents import AICompany, HumanCreator
from ecosystem.world.lab import lab_steps
from ecosystem.world.model import EcosystemModel, ecosystem_steps
from ecosystem.world.web import AI, AI_ASSISTED, HUMAN

TINY = "tests/data/tiny-web.toml"


def _frame(steps) -> pd.DataFrame:
    rows = [(step, *row) for step, rows in steps for row in rows]
    return pd.DataFrame(rows, columns=["step", "generation", "scope", "metric", "value"])


@pytest.fixture(scope="module")
def tiny_run() -> pd.DataFrame:
    return _frame(ecosystem_steps(load_scenario(TINY)))


def test_every_scope_is_measured_from_step_zero(tiny_run):
    assert sorted(tiny_run["step"].unique()) == list(range(7))
    scopes = set(tiny_run["scope"])
    assert {
        "web",
        "web_new",
        "creators",
        "company:alpha",
        "training:alpha",
        "company:gamma",
    } <= scopes
    assert "company:delta" not in scopes  # disabled
    web = tiny_run[tiny_run["scope"] == "web"]
    assert {
        "precision",
        "recall",
        "coverage",
        "frechet",
        "tail_mass_ratio",
        "synthetic_share",
        "pages_alive",
        "ai_assisted_share",
    } <= set(web["metric"])


def _series(frame, scope, metric):
    part = frame[(frame["scope"] == scope) & (frame["metric"] == metric)]
    return dict(zip(part["step"], part["value"], strict=True))


def test_companies_retrain_on_schedule(tiny_run):
    alpha = _series(tiny_run, "company:alpha", "generation")  # first_retrain 2, every 2
    assert [alpha[s] for s in range(7)] == [1, 1, 2, 2, 3, 3, 4]
    beta = _series(tiny_run, "company:beta", "generation")  # first_retrain 3
    assert [beta[s] for s in range(7)] == [1, 1, 1, 2, 2, 3, 3]
    rows = tiny_run[tiny_run["scope"] == "company:alpha"]
    assert (rows["generation"] == rows["step"].map(alpha)).all()


def test_the_web_grows_and_fills_with_ai_pages(tiny_run):
    alive = _series(tiny_run, "web", "pages_alive")
    assert alive[6] > alive[0] == 600
    share = _series(tiny_run, "web", "synthetic_share")
    assert share[0] == 0 and share[6] > share[1] > 0
    gamma = _series(tiny_run, "company:gamma", "pages_published")  # starts at step 3
    assert gamma[1] == gamma[2] == 0 and gamma[3] == 40


def test_pages_carry_their_provenance():
    model = EcosystemModel(load_scenario(TINY, ["steps=3"]))
    for _ in range(3):
        model.step()
    web = model.web
    ai = web.origin == AI
    assisted = web.origin == AI_ASSISTED
    assert ai.any() and assisted.any()
    assert (web.author[ai] == -1).all() and (web.company[ai] >= 0).all()
    assert (web.author[assisted] >= 0).all() and (web.company[assisted] >= 0).all()
    assert (web.model_generation[web.origin == HUMAN] == -1).all()
    assert (web.model_generation[ai] >= 1).all()
    assert np.allclose(web.quality, model.world.log_prob(web.content).numpy(), atol=1e-3)
    assert len(model.agents_by_type[HumanCreator]) == len(model.creators) >= 60
    assert len(model.agents_by_type[AICompany]) == 3


def test_without_companies_the_web_stays_human():
    overrides = [f"companies.{n}.enabled=false" for n in ("alpha", "beta", "gamma")]
    frame = _frame(ecosystem_steps(load_scenario(TINY, overrides)))
    share = frame[(frame["scope"] == "web") & (frame["metric"] == "synthetic_share")]["value"]
    assert (share == 0).all()
    assert not frame["scope"].str.startswith("company:").any()


def test_same_seed_gives_byte_identical_files_and_other_seeds_differ(tmp_path):
    scenario = load_scenario(TINY, ["steps=3"])
    run_scenario(scenario, tmp_path / "a")
    run_scenario(scenario, tmp_path / "b")
    assert (tmp_path / "a" / "timeseries.csv").read_bytes() == (
        tmp_path / "b" / "timeseries.csv"
    ).read_bytes()
    run_scenario(load_scenario(TINY, ["steps=3", "seed=1"]), tmp_path / "c")
    assert (tmp_path / "a" / "timeseries.csv").read_bytes() != (
        tmp_path / "c" / "timeseries.csv"
    ).read_bytes()


SHARED = [
    "culture.topics=10",
    "culture.dim=4",
    "culture.reference_size=1000",
    "metrics.samples=1000",
]


def test_closed_loop_agrees_with_the_fully_synthetic_lab_loop():
    """Same culture, same model, same sizes and bias: the web version of the loop
    must give the lab loop's metrics, generation by generation, within noise."""
    eco, lab = [], []
    for seed in range(4):
        eco_scenario = load_scenario(
            "closed-loop",
            [
                *SHARED,
                f"seed={seed}",
                "steps=5",
                "archive.size=1000",
                "companies.solo.crawl_budget=1000",
                "companies.solo.pages_per_month=1000",
                "companies.solo.bias=0.7",
                "companies.solo.model.params.components=10",
            ],
        )
        lab_scenario = load_scenario(
            "mad-fully-synthetic",
            [
                *SHARED,
                f"seed={seed}",
                "steps=6",
                "lab.n_real=1000",
                "lab.n_synthetic=1000",
                "lab.bias=0.7",
                "model.params.components=10",
            ],
        )
        e = _frame(ecosystem_steps(eco_scenario))
        e = e[e["scope"] == "company:solo"]
        eco.append(e.assign(seed=seed))
        lab_rows = _frame(lab_steps(lab_scenario))
        lab.append(lab_rows[lab_rows["scope"] == "model"].assign(seed=seed))
    eco_frame, lab_frame = pd.concat(eco), pd.concat(lab)
    assert sorted(eco_frame["generation"].unique()) == list(range(1, 7))
    for metric in ("precision", "recall", "coverage", "topic_coverage"):
        a = (
            eco_frame[eco_frame["metric"] == metric]
            .groupby("generation")["value"]
            .agg(["mean", "sem"])
        )
        b = (
            lab_frame[lab_frame["metric"] == metric]
            .groupby("generation")["value"]
            .agg(["mean", "sem"])
        )
        tolerance = 3 * np.hypot(a["sem"], b["sem"]) + 0.03
        assert ((a["mean"] - b["mean"]).abs() <= tolerance).all(), (metric, a, b)
    recall = lab_frame[lab_frame["metric"] == "recall"].groupby("generation")["value"].mean()
    assert recall[6] < recall[1] - 0.2  # the loop really degrades: the agreement is not trivial
