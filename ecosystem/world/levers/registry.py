"""The registry of levers: every module of this package that declares ``LEVER``.

Core objects: :func:`registry` (lever name -> class, in lever order) and
:func:`settings_model` (the scenario's ``policy`` section: one field per
lever, holding that lever's settings). A lever is registered by its module
alone; nothing else lists the levers.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import typing

from pydantic import Field, create_model

from ecosystem.scenario.fields import Section
from ecosystem.world.levers.protocol import HOOKS, Lever, StampsPages

__all__ = ["check_levers", "implemented_hooks", "registry", "settings_model"]

POLICY_DOC = "The policy levers, each applied at one named point of the month."


@functools.cache
def registry() -> dict[str, type[Lever]]:
    """The registered levers by name, ordered by their ``order``; checked for consistency
    (unique names and orders, at least one hook each, stamping rows 0..n-1)."""
    package = importlib.import_module(__package__)
    found: list[type[Lever]] = []
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{__package__}.{module_info.name}")
        lever = getattr(module, "LEVER", None)
        if lever is not None:
            found.append(lever)
    found.sort(key=lambda lever: lever.order)
    check_levers(found)
    return {lever.name: lever for lever in found}


def check_levers(levers: list[type[Lever]]) -> None:
    """Raise ValueError unless the levers have unique names and orders, each implements at
    least one hook in full, and the stamping levers' rows are 0..n-1."""
    for lever in levers:
        missing = [member for member in _members(Lever) if not hasattr(lever, member)]
        if missing:
            raise ValueError(f"lever {lever.__name__} lacks {missing}")
    names = [lever.name for lever in levers]
    orders = [lever.order for lever in levers]
    if len(set(names)) < len(names) or len(set(orders)) < len(orders):
        raise ValueError(
            f"levers need unique names and orders, got {dict(zip(names, orders, strict=True))}"
        )
    for lever in levers:
        hooks = implemented_hooks(lever)
        if not hooks:
            allowed = ", ".join(method for _, method, _ in HOOKS)
            raise ValueError(f"lever {lever.name!r} implements no hook; hooks: {allowed}")
        for hook in hooks:
            missing = [member for member in _members(hook) if not hasattr(lever, member)]
            if missing:
                raise ValueError(f"lever {lever.name!r}: {hook.__name__} also needs {missing}")
    stampers = [lever for lever in levers if StampsPages in implemented_hooks(lever)]
    rows = sorted(typing.cast(type[StampsPages], lever).stamp_row for lever in stampers)
    if rows != list(range(len(rows))):
        raise ValueError(f"stamping levers need rows 0..{len(rows) - 1}, got {rows}")


def implemented_hooks(lever: type | object) -> list[type]:
    """The hook protocols a lever implements (it has the hook's method), in hook order."""
    return [hook for _, method, hook in HOOKS if callable(getattr(lever, method, None))]


def _members(protocol: type) -> list[str]:
    """The methods and class attributes a protocol asks of a lever class."""
    namespace = vars(protocol)
    methods = [name for name, value in namespace.items() if callable(value) and name[0] != "_"]
    annotations = namespace.get("__annotations__", {})
    return methods + [name for name, kind in annotations.items() if "ClassVar" in str(kind)]


@functools.cache
def settings_model() -> type[Section]:
    """The ``policy`` section: a field per registered lever, named after it, holding its
    settings (defaults: today's world)."""
    fields = {
        name: (lever.Settings, Field(default_factory=lever.Settings))
        for name, lever in registry().items()
    }
    return create_model(  # type: ignore[call-overload]
        "PolicySettings",
        __base__=Section,
        __doc__=POLICY_DOC,
        __module__="ecosystem.scenario.schema",
        **fields,
    )
