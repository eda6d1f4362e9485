"""Scenarios: everything that defines a run, as a validated pydantic schema.

Core objects: :class:`Scenario` (a pydantic model whose every field has a type,
a range, a unit where one applies and a one-line description: the CLI, the
docs and the app are generated from it) and its sections, :func:`scenario_hash`
(the content hash of a resolved scenario) and :func:`value_at` (the value at a
dotted path). Loading from TOML is in :mod:`ecosystem.scenario.loading`, the field
reference in :mod:`ecosystem.scenario.description`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

import models
from ecosystem.scenario.fields import Section, ShareSchedule, setting
from ecosystem.world.crawl import CRAWLERS, crawler_parameters, make_crawler
from ecosystem.world.levers.registry import settings_model
from ecosystem.world.simulations import SIMULATIONS
from ecosystem.world.worlds import WORLDS, world_class
from models.devices import Device

__all__ = [
    "ArchiveSettings",
    "AttentionSettings",
    "CompanySettings",
    "CrawlerSettings",
    "CreatorSettings",
    "CultureSettings",
    "DigitsSettings",
    "LabSettings",
    "MetricSettings",
    "ModelSettings",
    "PolicySettings",
    "Scenario",
    "TextSettings",
    "WebSettings",
    "flatten_settings",
    "scenario_hash",
    "value_at",
]


class CultureSettings(Section):
    """The ground truth of the vector world: what human content looks like."""

    topics: int = setting(
        50, "Number of topics (mixture components) of human content", ge=2, le=1000
    )
    dim: int = setting(16, "Dimension of the content embedding space", ge=1, le=256)
    zipf: float = setting(
        1.1, "Zipf exponent of topic popularity (larger: heavier head)", ge=0.0, le=4.0
    )
    separation: float = setting(
        3.0, "Spread of topic centres (sd of their positions)", gt=0.0, le=100.0
    )
    spread: float = setting(1.0, "Typical within-topic standard deviation", gt=0.0, le=100.0)
    tail_threshold: float = setting(
        0.8, "Mass held by the head topics; the topics beyond it are the tail", gt=0.0, lt=1.0
    )
    reference_size: int = setting(
        5000,
        "Size of the held-out human reference sample for metrics",
        unit="items",
        ge=100,
        le=100_000,
    )


class TextSettings(Section):
    """The ground truth of the text world: a language of topics over a Zipf vocabulary."""

    topics: int = setting(50, "Number of topics of human documents", ge=1, le=1000)
    vocab: int = setting(
        2000, "Number of words (English words by frequency, or synthetic)", ge=2, le=100_000
    )
    zipf: float = setting(1.1, "Zipf exponent of topic popularity", ge=0.0, le=4.0)
    word_zipf: float = setting(
        1.0, "Zipf exponent of word frequency by rank (larger: rarer rare words)", ge=0.0, le=4.0
    )
    preferred: float = setting(
        0.05, "Share of the words each topic prefers (drawn at random)", gt=0.0, le=1.0
    )
    boost: float = setting(
        20.0, "How much more often a topic uses its preferred words", ge=1.0, le=1e6
    )
    cluster_size: int = setting(
        20, "Words per collocation cluster of the word chains", ge=1, le=100_000
    )
    stickiness: float = setting(
        0.5,
        "Probability that the next word comes from the previous word's cluster",
        ge=0.0,
        lt=1.0,
    )
    mean_length: float = setting(
        50.0, "Mean words per document (1 + Poisson)", unit="words", ge=1.0, le=10_000.0
    )
    words: Literal["english", "synthetic"] = setting(
        "english", "Word labels: English words by frequency (wordfreq) or synthetic syllables"
    )
    tail_threshold: float = setting(
        0.8, "Mass held by the head topics and words; the rest is the tail", gt=0.0, lt=1.0
    )
    reference_size: int = setting(
        1000,
        "Held-out human documents for perplexity and the k-NN metrics",
        unit="documents",
        ge=100,
        le=100_000,
    )
    embedding_dim: int = setting(
        16, "Dimension of the fixed bag-of-words embedding of the k-NN metrics", ge=1, le=256
    )


class DigitsSettings(Section):
    """The ground truth of the digits world: real 8x8 images of handwritten digits."""

    zipf: float = setting(
        1.1,
        "Zipf exponent of digit popularity (digit 0 the most popular, 9 the rarest)",
        ge=0.0,
        le=4.0,
    )
    tail_threshold: float = setting(
        0.8, "Mass held by the head digits; the digits beyond it are the tail", gt=0.0, lt=1.0
    )
    held_out: float = setting(
        0.3,
        "Share of each digit's images held out: the classifier's test and the metrics' "
        "reference; human pages are drawn from the rest",
        gt=0.0,
        lt=1.0,
    )
    augment: bool = setting(
        True, "Translate each drawn image by up to one pixel (distinct pages from 1,797 images)"
    )
    classifier_epochs: int = setting(
        30, "Training passes of the feature classifier (trained once, then cached)", ge=1, le=1000
    )
    classifier_seed: int = setting(
        0,
        "Seed of the split and of the feature classifier (fixed whatever the run's seed, so "
        "every run shares one feature space)",
        ge=0,
    )


MODEL_PARAMETER_ERROR = "model_parameter"
"""The type of a validation error in a model's parameters; its context names the parameter."""


