"""Name -> model-class registry so scenarios can pick a generative model by string.

Core objects: `register` (class decorator; refuses a class that does not define every method of
the `GenerativeModel` protocol), `make` (build by name with checked parameter names), `available`
(sorted registered names, of one kind of content if asked), `params_schema` (the parameters a
model declares: its `Params`, a `models.params.ModelParams`) and `validate_params` (check
parameters against that declaration).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from models.base import missing_methods
from models.params import ModelParams, check_params

__all__ = ["available", "make", "params_schema", "register", "validate_params"]

_MODELS: dict[str, type] = {}

ModelClass = TypeVar("ModelClass", bound=type)


def register(name: str) -> Callable[[ModelClass], ModelClass]:
    """Class decorator recording the model class under `name`; the class must define every
    method of the `GenerativeModel` protocol."""

    def decorate(cls: ModelClass) -> ModelClass:
        if not isinstance(cls, type):
            raise TypeError(f"register({name!r}) decorates a model class, got {cls!r}")
        existing = _MODELS.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"model name {name!r} is already registered to {existing.__name__}")
        missing = missing_methods(cls)
        if missing:
            raise TypeError(
                f"model class {cls.__name__} registered as {name!r} does not implement the "
                f"GenerativeModel protocol: missing {', '.join(missing)}"
            )
        _MODELS[name] = cls
        return cls

    return decorate


def available(content: str | None = None) -> list[str]:
    """Sorted names of the registered models; with ``content``, only those that fit that
    kind of data (a model class's ``content``: "vectors", the default, or "documents")."""
    return sorted(
        name
        for name, cls in _MODELS.items()
        if content is None or getattr(cls, "content", "vectors") == content
    )


def params_schema(name: str) -> type[ModelParams] | None:
    """The parameters the model registered as `name` declares (its `Params` class), or None
    when it declares none."""
    schema = getattr(_model_class(name), "Params", None)
    return schema if isinstance(schema, type) and issubclass(schema, ModelParams) else None


def validate_params(name: str, params: Mapping[str, Any]) -> None:
    """Check `params` for the model registered as `name`: against its declared parameters
    (types and bounds; raises `models.params.ParameterError` naming the parameter), or, for a
    model that declares none, their names against its constructor's."""
    schema = params_schema(name)
    if schema is None:
        make(name, **params)
    else:
        check_params(schema, params, model=name)


def _model_class(name: str) -> type:
    if name not in _MODELS:
        names = available()
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown model {name!r}; available: {', '.join(names)}{hint}")
    return _MODELS[name]


def _accepted_parameters(cls: type[Any]) -> list[str]:
    signature = inspect.signature(cls.__init__)
    return [name for name in signature.parameters if name != "self"]


def make(name: str, **params: Any) -> Any:
    """Construct the model registered as `name` with keyword `params` (the constructor only
    stores them: a model checks their values when it is first fitted; `validate_params` checks
    them up front)."""
    cls = _model_class(name)
    accepted = _accepted_parameters(cls)
    for parameter in params:
        if parameter not in accepted:
            close = difflib.get_close_matches(parameter, accepted, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"unknown parameter {parameter!r} for model {name!r}; accepted: "
                f"{', '.join(accepted)}{hint}"
            )
    return cls(**params)
