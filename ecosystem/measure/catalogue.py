"""Every series a run can write, declared once: its name, label, unit, format, group and meaning.

Core objects:

- :class:`ScopeKind`: a kind of scope (``web``, ``company`` for ``company:<name>``, ...), its
  mode and legend label; :func:`scope_kind`, :func:`scope_label`.
- :class:`Series`: one ``(scope kind, metric)`` series; :data:`SERIES` holds them all, and
  :func:`lookup`, :func:`series`, :func:`in_group`, :func:`unit`, :func:`key_outcomes`,
  :func:`summary_columns` and :func:`summary_line` read them.
- :class:`ContentMetric` and :func:`content_series`: the metrics a content world computes on
  every sample of content (the vector world's are :data:`VECTOR_METRICS`), declared once and
  expanded over every scope that holds a sample; :func:`content_metric_names`.
- :class:`Tab` and :class:`Figure`: the explorer's results tabs, their notes and the panels
  of their figures (:data:`RESULT_TABS`, :data:`TAB_NOTES`).

A second content world adds its series by declaring its :class:`ContentMetric` list here, under
its name in :data:`CONTENT_METRICS`; the run summary, comparisons, reports, figure units and
the explorer read them from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CONTENT_METRICS",
    "DIGIT_METRICS",
    "RESULT_TABS",
    "SERIES",
    "TAB_NOTES",
    "TEXT_METRICS",
    "VECTOR_METRICS",
    "ContentMetric",
    "Figure",
    "ScopeKind",
    "Series",
    "Tab",
    "better",
    "content_metric_names",
    "content_series",
    "in_group",
    "key_outcomes",
    "lookup",
    "metric_title",
    "scope_kind",
    "scope_label",
    "series",
    "series_title",
    "summary_columns",
    "summary_line",
    "tab",
    "unit",
]

Mode = Literal["ecosystem", "lab"]
Summary = Literal["", "table", "line"]

SHARE = "share (0-1)"
RATIO = "ratio to the truth (1 = truth)"
MONEY = "$ / month"
SHARE_FORMAT = "{:.3f}"
COUNT_FORMAT = "{:.0f}"
MONEY_FORMAT = "${:.1f}/month"

QUALITY = "Quality and diversity"
COMPOSITION = "Web composition"
CREATORS = "Creators and money"
COMPANIES = "Companies"
KNOWLEDGE = "Knowledge"


# ---------------------------------------------------------------------------------------------
# Scopes


@dataclass(frozen=True)
class ScopeKind:
    """A kind of scope: ``web``, or ``company`` for every ``company:<name>`` (``named``).

    ``label`` names it in legends; a named scope's label is followed by its name
    (``model alpha``).
    """

    name: str
    mode: Mode
    label: str
    meaning: str
    named: bool = False
    flow: bool = False
    """Its series count one month's content, and its step 0 holds the initial stock instead
    (figures leave that step out)."""

    @property
    def pattern(self) -> str:
        """How its scopes are matched in figures: ``web`` or ``company:*``."""
        return f"{self.name}:*" if self.named else self.name


SCOPE_KINDS: tuple[ScopeKind, ...] = (
    ScopeKind("web", "ecosystem", "whole web", "the live pages"),
    ScopeKind("web_new", "ecosystem", "new pages", "the pages published that month", flow=True),
    ScopeKind(
        "company",
        "ecosystem",
        "model",
        "a fixed-size sample of the company's current model, drawn with its sampling bias "
        "(what it publishes); the generation column is its model generation",
        named=True,
    ),
    ScopeKind(
        "training",
        "ecosystem",
        "training set",
        "the company's last training set and the crawl it came from",
        named=True,
    ),
    ScopeKind("creators", "ecosystem", "creators", "the human creators and their income"),
    ScopeKind("attention", "ecosystem", "readers", "readers' questions, answers and visits"),
    ScopeKind("models", "ecosystem", "all models", "the companies' current models, compared"),
    ScopeKind("model", "lab", "model", "a sample of the model, drawn with the loop's bias"),
    ScopeKind("training", "lab", "training set", "the training set of the generation"),
)
"""Every kind of scope, ecosystem mode first."""

_SCOPE_KINDS = {(kind.name, kind.named): kind for kind in SCOPE_KINDS}
_KINDS_OF_MODE = {(kind.mode, kind.name): kind for kind in SCOPE_KINDS}


def scope_kind(scope: str) -> ScopeKind:
    """The kind of a written scope: ``company:alpha`` -> the ``company`` kind; ``training``
    (no name) is the lab's training set."""
    name, _, owner = scope.partition(":")
    try:
        return _SCOPE_KINDS[(name, bool(owner))]
    except KeyError:
        known = ", ".join(kind.pattern.replace("*", "<name>") for kind in SCOPE_KINDS)
        raise KeyError(f"unknown scope {scope!r}; scopes are {known}") from None