class ModelSettings(Section):
    """The generative model: a name from the registry and its parameters."""

    name: str = setting("gmm", "Generative model, one of models.available()")
    params: dict[str, int | float | str | bool] = setting(
        {},
        "Parameters passed to the model's constructor, checked against the parameters the "
        "model declares (see Model parameters)",
    )

    @field_validator("name")
    @classmethod
    def _known_model(cls, name: str) -> str:
        if name not in models.available():
            raise ValueError(_unknown("model", name, models.available()))
        return name

    @field_validator("params")
    @classmethod
    def _known_params(cls, params: dict, info) -> dict:
        name = info.data.get("name")
        if name is not None:
            try:
                models.validate_params(name, params)
            except models.ParameterError as exc:  # the location goes on to the parameter
                raise PydanticCustomError(
                    MODEL_PARAMETER_ERROR,
                    "{parameter}: {reason}",
                    {"parameter": exc.parameter, "reason": exc.reason},
                ) from None
        return params


def _crawler_table(value: Any) -> Any:
    """A crawler given by name alone (``crawler = "links"``) as its table."""
    return {"name": value} if isinstance(value, str) else value


class CrawlerSettings(Section):
    """A company's crawler: a name from the crawler registry and its parameters (written
    as the name alone when it has none)."""

    name: Literal[CRAWLERS] = setting(  # type: ignore[valid-type]
        "links",
        "Crawl strategy, a name from the crawler registry (ecosystem.world.crawl.CRAWLERS): "
        "uniform over live pages, highest in-degree first, or following links",
    )
    params: dict[str, int | float | str | bool] = setting(
        {},
        "Parameters passed to the crawler's constructor, checked by name ("
        + "; ".join(f"{n}: {', '.join(crawler_parameters(n)) or 'none'}" for n in CRAWLERS)
        + ")",
    )

    @field_validator("params")
    @classmethod
    def _known_params(cls, params: dict, info) -> dict:
        name = info.data.get("name")
        if name is not None:
            make_crawler(name, **params)
        return params

    @model_serializer(mode="wrap")
    def _name_alone(self, handler) -> Any:
        return handler(self) if self.params else self.name


