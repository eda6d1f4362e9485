"""Scenarios: everything that defines a run, as a validated schema loaded from TOML.

Core objects: :class:`Scenario` (a pydantic model whose every field has a type,
a range, a unit where one applies and a one-line description: the CLI, the
docs and the app are generated from it), :func:`load_scenario` (named scenario
or TOML path, ``extends = "other"`` inheritance, ``section.key=value``
overrides), :func:`available_scenarios` and :class:`ScenarioError` (a one-line
message naming the field and what is allowed).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import tomllib
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import annotated_types
import tomli_w
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

import models
from ecosystem.scenario.fields import SCHEDULE_ALLOWED, Section, ShareSchedule, setting
from ecosystem.scenario.fields import share_schedule as _share_schedule
from ecosystem.world.levers.registry import settings_model

__all__ = [
    "ArchiveSettings",
    "AttentionSettings",
    "CompanySettings",
    "CreatorSettings",
    "CultureSettings",
    "FieldDoc",
    "LabSettings",
    "MetricSettings",
    "ModelSettings",
    "PolicySettings",
    "Scenario",
    "ScenarioError",
    "WebSettings",
    "available_scenarios",
    "describe_fields",
    "load_scenario",
    "scenario_hash",
    "schema_markdown",
    "value_at",
]


class ScenarioError(ValueError):
    """A scenario file, name or override is invalid; the message is one line."""


class CultureSettings(Section):
    """The ground truth: what human content looks like."""

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


class ModelSettings(Section):
    """The generative model: a name from the registry and its parameters."""

    name: str = setting("gmm", "Generative model, one of models.available()")
    params: dict[str, int | float | str | bool] = setting(
        {}, "Parameters passed to the model's constructor"
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
            models.make(name, **params)
        return params


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
        gt=0.0,
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
    crawler: Literal["uniform", "popularity", "links"] = setting(
        "links", "Crawl strategy: uniform over live pages, highest in-degree first, or links"
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
        1.0, "Sampling bias lambda of its published output (1: unbiased)", gt=0.0, le=1.0
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


UNUSED_SECTIONS = {
    "lab": {"start", "web", "creators", "archive", "companies", "attention", "policy"},
    "ecosystem": {"model", "lab"},
}
"""Top-level fields that a mode ignores (left out of ``ecosystem show``)."""


class Scenario(Section):
    """A complete, resolved run definition."""

    name: str = setting("unnamed", "Scenario name (the file's stem)")
    description: str = setting("", "One-line description shown by `ecosystem list`")
    group: str = setting("other", "Group in `ecosystem list` (lab, ecosystem, policy, ...)")
    mode: Literal["lab", "ecosystem"] = setting(
        "lab", "Kind of simulation: the single-model lab loop or the whole web"
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
    culture: CultureSettings = Field(default_factory=CultureSettings)
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

    @field_validator("companies")
    @classmethod
    def _company_names(cls, companies: dict) -> dict:
        for name in companies:
            if not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"company name {name!r} must be letters, digits, '-' or '_'")
        return companies

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

    def to_toml(self) -> str:
        """The resolved scenario as TOML, without the sections its mode does not use
        (round-trips through :func:`load_scenario`)."""
        return tomli_w.dumps(self.model_dump(mode="json", exclude=UNUSED_SECTIONS[self.mode]))


def scenario_hash(scenario: Scenario) -> str:
    """Content hash of a resolved scenario (sha256 of its canonical JSON)."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def value_at(scenario: Scenario, path: str) -> Any:
    """The resolved value at the dotted ``path`` of a scenario (``companies.alpha.bias``),
    typed as the schema made it."""
    node: Any = scenario
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def available_scenarios() -> dict[str, Path]:
    """Packaged scenarios by name."""
    folder = resources.files("scenarios")
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    }


def load_scenario(source: str | Path, overrides: typing.Sequence[str] = ()) -> Scenario:
    """Load a packaged scenario by name, or a TOML file by path, then apply overrides.

    Overrides are ``section.key=value`` strings; values are parsed as TOML
    (``0.5``, ``true``, ``"text"``) and fall back to a bare string.
    """
    raw, name = _read_with_parents(source, seen=())
    raw.setdefault("name", name)
    raw["name"] = name
    for override in overrides:
        _apply_override(raw, override)
    return _validate(raw, name)