def scope_label(scope: str) -> str:
    """A legend name for a scope: ``whole web``, ``new pages``, ``model alpha``, ...; an unknown
    scope is named as written."""
    try:
        kind = scope_kind(scope)
    except KeyError:
        return scope
    return f"{kind.label} {scope.partition(':')[2]}" if kind.named else kind.label


# ---------------------------------------------------------------------------------------------
# Series


@dataclass(frozen=True)
class Series:
    """One series a run writes: ``metric`` of every scope of kind ``scope`` in ``mode``.

    ``unit`` labels axes; ``format`` prints one value (``str.format``); ``group`` is the
    results tab it belongs to; ``key`` marks a key outcome (compared across scenarios and
    summarised in reports); ``summary`` puts it in ``ecosystem run``'s final ``table`` (one
    column per metric) or ``line``; ``world`` is the content world whose metric it is (None:
    every world writes it).
    """

    mode: Mode
    scope: str
    metric: str
    label: str
    unit: str
    group: str
    meaning: str
    format: str = SHARE_FORMAT
    key: bool = False
    summary: Summary = ""
    world: str | None = None

    @property
    def kind(self) -> ScopeKind:
        """Its scope kind."""
        return _KINDS_OF_MODE[(self.mode, self.scope)]

    @property
    def better(self) -> str:
        """Which way is better for the web: ``higher``, ``lower`` or ``""`` (neither)."""
        return BETTER.get(self.metric, "")

    @property
    def scope_name(self) -> str:
        """The written scope of an unnamed kind (``web``), the pattern of a named one
        (``company:*``)."""
        return self.kind.pattern


@dataclass(frozen=True)
class ContentMetric:
    """A metric a content world computes on every sample of content (pages, a model's
    samples, a training set); ``key`` makes it a key outcome of the headline samples (the
    whole web, the lab's model) and ``summary`` a column of the run summary."""

    name: str
    label: str
    unit: str
    meaning: str
    format: str = SHARE_FORMAT
    key: bool = False
    summary: bool = False


VECTOR_METRICS: tuple[ContentMetric, ...] = (
    ContentMetric(
        "precision",
        "precision",
        SHARE,
        "share of the sample inside some real k-NN ball: fidelity, the quality of the content",
        key=True,
        summary=True,
    ),
    ContentMetric(
        "recall",
        "recall",
        SHARE,
        "share of real points inside some k-NN ball of the sample: the diversity kept",
        key=True,
        summary=True,
    ),
    ContentMetric(
        "density",
        "density",
        "density (1 = truth)",
        "mean number of real k-NN balls holding a sample point, over k (1 when they match)",
    ),
    ContentMetric(
        "coverage",
        "coverage",
        SHARE,
        "share of real k-NN balls holding at least one sample point",
        key=True,
        summary=True,
    ),
    ContentMetric(
        "frechet",
        "Fréchet distance",
        "Fréchet distance",
        "distance between Gaussian fits of the sample and of the truth (0 = same moments)",
        summary=True,
    ),
    ContentMetric(
        "log_likelihood",
        "log-likelihood",
        "log-likelihood (nats / item)",
        "mean log-density of the sample under the ground truth",
    ),
    ContentMetric(
        "topic_coverage",
        "topic coverage",
        SHARE,
        "share of the truth's topics holding at least a minimum fraction of their true mass",
    ),
    ContentMetric(
        "tail_mass_ratio",
        "tail mass ratio",
        RATIO,
        "the sample's mass on the tail topics over the truth's (1 = tails intact, 0 = gone)",
        key=True,
        summary=True,
    ),
    ContentMetric(
        "topic_entropy",
        "topic entropy",
        "normalised entropy (0-1)",
        "entropy of the topic histogram over log(topics): 1 = uniform, 0 = one topic",
    ),
)
"""The vector world's content metrics, in the order :func:`ecosystem.measure.metrics.evaluate`
returns them."""

SAMPLED_SCOPES: tuple[tuple[Mode, str], ...] = (
    ("ecosystem", "web"),
    ("ecosystem", "web_new"),
    ("ecosystem", "company"),
    ("ecosystem", "training"),
    ("lab", "model"),
    ("lab", "training"),
)
"""The scopes that hold a sample of content, measured with every content metric."""

