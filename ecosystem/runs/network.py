"""A small, drawable sample of the web's hyperlink graph at the end of a run.

Core objects: :class:`NetworkSample` (nodes and links of a sampled subgraph as
tables), :func:`sample_network` (the most visited pages and pages linking to
them, so hubs and their neighbourhoods show), :func:`layout` (networkx
spring layout, seeded) and :func:`write_network` / :func:`read_network`
(``network.parquet`` and ``network_links.parquet`` in a run directory).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecosystem.runs.results import atomic_write_bytes
from ecosystem.runs.store import NETWORK_LINKS, NETWORK_NODES
from ecosystem.world.web import ORIGINS, Web

__all__ = ["NetworkSample", "layout", "read_network", "sample_network", "write_network"]

DEFAULT_PAGES = 300
ORIGIN_LABELS = {"human": "human", "ai": "AI", "ai_assisted": "AI-assisted"}


@dataclass(frozen=True)
class NetworkSample:
    """A sampled subgraph: ``nodes`` (one row per page: page, origin, topic, company,
    created_step, traffic, in_degree) and ``links`` (source, target) between them.

    ``in_degree`` counts a page's links from alive pages over the whole web
    (:attr:`Web.in_degree`), not only those drawn among the sampled pages."""

    nodes: pd.DataFrame
    links: pd.DataFrame

    def to_networkx(self) -> nx.DiGraph:
        """The sample as a networkx graph (node attributes from ``nodes``)."""
        graph = nx.DiGraph()
        graph.add_nodes_from((row.pop("page"), row) for row in self.nodes.to_dict("records"))
        graph.add_edges_from(self.links.itertuples(index=False, name=None))
        return graph


def sample_network(web: Web, rng: np.random.Generator, pages: int = DEFAULT_PAGES) -> NetworkSample:
    """Sample up to ``pages`` alive pages and the links among them: the most visited tenth,
    pages linking to them (drawn at random), then the two ends of random links, then, if
    links run out, pages drawn uniformly. Hubs show with their neighbourhoods."""
    if pages < 1:
        raise ValueError(f"pages must be >= 1, got {pages}")
    alive = np.flatnonzero(web.alive)
    if alive.size <= pages:
        chosen = alive
    else:
        busiest = alive[np.argsort(-web.traffic[alive], kind="stable")[: max(1, pages // 10)]]
        living = web.alive
        src, dst = web.src, web.dst
        kept = living[src] & living[dst]
        src, dst = src[kept], dst[kept]
        hub = np.zeros(living.size, dtype=bool)
        hub[busiest] = True
        into_hubs = rng.permutation(src[hub[dst]])
        order = rng.permutation(src.size)
        ends = np.column_stack([src[order], dst[order]]).ravel()
        candidates = np.concatenate([busiest, into_hubs, ends, rng.permutation(alive)])
        _, first = np.unique(candidates, return_index=True)
        chosen = np.sort(candidates[np.sort(first)[:pages]])
    graph = web.to_networkx(chosen)
    nodes = pd.DataFrame(
        {
            "page": chosen.astype(np.int64),
            "origin": [ORIGIN_LABELS.get(o, o) for o in np.asarray(ORIGINS)[web.origin[chosen]]],
            "topic": web.topic[chosen].astype(np.int64),
            "company": web.company[chosen].astype(np.int64),
            "created_step": web.created_step[chosen].astype(np.int64),
            "traffic": web.traffic[chosen].astype(np.float64),
            "in_degree": web.in_degree[chosen].astype(np.int64),
        }
    )
    edges = np.array(list(graph.edges()), dtype=np.int64).reshape(-1, 2)
    links = pd.DataFrame({"source": edges[:, 0], "target": edges[:, 1]})
    return NetworkSample(nodes, links)


def layout(sample: NetworkSample, seed: int = 0) -> pd.DataFrame:
    """``sample.nodes`` with ``x, y`` positions from a seeded spring layout (undirected)."""
    graph = sample.to_networkx().to_undirected()
    positions = nx.spring_layout(graph, seed=int(seed) % 2**32) if len(graph) else {}
    nodes = sample.nodes.copy()
    nodes["x"] = [float(positions[p][0]) for p in nodes["page"]]
    nodes["y"] = [float(positions[p][1]) for p in nodes["page"]]
    return nodes


def write_network(directory: str | Path, sample: NetworkSample) -> None:
    """Write the sample into a run directory (two Parquet files, each atomically)."""
    directory = Path(directory)
    for name, frame in ((NETWORK_NODES, sample.nodes), (NETWORK_LINKS, sample.links)):
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
        atomic_write_bytes(directory / name, buffer.getvalue())


def read_network(directory: str | Path) -> NetworkSample | None:
    """The network sample of a run directory, or None if it has none (lab runs, interrupted
    runs)."""
    directory = Path(directory)
    if not (directory / NETWORK_NODES).exists() or not (directory / NETWORK_LINKS).exists():
        return None
    return NetworkSample(
        pq.read_table(directory / NETWORK_NODES).to_pandas(),
        pq.read_table(directory / NETWORK_LINKS).to_pandas(),
    )