class LabSettings(Section):
    """The single-model self-consuming loop of the literature (lab mode)."""

    loop: Literal["fully_synthetic", "synthetic_augmentation", "fresh_data"] = setting(
        "fully_synthetic",
        "Which loop: train only on the last model's samples; a fixed real set plus samples; "
        "or fresh real data plus samples each generation",
    )
    n_real: int = setting(
        1000,
        "Real samples: the first generation's data (fully synthetic), the fixed real set "
        "(augmentation) or the fresh real data per generation (fresh data)",
        unit="items",
        ge=0,
        le=10_000_000,
    )
    n_synthetic: int = setting(
        1000,
        "Synthetic samples drawn from the previous model per generation",
        unit="items",
        ge=0,
        le=10_000_000,
    )
    bias: float = setting(
        1.0,
        "Sampling bias lambda: 1 is unbiased; smaller trades diversity for quality",
        ge=0.01,
        le=1.0,
    )
    data: Literal["replace", "accumulate", "accumulate_subsample"] = setting(
        "replace",
        "Training data of a generation: only this generation's data, everything so far, or a "
        "fixed-size subsample of everything so far",
    )


class MetricSettings(Section):
    """How quality and diversity are measured."""

    k: int = setting(5, "Neighbours for precision/recall and density/coverage", ge=1, le=50)
    device: Device = setting(
        "auto",
        "Where the k-NN distances (and the digits world's features) are computed: auto = CUDA "
        "when present, else the CPU; results are reproducible only on the same device",
    )
    samples: int = setting(
        2000,
        "Fixed size of every evaluated sample (cost does not grow with the population; "
        "exact k-NN work grows with its square)",
        unit="items",
        ge=50,
        le=20_000,
    )
    min_topic_fraction: float = setting(
        0.1,
        "A topic is covered when it holds at least this fraction of its true mass",
        gt=0.0,
        le=1.0,
    )
    excerpts: int = setting(
        3,
        "Documents of each scope kept for reading (text world; 0: none)",
        unit="documents",
        ge=0,
        le=100,
    )
    pictures: int = setting(
        16,
        "Pictures of each scope kept to look at (digits world; 0: none)",
        unit="pictures",
        ge=0,
        le=256,
    )
    excerpt_every: int = setting(
        12,
        "Months between kept documents or pictures, besides the first two and the last month "
        "(0: only those); lab runs keep every generation",
        unit="steps",
        ge=0,
        le=100_000,
    )


class WebSettings(Section):
    """The hyperlinked web: its initial size, how pages link and how they age."""

    initial_pages: int = setting(
        20_000,
        "Human pages on the web at step 0 (the pre-AI web)",
        unit="pages",
        ge=0,
        le=100_000_000,
    )
    initial_age: int = setting(
        120,
        "The pages at step 0 were published evenly over this many months before it",
        unit="months",
        ge=0,
        le=10_000,
    )
    links_per_page: float = setting(
        5.0,
        "Mean number of links a new page makes to existing pages",
        unit="links/page",
        ge=0.0,
        le=100.0,
    )
    attachment: float = setting(
        1.0,
        "Preferential attachment exponent: target weight (in-degree + 1)^attachment",
        ge=0.0,
        le=3.0,
    )
    homophily: float = setting(
        0.5, "Probability that a link targets a page of the same topic", ge=0.0, le=1.0
    )
    death_rate: float = setting(
        0.004,
        "Probability per month that a page disappears (link rot)",
        unit="1/month",
        ge=0.0,
        le=1.0,
    )
    traffic_decay: float = setting(
        0.1, "Share of a page's traffic lost per month", unit="1/month", ge=0.0, le=1.0
    )