KEY_SAMPLES = {("ecosystem", "web"), ("lab", "model")}
"""Where a key content metric is a key outcome."""


def content_series(world: str, metrics: Sequence[ContentMetric]) -> tuple[Series, ...]:
    """The series of a content world's ``metrics`` on every sampled scope, all in the quality
    group."""
    return tuple(
        Series(
            mode,
            scope,
            metric.name,
            metric.label,
            metric.unit,
            QUALITY,
            metric.meaning,
            metric.format,
            key=metric.key and (mode, scope) in KEY_SAMPLES,
            summary="table" if metric.summary else "",
            world=world,
        )
        for mode, scope in SAMPLED_SCOPES
        for metric in metrics
    )


@dataclass(frozen=True)
class _Spec:
    """One series of a scope, before its mode, scope and group are added."""

    metric: str
    label: str
    unit: str
    meaning: str
    format: str = SHARE_FORMAT
    key: bool = False
    summary: Summary = ""
    group: str = ""
    """Its explorer tab, when not its scope's."""


_spec = _Spec
"""Short name for the declarations below."""


def _scope_series(mode: Mode, scope: str, group: str, specs: Iterable[_Spec]) -> list[Series]:
    """The series of one scope, in ``group`` (a series may name its own)."""
    return [
        Series(
            mode,
            scope,
            spec.metric,
            spec.label,
            spec.unit,
            spec.group or group,
            spec.meaning,
            spec.format,
            key=spec.key,
            summary=spec.summary,
        )
        for spec in specs
    ]


def _page_shares(scope: str) -> list[Series]:
    """The provenance shares measured over all pages of ``web`` or ``web_new``."""
    return _scope_series(
        "ecosystem",
        scope,
        COMPOSITION,
        (
            _spec(
                "synthetic_share",
                "synthetic share",
                SHARE,
                "true share of pages written by AI or with AI assistance",
                key=scope == "web",
                summary="table",
            ),
            _spec("detected_share", "detected share", SHARE, "share the AI-content detector flags"),
            _spec("ai_share", "AI share", SHARE, "true share of pages written by AI"),
            _spec(
                "ai_assisted_share", "AI-assisted share", SHARE, "share written with AI assistance"
            ),
            _spec("certified_share", "certified share", SHARE, "share certified as human-made"),
            _spec(
                "watermarked_share", "watermarked share", SHARE, "share carrying an AI watermark"
            ),
            _spec(
                "opt_out_share", "opt-out share", SHARE, "share whose site opts out of AI crawls"
            ),
        ),
    )


_SHARED = {metric.name: metric for metric in VECTOR_METRICS}

TEXT_METRICS: tuple[ContentMetric, ...] = (
    ContentMetric(
        "word_log_likelihood",
        "log-likelihood per word",
        "log-likelihood (nats / word)",
        "the sample's log-likelihood under the true language over its number of words: quality",
        key=True,
        summary=True,
    ),
    ContentMetric(
        "perplexity",
        "perplexity",
        "perplexity (words)",
        "the model's per-word perplexity on the held-out human documents (infinite when it "
        "gives a human word no probability): diversity; NaN for samples that are not a model's",
        summary=True,
    ),
    ContentMetric(
        "vocabulary_coverage",
        "vocabulary coverage",
        SHARE,
        "share of the words holding at least a minimum fraction of their true share",
        key=True,
        summary=True,
    ),
    ContentMetric(
        "tail_word_mass_ratio",
        "tail word mass ratio",
        RATIO,
        "the sample's share of rare words over the truth's (1 = intact, 0 = gone)",
        key=True,
        summary=True,
    ),
    ContentMetric(
        "distinct_words",
        "distinct words",
        "words",
        "number of different words in the sample",
        COUNT_FORMAT,
    ),
    ContentMetric("distinct_2", "distinct-2", SHARE, "distinct word pairs over all word pairs"),
    ContentMetric("distinct_3", "distinct-3", SHARE, "distinct word triples over all word triples"),
    ContentMetric(
        "unigram_divergence",
        "unigram divergence",
        "Jensen-Shannon divergence (nats)",
        "divergence of the sample's word shares from the truth's (0 = the same)",
    ),
    *(
        ContentMetric(
            name,
            _SHARED[name].label,
            _SHARED[name].unit,
            _SHARED[name].meaning + " (bag-of-words embedding)",
            key=name == "recall",
        )
        for name in ("precision", "recall", "density", "coverage")
    ),
    *(_SHARED[name] for name in ("topic_coverage", "tail_mass_ratio", "topic_entropy")),
)
"""The text world's content metrics, in the order
:meth:`ecosystem.world.text.TextWorld.evaluate` returns them."""

