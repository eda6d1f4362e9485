"""Scenarios: everything that defines a run, validated by a pydantic schema and loaded from TOML.

Core objects: :class:`Scenario` and its sections, :func:`load_scenario`,
:class:`ScenarioError` and :func:`describe_fields`.
"""

from ecosystem.scenario.schema import *  # noqa: F403
from ecosystem.scenario.schema import __all__ as __all__