class CreatorSettings(Section):
    """Human creators: how many, how much and about what they publish."""

    count: int = setting(
        2000, "Active human creators at step 0", unit="creators", ge=0, le=1_000_000
    )
    pages_per_month: float = setting(
        0.4, "Mean publishing rate of a creator", unit="pages/month", ge=0.0, le=1000.0
    )
    rate_spread: float = setting(
        1.0, "Spread of publishing rates across creators (sd of the log-rate)", ge=0.0, le=5.0
    )
    topics_per_creator: int = setting(
        3, "Most topics a creator writes about (each has 1 to this many)", ge=1, le=100
    )
    ai_assisted_share: float = setting(
        0.1,
        "Mean share of a creator's pages written with AI help at step 0, once an assistant exists",
        ge=0.0,
        le=1.0,
    )
    assist_strength: float = setting(
        0.5,
        "How far an AI-assisted page moves from the human draft toward the model's text",
        ge=0.0,
        le=1.0,
    )
    margin: float = setting(
        1.5,
        "Median ratio of a creator's income to its costs at step 0 (every creator then covers "
        "its costs: the excess over 1 is log-normal)",
        ge=1.0,
        le=100.0,
    )
    margin_spread: float = setting(
        0.5, "Spread of that excess across creators (sd of its log)", ge=0.0, le=5.0
    )
    assisted_cost: float = setting(
        0.4, "Cost of an AI-assisted page relative to a fully human one", ge=0.0, le=1.0
    )
    income_memory: float = setting(
        3.0,
        "Time constant of the income a creator weighs its decisions on",
        unit="months",
        gt=0.0,
        le=120.0,
    )
    patience: int = setting(
        6,
        "A creator quits after this many months in a row of income below its costs",
        unit="months",
        ge=1,
        le=1200,
    )
    runway: int = setting(
        24,
        "Months a new creator publishes before it judges its income against its costs",
        unit="months",
        ge=0,
        le=1200,
    )
    attrition: float = setting(
        0.005,
        "Probability per month that a creator stops for reasons outside the model",
        unit="1/month",
        ge=0.0,
        le=1.0,
    )
    entry_rate: float = setting(
        0.01,
        "New creators per active creator per month when income per creator is at its step-0 level",
        unit="1/month",
        ge=0.0,
        le=1.0,
    )
    entry_elasticity: float = setting(
        2.0,
        "Elasticity of entry to income per creator relative to step 0",
        ge=0.0,
        le=20.0,
    )
    adoption: float = setting(
        0.3,
        "Mean propensity to use AI help; a creator's target AI-assisted share is its propensity "
        "x the cost saving x its assistant's fidelity on its topics (x2 under income pressure)",
        ge=0.0,
        le=1.0,
    )
    adoption_speed: float = setting(
        0.05,
        "Share of the gap to its target AI-assisted share a creator closes per month",
        unit="1/month",
        ge=0.0,
        le=1.0,
    )
    opt_out_from: str = setting(
        "2023-08",
        "First month a creator can block AI crawlers (robots.txt rules for AI crawlers)",
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
    )
    opt_out_rate: float = setting(
        0.25,
        "Most a creator opts out per month, reached when its crawl-to-referral ratio is high",
        unit="1/month",
        ge=0.0,
        le=1.0,
    )
    opt_out_ceiling: float = setting(
        1.0,
        "Share of creators who would ever block AI crawlers; the others never do (they depend "
        "on search or on AI traffic), so opt-out saturates below this",
        ge=0.0,
        le=1.0,
    )
    opt_out_ratio: float = setting(
        3000.0,
        "Crawl-to-referral ratio at which the opt-out rate is half its most",
        unit="crawls/referral",
        gt=0.0,
        le=1e9,
    )
    opt_out_notice: float = setting(
        1e6,
        "AI crawler requests per month at which a creator's opt-out rate is half its most "
        "(big sites notice crawlers first)",
        unit="requests/month",
        gt=0.0,
        le=1e15,
    )
    opt_out_steepness: float = setting(
        1.0,
        "How sharply noticing crawlers separates big sites from small ones: the notice factor "
        "is c^n / (c^n + opt_out_notice^n) for c requests a month",
        ge=0.5,
        le=8.0,
    )
    crawl_scale: float = setting(
        50_000.0,
        "Crawler requests one simulated training fetch stands for (scales the ratio creators see)",
        unit="requests/fetch",
        gt=0.0,
        le=1e12,
    )
    licensing_deterrence: float = setting(
        5.0,
        "How much licensing income deters opting out: the rate is x exp(-this x licensing share "
        "of income)",
        ge=0.0,
        le=100.0,
    )


