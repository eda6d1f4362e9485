"""The building blocks of every scenario section: the section base, fields and shares.

Core objects: :class:`Section` (the base of every section: unknown keys are
errors), :func:`setting` (a field with its description, unit and bounds) and
:data:`ShareSchedule` (a share, constant or dated). The scenario schema and
the policy levers (each of which owns its section) both build on them.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationInfo,
    field_validator,
)

__all__ = ["SCHEDULE_ALLOWED", "Section", "ShareSchedule", "setting", "share", "share_schedule"]


def setting(default: Any, description: str, *, unit: str | None = None, **bounds: Any) -> Any:
    """A schema field with its description, unit and bounds (ge/gt/le/lt)."""
    extra: dict[str, JsonValue] | None = {"unit": unit} if unit else None
    return Field(default, description=description, json_schema_extra=extra, **bounds)


SCHEDULE_ALLOWED = 'a share in [0, 1], or dated anchors {"YYYY-MM" = share, ...}'


def share_schedule(value: Any) -> float | dict[str, float]:
    """A share, or a table of dated anchors whose values are shares (interpolated in time)."""
    if isinstance(value, dict) and value:
        anchors = {}
        for month, value_then in value.items():
            if not (isinstance(month, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month)):
                raise ValueError(
                    f"anchor {month!r} is not a month YYYY-MM; allowed: {SCHEDULE_ALLOWED}"
                )
            anchors[month] = share(value_then)
        return anchors
    return share(value)


def share(value: Any) -> float:
    """A number in [0, 1] as a float; anything else is an error naming what is allowed."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"got {value!r}; allowed: {SCHEDULE_ALLOWED}")
    return float(value)


ShareSchedule = Annotated[float | dict[str, float], BeforeValidator(share_schedule)]
"""A share in [0, 1]: a constant or ``{"YYYY-MM" = value}`` anchors (see ecosystem.calendar)."""


class Section(BaseModel):
    """Base of every scenario section: unknown keys are errors, and a number field refuses
    ``true``/``false`` (which pydantic would otherwise take as 1 and 0)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            field = cls.model_fields.get(info.field_name)
            if field is not None and _is_number(field.annotation):
                raise ValueError(f"a number is required, got {str(value).lower()}")
        return value


def _is_number(annotation: Any) -> bool:
    """Whether a field holds only numbers (``int``, ``float`` or a union of them): no bool."""
    if annotation in (int, float):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(members) and all(_is_number(member) for member in members)
    return False
