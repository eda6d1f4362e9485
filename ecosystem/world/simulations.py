"""The registry of simulations: what a scenario's ``mode`` runs.

Core objects: :data:`SIMULATIONS` (mode -> :class:`SimulationKind`: a description and the
factory that builds the simulation of a scenario), :func:`register_simulation` (adds a
mode: an analytic model to check a study's pipeline against known answers, say) and
:func:`make_simulation`. The scenario's ``mode`` field takes its choices from here. The
built-in modes are ``lab`` (the single-model loop) and ``ecosystem`` (the whole web).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecosystem.scenario import Scenario

__all__ = ["SIMULATIONS", "SimulationKind", "make_simulation", "register_simulation"]


@dataclass(frozen=True)
class SimulationKind:
    """A mode: what it simulates, and ``factory(scenario)``, an object whose ``advance()``
    gives ``(step, rows)`` per step and None after the last (the runner's ``Simulation``)."""

    description: str
    factory: Callable[[Scenario], Any]


def _lab(scenario: Scenario) -> Any:
    from ecosystem.world.lab import LabSimulation

    return LabSimulation(scenario)


def _ecosystem(scenario: Scenario) -> Any:
    from ecosystem.world.model import EcosystemSimulation

    return EcosystemSimulation(scenario)


SIMULATIONS: dict[str, SimulationKind] = {
    "lab": SimulationKind("the single-model self-consuming loop", _lab),
    "ecosystem": SimulationKind("the whole web, month by month", _ecosystem),
}
"""Every mode by name; the first is the default."""


def register_simulation(
    mode: str, factory: Callable[[Scenario], Any], description: str
) -> SimulationKind:
    """Make ``mode`` a scenario mode that ``factory`` simulates (an existing mode is
    refused: the built-in ones stay what they are)."""
    if not mode.isidentifier():
        raise ValueError(f"mode {mode!r} must be a name (letters, digits, '_')")
    if mode in SIMULATIONS:
        raise ValueError(f"mode {mode!r} is registered already")
    kind = SimulationKind(description, factory)
    SIMULATIONS[mode] = kind
    return kind


def make_simulation(scenario: Scenario) -> Any:
    """The simulation of ``scenario`` (its ``mode``)."""
    if scenario.mode not in SIMULATIONS:
        raise ValueError(
            f"mode {scenario.mode!r} has no simulator; allowed: {', '.join(SIMULATIONS)}"
        )
    return SIMULATIONS[scenario.mode].factory(scenario)