class AttentionSettings(Section):
    """Readers: search demand, AI answers, clicks and what a visit earns."""

    searches_per_month: float = setting(
        1.3e8,
        "Reader searches per month at step 0 (scaled with the simulated web)",
        unit="searches/month",
        ge=0.0,
        le=1e15,
    )
    demand_growth: float = setting(
        0.0057, "Growth of reader demand", unit="1/month", ge=-0.5, le=0.5
    )
    chat_share: ShareSchedule = setting(
        0.0, "Share of reader questions taken to an AI chat instead of a search engine"
    )
    ai_answer_share: ShareSchedule = setting(
        0.0, "Share of searches that show an AI answer above the results"
    )
    click_through: float = setting(
        0.15, "Clicks per search without an AI answer", unit="clicks/search", ge=0.0, le=1.0
    )
    click_through_with_answer: float = setting(
        0.08,
        "Clicks per search whose AI answer covers its topic fully; rises toward click_through "
        "as the answering model loses the topic",
        unit="clicks/search",
        ge=0.0,
        le=1.0,
    )
    chat_click_through: float = setting(
        0.01, "Clicks per AI chat answer (links followed)", unit="clicks/answer", ge=0.0, le=1.0
    )
    quality_weight: float = setting(
        1.0,
        "Weight of page quality (log-likelihood under the ground truth, z-scored) in search "
        "ranking",
        ge=0.0,
        le=10.0,
    )
    link_weight: float = setting(
        0.5, "Exponent of (in-degree + 1) in search ranking", ge=0.0, le=3.0
    )
    freshness_months: float = setting(
        24.0,
        "Time constant of the freshness bonus in search ranking",
        unit="months",
        gt=0.0,
        le=10_000.0,
    )
    ai_visibility: float = setting(
        0.16, "Search visibility of a fully AI page relative to a human one", ge=0.0, le=1.0
    )
    answer_ai_visibility: float | None = setting(
        None,
        "Weight of a fully AI page among the pages AI answers link to, relative to a human one "
        "(none: ai_visibility, the search ranking's)",
        ge=0.0,
        le=1.0,
    )
    session_end: float = setting(
        0.16,
        "Share of searches without an AI answer after which the reader ends the session; an "
        "answer ends it also for the readers it keeps from clicking",
        ge=0.0,
        le=1.0,
    )
    belief_learning: float = setting(
        0.1,
        "How far readers' belief about the topics moves each month toward the mix of what "
        "they read (pages visited and AI answers)",
        unit="1/month",
        ge=0.0,
        le=1.0,
    )
    revenue_per_visit: float = setting(
        0.01, "What a creator earns per visit", unit="$/visit", ge=0.0, le=100.0
    )
    revenue_per_answer: float = setting(
        0.002, "What a company earns per AI answer", unit="$/answer", ge=0.0, le=100.0
    )


if typing.TYPE_CHECKING:  # a model built at import time: type checkers see its base
    PolicySettings = Section
else:
    PolicySettings = settings_model()
"""The policy levers, each applied at one named point of the month: a section per lever of
:mod:`ecosystem.world.levers` (assembled from its registry)."""


class ArchiveSettings(Section):
    """The fixed pre-AI archive: human content every company can train on."""

    size: int = setting(
        20_000,
        "Human items in the pre-AI archive (each company's first training set)",
        unit="items",
        ge=2,
        le=100_000_000,
    )


