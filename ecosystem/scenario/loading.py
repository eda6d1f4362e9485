"""Loading scenarios: packaged names or TOML paths, ``extends`` inheritance and overrides.

Core objects: :func:`load_scenario` (named scenario or TOML path, ``extends = "other"``
inheritance, ``section.key=value`` overrides), :func:`available_scenarios` and
:class:`ScenarioError` (a one-line message naming the field and what is allowed).
"""

from __future__ import annotations

import difflib
import tomllib
import typing
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ecosystem.scenario.description import choices_text, range_text, section_of
from ecosystem.scenario.schema import MODEL_PARAMETER_ERROR, Scenario, _unknown

__all__ = ["ScenarioError", "available_scenarios", "load_scenario"]


class ScenarioError(ValueError):
    """A scenario file, name or override is invalid; the message is one line."""


def available_scenarios() -> dict[str, Path]:
    """Packaged scenarios by name."""
    folder = resources.files("scenarios")
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    }


MAX_EXTENDS_DEPTH = 32
"""The most ``extends`` levels above a scenario (its parent, grandparent, ...)."""


def load_scenario(source: str | Path, overrides: typing.Sequence[str] = ()) -> Scenario:
    """Load a packaged scenario by name, or a TOML file by path, then apply overrides.

    Overrides are ``section.key=value`` strings; values are parsed as TOML
    (``0.5``, ``true``, ``"text"``) and fall back to a bare string. A table value on a
    section (``culture={topics=5}``) is merged into it, as ``extends`` merges.
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
    if len(seen) > MAX_EXTENDS_DEPTH:
        root = Path(seen[0]).stem
        raise ScenarioError(
            f"scenario {root!r}: 'extends' goes more than {MAX_EXTENDS_DEPTH} levels deep "
            f"(at {path}); allowed: at most {MAX_EXTENDS_DEPTH} levels"
        )
    raw = _parse_toml(path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw, path.stem
    if not isinstance(parent, str) or not parent.strip():
        raise ScenarioError(
            f"scenario {path.stem!r}: extends must be a scenario name or the path of a .toml "
            f"file (relative to {path.name}), got {_short_repr(parent)}"
        )
    parent_source = parent if parent in available_scenarios() else path.parent / parent
    base, _ = _read_with_parents(parent_source, (*seen, key))
    base.pop("name", None)
    return _merge(base, raw), path.stem


def _parse_toml(path: Path) -> dict:
    """The TOML table of a scenario file; any reason it cannot be read is one line naming it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(
            f"scenario file {path}: cannot be read ({exc.strerror or exc})"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"scenario file {path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at position "
            f"{exc.start}); save it as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario file {path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(
            f"scenario file {path}: invalid TOML: arrays or tables nested too deeply"
        ) from None


def _locate(source: str | Path) -> Path:
    packaged = available_scenarios()
    if isinstance(source, str) and source in packaged:
        return packaged[source]
    path = Path(source)
    candidate = path if path.suffix == ".toml" else Path(f"{source}.toml")
    try:
        if candidate.is_file():
            return candidate
        exists, folder = candidate.exists(), candidate.is_dir()
    except OSError as exc:  # e.g. a name too long for the file system
        raise ScenarioError(
            f"scenario file {candidate}: cannot be read ({exc.strerror or exc})"
        ) from None
    if exists:
        what = "a directory" if folder else "not a regular file"
        raise ScenarioError(f"scenario file {candidate}: not a file ({what}); give a .toml file")
    raise ScenarioError(_unknown("scenario", str(source), list(packaged)))


NAMED_TABLES = frozenset({"crawler"})
"""Tables that may be written as their ``name`` alone (``crawler = "links"``)."""


def _merge(base: dict, child: dict) -> dict:
    """Deep merge; a table with a different ``name`` (another model) replaces the inherited
    one, and so does a schedule (a table of dated anchors)."""
    merged = dict(base)
    for key, value in child.items():
        inherited = merged.get(key)
        if key in NAMED_TABLES and isinstance(value, dict) and isinstance(inherited, str):
            inherited = {"name": inherited}  # a table given by its name alone
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
    except RecursionError:
        raise ScenarioError(
            f"override {key!r}: the value has arrays or tables nested too deeply"
        ) from None
    node = raw
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if isinstance(child, str) and part in NAMED_TABLES:
            child = node[part] = {"name": child}  # a table given by its name alone
        if not isinstance(child, dict):
            raise ScenarioError(
                f"override {key!r}: {'.'.join(parts[: depth + 1])} is not a section"
            )
        node = child
    if parts[-1] == "name" and node.get("name", value) != value:
        node.pop("params", None)  # another model: the inherited parameters do not apply
    if isinstance(value, dict):  # a table on a section merges into it, as `extends` does
        value = _merge(node, {parts[-1]: value})[parts[-1]]
    node[parts[-1]] = value


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _validate(raw: dict, name: str) -> Scenario:
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ScenarioError(f"scenario {name!r}: {_describe_error(first)}") from None


def _describe_error(error: ErrorDetails) -> str:
    loc = tuple(str(part) for part in error["loc"])
    path = ".".join(loc)
    if error["type"] == "extra_forbidden":
        allowed = _keys_at(loc[:-1])
        guess = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f"; did you mean '{'.'.join((*loc[:-1], guess[0]))}'?" if guess else ""
        return f"unknown key '{path}'{hint} allowed: {', '.join(allowed)}"
    if error["type"] == MODEL_PARAMETER_ERROR:  # a declared parameter of a model
        context = error.get("ctx", {})
        return f"{path}.{context['parameter']}: {context['reason']}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error":
        constraint = _constraint_text(loc) if path and "allowed" not in message else ""
        text = f"{path}: {message}" if path else message
        return text + (f"; allowed: {constraint}" if constraint else "")
    constraint = _constraint_text(loc)
    got = f" (got {error.get('input')!r})" if "input" in error else ""
    return f"{path}: {message}{got}" + (f"; allowed: {constraint}" if constraint else "")


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
        section = section_of(info.annotation)
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
    return range_text(info) or choices_text(info)
