"""The open web as columns: every page is a row of numpy arrays, every hyperlink an edge.

Core object: :class:`Web`, a growable columnar page store (content, held in its world's
content column; origin, author, company, topic, quality, flags, traffic, in-degree) with an
append-only hyperlink list.
New pages link to older alive pages by topic homophily and preferential attachment
(:meth:`Web.link_new_pages`); pages die at a constant rate (:meth:`Web.step`, link rot); the
link graph is served as CSR arrays (:meth:`Web.csr`) for vectorised crawls.
Origin codes are :data:`HUMAN`, :data:`AI` and :data:`AI_ASSISTED`, named in :data:`ORIGINS`.

Nothing here loops over pages in Python: a web of millions of pages costs a few numpy passes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from numbers import Integral, Real
from typing import Any, TypeVar

import networkx as nx
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ecosystem.world.content import DenseStore
from ecosystem.world.protocol import ContentStore

__all__ = ["AI", "AI_ASSISTED", "HUMAN", "ORIGINS", "Web"]

HUMAN, AI, AI_ASSISTED = 0, 1, 2
ORIGINS = ("human", "ai", "ai_assisted")

# Node attributes of `Web.to_networkx` taken straight from the columns (origin is named).
_GRAPH_ATTRIBUTES = (
    "topic",
    "company",
    "model_generation",
    "created_step",
    "traffic",
    "alive",
    "in_degree",
)
_INT16_MAX = int(np.iinfo(np.int16).max)
_INT32_MAX = int(np.iinfo(np.int32).max)

_Scalar = TypeVar("_Scalar", bound=np.generic)
# Out-links as CSR arrays (indptr, indices), see `Web.csr`.
_CSR = tuple[NDArray[np.int64], NDArray[np.int32]]


@dataclass(slots=True)
class _PageColumns:
    """Every per-page column but ``content``, allocated to the web's capacity.

    Rows past the web's size are unused; :class:`Web` serves views of the first ``size`` rows.
    """

    origin: NDArray[np.int8]
    company: NDArray[np.int16]
    model_generation: NDArray[np.int32]
    author: NDArray[np.int32]
    created_step: NDArray[np.int32]
    topic: NDArray[np.int16]
    quality: NDArray[np.float32]
    watermarked: NDArray[np.bool_]
    certified_human: NDArray[np.bool_]
    opt_out: NDArray[np.bool_]
    flagged: NDArray[np.bool_]
    alive: NDArray[np.bool_]
    traffic: NDArray[np.float32]
    in_degree: NDArray[np.int32]

    @classmethod
    def zeros(cls, capacity: int) -> _PageColumns:
        """Columns of ``capacity`` zero rows."""
        return cls(
            origin=np.zeros(capacity, dtype=np.int8),
            company=np.zeros(capacity, dtype=np.int16),
            model_generation=np.zeros(capacity, dtype=np.int32),
            author=np.zeros(capacity, dtype=np.int32),
            created_step=np.zeros(capacity, dtype=np.int32),
            topic=np.zeros(capacity, dtype=np.int16),
            quality=np.zeros(capacity, dtype=np.float32),
            watermarked=np.zeros(capacity, dtype=np.bool_),
            certified_human=np.zeros(capacity, dtype=np.bool_),
            opt_out=np.zeros(capacity, dtype=np.bool_),
            flagged=np.zeros(capacity, dtype=np.bool_),
            alive=np.zeros(capacity, dtype=np.bool_),
            traffic=np.zeros(capacity, dtype=np.float32),
            in_degree=np.zeros(capacity, dtype=np.int32),
        )

    def grow(self, used: int, capacity: int) -> None:
        """Reallocate every column to ``capacity`` rows, keeping the first ``used``."""
        for field in fields(self):
            setattr(self, field.name, _grown(getattr(self, field.name), used, capacity))

    @property
    def nbytes(self) -> int:
        """Bytes allocated for all the columns."""
        return sum(getattr(self, field.name).nbytes for field in fields(self))


def _read_only(array: NDArray[_Scalar]) -> NDArray[_Scalar]:
    """A read-only view of ``array``."""
    view = array.view()
    view.flags.writeable = False
    return view


def _grown(array: NDArray[_Scalar], used: int, capacity: int) -> NDArray[_Scalar]:
    """A copy of ``array`` with ``capacity`` rows, the first ``used`` rows kept."""
    bigger = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    bigger[:used] = array[:used]
    return bigger


def _is_integer(value: object) -> bool:
    """True for a Python or NumPy integer (bools excluded)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    """True for a Python or NumPy real number (bools excluded)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def _rate(value: float, name: str, *, high: float | None = None) -> float:
    """``value`` as a float, checked to be finite, >= 0 and (optionally) <= ``high``."""
    if not _is_real(value) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (high is not None and value > high):
        allowed = f"in [0, {high}]" if high is not None else ">= 0"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return float(value)


def _per_page(
    value: ArrayLike, n: int, name: str, kind: str, low: int = 0, high: int = 0
) -> NDArray[Any]:
    """``value`` (a scalar or an array of length ``n``) as ``n`` checked values.

    ``kind`` is "int" (checked to lie in [low, high]), "bool" or "float".
    """
    array = np.asarray(value)
    if array.ndim == 0:
        array = np.broadcast_to(array, (n,))
    elif array.shape != (n,):
        raise ValueError(f"{name} must be a scalar or an array of length {n}, got {array.shape}")
    if kind == "bool" and array.dtype != np.bool_:
        raise ValueError(f"{name} must be booleans, got dtype {array.dtype}")
    if kind == "int":
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{name} must be integers, got dtype {array.dtype}")
        if n and (array.min() < low or array.max() > high):
            raise ValueError(f"{name} must lie in [{low}, {high}]")
    if kind == "float" and not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be real numbers, got dtype {array.dtype}")
    return array


class Web:
    """The page store and hyperlink graph of the simulated web.

    Rows ``0 .. size - 1`` are pages in the order they were added (row order is creation
    order); each column property returns the valid rows as a view. ``alive`` and
    ``in_degree`` are maintained by the web and read-only; the other views are writable
    (e.g. ``web.traffic[pages] += visits``, ``web.opt_out[pages] = True``).
    """

    def __init__(self, content: ContentStore | int, initial_capacity: int = 1024) -> None:
        """``content`` is the world's content store (``world.store``), or the dimension of
        dense vectors."""
        if not isinstance(content, ContentStore):
            content = DenseStore(content)
        if not _is_integer(initial_capacity) or initial_capacity < 1:
            raise ValueError(f"initial_capacity must be an integer >= 1, got {initial_capacity!r}")
        self.store = content
        self._size = 0
        self._content = content.column(int(initial_capacity))
        self._columns = _PageColumns.zeros(int(initial_capacity))
        self._n_links = 0
        self._src = np.zeros(4 * int(initial_capacity), dtype=np.int32)
        self._dst = np.zeros(4 * int(initial_capacity), dtype=np.int32)
        # Bumped whenever a page dies: part of the CSR cache key.
        self._alive_version = 0
        # alive_only -> ((size, n_links, alive_version) when built, (indptr, indices)).
        self._csr_cache: dict[bool, tuple[tuple[int, int, int], _CSR]] = {}

    # ----------------------------------------------------------------- columns

    @property
    def origin(self) -> NDArray[np.int8]:
        """Origin code per page: HUMAN, AI or AI_ASSISTED (int8)."""
        return self._columns.origin[: self._size]

    @property
    def company(self) -> NDArray[np.int16]:
        """Publishing AI company per page, -1 for none (int16)."""
        return self._columns.company[: self._size]

    @property
    def model_generation(self) -> NDArray[np.int32]:
        """Generation of the model that wrote the page, -1 for human (int32)."""
        return self._columns.model_generation[: self._size]

    @property
    def author(self) -> NDArray[np.int32]:
        """Creator id per page, -1 for none (int32)."""
        return self._columns.author[: self._size]

    @property
    def created_step(self) -> NDArray[np.int32]:
        """Step at which each page was published (int32; negative: before the run started)."""
        return self._columns.created_step[: self._size]

    @property
    def topic(self) -> NDArray[np.int16]:
        """Topic id per page (int16)."""
        return self._columns.topic[: self._size]

    @property
    def quality(self) -> NDArray[np.float32]:
        """Log-likelihood of each page under the ground truth (float32)."""
        return self._columns.quality[: self._size]

    @property
    def watermarked(self) -> NDArray[np.bool_]:
        """Whether each page carries an AI watermark."""
        return self._columns.watermarked[: self._size]

    @property
    def certified_human(self) -> NDArray[np.bool_]:
        """Whether each page is certified human-made."""
        return self._columns.certified_human[: self._size]

    @property
    def opt_out(self) -> NDArray[np.bool_]:
        """Whether each page opts out of AI training crawls."""
        return self._columns.opt_out[: self._size]

    @property
    def flagged(self) -> NDArray[np.bool_]:
        """Whether the AI-content detector flags each page as AI-written."""
        return self._columns.flagged[: self._size]

    # alive and in_degree are maintained by the web: read-only views keep its caches valid.

    @property
    def alive(self) -> NDArray[np.bool_]:
        """Whether each page is still online (read-only; see step)."""
        return _read_only(self._columns.alive[: self._size])

    @property
    def traffic(self) -> NDArray[np.float32]:
        """Visits per page, decayed every step (float32)."""
        return self._columns.traffic[: self._size]

    @property
    def in_degree(self) -> NDArray[np.int32]:
        """Links from alive pages to each page; 0 for dead pages (read-only, int32)."""
        return _read_only(self._columns.in_degree[: self._size])

    @property
    def content(self) -> Any:
        """Every page's content in its store's layout (dense vectors: float32 ``[size, dim]``)."""
        return self._content.view()

    def content_of(self, pages: np.ndarray) -> Any:
        """The content of ``pages`` (page indices) as a batch of the web's store."""
        return self._content.take(pages)

    @property
    def size(self) -> int:
        """Number of pages ever added, dead ones included."""
        return self._size

    def __len__(self) -> int:
        return self._size

    @property
    def capacity(self) -> int:
        """Rows allocated per column."""
        return self._columns.origin.shape[0]

    @property
    def n_links(self) -> int:
        """Number of links ever made, dead pages' links included."""
        return self._n_links

    @property
    def src(self) -> NDArray[np.int32]:
        """Source page of every link, in creation order (read-only int32)."""
        return _read_only(self._src[: self._n_links])

    @property
    def dst(self) -> NDArray[np.int32]:
        """Target page of every link, in creation order (read-only int32)."""
        return _read_only(self._dst[: self._n_links])

    @property
    def count_alive(self) -> int:
        """Number of alive pages."""
        return int(np.count_nonzero(self._columns.alive[: self._size]))

    @property
    def nbytes(self) -> int:
        """Bytes allocated for the page columns and the link arrays (capacity, not size)."""
        columns = self._columns.nbytes
        return self._content.nbytes + columns + self._src.nbytes + self._dst.nbytes

    def __repr__(self) -> str:
        return (
            f"Web({self.store!r}, pages={self._size:,}, alive={self.count_alive:,}, "
            f"links={self._n_links:,}, capacity={self.capacity:,}, "
            f"nbytes={self.nbytes / 2**20:.1f} MiB)"
        )

    # ----------------------------------------------------------------- pages

    def add_pages(
        self,
        content: Any,
        *,
        origin: ArrayLike,
        topic: ArrayLike,
        quality: ArrayLike,
        step: ArrayLike,
        company: ArrayLike = -1,
        model_generation: ArrayLike = -1,
        author: ArrayLike = -1,
        watermarked: ArrayLike = False,
        certified_human: ArrayLike = False,
        opt_out: ArrayLike = False,
        flagged: ArrayLike = False,
    ) -> NDArray[np.int64]:
        """Append pages (alive, no traffic, no links) and return their row indices.

        Every keyword is a scalar shared by the batch or an array with one value per page.
        Amortised O(1) per page: columns double their capacity when full.
        """
        batch = self.store.as_batch(content)
        n = len(batch)
        origins = _per_page(origin, n, "origin", "int", HUMAN, AI_ASSISTED)
        topics = _per_page(topic, n, "topic", "int", 0, _INT16_MAX)
        qualities = _per_page(quality, n, "quality", "float")
        steps = _per_page(step, n, "step", "int", -_INT32_MAX, _INT32_MAX)
        companies = _per_page(company, n, "company", "int", -1, _INT16_MAX)
        generations = _per_page(model_generation, n, "model_generation", "int", -1, _INT32_MAX)
        authors = _per_page(author, n, "author", "int", -1, _INT32_MAX)
        watermarks = _per_page(watermarked, n, "watermarked", "bool")
        certified = _per_page(certified_human, n, "certified_human", "bool")
        opt_outs = _per_page(opt_out, n, "opt_out", "bool")
        flags = _per_page(flagged, n, "flagged", "bool")
        start, stop = self._size, self._size + n
        if stop > self.capacity:
            capacity = max(2 * self.capacity, stop)
            self._columns.grow(start, capacity)
        self._content.append(batch)
        columns, rows = self._columns, slice(start, stop)
        columns.origin[rows] = origins
        columns.topic[rows] = topics
        columns.quality[rows] = qualities
        columns.created_step[rows] = steps
        columns.company[rows] = companies
        columns.model_generation[rows] = generations
        columns.author[rows] = authors
        columns.watermarked[rows] = watermarks
        columns.certified_human[rows] = certified
        columns.opt_out[rows] = opt_outs
        columns.flagged[rows] = flags
        columns.alive[rows] = True
        columns.traffic[rows] = 0.0
        columns.in_degree[rows] = 0
        self._size = stop
        return np.arange(start, stop, dtype=np.int64)

    def live(self) -> NDArray[np.intp]:
        """Indices of the alive pages, ascending."""
        return np.flatnonzero(self._columns.alive[: self._size])

    def new_since(self, step: int) -> NDArray[np.intp]:
        """Indices of the alive pages created at ``step`` or later, ascending."""
        created = self._columns.created_step[: self._size]
        return np.flatnonzero(self._columns.alive[: self._size] & (created >= step))

    # ----------------------------------------------------------------- links

    def link_new_pages(
        self,
        new: ArrayLike,
        rng: np.random.Generator,
        *,
        links_per_page: float,
        attachment: float,
        homophily: float,
    ) -> int:
        """Give each alive page of ``new`` Poisson(``links_per_page``) links to older pages.

        Targets are alive pages added before the batch's first row (never the page itself or
        the batch). With probability ``homophily`` a link stays in its page's topic (all pages
        if the topic has no older page); inside the pool a target is drawn with probability
        proportional to ``(in_degree + 1) ** attachment`` (0: uniform, 1: linear preferential
        attachment). Targets are drawn independently, so a page may link twice to the same
        target (rare unless the pool is tiny); such duplicates count twice in ``in_degree``.
        Returns the number of links made.
        """
        pages = self._pages(new, "new")
        links_per_page = _rate(links_per_page, "links_per_page")
        attachment = _rate(attachment, "attachment")
        homophily = _rate(homophily, "homophily", high=1.0)
        alive = self._columns.alive
        pages = pages[alive[pages]]
        if pages.size == 0:
            return 0
        counts = rng.poisson(links_per_page, size=pages.size)
        sources = np.repeat(pages, counts)
        # The pool is every row before the batch; dead rows get weight 0 and are never drawn.
        cut = int(pages.min())
        if sources.size == 0 or not alive[:cut].any():
            return 0
        in_topic = rng.random(sources.size) < homophily
        # Integer weights (exact draws) for uniform and linear attachment, floats otherwise.
        weights: NDArray[np.int64] | NDArray[np.floating]
        if attachment == 0.0:
            weights = alive[:cut].astype(np.int64)
        elif attachment == 1.0:
            weights = (self._columns.in_degree[:cut] + np.int64(1)) * alive[:cut]
        else:
            weights = (self._columns.in_degree[:cut] + 1.0) ** attachment * alive[:cut]
        # Each link draws from a segment [low, high) of the pool: its page's topic segment (the
        # pool sorted by topic) or the whole pool, by inverting the cumulated weights.
        pool = None
        low = np.zeros(sources.size, dtype=np.int64)
        high = np.full(sources.size, cut, dtype=np.int64)
        if in_topic.any():
            topic = self._columns.topic
            pool = np.argsort(topic[:cut], kind="stable")
            weights = weights[pool]
            sizes = np.bincount(topic[:cut], minlength=_INT16_MAX + 1)
            ends = np.cumsum(sizes)
            wanted = topic[sources[in_topic]]
            rows = np.flatnonzero(in_topic)
            low[rows], high[rows] = ends[wanted] - sizes[wanted], ends[wanted]
        cumulative = np.concatenate(([0], np.cumsum(weights)))
        empty = cumulative[high] == cumulative[low]
        low[empty], high[empty] = 0, cut
        if cumulative.dtype == np.int64:
            draws = rng.integers(cumulative[low], cumulative[high])
        else:
            span = cumulative[high] - cumulative[low]
            draws = cumulative[low] + rng.random(sources.size) * span
            # Rounding must not reach the segment's end, where a zero-weight dead row may sit.
            draws = np.minimum(draws, np.nextafter(cumulative[high], -np.inf))
        chosen = np.clip(np.searchsorted(cumulative, draws, side="right") - 1, low, high - 1)
        targets = chosen if pool is None else pool[chosen]
        self._append_links(sources, targets)
        np.add.at(self._columns.in_degree, targets, 1)
        return int(targets.size)

    def _append_links(self, sources: NDArray[np.integer], targets: NDArray[np.integer]) -> None:
        """Append edges, doubling the edge arrays when full."""
        start, stop = self._n_links, self._n_links + sources.size
        if stop > self._src.shape[0]:
            capacity = max(2 * self._src.shape[0], stop)
            self._src = _grown(self._src, start, capacity)
            self._dst = _grown(self._dst, start, capacity)
        self._src[start:stop] = sources
        self._dst[start:stop] = targets
        self._n_links = stop

    # ----------------------------------------------------------------- time

    def step(
        self, rng: np.random.Generator, *, death_rate: float, traffic_decay: float
    ) -> NDArray[np.intp]:
        """Age the web by one step and return the indices of the pages that died.

        Each alive page dies with probability ``death_rate`` (link rot), traffic decays by the
        factor ``1 - traffic_decay``, and ``in_degree`` is recounted from the links whose
        source and target are both alive. O(pages + links), all vectorised.
        """
        death_rate = _rate(death_rate, "death_rate", high=1.0)
        traffic_decay = _rate(traffic_decay, "traffic_decay", high=1.0)
        alive = self._columns.alive
        live = self.live()
        died = live[rng.random(live.size) < death_rate]
        if died.size:
            alive[died] = False
            self._alive_version += 1
        self._columns.traffic[: self._size] *= np.float32(1.0 - traffic_decay)
        src, dst = self._src[: self._n_links], self._dst[: self._n_links]
        kept = dst[alive[src] & alive[dst]]
        self._columns.in_degree[: self._size] = np.bincount(kept, minlength=self._size)
        return died

    # ----------------------------------------------------------------- graph views

    def csr(self, alive_only: bool = True) -> _CSR:
        """Out-links as CSR arrays ``(indptr, indices)`` over all ``size`` pages (read-only).

        The targets of page ``p`` are ``indices[indptr[p]:indptr[p + 1]]``, in link creation
        order. With ``alive_only`` only links between two alive pages are kept. Built with one
        stable argsort and cached until pages, links or the alive mask change.
        """
        key = (self._size, self._n_links, self._alive_version)
        cached = self._csr_cache.get(bool(alive_only))
        if cached is not None and cached[0] == key:
            return cached[1]
        src, dst = self._src[: self._n_links], self._dst[: self._n_links]
        if alive_only:
            alive = self._columns.alive
            kept = alive[src] & alive[dst]
            src, dst = src[kept], dst[kept]
        order = np.argsort(src, kind="stable")
        indptr = np.zeros(self._size + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=self._size), out=indptr[1:])
        result = (_read_only(indptr), _read_only(dst[order]))
        self._csr_cache[bool(alive_only)] = (key, result)
        return result

    def out_links(self, pages: ArrayLike, alive_only: bool = True) -> NDArray[np.int32]:
        """Targets of every out-link of ``pages``, concatenated page by page (repeats kept)."""
        pages = self._pages(pages, "pages")
        indptr, indices = self.csr(alive_only)
        starts = indptr[pages]
        lengths = indptr[pages + 1] - starts
        # Position of each output link: its page's start plus its rank within the page.
        offsets = np.cumsum(lengths) - lengths
        positions = np.repeat(starts - offsets, lengths) + np.arange(lengths.sum())
        return indices[positions]

    def to_networkx(self, pages: ArrayLike) -> nx.DiGraph:
        """The link subgraph induced by ``pages`` (dead ones included), for analysis and plots.

        Nodes are page indices with attributes origin (its name), topic, company,
        model_generation, created_step, traffic, alive and in_degree; every link between two
        of the pages is an edge. Builds Python objects: meant for small subgraphs.
        """
        pages = np.unique(self._pages(pages, "pages"))
        columns = self._columns
        attributes = {name: getattr(columns, name)[pages].tolist() for name in _GRAPH_ATTRIBUTES}
        attributes["origin"] = np.asarray(ORIGINS)[columns.origin[pages]].tolist()
        graph = nx.DiGraph()
        graph.add_nodes_from(
            (page, {name: values[i] for name, values in attributes.items()})
            for i, page in enumerate(pages.tolist())
        )
        chosen = np.zeros(self._size, dtype=np.bool_)
        chosen[pages] = True
        src, dst = self._src[: self._n_links], self._dst[: self._n_links]
        kept = chosen[src] & chosen[dst]
        graph.add_edges_from(zip(src[kept].tolist(), dst[kept].tolist(), strict=True))
        return graph

    # ----------------------------------------------------------------- helpers

    def _pages(self, pages: ArrayLike, name: str) -> NDArray[np.int64]:
        """``pages`` as a 1-D int64 array of valid row indices."""
        array = np.asarray(pages)
        if array.ndim != 1 or not (np.issubdtype(array.dtype, np.integer) or array.size == 0):
            raise ValueError(f"{name} must be a 1-D array of page indices, got {array!r:.80}")
        array = array.astype(np.int64, copy=False)
        if array.size and (array.min() < 0 or array.max() >= self._size):
            raise ValueError(f"{name} must be page indices in [0, {self._size})")
        return array
