"""What the explorer app shows, kept apart from its Streamlit widgets.

Core objects: :class:`LeverField` and :func:`lever_fields` (the sidebar's
widgets, generated from the scenario schema: bounds, units and help text come
from the field metadata), :func:`overrides_from` (widget values back to
``--set`` overrides, validated by :func:`ecosystem.load_scenario`),
:data:`TABS` (the figures of each results tab, from the series catalogue),
:func:`headlines` and :func:`live_series` (the numbers shown during and after a run)
and :func:`figures_zip` (the figures of a run as PNG and HTML files, zipped). The
figures themselves are drawn by :mod:`ecosystem.experiments.figures`.
"""

from __future__ import annotations

import io
import json
import math
import re
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ecosystem.experiments.figures import (
    metric_unit,
    series_figure,
    series_figure_png,
    tab_panels,
    x_axis,
)
from ecosystem.measure.catalogue import RESULT_TABS, Figure, better
from ecosystem.runs.store import MANIFEST
from ecosystem.scenario import (
    FieldDoc,
    Scenario,
    available_scenarios,
    describe_fields,
    value_at,
)
from ecosystem.world.levers.registry import registry

__all__ = [
    "TABS",
    "Headline",
    "LeverField",
    "LeverSwitch",
    "company_fields",
    "company_table",
    "figures_zip",
    "headlines",
    "lever_fields",
    "lever_switches",
    "live_series",
    "overrides_from",
    "plain_label",
    "schedule_points",
    "schedule_value",
    "tabs_for",
]

LEVER_GROUPS: dict[str, tuple[str, ...]] = {
    "Policy levers": ("policy.",),
    "AI companies": (
        "companies.<name>.enabled",
        "companies.<name>.bias",
        "companies.<name>.pages_per_month",
        "companies.<name>.data",
        "companies.<name>.archive_share",
        "companies.<name>.crawler.name",
        "companies.<name>.crawl_budget",
        "companies.<name>.retrain_interval",
        "companies.<name>.market_share",
    ),
    "Creators": (
        "creators.count",
        "creators.pages_per_month",
        "creators.ai_assisted_share",
        "creators.adoption",
        "creators.margin",
        "creators.patience",
        "creators.entry_rate",
        "creators.opt_out_rate",
    ),
    "Readers": (
        "attention.chat_share",
        "attention.ai_answer_share",
        "attention.click_through",
        "attention.click_through_with_answer",
        "attention.ai_visibility",
        "attention.revenue_per_visit",
    ),
    "Web": ("web.initial_pages", "web.links_per_page", "web.death_rate", "archive.size"),
    "Lab loop": ("lab.",),
}
"""The scenario fields offered as widgets, by sidebar group (a trailing ``.`` takes a whole
section); every other field stays reachable through free-form overrides."""

MAX_LABEL = 64
"""The longest widget label, in characters."""

ECOSYSTEM_ONLY = {"AI companies", "Creators", "Readers", "Web", "Policy levers"}


@dataclass(frozen=True)
class LeverField:
    """One sidebar widget: a scenario field, its current value and what it may take.

    ``kind`` is ``bool``, ``int``, ``float``, ``choice`` or ``schedule`` (a share, or
    dated anchors written as ``{"YYYY-MM": share, ...}``).
    """

    path: str
    group: str
    label: str
    kind: str
    value: Any
    minimum: float | None
    maximum: float | None
    step: float | None
    choices: tuple[Any, ...]
    help: str


def lever_fields(scenario: Scenario) -> list[LeverField]:
    """The widgets for ``scenario``: its values, with bounds, units and help from the schema."""
    docs = describe_fields()
    fields: list[LeverField] = []
    for group, patterns in LEVER_GROUPS.items():
        if (group in ECOSYSTEM_ONLY) != (scenario.mode == "ecosystem"):
            continue
        for doc in docs:
            if not any(_matches(doc.path, pattern) for pattern in patterns):
                continue
            for path in _concrete_paths(doc.path, scenario):
                fields.append(_lever(doc, path, group, value_at(scenario, path)))
    return fields


def overrides_from(values: Mapping[str, Any], scenario: Scenario) -> list[str]:
    """``--set`` overrides for the widget values that differ from ``scenario``.

    Schedules are given as text: a number, or ``{"YYYY-MM": share, ...}`` (JSON or TOML
    inline-table syntax).
    """
    overrides = []
    for path, value in values.items():
        current = value_at(scenario, path)
        if isinstance(value, str) and not isinstance(current, str):
            value = _parse_schedule(path, value)
        if _same(value, current):
            continue
        overrides.append(f"{path}={_toml_value(value)}")
    return overrides