class CompanySettings(Section):
    """An AI company: its model, crawler, data policy and output."""

    enabled: bool = setting(True, "Whether the company takes part")
    model: ModelSettings = Field(default_factory=ModelSettings, description="Its generative model")
    crawler: Annotated[CrawlerSettings, BeforeValidator(_crawler_table)] = Field(
        default_factory=CrawlerSettings,
        description='Its crawler: a name (crawler = "links") or {name, params}',
    )
    crawl_budget: int = setting(
        10_000,
        "Pages crawled per retraining (the new training data)",
        unit="pages",
        ge=1,
        le=100_000_000,
    )
    crawl_max_age: int = setting(
        0,
        "Crawl only pages younger than this (1: this month's only; 0: any age)",
        unit="months",
        ge=0,
        le=100_000,
    )
    retrain_interval: int = setting(
        6, "Months between retrainings (a new model generation)", unit="months", ge=1, le=1200
    )
    first_retrain: int = setting(6, "Step of the first retraining", unit="steps", ge=1, le=100_000)
    data: Literal["replace", "accumulate"] = setting(
        "replace",
        "Train on the latest crawl only, or on the archive and every distinct page crawled so far",
    )
    archive_share: float = setting(
        0.0,
        "Share of each training set drawn from the pre-AI archive under replace (1: an archive "
        "sample as large as the crawl)",
        ge=0.0,
        le=1.0,
    )
    bias: float = setting(
        1.0,
        "Sampling bias lambda of its published output (1: unbiased)",
        ge=0.01,
        le=1.0,
    )
    pages_per_month: float = setting(
        100.0,
        "Pages it publishes per month once fully ramped up",
        unit="pages/month",
        ge=0.0,
        le=10_000_000,
    )
    start_step: int = setting(
        1, "Step at which it starts publishing", unit="steps", ge=0, le=100_000
    )
    ramp_months: float = setting(
        0.0,
        "Time constant of its output ramp-up: rate x (1 - exp(-months/ramp))",
        unit="months",
        ge=0.0,
        le=1200.0,
    )
    market_share: float = setting(
        1.0, "Relative weight of its assistant among creators' choices", ge=0.0, le=1.0
    )
    answer_click_through: float | None = setting(
        None,
        "Clicks per AI answer it serves on the links in it: high for an answer engine that "
        "cites, near 0 for a chat that does not link (none: attention.chat_click_through)",
        unit="clicks/answer",
        ge=0.0,
        le=1.0,
    )


UNUSED_SECTIONS = {
    "lab": {"start", "web", "creators", "archive", "companies", "attention", "policy"},
    "ecosystem": {"model", "lab"},
}
"""Top-level fields that a mode ignores (left out of ``ecosystem show``)."""


