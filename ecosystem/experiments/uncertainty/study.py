"""Study files: a scenario, its uncertain parameters, the policies to compare and the outcomes.

Core objects: :class:`Study` (the pydantic schema of a study TOML file),
:class:`Uncertainty`, :class:`Policy`, :class:`Outcome`, :func:`load_study` (a packaged
study by name or a TOML path; any defect is a one-line :class:`ScenarioError` naming the
field and what is allowed) and :func:`available_studies`.

Uncertainties are kept apart from levers, as in the EMA Workbench: an uncertainty is a
scenario field (or several, moved together) whose value nobody controls, sampled from a
range and a distribution; a policy is a scenario with settings that somebody chooses. An
outcome is a catalogued series reduced to one number per run by a statistic over a window.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ecosystem.measure import catalogue
from ecosystem.scenario import Scenario, ScenarioError, load_scenario, value_at

__all__ = [
    "DISTRIBUTIONS",
    "STATISTICS",
    "Outcome",
    "Policy",
    "Study",
    "Uncertainty",
    "available_studies",
    "load_study",
]

DISTRIBUTIONS = ("uniform", "triangular", "normal")
"""How an uncertainty's value is drawn between its bounds (``normal`` is truncated to them)."""
STATISTICS = ("mean", "min", "max", "final", "auc")
"""How an outcome's series becomes one number per run, over its window of last steps."""
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
WILDCARD = "*"
"""``companies.*.bias``: the field of every enabled company of the policy's scenario."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Uncertainty(_Strict):
    """An uncertain input: the scenario fields it sets, its bounds and distribution."""

    paths: list[str] = Field(
        min_length=1,
        description="The scenario fields set to the drawn value (``companies.*.X``: every "
        "enabled company's X)",
    )
    low: float = Field(description="Lowest value")
    high: float = Field(description="Highest value")
    distribution: Literal["uniform", "triangular", "normal"] = "uniform"
    mode: float | None = Field(default=None, description="Peak of a triangular distribution")
    mean: float | None = Field(default=None, description="Mean of a normal distribution")
    sd: float | None = Field(default=None, gt=0, description="Standard deviation of a normal one")
    label: str = Field(default="", description="What the uncertainty means, for tables and figures")

    @model_validator(mode="before")
    @classmethod
    def _one_path(cls, data: Any) -> Any:
        if isinstance(data, dict) and "path" in data:
            data = dict(data)
            if "paths" in data:
                raise ValueError("give path or paths, not both")
            data["paths"] = [data.pop("path")]
        return data

    @model_validator(mode="after")
    def _shape(self) -> Uncertainty:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or not self.low < self.high:
            raise ValueError(f"low must be below high (finite), got {self.low} and {self.high}")
        triangular = self.distribution == "triangular"
        if triangular and (self.mode is None or not self.low <= self.mode <= self.high):
            raise ValueError("a triangular distribution needs mode between low and high")
        if self.distribution == "normal" and (self.mean is None or self.sd is None):
            raise ValueError("a normal distribution needs mean and sd (truncated to low..high)")
        for path in self.paths:
            parts = path.split(".")
            if not all(parts) or (WILDCARD in parts and parts[:2] != ["companies", WILDCARD]):
                raise ValueError(
                    f"path {path!r} must be a dotted scenario field; '*' only as companies.*.X"
                )
        return self


class Policy(_Strict):
    """A policy: a scenario (default: the study's) and fixed settings (``--set`` style)."""

    scenario: str | None = Field(default=None, description="Scenario name or .toml path")
    set: list[str] = Field(default_factory=list, description="Overrides, key=value")
    label: str = ""


class Outcome(_Strict):
    """A catalogued series reduced to one number per run."""

    scope: str = Field(description="Scope of the series: web, creators, company:<name>, ...")
    metric: str = Field(description="Metric of the series (see docs/metrics.md)")
    statistic: Literal["mean", "min", "max", "final", "auc"] = "mean"
    window: int = Field(
        default=12, ge=0, description="Last steps the statistic covers; 0: the whole run"
    )
    direction: Literal["maximize", "minimize"] = "maximize"
    threshold: float | None = Field(
        default=None, description="A future is satisficing when the outcome is at or beyond this"
    )
    label: str = ""

    @model_validator(mode="after")
    def _catalogued(self) -> Outcome:
        try:
            catalogue.lookup(self.scope, self.metric)
        except (KeyError, ValueError) as exc:
            raise ValueError(str(exc).strip("'\"")) from None
        return self


class SensitivityDesign(_Strict):
    """Defaults of ``ecosystem sensitivity``."""

    method: Literal["sobol", "morris"] = "morris"
    n: int = Field(
        default=10, ge=2, le=100_000, description="Sobol base sample N, or Morris trajectories"
    )
    levels: int = Field(default=4, ge=2, le=20, description="Morris grid levels")
    resamples: int = Field(default=1000, ge=10, le=100_000, description="Bootstrap resamples")


class DiscoveryDesign(_Strict):
    """Defaults of ``ecosystem discover``."""

    n: int = Field(default=48, ge=4, le=100_000, description="Latin hypercube futures")
    density: float = Field(
        default=0.8, gt=0, le=1, description="PRIM: least share of cases of interest"
    )
    boxes: int = Field(
        default=2, ge=1, le=10, description="PRIM: most boxes, each found after the last"
    )


class RobustnessDesign(_Strict):
    """Defaults of ``ecosystem robust``."""

    n: int = Field(
        default=8, ge=2, le=100_000, description="Latin hypercube futures every policy faces"
    )
    criterion: Literal["regret", "satisficing", "mean", "p10"] = "regret"


class Study(_Strict):
    """A study file: what is uncertain, which policies compete, what counts as an outcome."""

    name: str = Field(default="study", pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")
    description: str = ""
    scenario: str = Field(description="The scenario every policy starts from")
    steps: int | None = Field(default=None, ge=1, le=100_000)
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Seeds the samples and the runs")
    seeds: int = Field(default=1, ge=1, le=100, description="Runs per future: seed, seed+1, ...")
    set: list[str] = Field(default_factory=list, description="Overrides of every run")
    uncertainties: dict[str, Uncertainty] = Field(min_length=1)
    policies: dict[str, Policy] = Field(default_factory=dict)
    outcomes: dict[str, Outcome] = Field(min_length=1)
    sensitivity: SensitivityDesign = Field(default_factory=SensitivityDesign)
    discovery: DiscoveryDesign = Field(default_factory=DiscoveryDesign)
    robustness: RobustnessDesign = Field(default_factory=RobustnessDesign)

    @field_validator("uncertainties", "policies", "outcomes")
    @classmethod
    def _names(cls, table: dict) -> dict:
        import re

        for name in table:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(
                    f"name {name!r} must be letters, digits, '_' or '-', starting with a letter"
                )
        return table

    @property
    def policy_names(self) -> list[str]:
        """The policies by name; a study without any has one, ``baseline``: its scenario."""
        return list(self.policies) or ["baseline"]

    def policy(self, name: str | None) -> tuple[str, Policy]:
        """The policy ``name`` (None: the first), refused with the names allowed."""
        policies = self.policies or {"baseline": Policy()}
        if name is None:
            return next(iter(policies.items()))
        if name not in policies:
            raise ScenarioError(_unknown("--policy", name, list(policies)))
        return name, policies[name]

    def outcome(self, name: str) -> tuple[str, Outcome]:
        """The outcome named ``name``, or whose metric (or ``scope/metric``) is ``name``."""
        if name in self.outcomes:
            return name, self.outcomes[name]
        matches = [
            (key, o)
            for key, o in self.outcomes.items()
            if name in (o.metric, f"{o.scope}/{o.metric}", f"{o.scope}.{o.metric}")
        ]
        if len(matches) == 1:
            return matches[0]
        raise ScenarioError(_unknown("--outcome", name, list(self.outcomes)))

    def fixed(self, policy: Policy) -> list[str]:
        """The overrides of every run of ``policy``: the study's, the policy's, the steps."""
        steps = [f"steps={self.steps}"] if self.steps is not None else []
        return [*self.set, *policy.set, *steps]

    def source(self, policy: Policy) -> str:
        """The scenario the runs of ``policy`` load."""
        return policy.scenario or self.scenario

    def fields(self, scenario: Scenario, name: str) -> list[str]:
        """The scenario fields uncertainty ``name`` sets in ``scenario`` (wildcards expanded
        over its enabled companies)."""
        paths: list[str] = []
        for path in self.uncertainties[name].paths:
            parts = path.split(".")
            if parts[:2] == ["companies", WILDCARD]:
                companies = [c for c, s in scenario.companies.items() if s.enabled]
                paths += [".".join(["companies", c, *parts[2:]]) for c in companies]
            else:
                paths.append(path)
        return paths


def available_studies() -> dict[str, Path]:
    """Packaged studies by name."""
    folder = resources.files("studies")
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    }


def load_study(source: str | Path) -> Study:
    """A packaged study by name or a study TOML file, validated with its scenarios: every
    policy's scenario loads, every uncertainty's fields exist and are numeric, and both bounds
    are values they accept. Raises :class:`ScenarioError` (one line) on any defect."""
    path = _locate(source)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"study file {path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"study file {path}: not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"study file {path}: invalid TOML: {exc}") from None
    raw.setdefault("name", path.stem)
    _relative_to(raw, path.parent)
    try:
        study = Study.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"study {path.stem!r}: {_describe(exc)}") from None
    _check_scenarios(study, path)
    return study