@dataclass(frozen=True)
class LeverSwitch:
    """A policy lever as the sidebar shows it: on or off, what turns it on, its strengths.

    ``on`` is whether its switch setting differs from its default (the lever acts);
    ``turn_on`` the overrides of its packaged policy scenario; ``turn_off`` the override
    that sets its switch back to the default; ``fields`` its settings as widgets.
    """

    name: str
    label: str
    description: str
    on: bool
    turn_on: tuple[str, ...]
    turn_off: tuple[str, ...]
    fields: tuple[LeverField, ...]

    switch: str = ""
    """The path of the setting that turns it on."""

    def summary(self) -> str:
        """``Detection``, ``Cap 0.25``: the lever and, where it is a number, its switch
        setting's value."""
        for field in self.fields:
            if field.path == self.switch and field.kind in ("int", "float"):
                return f"{self.label} {_value_text(field.value)}"
        return self.label


def lever_switches(scenario: Scenario) -> list[LeverSwitch]:
    """Every registered policy lever of ``scenario``, in lever order, with its state."""
    docs = {doc.path: doc for doc in describe_fields()}
    packaged = available_scenarios()
    switches = []
    for name, lever in registry().items():
        prefix = f"policy.{name}."
        default = lever.Settings.model_fields[lever.switch].default
        current = value_at(scenario, prefix + lever.switch)
        turn_on: tuple[str, ...] = ()
        description = ""
        if lever.scenario in packaged:
            with open(packaged[lever.scenario], "rb") as handle:
                data = tomllib.load(handle)
            description = str(data.get("description", ""))
            section = data.get("policy", {}).get(name, {})
            turn_on = tuple(f"{prefix}{key}={_toml_value(value)}" for key, value in section.items())
        switch = prefix + lever.switch
        fields = tuple(
            _lever(doc, path, "Policy levers", value_at(scenario, path))
            for path, doc in docs.items()
            if path.startswith(prefix) and not (path == switch and doc.type == "bool")
        )
        label = description.split(":")[0] if ":" in description else name.replace("_", " ")
        switches.append(
            LeverSwitch(
                name=name,
                label=label,
                description=description,
                on=not _same(current, default),
                turn_on=turn_on,
                turn_off=(f"{prefix}{lever.switch}={_toml_value(default)}",),
                fields=fields,
                switch=switch,
            )
        )
    return switches


COMPANY_PREFIX = "companies.<name>."


def company_fields() -> list[LeverField]:
    """The columns of the companies' table: the company fields offered as widgets, with the
    schema's bounds and help (``path`` is the field under ``companies.<name>``)."""
    docs = {doc.path: doc for doc in describe_fields()}
    fields = []
    for pattern in LEVER_GROUPS["AI companies"]:
        doc = docs[pattern]
        field = _lever(doc, pattern, "AI companies", doc.default)
        fields.append(field)
    return fields