DIGIT_METRICS: tuple[ContentMetric, ...] = (
    *(
        ContentMetric(
            name,
            _SHARED[name].label,
            _SHARED[name].unit,
            _SHARED[name].meaning + " (features of the digit classifier)",
            _SHARED[name].format,
            key=_SHARED[name].key,
            summary=_SHARED[name].summary,
        )
        for name in ("precision", "recall", "density", "coverage", "frechet")
    ),
    *(_SHARED[name] for name in ("topic_coverage", "tail_mass_ratio", "topic_entropy")),
)
"""The digits world's content metrics, in the order
:meth:`ecosystem.world.digits.DigitsWorld.evaluate` returns them. There is no
``log_likelihood``: real images have no known density (the topics are the classifier's
digits)."""

CONTENT_METRICS: dict[str, tuple[ContentMetric, ...]] = {
    "vector": VECTOR_METRICS,
    "text": TEXT_METRICS,
    "digits": DIGIT_METRICS,
}
"""Per content world, the metrics it computes on every sample of content."""

SERIES: tuple[Series, ...] = (
    *(
        entry
        for world, metrics in CONTENT_METRICS.items()
        for entry in content_series(world, metrics)
    ),
    *_page_shares("web"),
    *_scope_series(
        "ecosystem",
        "web",
        COMPOSITION,
        (
            _spec("pages_alive", "pages alive", "pages", "number of live pages", COUNT_FORMAT),
            _spec(
                "mean_in_degree",
                "mean in-degree",
                "links / page",
                "mean number of links into a live page",
            ),
            _spec(
                "tail_human_topics",
                "tail topics with human pages",
                SHARE,
                "share of the tail topics that still have a live human page",
                group=KNOWLEDGE,
            ),
            _spec(
                "tail_human_age",
                "age of the newest human tail page",
                "months",
                "months since the newest live human page of a tail topic was written (mean "
                "over the tail topics that have one)",
                "{:.1f}",
                group=KNOWLEDGE,
            ),
        ),
    ),
    *_page_shares("web_new"),
    *_scope_series(
        "ecosystem",
        "web_new",
        COMPOSITION,
        (
            _spec(
                "pages_new",
                "pages new",
                "pages / month",
                "pages published that month",
                COUNT_FORMAT,
            ),
        ),
    ),
    *_scope_series(
        "ecosystem",
        "company",
        COMPANIES,
        (
            _spec("generation", "generation", "generation", "its model's generation", COUNT_FORMAT),
            _spec(
                "pages_published",
                "pages published",
                "pages / month",
                "pages the company's model published that month",
                COUNT_FORMAT,
            ),
            _spec("answers", "answers", "answers / month", "AI answers to readers' questions"),
            _spec(
                "revenue",
                "revenue",
                MONEY,
                "what its answers and the visits to its pages earned that month",
                MONEY_FORMAT,
            ),
            _spec(
                "licensing_paid",
                "licensing paid",
                "$ (cumulative)",
                "licensing fees paid to creators so far",
            ),
            _spec(
                "answer_fidelity",
                "answer fidelity",
                "fidelity (0-1)",
                "mean over topics of how well its model covers each topic, capped at 1",
            ),
            _spec(
                "referrals",
                "AI referrals",
                "visits / month",
                "visits the links in its answers sent to pages, smoothed over a year",
                COUNT_FORMAT,
            ),
            _spec(
                "crawl_to_referral",
                "crawls per referral",
                "crawls / referral",
                "its crawler's requests per visit its answers referred (both smoothed over a year)",
                COUNT_FORMAT,
            ),
        ),
    ),
    *_scope_series(
        "ecosystem",
        "training",
        COMPANIES,
        (
            _spec(
                "synthetic_share",
                "synthetic share",
                SHARE,
                "true share of the training set written by AI or with AI assistance",
                summary="table",
            ),
            _spec("certified_share", "certified share", SHARE, "share certified as human-made"),
            _spec("size", "size", "items", "number of items in the training set", COUNT_FORMAT),
            _spec("crawled", "crawled", "pages", "pages the crawl fetched", COUNT_FORMAT),
            _spec(
                "crawl_synthetic_share",
                "crawl synthetic share",
                SHARE,
                "true share of the crawl written by AI or with AI assistance",
            ),
            _spec(
                "crawl_detected_share",
                "crawl detected share",
                SHARE,
                "share of the crawl the detector flags",
            ),
            _spec(
                "dropped_detected",
                "dropped as detected",
                "pages",
                "crawled pages dropped because the detector flagged them",
                COUNT_FORMAT,
            ),
            _spec(
                "dropped_marked",
                "dropped as watermarked",
                "pages",
                "crawled pages dropped because they carry a watermark",
                COUNT_FORMAT,
            ),
        ),
    ),
    *_scope_series(
        "ecosystem",
        "creators",
        CREATORS,
        (
            _spec(
                "active",
                "creators active",
                "creators",
                "number of active human creators",
                COUNT_FORMAT,
                key=True,
                summary="line",
            ),
            _spec("entries", "entries", "creators / month", "creators who entered", COUNT_FORMAT),
            _spec("quits", "quits", "creators / month", "creators who quit", COUNT_FORMAT),
            _spec(
                "niche_active",
                "niche creators active",
                "creators",
                "active creators all of whose topics lie in the tail",
                COUNT_FORMAT,
            ),
            _spec(
                "pages_published",
                "pages published",
                "pages / month",
                "pages the creators published that month",
                COUNT_FORMAT,
            ),
            _spec(
                "ai_assisted_share",
                "AI-assisted share",
                SHARE,
                "share of their new pages written with AI assistance",
            ),
            _spec(
                "income_mean",
                "mean income",
                MONEY,
                "mean income of the active creators",
                MONEY_FORMAT,
                summary="line",
            ),
            _spec(
                "income_median",
                "median income",
                MONEY,
                "median income of the active creators",
                MONEY_FORMAT,
            ),
            _spec(
                "income_gini",
                "income Gini",
                "Gini coefficient (0-1)",
                "Gini coefficient of the active creators' incomes",
                key=True,
                summary="line",
            ),
            _spec(
                "licensing_income_mean",
                "mean licensing income",
                MONEY,
                "mean licensing income of the active creators",
                MONEY_FORMAT,
            ),
            _spec(
                "opt_out_share",
                "opt-out share",
                SHARE,
                "share of active creators opting out of AI crawls",
                summary="line",
            ),
            _spec(
                "opt_out_share_top",
                "opt-out share (top 10%)",
                SHARE,
                "the same among the top 10% of active creators by income",
            ),
            _spec(
                "crawl_to_referral_median",
                "median crawls per referral",
                "crawls / referral",
                "median over active creators of AI crawler requests per AI referral",
            ),
        ),
    ),
    *_scope_series(
        "ecosystem",
        "attention",
        CREATORS,
        (
            _spec(
                "questions",
                "questions",
                "questions / month",
                "readers' searches and chat questions",
                COUNT_FORMAT,
            ),
            _spec(
                "chat_share", "chat share", SHARE, "share of questions asked to a chat assistant"
            ),
            _spec(
                "ai_answer_share",
                "AI answer share",
                SHARE,
                "share of searches shown an AI answer",
            ),
            _spec(
                "click_through",
                "click-through",
                SHARE,
                "clicks per search without an AI answer",
            ),
            _spec(
                "click_through_with_answer",
                "click-through with an AI answer",
                SHARE,
                "clicks per search that showed an AI answer",
            ),
            _spec(
                "click_through_ratio",
                "click-through with/without AI answer",
                "ratio (with / without AI answer)",
                "click-through with an AI answer over click-through without one",
                summary="line",
            ),
            _spec("visits", "visits", "visits / month", "readers' visits to pages", COUNT_FORMAT),
            _spec(
                "ai_referrals",
                "AI referrals",
                "visits / month",
                "visits that came from AI answers",
                COUNT_FORMAT,
            ),
            _spec(
                "crawl_to_referral",
                "crawls per referral",
                "crawls / referral",
                "AI crawler requests per AI referral",
            ),
            _spec(
                "ai_share_of_search_clicks",
                "AI share of search clicks",
                SHARE,
                "share of the clicks on search results that land on AI-written pages (AI or "
                "AI-assisted)",
            ),
            _spec(
                "ai_share_of_citations",
                "AI share of AI answers' links",
                SHARE,
                "share of the visits referred by AI answers that land on AI-written pages",
            ),
            _spec(
                "creator_search_visits",
                "creators' search visits",
                "visits / month",
                "clicks on search results that land on human creators' pages",
                COUNT_FORMAT,
            ),
            _spec(
                "zero_click_share",
                "zero-click share",
                SHARE,
                "share of searches after which no result is clicked",
            ),
            _spec(
                "session_end",
                "sessions ended (no AI answer)",
                SHARE,
                "share of searches without an AI answer after which the reader stops",
            ),
            _spec(
                "session_end_with_answer",
                "sessions ended (AI answer)",
                SHARE,
                "the same after a search that showed an AI answer: also the readers the answer "
                "kept from clicking",
            ),
            _spec(
                "belief_distance",
                "readers' belief: distance from the truth",
                "Hellinger distance (0-1)",
                "Hellinger distance of readers' belief about the topics from the truth",
                "{:.4f}",
                key=True,
                group=KNOWLEDGE,
            ),
            _spec(
                "belief_tail_mass_ratio",
                "readers' belief: tail mass ratio",
                RATIO,
                "the belief's mass on the tail topics over the truth's",
                group=KNOWLEDGE,
            ),
        ),
    ),
    *_scope_series(
        "ecosystem",
        "models",
        KNOWLEDGE,
        (
            _spec(
                "topic_overlap",
                "topic overlap of the models",
                SHARE,
                "1 - total variation distance of two companies' topic shares, mean over pairs "
                "(1: alike)",
                key=True,
            ),
            _spec(
                "model_distance",
                "distance between the models",
                "Hellinger distance (0-1)",
                "Hellinger distance of two companies' topic shares, mean over pairs (0: alike)",
                "{:.4f}",
            ),
            _spec(
                "effective_topics_web",
                "effective topics: web",
                "topics",
                "exp of the entropy of the live pages' topic shares",
                "{:.2f}",
            ),
            _spec(
                "effective_topics_human",
                "effective topics: human pages",
                "topics",
                "the same for the live human pages",
                "{:.2f}",
            ),
            _spec(
                "effective_topics_models",
                "effective topics: models",
                "topics",
                "the same for the companies' models, mean over companies",
                "{:.2f}",
            ),
        ),
    ),
    *_scope_series(
        "lab",
        "training",
        QUALITY,
        (
            _spec(
                "synthetic_share",
                "synthetic share",
                SHARE,
                "share of the training set sampled from earlier models",
                key=True,
                summary="table",
            ),
            _spec("size", "size", "items", "number of items in the training set", COUNT_FORMAT),
        ),
    ),
)
"""Every series: the content metrics of every world on every sampled scope, then the rest,
in the order tables and comparisons list them."""

