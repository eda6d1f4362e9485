"""Tests for ecosystem.world.crawl: budgets, eligibility, determinism and each crawler's bias."""

import typing
from pathlib import Path

import numpy as np
import pytest

from ecosystem.scenario import (
    CompanySettings,
    CrawlerSettings,
    ScenarioError,
    describe_fields,
    load_scenario,
    schema_markdown,
)
from ecosystem.world.crawl import (
    CRAWLERS,
    LinkFollowingCrawl,
    PopularityCrawl,
    UniformCrawl,
    crawler_parameters,
    make_crawler,
)
from ecosystem.world.model import EcosystemModel
from ecosystem.world.web import HUMAN, Web


def grow(seed: int, *, pages: int = 5000, batch: int = 200, links_per_page: float = 5.0) -> Web:
    """A preferential-attachment web (attachment 1, homophily 0.5, 10 topics)."""
    rng = np.random.default_rng(seed)
    web = Web(2)
    for step in range(pages // batch):
        new = web.add_pages(
            np.zeros((batch, 2)),
            origin=HUMAN,
            topic=rng.integers(0, 10, batch),
            quality=0.0,
            step=step,
        )
        web.link_new_pages(new, rng, links_per_page=links_per_page, attachment=1.0, homophily=0.5)
    return web


@pytest.fixture(scope="module")
def web() -> Web:
    """5,000 pages, a tenth of them dead."""
    web = grow(0)
    web.step(np.random.default_rng(1), death_rate=0.1, traffic_decay=0.0)
    return web


@pytest.fixture(scope="module")
def large_web() -> Web:
    """20,000 pages grown by preferential attachment, all alive."""
    return grow(2, pages=20_000)


def assert_valid_selection(selected: np.ndarray, allowed: np.ndarray, budget: int) -> None:
    assert selected.ndim == 1 and np.issubdtype(selected.dtype, np.integer)
    assert selected.size <= budget
    assert np.unique(selected).size == selected.size
    assert allowed[selected].all()


@pytest.mark.parametrize("name", CRAWLERS)
@pytest.mark.parametrize("budget", [0, 1, 500, 4000])
def test_returns_exactly_budget_distinct_alive_pages(web, name, budget):
    selected = make_crawler(name).select(web, budget, np.random.default_rng(2))
    assert_valid_selection(selected, web.alive, budget)
    assert selected.size == budget  # 4,500 pages are alive


@pytest.mark.parametrize("name", CRAWLERS)
def test_a_budget_above_the_eligible_pages_returns_them_all(web, name):
    eligible = web.alive & (web.topic == 3)
    selected = make_crawler(name).select(web, 10_000, np.random.default_rng(3), eligible=eligible)
    assert np.array_equal(selected, np.flatnonzero(eligible))


@pytest.mark.parametrize("name", CRAWLERS)
def test_respects_the_eligible_mask_and_never_returns_dead_pages(web, name):
    rng = np.random.default_rng(4)
    eligible = (rng.random(web.size) < 0.5) | (web.created_step >= 20)
    selected = make_crawler(name).select(web, 600, rng, eligible=eligible)
    assert_valid_selection(selected, eligible & web.alive, 600)
    assert selected.size == 600


@pytest.mark.parametrize("name", CRAWLERS)
def test_same_seed_same_crawl(web, name):
    first = make_crawler(name).select(web, 700, np.random.default_rng(5))
    second = make_crawler(name).select(web, 700, np.random.default_rng(5))
    other = make_crawler(name).select(web, 700, np.random.default_rng(6))
    assert np.array_equal(first, second)
    if name != "popularity":  # its ties are few: seeds rarely change its choice
        assert not np.array_equal(first, other)


def test_uniform_crawl_covers_the_web_evenly(web):
    rng = np.random.default_rng(7)
    budget, alive = 450, web.count_alive
    hits = np.zeros(web.size)
    for _ in range(200):
        hits[UniformCrawl().select(web, budget, rng)] += 1
    # Each alive page is in a crawl with probability p = budget / alive: Binomial(200, p) hits.
    p = budget / alive
    assert hits[~web.alive].sum() == 0
    assert hits[web.alive].mean() == pytest.approx(200 * p)
    assert hits[web.alive].std() == pytest.approx(np.sqrt(200 * p * (1 - p)), rel=0.1)


def test_popularity_crawl_returns_the_most_linked_to_pages(web):
    selected = PopularityCrawl().select(web, 300, np.random.default_rng(8))
    rest = np.setdiff1d(web.live(), selected)
    assert web.in_degree[selected].min() >= web.in_degree[rest].max()
    ties = [PopularityCrawl().select(web, 2500, np.random.default_rng(seed)) for seed in (9, 10)]
    assert not np.array_equal(*ties)  # the cut falls among many in-degree-0 pages


def test_link_crawl_only_reaches_pages_through_links_from_selected_pages(web):
    selected = LinkFollowingCrawl(seeds=1, max_rounds=1).select(web, 300, np.random.default_rng(11))
    assert selected.size > 1
    chosen = np.zeros(web.size, dtype=bool)
    chosen[selected] = True
    linked = web.alive[web.src] & chosen[web.src]
    reached = np.unique(web.dst[linked])
    # Every page but the single seed is the target of a link out of a crawled page.
    assert np.setdiff1d(selected, reached).size <= 1


def test_link_crawl_restarts_when_there_are_no_links():
    web = Web(2)
    web.add_pages(np.zeros((1000, 2)), origin=HUMAN, topic=0, quality=0.0, step=0)
    rng = np.random.default_rng(12)
    # Without links a round finds only its seeds (1 page per seed), so the second round draws
    # all 90 missing pages as seeds.
    assert LinkFollowingCrawl(seeds=10, max_rounds=1).select(web, 100, rng).size == 10
    assert LinkFollowingCrawl(seeds=10, max_rounds=2).select(web, 100, rng).size == 100


def test_link_crawl_under_samples_weakly_linked_pages(large_web):
    # THE bias. 20,000 pages, 5 links each, attachment 1, homophily 0.5, budget 10%.
    # Measured over web seeds 0-9 (crawl seed 13): in-degree-0 pages are 53.8-54.8% of the web
    # and 51.6-54.3% of a uniform crawl, but only 8.0-12.0% of a link-following crawl (0.15-0.22
    # of their share); the top in-degree decile (in-degree >= 6, 10.8-11.3% of the web) is
    # 60.5-65.4% of it (5.5-5.8 times its share), and its mean in-degree is 5.8-6.6 times the
    # uniform crawl's (38.2-39.2 against 5.8-6.6).
    in_degree = large_web.in_degree
    budget = large_web.size // 10
    isolated = in_degree == 0
    hub = in_degree >= np.quantile(in_degree, 0.9)
    uniform = UniformCrawl().select(large_web, budget, np.random.default_rng(13))
    links = LinkFollowingCrawl().select(large_web, budget, np.random.default_rng(13))
    assert links.size == uniform.size == budget
    assert isolated.mean() > 0.5 and hub.mean() < 0.12
    assert isolated[uniform].mean() == pytest.approx(isolated.mean(), abs=0.04)
    assert isolated[links].mean() < 0.3 * isolated.mean()
    assert isolated[links].mean() < 0.3 * isolated[uniform].mean()
    assert hub[links].mean() > 4 * hub.mean()
    assert in_degree[links].mean() > 4 * in_degree[uniform].mean()


def test_link_crawl_reaches_in_degree_zero_pages_only_as_seeds(large_web):
    crawler = LinkFollowingCrawl(seeds=50, max_rounds=1)
    selected = crawler.select(large_web, 2000, np.random.default_rng(14))
    assert np.count_nonzero(large_web.in_degree[selected] == 0) <= 50


def test_make_crawler_builds_every_registered_crawler():
    assert CRAWLERS == ("uniform", "popularity", "links")
    assert isinstance(make_crawler("uniform"), UniformCrawl)
    assert isinstance(make_crawler("popularity"), PopularityCrawl)
    crawler = make_crawler("links", seeds=7, max_rounds=2)
    assert isinstance(crawler, LinkFollowingCrawl)
    assert (crawler.seeds, crawler.max_rounds) == (7, 2)
    assert "seeds=7" in repr(crawler)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_crawler("random"), "crawler must be one of uniform, popularity, links"),
        (
            lambda: make_crawler("links", seed=3),
            r"no parameter 'seed'; did you mean 'seeds'\? allowed: seeds, max_rounds",
        ),
        (lambda: make_crawler("uniform", seeds=3), "takes no parameters"),
        (lambda: LinkFollowingCrawl(seeds=0), "seeds"),
        (lambda: LinkFollowingCrawl(max_rounds=1.5), "max_rounds"),
    ],
)
def test_bad_crawler_settings_are_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("name", CRAWLERS)
@pytest.mark.parametrize(
    ("budget", "eligible", "message"),
    [
        (-1, None, "budget"),
        (2.5, None, "budget"),
        (10, np.ones(3, dtype=bool), "eligible"),
        (10, "all", "eligible"),
    ],
)
def test_bad_select_arguments_are_rejected(web, name, budget, eligible, message):
    if isinstance(eligible, str):
        eligible = np.ones(web.size, dtype=np.int8)
    with pytest.raises(ValueError, match=message):
        make_crawler(name).select(web, budget, np.random.default_rng(0), eligible=eligible)


