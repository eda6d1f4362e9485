"""Creators and companies: their decisions and a company's retraining."""

import math

import numpy as np
import pytest
import torch

from ecosystem.scenario import CompanySettings, PolicySettings, load_scenario
from ecosystem.world.agents import AICompany, HumanCreator
from ecosystem.world.levers import Levers
from ecosystem.world.model import EcosystemModel
from ecosystem.world.web import AI, HUMAN

TINY = "tests/data/tiny-web.toml"
DEFAULT_LEVERS = Levers(PolicySettings())


@pytest.fixture(scope="module")
def model():
    return EcosystemModel(load_scenario(TINY))


def _company(model, **settings):
    return AICompany(model, "test", CompanySettings(**settings))


def test_output_ramps_up_from_the_start_step(model):
    company = _company(model, start_step=12, ramp_months=14.0, pages_per_month=180.0)
    assert company.output_rate(11) == 0 and company.output_rate(12) == 0
    assert company.output_rate(23) == pytest.approx(180 * (1 - math.exp(-11 / 14)))
    assert company.output_rate(600) == pytest.approx(180)


def test_whole_pages_carry_fractions_so_the_mean_rate_is_exact(model):
    company = _company(model, pages_per_month=2.5)
    counts = [company.pages_to_publish(step) for step in range(1, 101)]
    assert set(counts) == {2, 3} and sum(counts) == 250


def test_retraining_schedule(model):
    company = _company(model, first_retrain=5, retrain_interval=3)
    assert [s for s in range(1, 15) if company.is_due(s)] == [5, 8, 11, 14]


def test_retrain_makes_a_new_generation_from_the_crawl(model):
    company = _company(model, crawl_budget=200, crawler="uniform")
    generator = torch.Generator().manual_seed(0)
    company.train_on_archive(model.archive, generator)
    assert company.generation == 1 and not company.training_synthetic.any()
    company.retrain(
        model.web, model.archive, 1, np.random.default_rng(0), generator, DEFAULT_LEVERS
    )
    assert company.generation == 2 and len(company.training_x) == 200
    assert company.crawled_total == 200


def test_archive_share_mixes_the_archive_into_training(model):
    company = _company(model, crawl_budget=300, crawler="uniform", archive_share=0.25)
    generator = torch.Generator().manual_seed(0)
    company.train_on_archive(model.archive, generator)
    company.retrain(
        model.web, model.archive, 1, np.random.default_rng(1), generator, DEFAULT_LEVERS
    )
    assert len(company.training_x) == 400  # 300 crawled + 100 archive = 25% archive
    archive_rows = {tuple(r.tolist()) for r in model.archive}
    from_archive = sum(tuple(r.tolist()) in archive_rows for r in company.training_x[300:])
    assert from_archive == 100


def test_accumulate_keeps_every_distinct_page_once(model):
    company = _company(model, crawl_budget=200, crawler="popularity", data="accumulate")
    generator = torch.Generator().manual_seed(0)
    company.train_on_archive(model.archive, generator)
    crawled = set()
    for step in (1, 2, 3):
        crawled |= set(company.crawl(model.web, step, np.random.default_rng(step)).tolist())
        company.retrain(
            model.web, model.archive, step, np.random.default_rng(step), generator, DEFAULT_LEVERS
        )
    # the popularity crawler fetches the same hubs every time: they enter the pool once
    assert len(company.training_x) == len(model.archive) + len(crawled)
    assert len(company.training_x) == len({tuple(r.tolist()) for r in company.training_x})


def test_archive_share_holds_even_when_the_archive_is_small(model):
    company = _company(model, crawl_budget=400, crawler="uniform", archive_share=0.9)
    generator = torch.Generator().manual_seed(0)
    company.train_on_archive(model.archive, generator)
    company.retrain(
        model.web, model.archive, 1, np.random.default_rng(1), generator, DEFAULT_LEVERS
    )
    n = len(company.training_x)  # 600 archive items cap the archive part; the crawl shrinks
    assert n == 600 + round(600 * 0.1 / 0.9)
    only = _company(model, crawl_budget=400, crawler="uniform", archive_share=1.0)
    only.train_on_archive(model.archive, generator)
    only.retrain(model.web, model.archive, 1, np.random.default_rng(1), generator, DEFAULT_LEVERS)
    assert len(only.training_x) == 400 and not only.training_synthetic.any()


def test_crawl_max_age_restricts_to_recent_pages(model):
    company = _company(model, crawl_budget=10_000, crawler="uniform", crawl_max_age=1)
    pages = company.crawl(model.web, 0, np.random.default_rng(0))
    assert len(pages) > 0  # the initial web's youngest pages date from step 0
    assert (model.web.created_step[pages] == 0).all()
    assert len(company.crawl(model.web, 5, np.random.default_rng(0))) == 0


def test_creator_agents_view_their_rows(model):
    agents = list(model.agents_by_type[HumanCreator])
    assert len(agents) == len(model.creators)
    agent = agents[7]
    assert agent.rate == model.creators.rate[agent.row]
    agent.active = False
    assert not model.creators.active[agent.row]
    agent.active = True
    assert set(agent.topics.tolist()) <= set(range(model.world.topics))


def test_screening_and_quota_shape_the_training_set(model):
    levers = Levers(
        PolicySettings(
            detection={"enabled": True, "tpr": 1.0, "tpr_edited": 1.0, "fpr": 0.0},
            provenance={"min_certified_share": 0.5},
        )
    )
    company = _company(model, crawl_budget=300, crawler="uniform", archive_share=0.25)
    generator = torch.Generator().manual_seed(0)
    company.train_on_archive(model.archive, generator)
    company.retrain(model.web, model.archive, 1, np.random.default_rng(1), generator, levers)
    screening = company.screening
    assert screening.crawled == 300
    # the detector's verdicts were fixed at publishing (4% of human pages flagged)
    assert screening.dropped["dropped_detected"] > 0
    assert not model.web.flagged[screening.kept].any()
    # the certified rows (the archive sample) can be at most half: as many uncertified stay
    certified = int(company.training_certified.sum())
    assert certified >= 0.25 * (300 - screening.dropped["dropped_detected"]) / 0.75 - 1
    assert len(company.training_x) == 2 * certified


def test_company_pages_come_from_its_model(model):
    web = model.web
    ai = web.origin == AI
    assert not ai.any()  # step 0: nothing published yet
    assert (web.origin == HUMAN).all()