_LOOKUP: dict[tuple[str, str, str], list[Series]] = {}
for _entry in SERIES:
    _LOOKUP.setdefault((_entry.kind.pattern, _entry.mode, _entry.metric), []).append(_entry)


def lookup(scope: str, metric: str, world: str | None = None) -> Series:
    """The series ``metric`` of a written scope (``web``, ``company:alpha``, ``training``), of
    content world ``world`` where two worlds share a metric name (None: the first)."""
    kind = scope_kind(scope)
    found = [
        entry
        for entry in _LOOKUP.get((kind.pattern, kind.mode, metric), ())
        if world is None or entry.world in (None, world)
    ]
    if not found:
        known = ", ".join(dict.fromkeys(e.metric for e in SERIES if e.kind == kind))
        raise KeyError(f"{scope!r} has no series {metric!r}; it has {known}")
    return found[0]


def series(mode: Mode | None = None, world: str | None = None) -> tuple[Series, ...]:
    """The series of ``mode`` (None: both) written by runs of content world ``world`` (None:
    every world)."""
    return tuple(
        entry
        for entry in SERIES
        if (mode is None or entry.mode == mode)
        and (world is None or entry.world is None or entry.world == world)
    )


BETTER: dict[str, Literal["higher", "lower"]] = {
    **dict.fromkeys(
        (
            "precision",
            "recall",
            "coverage",
            "log_likelihood",
            "topic_coverage",
            "tail_mass_ratio",
            "topic_entropy",
            "word_log_likelihood",
            "vocabulary_coverage",
            "tail_word_mass_ratio",
            "distinct_words",
            "distinct_2",
            "distinct_3",
            "active",
            "entries",
            "niche_active",
            "income_mean",
            "income_median",
            "licensing_income_mean",
            "belief_tail_mass_ratio",
            "effective_topics_web",
            "effective_topics_human",
            "effective_topics_models",
            "tail_human_topics",
            "creator_search_visits",
            "answer_fidelity",
            "certified_share",
            "model_distance",
        ),
        "higher",
    ),
    **dict.fromkeys(
        (
            "frechet",
            "perplexity",
            "unigram_divergence",
            "synthetic_share",
            "ai_share",
            "quits",
            "income_gini",
            "belief_distance",
            "topic_overlap",
            "zero_click_share",
            "crawl_synthetic_share",
            "crawl_to_referral",
            "crawl_to_referral_median",
        ),
        "lower",
    ),
}
"""Which way each metric is better for the open web, in every scope that has it: quality,
diversity, human income and readers' knowledge up; synthetic share, inequality and
homogenisation down. Metrics not named here (sizes, flows of readers) have no better side."""