# ----------------------------------------------------------------- scenarios


TINY = "tests/data/tiny-web.toml"


def test_the_scenario_takes_its_crawler_choices_from_the_registry():
    name = CrawlerSettings.model_fields["name"]
    assert typing.get_args(name.annotation) == CRAWLERS
    docs = {doc.path: doc for doc in describe_fields()}
    assert docs["companies.<name>.crawler.name"].choices == CRAWLERS
    assert "crawler registry" in docs["companies.<name>.crawler.name"].description
    assert "links: seeds, max_rounds" in docs["companies.<name>.crawler.params"].description
    assert "ecosystem.world.crawl.CRAWLERS" in schema_markdown()
    assert crawler_parameters("links") == ("seeds", "max_rounds")
    assert crawler_parameters("uniform") == ()


def test_a_crawler_is_a_name_or_a_table_with_parameters(tmp_path):
    assert CompanySettings(crawler="uniform").crawler == CrawlerSettings(name="uniform")
    path = tmp_path / "crawl.toml"
    path.write_text(
        f'extends = "{Path(TINY).resolve()}"\n'
        "[companies.alpha]\n"
        'crawler = { name = "links", params = { seeds = 7, max_rounds = 2 } }\n'
        "[companies.beta]\n"
        'crawler = "popularity"\n'
        "[companies.delta]\n"
        "crawler = { params = { max_rounds = 4 } }\n"  # on the inherited "links"
    )
    gamma = ["companies.gamma.crawler.name=links", "companies.gamma.crawler.params.seeds=3"]
    scenario = load_scenario(path, gamma)
    crawlers = {name: c.crawler for name, c in scenario.companies.items()}
    assert crawlers["alpha"] == CrawlerSettings(name="links", params={"seeds": 7, "max_rounds": 2})
    assert crawlers["beta"] == CrawlerSettings(name="popularity")
    assert crawlers["gamma"] == CrawlerSettings(name="links", params={"seeds": 3})
    assert crawlers["delta"] == CrawlerSettings(name="links", params={"max_rounds": 4})
    model = EcosystemModel(scenario)
    alpha = model.companies[0].crawler
    assert isinstance(alpha, LinkFollowingCrawl) and (alpha.seeds, alpha.max_rounds) == (7, 2)
    assert isinstance(model.companies[1].crawler, PopularityCrawl)
    # the resolved scenario round-trips, a crawler without parameters written as its name
    toml = scenario.to_toml()
    assert 'crawler = "popularity"' in toml
    again = tmp_path / "again.toml"
    again.write_text(toml)
    assert load_scenario(again).companies == scenario.companies