def _read_with_parents(source: str | Path, seen: tuple[str, ...]) -> tuple[dict, str]:
    path = _locate(source)
    key = str(path.resolve())
    if key in seen:
        raise ScenarioError(f"scenario {path.stem!r}: 'extends' forms a cycle")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario file {path}: invalid TOML: {exc}") from None
    parent = raw.pop("extends", None)
    if parent is None:
        return raw, path.stem
    if not isinstance(parent, str):
        raise ScenarioError(f"scenario {path.stem!r}: extends must be a scenario name or path")
    parent_source = parent if parent in available_scenarios() else path.parent / parent
    base, _ = _read_with_parents(parent_source, (*seen, key))
    base.pop("name", None)
    return _merge(base, raw), path.stem


def _locate(source: str | Path) -> Path:
    packaged = available_scenarios()
    if isinstance(source, str) and source in packaged:
        return packaged[source]
    path = Path(source)
    if path.suffix == ".toml" and path.is_file():
        return path
    if path.suffix != ".toml" and Path(f"{source}.toml").is_file():
        return Path(f"{source}.toml")
    raise ScenarioError(_unknown("scenario", str(source), list(packaged)))


def _merge(base: dict, child: dict) -> dict:
    """Deep merge; a table with a different ``name`` (another model) replaces the inherited
    one, and so does a schedule (a table of dated anchors)."""
    merged = dict(base)
    for key, value in child.items():
        inherited = merged.get(key)
        if (
            isinstance(value, dict)
            and isinstance(inherited, dict)
            and value.get("name", inherited.get("name")) == inherited.get("name")
            and not _is_schedule(value)
        ):
            merged[key] = _merge(inherited, value)
        else:
            merged[key] = value
    return merged


def _is_schedule(table: dict) -> bool:
    """Whether a TOML table is a schedule: every key a ``YYYY-MM`` month."""
    return bool(table) and all(
        isinstance(key, str) and len(key) == 7 and key[4] == "-" for key in table
    )


def _apply_override(raw: dict, override: str) -> None:
    key, sep, text = override.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError(f"override {override!r} must look like section.key=value")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    node = raw
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ScenarioError(
                f"override {key!r}: {'.'.join(parts[: depth + 1])} is not a section"
            )
        node = child
    if parts[-1] == "name" and node.get("name", value) != value:
        node.pop("params", None)  # another model: the inherited parameters do not apply
    node[parts[-1]] = value


def _validate(raw: dict, name: str) -> Scenario:
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ScenarioError(f"scenario {name!r}: {_describe_error(first)}") from None


def _describe_error(error: dict) -> str:
    loc = tuple(str(part) for part in error["loc"])
    path = ".".join(loc)
    if error["type"] == "extra_forbidden":
        allowed = _keys_at(loc[:-1])
        guess = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f"; did you mean '{'.'.join((*loc[:-1], guess[0]))}'?" if guess else ""
        return f"unknown key '{path}'{hint} allowed: {', '.join(allowed)}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error":
        return f"{path}: {message}" if path else message
    allowed = _constraint_text(loc)
    got = f" (got {error.get('input')!r})" if "input" in error else ""
    return f"{path}: {message}{got}" + (f"; allowed: {allowed}" if allowed else "")