def better(metric: str) -> str:
    """``higher``, ``lower`` or ``""``: which way ``metric`` is better (:data:`BETTER`)."""
    return BETTER.get(metric, "")


def metric_title(metric: str) -> str:
    """The catalogue's label of a metric name (the first series that has it), e.g.
    ``income Gini``; an unknown metric is named by itself, readable."""
    return _TITLES.get(metric, metric.replace("_", " "))


def series_title(scope: str, metric: str) -> str:
    """A series in words: ``whole web: recall``, ``creators: income Gini`` (the metric's title
    alone for an empty scope)."""
    name = metric_title(metric)
    return f"{scope_label(scope)}: {name}" if scope else name


def in_group(group: str, mode: Mode | None = None) -> tuple[Series, ...]:
    """The series of one group (a results tab), e.g. ``Companies``."""
    return tuple(entry for entry in series(mode) if entry.group == group)


def unit(metric: str) -> str | None:
    """The unit of a metric name (the same in every scope that has it); None if unknown."""
    return _UNITS.get(metric)


_UNITS = {entry.metric: entry.unit for entry in SERIES}
_TITLES: dict[str, str] = {}
for _entry in SERIES:
    _TITLES.setdefault(_entry.metric, _entry.label)


def key_outcomes(mode: Mode | None = None, world: str | None = None) -> tuple[tuple[str, str], ...]:
    """The key outcomes ``(scope, metric)`` of ``mode`` (None: ecosystem, then lab), in order,
    of content world ``world`` (None: of every world; readers keep those a table holds)."""
    if mode is None:
        return key_outcomes("ecosystem", world) + key_outcomes("lab", world)
    keys = ((entry.scope, entry.metric) for entry in series(mode, world) if entry.key)
    return tuple(dict.fromkeys(keys))


