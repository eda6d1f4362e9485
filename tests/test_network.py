"""The drawable sample of the final web: which pages, which links, layout, files and figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecosystem.experiments.figures import network_figure
from ecosystem.runs.network import (
    NetworkSample,
    layout,
    read_network,
    sample_network,
    write_network,
)
from ecosystem.world.web import AI, HUMAN, Web


def _web(pages: int = 400, topics: int = 1) -> Web:
    """A web built in four monthly batches (so pages link to older ones), traffic = row, topic =
    row modulo ``topics``."""
    rng = np.random.default_rng(0)
    web = Web(2)
    for batch in np.array_split(np.arange(pages), 4):
        origin = np.where(batch % 3 == 0, AI, HUMAN).astype(np.int8)
        new = web.add_pages(
            rng.normal(size=(len(batch), 2)),
            origin=origin,
            topic=(batch % topics).astype(np.int16),
            quality=0.0,
            step=0,
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


def test_sampled_pages_carry_their_in_links_over_the_whole_web():
    web = _web()
    sample = sample_network(web, np.random.default_rng(1), pages=60)
    whole = sample.nodes.set_index("page")["in_degree"]
    within = sample.links["target"].value_counts()
    assert (whole == web.in_degree[whole.index]).all()
    assert (whole > within.reindex(whole.index, fill_value=0)).any()


def test_network_figure_links_sizes_and_hover():
    sample = sample_network(_web(), np.random.default_rng(1), pages=80)
    figure = network_figure(sample, seed=0)
    links = figure.data[0]
    assert links.name == "links" and links.line.width >= 1
    sizes = [trace for trace in figure.data if trace.legend == "legend2"]
    assert [trace.name.split(":")[0] for trace in sizes] == ["low", "median", "high"]
    assert all(list(trace.x) == [None] for trace in sizes)  # legend entries, no points
    assert sizes[0].marker.size < sizes[1].marker.size < sizes[2].marker.size
    pages = [trace for trace in figure.data[1:] if trace.legend != "legend2"]
    assert sum(len(trace.x) for trace in pages) == len(sample.nodes)
    assert all("in-links (whole web)" in trace.hovertemplate for trace in pages)
    with pytest.raises(ValueError, match="colour_by"):
        network_figure(sample, colour_by="company")


def test_network_figure_colours_by_topic_and_groups_the_rarest():
    sample = sample_network(_web(topics=4), np.random.default_rng(1), pages=80)
    figure = network_figure(sample, colour_by="topic")
    names = [t.name for t in figure.data[1:] if t.legend != "legend2"]
    assert [name.split(" (")[0] for name in names] == [f"topic {t}" for t in range(4)]
    assert figure.layout.legend.title.text == "topic (pages)"
    nodes = pd.DataFrame(
        {
            "page": np.arange(60),
            "origin": "human",
            "topic": np.arange(60) % 30,
            "company": 0,
            "created_step": 0,
            "traffic": np.ones(60),
            "in_degree": 0,
        }
    )
    empty = pd.DataFrame({"source": [], "target": []})
    many = network_figure(NetworkSample(nodes, empty), colour_by="topic")
    groups = [t for t in many.data if t.legend != "legend2"]
    assert groups[-1].name.startswith("other topics")
    assert sum(len(t.x) for t in groups) == 60
    assert len({t.marker.color for t in groups}) == len(groups)


# --- the effect of one lever ---------------------------------------------------------------