def company_table(scenario: Scenario) -> pd.DataFrame:
    """One row per company of ``scenario`` (its name as index), one column per company field
    (named by the field under ``companies.<name>``)."""
    rows = {}
    for name in scenario.companies:
        rows[name] = {
            field.path.removeprefix(COMPANY_PREFIX): value_at(
                scenario, field.path.replace("<name>", name)
            )
            for field in company_fields()
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def schedule_points(value: Any, start: str) -> pd.DataFrame:
    """A share schedule as dated points (``month`` ``YYYY-MM``, ``share``): a constant share is
    one point at the run's ``start``."""
    if isinstance(value, Mapping):
        points = [(str(month), float(share)) for month, share in value.items()]
    else:
        points = [(start, float(value))]
    return pd.DataFrame(points, columns=["month", "share"])


def schedule_value(points: pd.DataFrame, path: str) -> float | dict[str, float]:
    """Dated points back to a schedule: one point is a constant share, several are anchors
    (sorted by month). Raises ValueError naming ``path`` on a bad month or share."""
    rows = points.dropna(how="all")
    if rows.empty:
        raise ValueError(f"{path}: give at least one point (month YYYY-MM, share in [0, 1])")
    anchors: dict[str, float] = {}
    for month, share in zip(rows["month"], rows["share"], strict=True):
        text = str(month).strip()
        if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit():
            raise ValueError(f"{path}: month {text!r} is not YYYY-MM")
        if share is None or not 0.0 <= float(share) <= 1.0:
            raise ValueError(f"{path}: share {share!r} at {text} is not in [0, 1]")
        anchors[text] = float(share)
    if len(anchors) == 1:
        return next(iter(anchors.values()))
    return dict(sorted(anchors.items()))


def tabs_for(mode: str, world: str) -> list[str]:
    """The results tabs that apply to a run of ``mode`` in content ``world``: the lab loop has
    one model and no web, so only its tabs, its world's excerpts, Compare and Export."""
    if mode == "lab":
        shown = [entry.name for entry in RESULT_TABS if entry.lab_note]
        excerpts = {"text": ["Documents"], "digits": ["Pictures"]}.get(world, [])
        return [*shown, *excerpts, "Compare", "Uncertainty", "Export"]
    return [*TABS, "Documents", "Pictures", "Network", "Compare", "Uncertainty", "Export"]


TABS: dict[str, tuple[Figure, ...]] = {tab.name: tab.figures for tab in RESULT_TABS}
"""Per results tab, its figures (:data:`ecosystem.measure.catalogue.RESULT_TABS`)."""


LIVE_SERIES = {
    ("web", "synthetic_share"): "web: synthetic share",
    ("web_new", "synthetic_share"): "new pages: synthetic share",
    ("web", "recall"): "web: recall (diversity)",
    ("web", "precision"): "web: precision (quality)",
    ("model", "precision"): "model: precision (quality)",
    ("model", "recall"): "model: recall (diversity)",
    ("training", "synthetic_share"): "training data: synthetic share",
}
"""The series drawn while a run goes on (those its mode has)."""

HEADLINE_SERIES = (
    ("web", "synthetic_share", "AI-written share of the web"),
    ("web", "recall", "Web diversity (recall)"),
    ("web", "precision", "Web quality (precision)"),
    ("creators", "active", "Active creators"),
    ("model", "precision", "Model quality (precision)"),
    ("model", "recall", "Model diversity (recall)"),
    ("model", "tail_mass_ratio", "Model tail mass (1 = truth)"),
    ("training", "synthetic_share", "Synthetic share of training data"),
)


@dataclass(frozen=True)
class Headline:
    """One headline number: its value at the last step and its change since step 0."""

    label: str
    value: str
    change: str
    help: str
    better: str = ""
    """``higher``, ``lower`` or ``""``: which way the change is good (the catalogue's)."""

    @property
    def delta_color(self) -> Literal["normal", "inverse", "off"]:
        """Streamlit's colouring of the change: green when it is good for the web."""
        if self.better == "higher":
            return "normal"
        return "inverse" if self.better == "lower" else "off"


def headlines(frame: pd.DataFrame, most: int = 4) -> list[Headline]:
    """Up to ``most`` headline numbers of a run, from the series it has."""
    found = []
    last = frame["step"].max()
    for scope, metric, label in HEADLINE_SERIES:
        rows = frame[(frame["scope"] == scope) & (frame["metric"] == metric)].dropna(
            subset=["value"]
        )
        if rows.empty:
            continue
        start = rows.loc[rows["step"].idxmin(), "value"]
        end = rows.loc[rows["step"].idxmax(), "value"]
        count = metric == "active"
        found.append(
            Headline(
                label,
                f"{end:,.0f}" if count else f"{end:.3f}",
                f"{end - start:+,.0f}" if count else f"{end - start:+.3f}",
                f"At step {last}; change since step 0. Unit: {metric_unit(metric)}.",
                better(metric),
            )
        )
    return found[:most]


def live_series(steps: Sequence[tuple[int, Sequence]]) -> pd.DataFrame:
    """The live chart's series (one column each) from the rows of the steps done so far."""
    points = []
    for step, rows in steps:
        point = {"step": step}
        for _, scope, metric, value in rows:
            if (scope, metric) in LIVE_SERIES:
                point[LIVE_SERIES[(scope, metric)]] = value
        points.append(point)
    return pd.DataFrame(points).set_index("step")


def figures_zip(
    frame: pd.DataFrame,
    manifest: Mapping,
    progress: Callable[[int, int], None] | None = None,
) -> bytes:
    """Every results tab of one run (or of its seeds: mean and 95% band) as PNG files and one
    self-contained interactive HTML page, with the manifest, in one zip; ``progress`` gets
    ``(figures done, figures)`` as it goes."""
    axis = x_axis(manifest)
    seeds = sorted(pd.unique(frame["seed"])) if "seed" in frame else [manifest.get("seed")]
    which = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}-{seeds[-1]}"
    name = f"{manifest.get('scenario')}, {which}"
    buffer = io.BytesIO()
    pages: list[str] = []
    figures = [
        (tab, number, series)
        for tab, groups in TABS.items()
        for number, series in enumerate(groups, start=1)
    ]
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(buffer, "w") as archive:
        for done, (tab, number, series) in enumerate(figures):
            if progress is not None:
                progress(done, len(figures))
            rows, panels, titles = tab_panels(frame, series)
            if not panels:
                continue
            path = Path(folder) / f"{_slug(tab)}-{number}.png"
            title = f"{name}: {series.title}"
            series_figure_png(rows, panels, path, x=axis, title=title, by="source", titles=titles)
            archive.write(path, path.name)
            figure = series_figure(rows, panels, x=axis, title=title, by="source", titles=titles)
            pages.append(figure.to_html(full_html=False, include_plotlyjs=not pages))
        if progress is not None:
            progress(len(figures), len(figures))
        html = f"<html><head><meta charset='utf-8'><title>{escape(name)}</title></head><body>"
        archive.writestr("figures.html", html + "\n".join(pages) + "</body></html>")
        archive.writestr(MANIFEST, json.dumps(dict(manifest), indent=2))
    return buffer.getvalue()