def summary_columns(world: str | None = None) -> tuple[str, ...]:
    """The metrics of the table ``ecosystem run`` prints at the end (one row per scope), of
    content world ``world`` (None: every world's; the table keeps those a run wrote)."""
    return tuple(
        dict.fromkeys(
            e.metric
            for e in SERIES
            if e.summary == "table" and (world is None or e.world in (None, world))
        )
    )


def summary_line() -> tuple[Series, ...]:
    """The series of the line ``ecosystem run`` prints under its table (ecosystem runs)."""
    return tuple(entry for entry in SERIES if entry.summary == "line")


def content_metric_names(world: str) -> tuple[str, ...]:
    """The content metrics of a world, in the order its measurement returns them."""
    return tuple(metric.name for metric in CONTENT_METRICS[world])


# ---------------------------------------------------------------------------------------------
# Results tabs


@dataclass(frozen=True)
class Figure:
    """A figure of one results tab: ``metrics`` of ``scopes`` (``company:*`` and
    ``training:*`` take every company), one panel per metric and one line per scope."""

    title: str
    scopes: tuple[str, ...]
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class Tab:
    """A results tab: the note shown above it, its figures and the company metrics drawn per
    model generation (``by_generation``)."""

    name: str
    note: str
    figures: tuple[Figure, ...]
    by_generation: tuple[str, ...] = ()
    lab_note: str = ""
    """The note for lab runs (one model retrained on its own samples); empty: the tab does not
    apply to the lab loop."""


