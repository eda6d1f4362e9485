"""Publishing: creators' plans, AI-assisted writing, a month's pages on the web."""

import numpy as np
import pytest
import torch

import models
from ecosystem.scenario import PolicySettings, load_scenario
from ecosystem.world.levers import Levers
from ecosystem.world.model import EcosystemModel
from ecosystem.world.publishing import plan_human_pages, publish
from ecosystem.world.vectors import assist_toward
from ecosystem.world.web import AI, AI_ASSISTED, HUMAN

TINY = "tests/data/tiny-web.toml"


@pytest.fixture()
def model():
    return EcosystemModel(load_scenario(TINY))


def _publish_month(model, month=1):
    return publish(
        model.web,
        model.world,
        model.creators,
        model.companies,
        month,
        assist_strength=0.5,
        levers=model.levers,
        rng=np.random.default_rng(0),
        generator=torch.Generator().manual_seed(0),
    )


NONE_ON_MARKET = np.zeros(3, dtype=bool)


def test_plan_draws_poisson_pages_about_each_creators_topics(model):
    creators = model.creators
    counts = [
        len(plan_human_pages(creators, np.random.default_rng(s), NONE_ON_MARKET).topic)
        for s in range(200)
    ]
    assert np.mean(counts) == pytest.approx(creators.rate.sum(), rel=0.05)
    plan = plan_human_pages(creators, np.random.default_rng(0), NONE_ON_MARKET)
    assert all(t in creators.topics[a] for a, t in zip(plan.author, plan.topic, strict=True))
    assert (plan.assistant == -1).all()  # no assistant on the market: nothing assisted


def test_assisted_pages_need_an_assistant_on_the_market(model):
    creators = model.creators
    creators.ai_share[:] = 1.0
    creators.assistant[:] = 0
    plan = plan_human_pages(creators, np.random.default_rng(0), np.array([True, False, False]))
    assert len(plan.topic) and (plan.assistant == 0).all()
    plan = plan_human_pages(creators, np.random.default_rng(0), np.array([False, True, True]))
    assert (plan.assistant == -1).all()


def test_inactive_creators_publish_nothing(model):
    model.creators.active[:] = False
    assert (
        len(plan_human_pages(model.creators, np.random.default_rng(0), NONE_ON_MARKET).topic) == 0
    )


def test_cap_limits_the_companies_share_of_new_pages(model):
    model.levers = Levers(PolicySettings(cap={"ai_share_max": 0.2}))
    pages = _publish_month(model)
    ai = model.web.origin[pages] == AI
    assert 0 < ai.mean() <= 0.2


def test_stamps_follow_the_policy(model):
    model.levers = Levers(
        PolicySettings(
            watermark={"share": 1.0, "survival": 0.0},
            provenance={"certified_share": 1.0},
            detection={"tpr": 1.0, "tpr_edited": 0.0, "fpr": 0.0},
        )
    )
    pages = _publish_month(model)
    web = model.web
    origin = web.origin[pages]
    assert (web.watermarked[pages] == (origin == AI)).all()  # marks do not survive editing
    assert (web.certified_human[pages] == (origin == HUMAN)).all()
    assert (web.flagged[pages] == (origin == AI)).all()


def test_assist_moves_drafts_toward_the_models_output():
    generator = torch.Generator().manual_seed(0)
    gaussian = models.make("gaussian").fit(
        10 + 0.01 * torch.randn(500, 2, generator=generator), generator=generator
    )
    drafts = torch.zeros(100, 2)
    assert torch.equal(assist_toward(drafts, gaussian, 0.0, generator), drafts)
    half = assist_toward(drafts, gaussian, 0.5, generator)
    assert torch.allclose(half, torch.full_like(half, 5.0), atol=0.1)
    full = assist_toward(drafts, gaussian, 1.0, generator)
    assert torch.allclose(full, torch.full_like(full, 10.0), atol=0.1)


def test_publish_appends_a_months_pages_with_their_provenance(model):
    before = model.web.size
    new = _publish_month(model)
    web = model.web
    assert np.array_equal(new, np.arange(before, web.size))
    origin = web.origin[new]
    assert {HUMAN, AI, AI_ASSISTED} <= set(origin.tolist())
    ai = new[origin == AI]
    assert np.array_equal(
        web.topic[ai], model.world.assign(torch.from_numpy(web.content[ai])).numpy()
    )
    # alpha and beta are on the market from step 1 with 40 pages/month; gamma starts at step 3
    assert np.bincount(web.company[ai], minlength=3).tolist() == [40, 40, 0]
    assert (web.created_step[new] == 1).all()


def test_assisted_pages_use_the_companys_sampling_bias(model, monkeypatch):
    seen = []
    original = model.world.assist

    def recording(drafts, generative, strength, generator, *, bias=1.0):
        seen.append(bias)
        return original(drafts, generative, strength, generator, bias=bias)

    monkeypatch.setattr(model.world, "assist", recording)
    _publish_month(model)
    assert seen and set(seen) == {0.9}  # the baseline's companies sample with bias 0.9