def test_another_crawler_drops_the_inherited_parameters():
    scenario = load_scenario(
        "baseline",
        ["companies.alpha.crawler.params.seeds=7", "companies.alpha.crawler.name=uniform"],
    )
    assert scenario.companies["alpha"].crawler == CrawlerSettings(name="uniform")
    scenario = load_scenario(
        "baseline", ["companies.alpha.crawler.params.seeds=7", "companies.alpha.crawler=popularity"]
    )
    assert scenario.companies["alpha"].crawler == CrawlerSettings(name="popularity")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "companies.alpha.crawler.params.seed=7",
            "companies.alpha.crawler.params: crawler 'links' has no parameter 'seed'; "
            "did you mean 'seeds'? allowed: seeds, max_rounds",
        ),
        (
            "companies.beta.crawler.params.seeds=7",  # beta's baseline crawler is popularity
            "companies.beta.crawler.params: crawler 'popularity' takes no parameters, got 'seeds'",
        ),
        ("companies.alpha.crawler.params.seeds=0", "seeds must be an integer >= 1, got 0"),
        ("companies.alpha.crawler=random", "companies.alpha.crawler.name: Input should be"),
    ],
)
def test_bad_crawler_parameters_are_refused_in_one_line(override, message):
    with pytest.raises(ScenarioError) as error:
        load_scenario("baseline", [override])
    text = str(error.value)
    assert message in text and "\n" not in text
