"""The registry of worlds: which kinds of content a scenario can simulate.

Core objects: :data:`WORLDS` (name -> world class, each following
:class:`ecosystem.world.protocol.World`), :func:`world_class` (the class of a name, with a
one-line error) and :func:`make_world` (a scenario's world, drawn from a generator). The
scenario's ``world`` field takes its choices from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ecosystem.world.digits import DigitsWorld
from ecosystem.world.text import TextWorld
from ecosystem.world.vectors import VectorWorld

if TYPE_CHECKING:
    from ecosystem.scenario import Scenario
    from ecosystem.world.protocol import World

__all__ = ["WORLDS", "make_world", "world_class"]

WORLDS: dict[str, Any] = {
    VectorWorld.name: VectorWorld,
    TextWorld.name: TextWorld,
    DigitsWorld.name: DigitsWorld,
}
"""Every world by name; the first is the default."""


def world_class(name: str) -> Any:
    """The world class registered as ``name``."""
    if name not in WORLDS:
        raise ValueError(f"unknown world {name!r}; available: {', '.join(WORLDS)}")
    return WORLDS[name]


def make_world(scenario: Scenario, generator: torch.Generator) -> World:
    """The scenario's world (its ``world`` field), drawn from ``generator``."""
    return world_class(scenario.world).from_scenario(scenario, generator)