RESULT_TABS: tuple[Tab, ...] = (
    Tab(
        QUALITY,
        "**Precision** is the share of content that looks like real human culture (quality); "
        "**recall** the share of human culture that the content still covers (diversity); "
        "**coverage** the share of real samples with generated content nearby; the **Fréchet "
        "distance** (lower is closer) and the **tail mass ratio** (1 = the rare topics keep "
        "their real weight) show where the losses are. Lines: the whole web, the pages "
        "published that month and each company's current model.",
        (
            Figure(
                "The whole web, the month's new pages and each company's model",
                ("web", "web_new", "company:*"),
                ("precision", "recall", "coverage", "frechet", "tail_mass_ratio", "topic_coverage"),
            ),
            Figure(
                "The model and its training set",
                ("model", "training"),
                ("precision", "recall", "coverage", "tail_mass_ratio"),
            ),
        ),
        lab_note="One model retrained, generation after generation, on a training set of its own "
        "samples (and of fresh real data, as the scenario says). **Precision** is the share of "
        "the model's samples that look like the real data (quality); **recall** the share of "
        "the real data its samples still cover (diversity); the **tail mass ratio** (1 = the "
        "rare topics keep their real weight) shows the tails vanish first. Lines: the model "
        "and its training set.",
    ),
    Tab(
        COMPOSITION,
        "The **synthetic share** is the true share of AI-written pages (AI and AI-assisted); "
        "the **detected share** is what the AI-content detector reports for the same pages.",
        (
            Figure(
                "Who writes the web: true and detector-measured shares",
                ("web", "web_new"),
                ("synthetic_share", "detected_share", "ai_assisted_share"),
            ),
            Figure(
                "Size, links and opt-out",
                ("web",),
                ("pages_alive", "mean_in_degree", "opt_out_share"),
            ),
            Figure(
                "New pages: volume and provenance marks",
                ("web_new",),
                ("pages_new", "certified_share", "watermarked_share"),
            ),
        ),
    ),
    Tab(
        CREATORS,
        "Creators earn from readers' visits (and licensing fees); they quit after months below "
        "their costs, enter when incomes rise, adopt AI assistants and opt out of crawls.",
        (
            Figure(
                "Human creators: active, entering, quitting",
                ("creators",),
                ("active", "entries", "quits", "niche_active"),
            ),
            Figure(
                "Creator income", ("creators",), ("income_mean", "income_median", "income_gini")
            ),
            Figure(
                "Opting out of AI crawls and licensing",
                ("creators",),
                ("opt_out_share", "opt_out_share_top", "licensing_income_mean"),
            ),
            Figure(
                "Readers: visits, click-through and crawling",
                ("attention",),
                ("visits", "click_through_ratio", "crawl_to_referral"),
            ),
            Figure(
                "Search and AI answers: where readers go",
                ("attention",),
                (
                    "ai_share_of_search_clicks",
                    "ai_share_of_citations",
                    "creator_search_visits",
                    "zero_click_share",
                    "session_end_with_answer",
                ),
            ),
        ),
    ),
    Tab(
        COMPANIES,
        "Each company retrains its model on what it crawls. Above: each model's quality and "
        "diversity by generation; below: what its training sets were made of.",
        (
            Figure(
                "Training sets: what each company trained on",
                ("training:*",),
                ("synthetic_share", "certified_share", "size"),
            ),
            Figure(
                "Crawls and filtering",
                ("training:*",),
                ("crawl_synthetic_share", "dropped_detected", "dropped_marked"),
            ),
            Figure(
                "Answers to readers and revenue",
                ("company:*",),
                ("answers", "revenue", "answer_fidelity"),
            ),
            Figure(
                "Crawling against referring, per company",
                ("company:*",),
                ("referrals", "crawl_to_referral"),
            ),
        ),
        by_generation=("precision", "recall", "coverage", "tail_mass_ratio"),
    ),
    Tab(
        KNOWLEDGE,
        "Do the companies' models grow alike, do readers drift from the truth, and how much "
        "human writing is left in the tail? The **topic overlap** is 1 when two models spread "
        "over the topics alike; the readers' **belief** starts at the truth and moves toward "
        "what they read (pages and AI answers).",
        (
            Figure(
                "Homogenisation: the models against one another and the web against its sources",
                ("models",),
                (
                    "topic_overlap",
                    "effective_topics_web",
                    "effective_topics_human",
                    "effective_topics_models",
                ),
            ),
            Figure(
                "Knowledge collapse: readers' belief about the topics",
                ("attention",),
                ("belief_distance", "belief_tail_mass_ratio"),
            ),
            Figure(
                "The human stock of the tail",
                ("web",),
                ("tail_human_topics", "tail_human_age"),
            ),
        ),
    ),
)
"""The explorer's results tabs, in order; every series belongs to one of them (its group)."""

TAB_NOTES = {entry.name: entry.note for entry in RESULT_TABS}
"""The sentence shown above each results tab."""


def tab(name: str) -> Tab:
    """The results tab called ``name``."""
    for entry in RESULT_TABS:
        if entry.name == name:
            return entry
    raise KeyError(f"no results tab {name!r}; tabs are {', '.join(TAB_NOTES)}")
