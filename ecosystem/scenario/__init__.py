"""Scenarios: everything that defines a run, validated by a pydantic schema and loaded from TOML.

Core objects: :class:`Scenario` and its sections (:mod:`.schema`), :func:`load_scenario`
and :class:`ScenarioError` (:mod:`.loading`), :func:`describe_fields` (:mod:`.description`).
"""

from ecosystem.scenario.description import FieldDoc, describe_fields, schema_markdown
from ecosystem.scenario.loading import ScenarioError, available_scenarios, load_scenario
from ecosystem.scenario.schema import (
    ArchiveSettings,
    AttentionSettings,
    CompanySettings,
    CrawlerSettings,
    CreatorSettings,
    CultureSettings,
    DigitsSettings,
    LabSettings,
    MetricSettings,
    ModelSettings,
    PolicySettings,
    Scenario,
    TextSettings,
    WebSettings,
    flatten_settings,
    scenario_hash,
    value_at,
)

__all__ = [
    "ArchiveSettings",
    "AttentionSettings",
    "CompanySettings",
    "CrawlerSettings",
    "CreatorSettings",
    "CultureSettings",
    "DigitsSettings",
    "FieldDoc",
    "LabSettings",
    "MetricSettings",
    "ModelSettings",
    "PolicySettings",
    "Scenario",
    "ScenarioError",
    "TextSettings",
    "WebSettings",
    "available_scenarios",
    "describe_fields",
    "flatten_settings",
    "load_scenario",
    "scenario_hash",
    "schema_markdown",
    "value_at",
]
