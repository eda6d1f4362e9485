"""The drawable sample of the final web: which pages, which links, layout and files."""

from __future__ import annotations

import numpy as np
import pytest

from ecosystem.runs.network import layout, read_network, sample_network, write_network
from ecosystem.world.web import AI, HUMAN, Web


def _web(pages: int = 400) -> Web:
    """A web built in four monthly batches (so pages link to older ones), traffic = row."""
    rng = np.random.default_rng(0)
    web = Web(2)
    for batch in np.array_split(np.arange(pages), 4):
        origin = np.where(batch % 3 == 0, AI, HUMAN).astype(np.int8)
        new = web.add_pages(
            rng.normal(size=(len(batch), 2)), origin=origin, topic=0, quality=0.0, step=0
        )
        web.link_new_pages(new, rng, links_per_page=3, attachment=1.0, homophily=0.0)
    web.traffic[:] = np.arange(pages, dtype=np.float32)
    return web


def test_sample_keeps_the_busiest_tenth_and_ends_of_links():
    web = _web()
    sample = sample_network(web, np.random.default_rng(1), pages=100)
    chosen = set(sample.nodes["page"])
    assert len(chosen) == 100
    assert set(range(390, 400)) <= chosen  # the 10 most visited pages
    linked = set(sample.links["source"]) | set(sample.links["target"])
    assert len(linked) > 80  # drawn as ends of links, so most are connected
    assert len(sample.links) > 100


def test_links_are_exactly_those_among_sampled_pages():
    web = _web()
    sample = sample_network(web, np.random.default_rng(1), pages=120)
    chosen = set(sample.nodes["page"])
    expected = {
        (s, d)
        for s, d in zip(web.src.tolist(), web.dst.tolist(), strict=True)
        if s in chosen and d in chosen
    }
    assert set(map(tuple, sample.links.to_numpy().tolist())) == expected
    assert len(expected) > 0


def test_nodes_carry_origin_labels_and_traffic():
    web = _web(30)
    sample = sample_network(web, np.random.default_rng(1), pages=100)
    assert len(sample.nodes) == 30  # a web smaller than the sample is taken whole
    assert set(sample.nodes["origin"]) == {"human", "AI"}
    np.testing.assert_allclose(sample.nodes["traffic"], np.arange(30))


def test_same_seed_same_sample_and_layout():
    web = _web()
    a = sample_network(web, np.random.default_rng(5), pages=80)
    b = sample_network(web, np.random.default_rng(5), pages=80)
    assert a.nodes.equals(b.nodes) and a.links.equals(b.links)
    assert layout(a, seed=3).equals(layout(b, seed=3))
    positions = layout(a, seed=3)
    assert positions[["x", "y"]].abs().to_numpy().max() <= 1.0 + 1e-9


def test_write_and_read_round_trip(tmp_path):
    sample = sample_network(_web(), np.random.default_rng(2), pages=50)
    assert read_network(tmp_path) is None
    write_network(tmp_path, sample)
    back = read_network(tmp_path)
    assert back.nodes.equals(sample.nodes) and back.links.equals(sample.links)


def test_sample_size_must_be_positive():
    with pytest.raises(ValueError, match="pages must be >= 1"):
        sample_network(_web(10), np.random.default_rng(0), pages=0)