def _section_of(annotation) -> type[BaseModel] | None:
    """The section class behind a field: itself, or the values of a ``dict[str, Section]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) is dict:
        value = typing.get_args(annotation)[1]
        if isinstance(value, type) and issubclass(value, BaseModel):
            return value
    return None


def _walk(loc: tuple[str, ...]):
    """Follow a location through the schema; yields (field info, section after it)."""
    cls: type[BaseModel] | None = Scenario
    expect_key = False
    info = None
    for part in loc:
        if expect_key:  # a name inside a dict of sections
            expect_key = False
            continue
        if cls is None or part not in cls.model_fields:
            return None, None
        info = cls.model_fields[part]
        section = _section_of(info.annotation)
        expect_key = typing.get_origin(info.annotation) is dict and section is not None
        cls = section
    return info, cls


def _field_at(loc: tuple[str, ...]):
    return _walk(loc)[0]


def _keys_at(loc: tuple[str, ...]) -> list[str]:
    cls = _walk(loc)[1]
    return [] if cls is None else list(cls.model_fields)


def _constraint_text(loc: tuple[str, ...]) -> str:
    info = _field_at(loc)
    if info is None:
        return ""
    return _range_of(info) or _choices_of(info)


def _range_of(info, *, with_unit: bool = True) -> str:
    symbols = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    parts = []
    for item in info.metadata:
        for attr, symbol in symbols.items():
            if isinstance(item, annotated_types.BaseMetadata) and hasattr(item, attr):
                parts.append(f"{symbol} {getattr(item, attr)}")
        if getattr(item, "pattern", None):
            parts.append(f"matches {item.pattern}")
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    text = " and ".join(parts)
    unit = extra.get("unit") if with_unit else None
    return f"{text} {unit}" if text and unit else text


def _bounds_of(info) -> dict[str, Any]:
    """The numeric bounds and choices of a field, for widgets."""
    bounds: dict[str, Any] = {}
    for item in info.metadata:
        if not isinstance(item, annotated_types.BaseMetadata):
            continue
        for attr, key, exclusive in (
            ("ge", "minimum", False),
            ("gt", "minimum", True),
            ("le", "maximum", False),
            ("lt", "maximum", True),
        ):
            if hasattr(item, attr):
                bounds[key] = getattr(item, attr)
                bounds[f"exclusive_{key}"] = exclusive
    if typing.get_origin(info.annotation) is Literal:
        bounds["choices"] = typing.get_args(info.annotation)
    return bounds


def _choices_of(info) -> str:
    if typing.get_origin(info.annotation) is Literal:
        return ", ".join(repr(choice) for choice in typing.get_args(info.annotation))
    return ""


def _unknown(kind: str, name: str, choices: typing.Iterable[str]) -> str:
    choices = sorted(choices)
    guess = difflib.get_close_matches(name, choices, n=1)
    hint = f"; did you mean {guess[0]!r}?" if guess else ""
    return f"unknown {kind} {name!r}{hint} available: {', '.join(choices)}"


@dataclass(frozen=True)
class FieldDoc:
    """One documented scenario field, for generated docs and app widgets."""

    path: str
    type: str
    default: Any
    allowed: str
    unit: str | None
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[Any, ...] = ()


def describe_fields(cls: type[BaseModel] = Scenario, prefix: str = "") -> list[FieldDoc]:
    """Every leaf field of the schema with its type, default, range, unit and description."""
    docs: list[FieldDoc] = []
    for name, info in cls.model_fields.items():
        annotation = info.annotation
        path = f"{prefix}{name}"
        section = _section_of(annotation)
        if section is not None:
            keyed = typing.get_origin(annotation) is dict
            docs.extend(describe_fields(section, f"{path}.<name>." if keyed else f"{path}."))
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        default = info.get_default(call_default_factory=True)
        type_name = getattr(annotation, "__name__", str(annotation).replace("typing.", ""))
        allowed = _range_of(info, with_unit=False) or _choices_of(info)
        if any(isinstance(m, BeforeValidator) and m.func is _share_schedule for m in info.metadata):
            type_name, allowed = "schedule", SCHEDULE_ALLOWED
        docs.append(
            FieldDoc(
                path=path,
                type=type_name,
                default=default,
                allowed=allowed,
                unit=extra.get("unit"),
                description=info.description or "",
                **_bounds_of(info),
            )
        )
    return docs


def schema_markdown() -> str:
    """The scenario reference as Markdown: one table row per field (``ecosystem schema``)."""
    lines = [
        "# Scenario fields",
        "",
        "Generated by `ecosystem schema` from `ecosystem/scenario.py`. Set any field in a",
        "scenario TOML file or with `--set path=value`; `<name>` is a company's name.",
        "",
        "| field | type | default | allowed | unit | description |",
        "|---|---|---|---|---|---|",
    ]
    for doc in describe_fields():
        default = json.dumps(doc.default)
        allowed = doc.allowed.replace("|", "\\|")
        lines.append(
            f"| `{doc.path}` | {doc.type} | `{default}` | {allowed} | {doc.unit or ''} "
            f"| {doc.description} |"
        )
    return "\n".join(lines) + "\n"