def _locate(source: str | Path) -> Path:
    packaged = available_studies()
    if isinstance(source, str) and source in packaged:
        return packaged[source]
    path = Path(source)
    if path.is_file():
        return path
    if path.exists():
        raise ScenarioError(f"study file {path}: not a file; give a study .toml file")
    raise ScenarioError(_unknown("study", str(source), list(packaged)))


def _check_scenarios(study: Study, path: Path) -> None:
    """Load every policy's scenario with each uncertainty at both bounds."""
    for policy_name in study.policy_names:
        _, policy = study.policy(policy_name)
        where = f"study {study.name!r}, policy {policy_name!r}"
        try:
            base = load_scenario(study.source(policy), study.fixed(policy))
        except ScenarioError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
        for name, uncertainty in study.uncertainties.items():
            fields = study.fields(base, name)
            if not fields:
                raise ScenarioError(
                    f"{where}: uncertainties.{name} sets no field (no enabled company?)"
                )
            for bound in (uncertainty.low, uncertainty.high):
                overrides = [f"{field}={_text(bound)}" for field in fields]
                try:
                    scenario = load_scenario(
                        study.source(policy), [*study.fixed(policy), *overrides]
                    )
                except ScenarioError as exc:
                    raise ScenarioError(f"{where}: uncertainties.{name}: {exc}") from None
                for field in fields:
                    value = value_at(scenario, field)
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        raise ScenarioError(
                            f"{where}: uncertainties.{name}: {field} is not numeric "
                            f"(value {value!r}); allowed: numeric fields"
                        )