class Scenario(Section):
    """A complete, resolved run definition."""

    name: str = setting(
        "unnamed",
        "Scenario name (the file's stem); it names run directories, so it is a safe slug",
        pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$",
    )
    description: str = setting("", "One-line description shown by `ecosystem list`")
    group: str = setting("other", "Group in `ecosystem list` (lab, ecosystem, policy, ...)")
    mode: str = setting(
        next(iter(SIMULATIONS)),
        "Kind of simulation: the single-model lab loop or the whole web (a mode from the "
        "registry, ecosystem.world.simulations.SIMULATIONS)",
    )
    seed: int = setting(
        0, "Seed of the one random generator that drives the run", ge=0, le=2**63 - 1
    )
    steps: int = setting(
        10,
        "Number of steps (model generations in lab mode, months in ecosystem mode)",
        unit="steps",
        ge=1,
        le=100_000,
    )
    start: str = setting(
        "2022-01",
        "Calendar month of step 1 in ecosystem mode (YYYY-MM)",
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
    )
    world: Literal[tuple(WORLDS)] = setting(  # type: ignore[valid-type]
        next(iter(WORLDS)),
        "What content is: a world from the registry (ecosystem.world.worlds.WORLDS); its "
        "ground truth, content store, models and metrics",
    )
    culture: CultureSettings = Field(default_factory=CultureSettings)
    text: TextSettings = Field(default_factory=TextSettings)
    digits: DigitsSettings = Field(default_factory=DigitsSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    lab: LabSettings = Field(default_factory=LabSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    creators: CreatorSettings = Field(default_factory=CreatorSettings)
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)
    attention: AttentionSettings = Field(default_factory=AttentionSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    companies: dict[str, CompanySettings] = Field(
        default_factory=dict, description="AI companies by name"
    )
    metrics: MetricSettings = Field(default_factory=MetricSettings)

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, mode: str) -> str:
        if mode not in SIMULATIONS:
            raise ValueError(f"unknown mode {mode!r}; allowed: {', '.join(SIMULATIONS)}")
        return mode

    @field_validator("companies")
    @classmethod
    def _company_names(cls, companies: dict) -> dict:
        for name in companies:
            if not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"company name {name!r} must be letters, digits, '-' or '_'")
        return companies

    @model_validator(mode="after")
    def _models_apply(self) -> Scenario:
        applicable = world_class(self.world).models
        used = (
            {"model": self.model}
            if self.mode == "lab"
            else {f"companies.{n}.model": c.model for n, c in self.active_companies.items()}
        )
        for path, settings in used.items():
            if settings.name not in applicable:
                raise ValueError(
                    f"{path}.name: model {settings.name!r} does not apply to the {self.world!r} "
                    f"world; allowed: {', '.join(applicable)}"
                )
            if self.world == "text":
                vocab = settings.params.get("vocab", self.text.vocab)
                if vocab != self.text.vocab:
                    raise ValueError(
                        f"{path}.params.vocab: must be text.vocab ({self.text.vocab}), "
                        f"got {vocab!r}"
                    )
                # a language model's vocabulary is the world's
                settings.params = {**settings.params, "vocab": self.text.vocab}
        return self

    @model_validator(mode="after")
    def _runnable_lab_loop(self) -> Scenario:
        if self.mode == "lab":
            if self.lab.n_real < 2:
                raise ValueError(
                    f"lab.n_real must be >= 2 to fit the first generation, got {self.lab.n_real}"
                )
            if self.steps > 1 and self.lab.loop == "fully_synthetic" and self.lab.n_synthetic < 2:
                raise ValueError(
                    "lab.n_synthetic must be >= 2 for the fully synthetic loop, "
                    f"got {self.lab.n_synthetic}"
                )
        return self

    @property
    def active_companies(self) -> dict[str, CompanySettings]:
        """The enabled companies, by name."""
        return {name: c for name, c in self.companies.items() if c.enabled}

    @property
    def devices(self) -> dict[str, str]:
        """Every device this scenario asks for, by setting path: the metrics' and each used
        model's where its parameters name one (a model's default is "auto")."""
        used = (
            {"model": self.model}
            if self.mode == "lab"
            else {f"companies.{n}.model": c.model for n, c in self.active_companies.items()}
        )
        devices: dict[str, str] = {"metrics.device": self.metrics.device}
        for path, settings in used.items():
            if "device" in settings.params:
                devices[f"{path}.params.device"] = str(settings.params["device"])
        return devices

    def to_toml(self) -> str:
        """The resolved scenario as TOML, without the sections its mode does not use and
        the settings left unset (None: TOML has no null; round-trips through
        :func:`load_scenario`)."""
        return tomli_w.dumps(
            self.model_dump(
                mode="json", exclude=UNUSED_SECTIONS.get(self.mode, set()), exclude_none=True
            )
        )


def scenario_hash(scenario: Scenario) -> str:
    """Content hash of a resolved scenario (sha256 of its canonical JSON)."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def flatten_settings(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A resolved scenario (as a manifest holds it) as ``{"policy.detection.enabled": True,
    ...}``; a dated schedule (``{"YYYY-MM": share, ...}``) stays one value."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and not _is_dated(value):
            flat.update(flatten_settings(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def _is_dated(table: Mapping) -> bool:
    return all(isinstance(key, str) and len(key) == 7 and key[4] == "-" for key in table)


def value_at(scenario: Scenario, path: str) -> Any:
    """The resolved value at the dotted ``path`` of a scenario (``companies.alpha.bias``),
    typed as the schema made it."""
    node: Any = scenario
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def _unknown(kind: str, name: str, choices: typing.Iterable[str]) -> str:
    """The one-line message for an unknown name: the closest choice, then every choice."""
    choices = sorted(choices)
    guess = difflib.get_close_matches(name, choices, n=1)
    hint = f"; did you mean {guess[0]!r}?" if guess else ""
    return f"unknown {kind} {name!r}{hint} available: {', '.join(choices)}"
