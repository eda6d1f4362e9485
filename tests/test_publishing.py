"""Publishing: creators' plans, AI-assisted writing, a month's pages on the web."""

import numpy as np
import pytest
import torch

import models
from ecosystem.model import EcosystemModel
from ecosystem.publishing import assist, plan_human_pages, publish
from ecosystem.scenario import load_scenario
from ecosystem.web import AI, AI_ASSISTED, HUMAN

TINY = "tests/data/tiny-web.toml"


@pytest.fixture()
def model():
    return EcosystemModel(load_scenario(TINY))


def _publish_month(model, month=1):
    return publish(
        model.web,
        model.culture,
        model.creators,
        model.companies,
        month,
        assist_strength=0.5,
        rng=np.random.default_rng(0),
        generator=torch.Generator().manual_seed(0),
    )


def test_plan_draws_poisson_pages_about_each_creators_topics(model):
    creators = model.creators
    counts = [
        len(plan_human_pages(creators, np.random.default_rng(s), {}).topic) for s in range(200)
    ]
    assert np.mean(counts) == pytest.approx(sum(c.rate for c in creators), rel=0.05)
    plan = plan_human_pages(creators, np.random.default_rng(0), {})
    by_id = {c.unique_id: set(c.topics.tolist()) for c in creators}
    assert all(t in by_id[a] for a, t in zip(plan.author, plan.topic, strict=True))
    assert (plan.assistant == -1).all()  # no assistant on the market: nothing assisted


def test_assisted_pages_need_an_assistant_on_the_market(model):
    creators = model.creators
    for c in creators:
        c.ai_share, c.assistant = 1.0, "alpha"
    plan = plan_human_pages(creators, np.random.default_rng(0), {"alpha": 0})
    assert len(plan.topic) and (plan.assistant == 0).all()
    plan = plan_human_pages(creators, np.random.default_rng(0), {"beta": 1})
    assert (plan.assistant == -1).all()


def test_inactive_creators_publish_nothing(model):
    for c in model.creators:
        c.active = False
    assert len(plan_human_pages(model.creators, np.random.default_rng(0), {}).topic) == 0


def test_assist_moves_drafts_toward_the_models_output():
    generator = torch.Generator().manual_seed(0)
    gaussian = models.make("gaussian").fit(
        10 + 0.01 * torch.randn(500, 2, generator=generator), generator=generator
    )
    drafts = torch.zeros(100, 2)
    assert torch.equal(assist(drafts, gaussian, 0.0, generator), drafts)
    half = assist(drafts, gaussian, 0.5, generator)
    assert torch.allclose(half, torch.full_like(half, 5.0), atol=0.1)
    full = assist(drafts, gaussian, 1.0, generator)
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
        web.topic[ai], model.culture.assign(torch.from_numpy(web.content[ai])).numpy()
    )
    # alpha and beta are on the market from step 1 with 40 pages/month; gamma starts at step 3
    assert np.bincount(web.company[ai], minlength=3).tolist() == [40, 40, 0]
    assert (web.created_step[new] == 1).all()


def test_assisted_pages_use_the_companys_sampling_bias(model, monkeypatch):
    import ecosystem.publishing as publishing

    seen = []
    original = publishing.assist

    def recording(drafts, generative, strength, generator, *, bias=1.0):
        seen.append(bias)
        return original(drafts, generative, strength, generator, bias=bias)

    monkeypatch.setattr(publishing, "assist", recording)
    _publish_month(model)
    assert seen and set(seen) == {0.9}  # the baseline's companies sample with bias 0.9
