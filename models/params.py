"""Declared model parameters: what each model's constructor takes, with types and bounds.

Core objects: `ModelParams` (the base of the `Params` class of a model: one typed field per
constructor parameter, with its default, bounds and description; unknown names, text or a bool
for a number, NaN and infinities are refused), `parameter` (such a field), `ParameterError`
(one parameter and why it is refused, one line), `check_params` (validate parameters against a
declaration) and `describe_params` (a declaration as `ParameterDoc` rows, for the docs).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "ModelParams",
    "ParameterDoc",
    "ParameterError",
    "check_params",
    "describe_params",
    "parameter",
]


class ModelParams(BaseModel):
    """Base of a model's declared parameters: strict types (no text or bool for a number, no
    number for a bool), finite floats, and unknown names refused."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


def parameter(default: Any, description: str, **bounds: Any) -> Any:
    """A declared parameter: its default, a one-line description and bounds (ge/gt/le/lt)."""
    return Field(default, description=description, **bounds)


class ParameterError(ValueError):
    """A parameter a model does not declare, or a value its declaration refuses; `parameter`
    is its name and `reason` why (one line)."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


@dataclass(frozen=True)
class ParameterDoc:
    """One declared parameter: name, type, default, allowed values and description."""

    name: str
    type: str
    default: Any
    allowed: str
    description: str


def check_params(schema: type[ModelParams], params: Mapping[str, Any], *, model: str) -> None:
    """Raise `ParameterError` for the first of `params` that `schema` (the declaration of the
    model named `model`) does not declare or refuses."""
    allowed = list(schema.model_fields)
    for name in params:
        if name not in allowed:
            close = difflib.get_close_matches(str(name), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParameterError(
                str(name),
                f"unknown parameter of model {model!r}{hint} allowed: {', '.join(allowed)}",
            )
    try:
        schema.model_validate(dict(params))
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        name = str(error["loc"][0])
        field = schema.model_fields[name]
        reason = f"{error['msg']} (got {error['input']!r})"
        raise ParameterError(
            name, f"{reason}; allowed: {_allowed(field.annotation, field)}"
        ) from None


def describe_params(schema: type[ModelParams]) -> list[ParameterDoc]:
    """Every parameter that `schema` declares, in order."""
    return [
        ParameterDoc(
            name=name,
            type=_type_name(field.annotation),
            default=field.get_default(call_default_factory=True),
            allowed=_allowed(field.annotation, field),
            description=field.description or "",
        )
        for name, field in schema.model_fields.items()
    ]


def _members(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _type_name(annotation: Any) -> str:
    names = []
    for member in _members(annotation):
        if typing.get_origin(member) is typing.Annotated:
            member = typing.get_args(member)[0]
        names.append("choice" if typing.get_origin(member) is Literal else member.__name__)
    return " or ".join(names)


def _allowed(annotation: Any, field: Any) -> str:
    """A parameter's bounds or choices as text (``an integer >= 1``, ``'mle', 'unbiased'``)."""
    parts = []
    for member in _members(annotation):
        metadata = list(field.metadata) if member is annotation else []
        if typing.get_origin(member) is typing.Annotated:
            member, *extra = typing.get_args(member)
            for item in extra:
                metadata.extend(getattr(item, "metadata", [item]))
        if typing.get_origin(member) is Literal:
            parts.append(", ".join(repr(choice) for choice in typing.get_args(member)))
        elif member is bool:
            parts.append("true, false")
        else:
            bounds = _bounds_text(metadata)
            kind = {int: "an integer", float: "a number"}.get(
                member, getattr(member, "__name__", "")
            )
            parts.append(f"{kind} {bounds}" if bounds else kind)
    return "; or ".join(parts)


def _bounds_text(metadata: list[Any]) -> str:
    symbols = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    parts = [
        f"{symbol} {getattr(item, attr)}"
        for item in metadata
        if isinstance(item, annotated_types.BaseMetadata)
        for attr, symbol in symbols.items()
        if hasattr(item, attr)
    ]
    return " and ".join(parts)
