"""Tests for ecosystem.world.web: the columnar page store, linking, ageing and graph views."""

from collections import Counter

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecosystem.world.web import AI, AI_ASSISTED, HUMAN, ORIGINS, Web

DIM = 3
TOPICS = 10


def grow(
    seed: int,
    *,
    pages: int = 20_000,
    batch: int = 200,
    attachment: float = 1.0,
    homophily: float = 0.5,
    links_per_page: float = 5.0,
    topics: int = TOPICS,
) -> Web:
    """A web grown batch by batch, each batch linking to the pages before it."""
    rng = np.random.default_rng(seed)
    web = Web(DIM)
    for step in range(pages // batch):
        new = web.add_pages(
            rng.normal(size=(batch, DIM)),
            origin=rng.integers(0, 3, batch),
            topic=rng.integers(0, topics, batch),
            quality=rng.normal(size=batch),
            step=step,
        )
        web.link_new_pages(
            new, rng, links_per_page=links_per_page, attachment=attachment, homophily=homophily
        )
    return web


def recount_in_degree(web: Web) -> np.ndarray:
    """In-degree from a plain loop over the edge list, links between alive pages only."""
    counts = Counter(
        int(d) for s, d in zip(web.src, web.dst, strict=True) if web.alive[s] and web.alive[d]
    )
    return np.array([counts[page] for page in range(web.size)])


def top_decile_share(in_degree: np.ndarray) -> float:
    """Share of all in-links held by the 10% most linked-to pages."""
    ranked = np.sort(in_degree)[::-1]
    return ranked[: ranked.size // 10].sum() / ranked.sum()


def gini(values: np.ndarray) -> float:
    ranked = np.sort(values).astype(np.float64)
    n = ranked.size
    return float((2 * np.arange(1, n + 1) - n - 1) @ ranked / (n * ranked.sum()))


# ----------------------------------------------------------------- pages


@settings(max_examples=30, deadline=None)
@given(
    batches=st.lists(st.integers(0, 40), min_size=1, max_size=12),
    initial_capacity=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_append_grows_capacity_and_keeps_every_column(batches, initial_capacity, seed):
    rng = np.random.default_rng(seed)
    web = Web(DIM, initial_capacity=initial_capacity)
    parts: dict[str, list[np.ndarray]] = {
        "content": [],
        "topic": [],
        "quality": [],
        "created_step": [],
        "author": [],
        "watermarked": [],
    }
    for step, n in enumerate(batches):
        values = {
            "content": rng.normal(size=(n, DIM)).astype(np.float32),
            "topic": rng.integers(0, 50, n),
            "quality": rng.normal(size=n).astype(np.float32),
            "created_step": np.full(n, step),
            "author": rng.integers(-1, 100, n),
            "watermarked": rng.random(n) < 0.5,
        }
        rows = web.add_pages(
            values["content"],
            origin=HUMAN,
            topic=values["topic"],
            quality=values["quality"],
            step=step,
            author=values["author"],
            watermarked=values["watermarked"],
        )
        assert np.array_equal(rows, np.arange(web.size - n, web.size))
        for name, value in values.items():
            parts[name].append(value)
    total = sum(batches)
    assert web.size == len(web) == total
    assert web.capacity >= max(total, initial_capacity)
    for name, chunks in parts.items():
        assert np.array_equal(getattr(web, name), np.concatenate(chunks)), name
    assert web.alive.all() and len(web.alive) == total
    assert (web.traffic == 0).all() and (web.in_degree == 0).all()
    assert web.count_alive == total


def test_add_pages_takes_scalars_or_one_value_per_page():
    web = Web(DIM)
    rows = web.add_pages(
        np.ones((4, DIM)),
        origin=np.array([HUMAN, AI, AI_ASSISTED, AI]),
        topic=7,
        quality=np.array([-1.0, -2.0, -3.0, -4.0]),
        step=5,
        company=np.array([-1, 0, 1, 0]),
        model_generation=np.array([-1, 3, 2, 3]),
        opt_out=np.array([True, False, False, True]),
        certified_human=True,
    )
    assert np.array_equal(rows, [0, 1, 2, 3])
    assert web.content.dtype == np.float32 and web.content.shape == (4, DIM)
    assert web.origin.tolist() == [HUMAN, AI, AI_ASSISTED, AI]
    assert web.topic.tolist() == [7] * 4
    assert web.created_step.tolist() == [5] * 4
    assert web.company.tolist() == [-1, 0, 1, 0]
    assert web.model_generation.tolist() == [-1, 3, 2, 3]
    assert web.author.tolist() == [-1] * 4
    assert web.opt_out.tolist() == [True, False, False, True]
    assert web.certified_human.all() and not web.watermarked.any()
    assert web.quality.dtype == np.float32
    assert ORIGINS[AI_ASSISTED] == "ai_assisted"
    empty = web.add_pages(np.empty((0, DIM)), origin=HUMAN, topic=0, quality=0.0, step=6)
    assert empty.size == 0 and web.size == 4


def test_views_are_writable_except_the_columns_the_web_maintains():
    web = grow(0, pages=400, batch=100)
    web.traffic[[1, 2]] += 3.0
    web.opt_out[5] = True
    assert web.traffic[1] == 3.0 and web.opt_out[5]
    for column in (web.alive, web.in_degree, web.src, web.dst, *web.csr()):
        with pytest.raises(ValueError, match="read-only"):
            column[0] = 0


def test_live_new_since_and_memory():
    rng = np.random.default_rng(1)
    web = grow(1, pages=1000, batch=100)
    died = web.step(rng, death_rate=0.3, traffic_decay=0.0)
    assert np.array_equal(web.live(), np.setdiff1d(np.arange(1000), died))
    assert web.count_alive == 1000 - died.size
    recent = web.new_since(8)
    assert np.array_equal(recent, np.flatnonzero(web.alive & (web.created_step >= 8)))
    assert (web.created_step[recent] >= 8).all() and recent.size > 0
    assert web.nbytes >= web.capacity * (DIM * 4 + 1 + 2 + 4 * 3 + 2 + 4 + 4 * 1 + 4 + 4)
    assert "pages=1,000" in repr(web) and "links=" in repr(web)


# ----------------------------------------------------------------- links


def test_new_pages_link_only_to_older_alive_pages():
    rng = np.random.default_rng(2)
    web = grow(2, pages=2000, batch=100)
    web.step(rng, death_rate=0.2, traffic_decay=0.0)
    alive_before = web.alive.copy()
    edges_before = web.n_links
    new = web.add_pages(
        np.zeros((300, DIM)), origin=AI, topic=rng.integers(0, 3, 300), quality=0, step=99
    )
    made = web.link_new_pages(new, rng, links_per_page=4.0, attachment=1.0, homophily=0.5)
    src, dst = web.src[edges_before:], web.dst[edges_before:]
    assert made == src.size == web.n_links - edges_before > 900
    assert np.isin(src, new).all()
    assert (dst < new.min()).all()
    assert alive_before[dst].all()
    assert np.array_equal(web.in_degree, recount_in_degree(web))


def test_links_per_page_is_the_mean_number_of_links():
    web = grow(3, pages=10_000, batch=500, links_per_page=3.0)
    per_page = np.bincount(web.src, minlength=web.size)[500:]
    assert per_page.mean() == pytest.approx(3.0, abs=0.1)
    assert per_page.var() == pytest.approx(3.0, rel=0.15)  # Poisson: variance = mean


def test_preferential_attachment_concentrates_in_links():
    # Measured on 20,000 pages, 5 links each, no homophily (seeds 0-4): top-decile share of
    # in-links 0.350 and Gini 0.546 with attachment 0 (age alone), 0.848-0.850 and 0.906-0.907
    # with attachment 1; the largest in-degree is about 40 against 580-740.
    uniform = grow(0, attachment=0.0, homophily=0.0).in_degree
    linear = grow(0, attachment=1.0, homophily=0.0).in_degree
    assert top_decile_share(uniform) < 0.40 and top_decile_share(linear) > 0.80
    assert gini(uniform) < 0.60 and gini(linear) > 0.85
    assert linear.max() > 8 * uniform.max()


def test_homophily_one_keeps_links_inside_the_topic():
    web = grow(4, pages=5000, batch=250, homophily=1.0)
    assert web.n_links > 20_000
    assert (web.topic[web.src] == web.topic[web.dst]).all()


def test_homophily_zero_crosses_topics_at_their_popularity_rate():
    rng = np.random.default_rng(5)
    weights = np.array([0.5, 0.2, 0.1, 0.1, 0.05, 0.05])
    web = Web(DIM)
    old = web.add_pages(
        np.zeros((5000, DIM)), origin=HUMAN, topic=rng.choice(6, 5000, p=weights), quality=0, step=0
    )
    new = web.add_pages(
        np.zeros((5000, DIM)), origin=HUMAN, topic=rng.choice(6, 5000, p=weights), quality=0, step=1
    )
    web.link_new_pages(new, rng, links_per_page=4.0, attachment=0.0, homophily=0.0)
    # With uniform targets a link stays in its topic with probability sum_t p(t)^2.
    expected = (
        np.bincount(web.topic[web.src], minlength=6)
        @ np.bincount(web.topic[old])
        / (web.n_links * old.size)
    )
    same = np.mean(web.topic[web.src] == web.topic[web.dst])
    assert expected == pytest.approx((weights**2).sum(), abs=0.02)
    assert same == pytest.approx(expected, abs=0.015)


def test_a_topic_without_older_pages_falls_back_to_the_whole_web():
    rng = np.random.default_rng(6)
    web = Web(DIM)
    web.add_pages(np.zeros((100, DIM)), origin=HUMAN, topic=0, quality=0, step=0)
    new = web.add_pages(np.zeros((50, DIM)), origin=HUMAN, topic=1, quality=0, step=1)
    made = web.link_new_pages(new, rng, links_per_page=3.0, attachment=1.0, homophily=1.0)
    assert made > 100 and (web.dst < 100).all()


def test_dead_pages_are_never_targets_and_general_attachment_works():
    rng = np.random.default_rng(7)
    web = grow(7, pages=3000, batch=300, attachment=0.7)
    web.step(rng, death_rate=0.5, traffic_decay=0.0)
    edges_before = web.n_links
    new = web.add_pages(
        np.zeros((1000, DIM)), origin=HUMAN, topic=rng.integers(0, TOPICS, 1000), quality=0, step=10
    )
    web.link_new_pages(new, rng, links_per_page=5.0, attachment=0.7, homophily=0.5)
    assert web.alive[web.dst[edges_before:]].all()
    assert np.array_equal(web.in_degree, recount_in_degree(web))


def test_nothing_to_link_to_makes_no_links():
    rng = np.random.default_rng(8)
    web = Web(DIM)
    first = web.add_pages(np.zeros((10, DIM)), origin=HUMAN, topic=0, quality=0, step=0)
    assert web.link_new_pages(first, rng, links_per_page=5.0, attachment=1.0, homophily=0.5) == 0
    assert web.link_new_pages([], rng, links_per_page=5.0, attachment=1.0, homophily=0.5) == 0
    assert web.n_links == 0


# ----------------------------------------------------------------- ageing


def test_step_kills_about_death_rate_and_decays_traffic():
    rng = np.random.default_rng(9)
    web = grow(9, pages=10_000, batch=500)
    web.traffic[:] = np.arange(web.size, dtype=np.float32)
    died = web.step(rng, death_rate=0.1, traffic_decay=0.25)
    # Binomial(10,000, 0.1): standard deviation 30; allow 5 of them.
    assert abs(died.size - 1000) < 150
    assert not web.alive[died].any() and web.count_alive == 10_000 - died.size
    assert np.allclose(web.traffic, 0.75 * np.arange(web.size))
    assert np.array_equal(web.in_degree, recount_in_degree(web))
    assert (web.in_degree[died] == 0).all()
    again = web.step(rng, death_rate=0.1, traffic_decay=0.0)
    assert np.intersect1d(died, again).size == 0
    assert abs(again.size - 0.1 * (10_000 - died.size)) < 150


def test_death_rate_zero_and_one():
    rng = np.random.default_rng(10)
    web = grow(10, pages=1000, batch=100)
    assert web.step(rng, death_rate=0.0, traffic_decay=0.0).size == 0
    assert web.step(rng, death_rate=1.0, traffic_decay=1.0).size == 1000
    assert web.count_alive == 0 and (web.in_degree == 0).all()


# ----------------------------------------------------------------- graph views


def brute_adjacency(web: Web, alive_only: bool) -> dict[int, list[int]]:
    adjacency: dict[int, list[int]] = {page: [] for page in range(web.size)}
    for s, d in zip(web.src.tolist(), web.dst.tolist(), strict=True):
        if not alive_only or (web.alive[s] and web.alive[d]):
            adjacency[s].append(d)
    return adjacency


@pytest.mark.parametrize("alive_only", [True, False])
def test_csr_and_out_links_match_a_brute_force_adjacency(alive_only):
    rng = np.random.default_rng(11)
    web = grow(11, pages=2000, batch=100)
    web.step(rng, death_rate=0.2, traffic_decay=0.0)
    adjacency = brute_adjacency(web, alive_only)
    indptr, indices = web.csr(alive_only)
    assert indptr.shape == (web.size + 1,) and indptr[-1] == indices.size
    for page in range(web.size):
        assert indices[indptr[page] : indptr[page + 1]].tolist() == adjacency[page]
    pages = rng.choice(web.size, 300)  # repeats allowed
    expected = [target for page in pages.tolist() for target in adjacency[page]]
    assert web.out_links(pages, alive_only).tolist() == expected
    assert web.out_links(np.array([], dtype=np.int64)).size == 0


def test_csr_cache_follows_new_links_pages_and_deaths():
    rng = np.random.default_rng(12)
    web = grow(12, pages=1000, batch=100)
    first = web.csr()
    assert web.csr() is first
    new = web.add_pages(np.zeros((100, DIM)), origin=HUMAN, topic=0, quality=0, step=20)
    assert web.csr()[0].shape == (1101,)
    web.link_new_pages(new, rng, links_per_page=5.0, attachment=1.0, homophily=0.0)
    assert web.csr()[1].size == web.n_links
    web.step(rng, death_rate=0.3, traffic_decay=0.0)
    assert web.csr()[1].size == int((web.alive[web.src] & web.alive[web.dst]).sum())
    assert web.csr(alive_only=False)[1].size == web.n_links


def test_to_networkx_is_the_induced_subgraph_with_attributes():
    rng = np.random.default_rng(13)
    web = grow(13, pages=1000, batch=100)
    web.step(rng, death_rate=0.2, traffic_decay=0.0)
    pages = rng.choice(1000, 400, replace=False)
    graph = web.to_networkx(pages)
    assert isinstance(graph, nx.DiGraph)
    assert set(graph.nodes) == set(pages.tolist())
    chosen = set(pages.tolist())
    expected = {
        (s, d)
        for s, d in zip(web.src.tolist(), web.dst.tolist(), strict=True)
        if s in chosen and d in chosen
    }
    assert set(graph.edges) == expected and expected
    page = int(pages[0])
    attributes = graph.nodes[page]
    assert attributes["origin"] == ORIGINS[web.origin[page]]
    for name in ("topic", "company", "model_generation", "created_step", "in_degree"):
        assert attributes[name] == int(getattr(web, name)[page])
    assert attributes["alive"] == bool(web.alive[page])
    assert attributes["traffic"] == pytest.approx(float(web.traffic[page]))


def test_same_seed_same_web():
    first, second = grow(14, pages=3000, batch=100), grow(14, pages=3000, batch=100)
    died = [
        web.step(np.random.default_rng(0), death_rate=0.1, traffic_decay=0.1)
        for web in (first, second)
    ]
    assert np.array_equal(died[0], died[1])
    for name in ("src", "dst", "alive", "in_degree", "topic", "content"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name
    other = grow(15, pages=3000, batch=100)
    assert not np.array_equal(first.dst, other.dst[: first.n_links])


# ----------------------------------------------------------------- bad input


def add(web: Web, **overrides):
    arguments = {"origin": HUMAN, "topic": 0, "quality": 0.0, "step": 0, **overrides}
    content = arguments.pop("content", np.zeros((2, DIM)))
    return web.add_pages(content, **arguments)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"content": np.zeros((2, DIM + 1))}, "content"),
        ({"content": np.zeros(DIM)}, "content"),
        ({"origin": 3}, "origin"),
        ({"topic": -1}, "topic"),
        ({"topic": np.array([1, 2, 3])}, "topic"),
        ({"topic": 1.5}, "topic"),
        ({"step": 2**31}, "step"),
        ({"company": -2}, "company"),
        ({"opt_out": 1}, "opt_out"),
        ({"quality": "high"}, "quality"),
    ],
)
def test_add_pages_rejects_bad_input(overrides, message):
    web = Web(DIM)
    with pytest.raises(ValueError, match=message):
        add(web, **overrides)
    assert web.size == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"links_per_page": -1.0}, "links_per_page"),
        ({"links_per_page": float("nan")}, "links_per_page"),
        ({"attachment": -0.5}, "attachment"),
        ({"homophily": 1.5}, "homophily"),
        ({"homophily": -0.1}, "homophily"),
        ({"new": [0, 99]}, "new"),
        ({"new": [[0]]}, "new"),
    ],
)
def test_link_new_pages_rejects_bad_input(overrides, message):
    web = Web(DIM)
    add(web)
    arguments = {"new": [1], "links_per_page": 1.0, "attachment": 1.0, "homophily": 0.5}
    arguments.update(overrides)
    new = arguments.pop("new")
    with pytest.raises(ValueError, match=message):
        web.link_new_pages(new, np.random.default_rng(0), **arguments)


@pytest.mark.parametrize(
    ("death_rate", "traffic_decay", "message"),
    [(-0.1, 0.0, "death_rate"), (1.1, 0.0, "death_rate"), (0.1, -1.0, "traffic_decay")],
)
def test_step_rejects_bad_rates(death_rate, traffic_decay, message):
    with pytest.raises(ValueError, match=message):
        Web(DIM).step(np.random.default_rng(0), death_rate=death_rate, traffic_decay=traffic_decay)


@pytest.mark.parametrize(
    ("dim", "capacity", "message"), [(0, 10, "dim"), (2.5, 10, "dim"), (3, 0, "initial_capacity")]
)
def test_constructor_rejects_bad_sizes(dim, capacity, message):
    with pytest.raises(ValueError, match=message):
        Web(dim, initial_capacity=capacity)