# --------------------------------------------------------------------- helpers


def _matches(path: str, pattern: str) -> bool:
    return path.startswith(pattern) if pattern.endswith(".") else path == pattern


def _concrete_paths(path: str, scenario: Scenario) -> list[str]:
    if "<name>" not in path:
        return [path]
    return [path.replace("<name>", name) for name in scenario.companies]


def _lever(doc: FieldDoc, path: str, group: str, value: Any) -> LeverField:
    kind = {"bool": "bool", "int": "int", "float": "float", "schedule": "schedule"}.get(doc.type)
    if doc.choices:
        kind = "choice"
    if kind is None:
        kind = "text"
    minimum, maximum = doc.minimum, doc.maximum
    if doc.exclusive_minimum and minimum is not None:
        minimum = minimum + 1 if kind == "int" else float(np.nextafter(minimum, math.inf))
    if doc.exclusive_maximum and maximum is not None:
        maximum = maximum - 1 if kind == "int" else float(np.nextafter(maximum, -math.inf))
    if maximum is not None and maximum > 1e12:
        maximum = None
    step = None
    if kind == "float":
        span = (maximum - minimum) if minimum is not None and maximum is not None else None
        step = 0.01 if span is not None and span <= 1 else None
    if kind == "int":
        step = 1
    unit = f" ({doc.unit})" if doc.unit else ""
    allowed = f" Allowed: {doc.allowed}." if doc.allowed else ""
    label = plain_label(doc)
    return LeverField(
        path=path,
        group=group,
        label=f"{label}{unit}",
        kind=kind,
        value=_schedule_text(value) if kind == "schedule" else value,
        minimum=minimum,
        maximum=maximum,
        step=step,
        choices=tuple(doc.choices),
        help=f"{doc.description}.{allowed} Field `{path}`.",
    )


def plain_label(doc: FieldDoc) -> str:
    """A widget label in words from the schema's description: its first clause without
    parenthesised asides (``Share of human pages it flags``), at most about 64 characters;
    the whole description is the widget's help."""
    text = re.sub(r"\s*\([^)]*\)", "", doc.description.strip().rstrip("."))
    for stop in (": ", "; ", ", "):
        text = text.split(stop)[0]
    if len(text) > MAX_LABEL:
        text = text[: MAX_LABEL - 1].rsplit(" ", 1)[0] + "…"
    return text[:1].upper() + text[1:]


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _schedule_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict) else f"{value:g}"


def _parse_schedule(path: str, text: str) -> Any:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = None
    if not isinstance(value, dict):
        raise ValueError(
            f'{path}: {text!r} is not a share in [0, 1] or dated anchors {{"YYYY-MM": share, ...}}'
        )
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
    return a == b


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + "}"
    return json.dumps(str(value))


def _slug(text: str) -> str:
    return "-".join(text.lower().split())