def _relative_to(raw: dict, folder: Path) -> None:
    """Scenario paths (``*.toml``) in a study file are relative to the file's folder."""
    tables = [raw, *(p for p in (raw.get("policies") or {}).values() if isinstance(p, dict))]
    for table in tables:
        source = table.get("scenario")
        if isinstance(source, str) and source.endswith(".toml") and not Path(source).is_absolute():
            table["scenario"] = str(folder / source)


def _text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    unknown = [error for error in errors if error["type"] == "extra_forbidden"]
    first = (unknown or errors)[0]  # a misspelt key also leaves its field "missing": name it
    path = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return f"unknown key {path!r}; allowed: {_allowed(first['loc'])}"
    if first["type"] == "literal_error":
        return f"{path}: {message} (got {first.get('input')!r})"
    if first["type"] == "missing":
        return f"{path}: required field is missing"
    return f"{path}: {message}" if path else message


def _allowed(loc: tuple) -> str:
    model: type[BaseModel] = Study
    for part in loc[:-1]:
        info = model.model_fields.get(str(part))
        if info is None:
            continue
        annotation = info.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        for candidate in candidates:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
    return ", ".join(model.model_fields)


def _unknown(kind: str, name: str, choices: list[str]) -> str:
    guess = difflib.get_close_matches(name, choices, n=1)
    hint = f"; did you mean {guess[0]!r}?" if guess else ""
    return f"unknown {kind} {name!r}{hint} allowed: {', '.join(sorted(choices)) or 'none'}"
