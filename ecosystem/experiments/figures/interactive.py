"""Interactive figures of the explorer (plotly): the results tabs, runs side by side, each
company's model by generation, the live chart of a running run and the sampled web.

Core objects: :func:`tab_figure` and :func:`tab_panels` (one figure of a results tab, as
declared in :mod:`ecosystem.measure.catalogue`), :func:`inactive_metrics` (its panels of
levers that are off), :func:`without_initial_stock` (flows without their step 0),
:func:`overlay_figure`, :func:`generation_figure`, :func:`live_figure` and
:func:`network_figure`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ecosystem.experiments.figures.colours import line_colours
from ecosystem.experiments.figures.series import (
    Panel,
    XAxis,
    _plotly_x,
    metric_unit,
    series_figure,
)
from ecosystem.measure import catalogue
from ecosystem.measure.catalogue import Figure, scope_label
from ecosystem.runs.network import NetworkSample, layout

__all__ = [
    "ORIGIN_COLOURS",
    "generation_figure",
    "inactive_metrics",
    "live_figure",
    "network_figure",
    "overlay_figure",
    "tab_figure",
    "tab_panels",
    "without_initial_stock",
]


def tab_figure(
    frame: pd.DataFrame,
    series: Figure,
    *,
    x: XAxis | None = None,
    title: str | None = None,
) -> go.Figure | None:
    """One panel per metric of ``series``, one line per scope (and band across seeds where a
    run has several); panels of :func:`inactive_metrics` are left out. None when the data
    holds none of it, or only panels that are not active."""
    rows, panels, titles = tab_panels(frame, series)
    off = set(inactive_metrics(frame, series))
    panels = [panel for panel in panels if panel[1] not in off]
    if not panels:
        return None
    return series_figure(
        rows, panels, x=x, title=title or series.title, by="source", columns=3, titles=titles
    )


def overlay_figure(
    frame: pd.DataFrame, scope: str, metrics: Sequence[str], *, x: XAxis | Mapping | None
) -> go.Figure | None:
    """Runs side by side: one panel per metric of ``scope``, one line per run (``label``); a
    flow scope's step 0 (the initial stock) is left out."""
    rows = frame[(frame["scope"] == scope) & frame["metric"].isin(metrics) & frame["value"].notna()]
    rows = without_initial_stock(rows)
    if rows.empty:
        return None
    panels = [(scope, m) for m in metrics if m in set(rows["metric"])]
    figure = series_figure(
        rows, panels, x=x, by="label", columns=3, title="Runs side by side (one line per run)"
    )
    order = {label: i for i, label in enumerate(pd.unique(rows["label"]))}
    for trace in figure.data:
        if trace.mode == "lines" and trace.name in order:
            trace.line.dash = RUN_DASHES[order[trace.name] % len(RUN_DASHES)]
    return figure


RUN_DASHES = ("solid", "dash", "dot", "dashdot")
"""Line styles of the runs side by side, in order, so that lines that coincide both show."""


def generation_figure(frame: pd.DataFrame, metrics: Sequence[str]) -> go.Figure | None:
    """Each company's model by generation: the value each metric had while that generation was
    serving (mean over its months), one line per company."""
    rows = frame[frame["scope"].str.startswith("company:") & frame["metric"].isin(metrics)]
    if rows.empty:
        return None
    table = rows.groupby(["scope", "generation", "metric"], sort=True)["value"].mean().reset_index()
    present = [m for m in metrics if m in set(table["metric"])]
    figure = _grid(len(present), [_metric_title(m) for m in present])
    cols = min(3, len(present))
    colours = line_colours(scope_label(scope) for scope in pd.unique(table["scope"]))
    shown: set[str] = set()
    for index, metric in enumerate(present):
        row, col = index // cols + 1, index % cols + 1
        for scope, lines in table[table["metric"] == metric].groupby("scope"):
            name = scope_label(scope)
            figure.add_trace(
                go.Scatter(
                    x=lines["generation"],
                    y=lines["value"],
                    mode="lines+markers",
                    name=name,
                    legendgroup=scope,
                    showlegend=name not in shown,
                    line={"color": colours[name]},
                ),
                row=row,
                col=col,
            )
            shown.add(name)
        figure.update_xaxes(title_text="model generation", dtick=1, row=row, col=col)
        figure.update_yaxes(title_text=metric_unit(metric), row=row, col=col)
    return figure


ORIGIN_COLOURS = {"human": "#1f77b4", "AI": "#d62728", "AI-assisted": "#ff7f0e"}
"""The colour of each page origin in the network view."""

TOPIC_COLOURS = [
    "#1f77b4",
    "#aec7e8",
    "#ff7f0e",
    "#ffbb78",
    "#2ca02c",
    "#98df8a",
    "#d62728",
    "#ff9896",
    "#9467bd",
    "#c5b0d5",
    "#8c564b",
    "#c49c94",
    "#e377c2",
    "#f7b6d2",
    "#bcbd22",
    "#dbdb8d",
    "#17becf",
    "#9edae5",
]
"""One colour per topic in the network view: the twenty Tableau colours but the two greys."""
OTHER_TOPICS = "#b0b0b0"
"""The colour of the topics past the first ``len(TOPIC_COLOURS) - 1`` (by pages sampled)."""
SIZE_LEGEND = "#9a9a9a"


def network_figure(sample: NetworkSample, seed: int = 0, colour_by: str = "origin") -> go.Figure:
    """The sampled web drawn with a spring layout: size = traffic, colour = origin
    (``colour_by="origin"``) or topic (``"topic"``; the rarest topics share one colour when
    there are more than :data:`TOPIC_COLOURS`); a second legend gives the sizes."""
    if colour_by not in ("origin", "topic"):
        raise ValueError(f"colour_by must be 'origin' or 'topic', got {colour_by!r}")
    nodes = layout(sample, seed)
    position = nodes.set_index("page")[["x", "y"]]
    figure = go.Figure()
    if len(sample.links):
        src = position.loc[sample.links["source"]].to_numpy()
        dst = position.loc[sample.links["target"]].to_numpy()
        xs = np.column_stack([src[:, 0], dst[:, 0], np.full(len(src), np.nan)]).ravel()
        ys = np.column_stack([src[:, 1], dst[:, 1], np.full(len(src), np.nan)]).ravel()
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"width": 1.0, "color": "rgba(60,60,60,0.45)"},
                hoverinfo="skip",
                name="links",
            )
        )
    traffic = nodes["traffic"].clip(lower=0)
    nodes = nodes.assign(size=_marker_size(traffic, float(traffic.max())))
    groups = _origin_groups(nodes) if colour_by == "origin" else _topic_groups(nodes)
    for name, colour, group in groups:
        figure.add_trace(
            go.Scatter(
                x=group["x"],
                y=group["y"],
                mode="markers",
                name=f"{name} ({len(group)})",
                marker={"size": group["size"], "color": colour, "line": {"width": 0.5}},
                customdata=group[["page", "topic", "traffic", "in_degree", "origin"]].to_numpy(),
                hovertemplate="page %{customdata[0]} (%{customdata[4]})<br>topic %{customdata[1]}"
                "<br>traffic %{customdata[2]:.3g} visits (decayed)"
                "<br>%{customdata[3]} in-links (whole web)<extra></extra>",
            )
        )
    for label, value in _size_legend(traffic):
        figure.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=f"{label}: {_visits(value)} visits",
                marker={
                    "size": float(_marker_size(value, float(traffic.max()))),
                    "color": SIZE_LEGEND,
                },
                legend="legend2",
                hoverinfo="skip",
            )
        )
    figure.update_layout(
        template="plotly_white",
        height=620,
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        legend={"title": {"text": f"{colour_by} (pages)"}, "y": 1.0, "yanchor": "top"},
        legend2={
            "title": {"text": "size: traffic (decayed visits)"},
            "y": 0.0,
            "yanchor": "bottom",
            "itemsizing": "trace",
        },
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return figure


def _marker_size(traffic, most: float):
    """Marker diameter (px) of a page's traffic: 5 to 30, by the square root (area ~ traffic)."""
    if most <= 0:
        return 8.0 if np.isscalar(traffic) else np.full(len(traffic), 8.0)
    return 5 + 25 * np.sqrt(np.clip(traffic, 0, None) / most)


def _visits(value: float) -> str:
    """A traffic as short text: ``12,400``, ``3.5``."""
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def _size_legend(traffic: pd.Series) -> list[tuple[str, float]]:
    """Low (10th percentile), median and high (the most) traffic of the pages drawn; none
    when no page has traffic."""
    if traffic.empty or traffic.max() <= 0:
        return []
    low, median, high = np.quantile(traffic.to_numpy(dtype=float), [0.1, 0.5, 1.0])
    return [("low", float(low)), ("median", float(median)), ("high", float(high))]


def _origin_groups(nodes: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """The pages of each origin with its colour (:data:`ORIGIN_COLOURS`)."""
    groups = [(o, c, nodes[nodes["origin"] == o]) for o, c in ORIGIN_COLOURS.items()]
    return [group for group in groups if not group[2].empty]


def _topic_groups(nodes: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """The pages of each topic, by topic number; past :data:`TOPIC_COLOURS` topics, the
    ones with fewest pages sampled are drawn together as ``other topics``."""
    counts = nodes["topic"].value_counts()
    ranked = sorted(counts.index, key=lambda topic: (-counts[topic], topic))
    kept = ranked if len(ranked) <= len(TOPIC_COLOURS) else ranked[: len(TOPIC_COLOURS) - 1]
    groups = [
        (f"topic {topic}", TOPIC_COLOURS[number], nodes[nodes["topic"] == topic])
        for number, topic in enumerate(sorted(kept))
    ]
    rest = nodes[~nodes["topic"].isin(kept)]
    if not rest.empty:
        groups.append(("other topics", OTHER_TOPICS, rest))
    return groups


LIVE_COLUMNS = 4
"""At most this many panels side by side in the live chart."""
LIVE_SCOPES = {"web": "whole web"}
"""Scope names of live series labels that are not a scope's legend name."""


def live_figure(points: pd.DataFrame, x: XAxis) -> go.Figure:
    """The live chart of a run in progress: one small panel per column of ``points`` (indexed
    by step, as :func:`ecosystem.interfaces.explorer.live_series` gives), each on its own y
    scale, x in calendar months or generations."""
    columns = [column for column in points.columns if points[column].notna().any()]
    count = max(len(columns), 1)
    cols = min(count, LIVE_COLUMNS)
    rows = -(-count // cols)
    figure = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[str(column) for column in columns],
        horizontal_spacing=0.07,
        vertical_spacing=0.28 if rows > 1 else 0.1,
    )
    scopes = [LIVE_SCOPES.get(_live_scope(c), _live_scope(c)) for c in columns]
    colours = line_colours(scopes)
    steps = points.index.to_numpy(dtype=np.int64)
    xs = np.asarray(_plotly_x(x.values(steps)), dtype=object)
    for index, column in enumerate(columns):
        row, col = index // cols + 1, index % cols + 1
        values = points[column].to_numpy(dtype=float)
        kept = ~np.isnan(values)
        figure.add_trace(
            go.Scatter(
                x=list(xs[kept]),
                y=list(values[kept]),
                mode="lines+markers",
                marker={"size": 4},
                line={"color": colours[scopes[index]], "width": 2},
                name=str(column),
                hovertemplate="%{x}<br>%{y:.4g}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        figure.update_xaxes(title_text=x.label, row=row, col=col)
        figure.update_yaxes(title_text=_live_unit(str(column)), row=row, col=col)
    if x.is_calendar:
        figure.update_xaxes(tickformat="%b %Y", nticks=4)
    else:
        figure.update_xaxes(nticks=6)
    figure.update_xaxes(title_font={"size": 11}, tickfont={"size": 10})
    figure.update_yaxes(title_font={"size": 11}, tickfont={"size": 10})
    figure.update_annotations(font={"size": 12})
    figure.update_layout(
        template="plotly_white",
        height=280 if rows == 1 else 320,
        showlegend=False,
        margin={"l": 50, "r": 10, "t": 30, "b": 40},
    )
    return figure


def _live_scope(label: str) -> str:
    """The scope part of a live series label (``web`` of ``web: synthetic share``)."""
    return label.partition(":")[0].strip() if ":" in label else ""


def _live_unit(label: str) -> str:
    """The unit of a live series label's metric (``web: recall (diversity)`` -> recall's
    unit), or ``value`` when the label names no catalogued metric."""
    text = label.partition(":")[2] if ":" in label else label
    name = re.sub(r"\s*\(.*\)\s*$", "", text).strip().replace(" ", "_").replace("-", "_")
    return catalogue.unit(name) or "value"


def tab_panels(
    frame: pd.DataFrame, series: Figure
) -> tuple[pd.DataFrame, list[Panel], dict[Panel, str]]:
    """The rows of ``series`` with the scope moved to ``source`` (one line per scope), the
    panels present and their titles; a flow scope's step 0 (the initial stock, not a
    month's flow) is left out."""
    scopes = _expand_scopes(frame, series.scopes)
    rows = frame[frame["scope"].isin(scopes) & frame["metric"].isin(series.metrics)]
    rows = without_initial_stock(rows[rows["value"].notna()])
    rows = rows.assign(source=rows["scope"].map(scope_label), scope="")
    present = set(rows["metric"])
    panels = [("", m) for m in series.metrics if m in present]
    return rows, panels, {panel: _metric_title(panel[1]) for panel in panels}


def inactive_metrics(frame: pd.DataFrame, figure: Figure) -> list[str]:
    """The metrics of ``figure`` that ``frame`` holds but whose values are all zero (or NaN)
    in every line: the series of a lever that is off in this run, left out of the tab."""
    scopes = _expand_scopes(frame, figure.scopes)
    rows = frame[frame["scope"].isin(scopes) & frame["metric"].isin(figure.metrics)]
    rows = without_initial_stock(rows)
    active = rows["value"].fillna(0.0).ne(0.0).groupby(rows["metric"]).any()
    return [metric for metric in figure.metrics if metric in active.index and not active[metric]]


def without_initial_stock(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the step 0 rows of flow scopes (``web_new``): there step 0 holds the
    initial web, not a month's new pages, and would dwarf the months after it."""
    flows = [scope for scope in pd.unique(frame["scope"]) if _is_flow(str(scope))]
    if not flows:
        return frame
    return frame[~(frame["scope"].isin(flows) & (frame["step"] == 0))]


def _is_flow(scope: str) -> bool:
    try:
        return catalogue.scope_kind(scope).flow
    except KeyError:
        return False


def _expand_scopes(frame: pd.DataFrame, scopes: Sequence[str]) -> list[str]:
    present = list(pd.unique(frame["scope"]))
    out: list[str] = []
    for scope in scopes:
        if scope.endswith("*"):
            out.extend(s for s in present if s.startswith(scope[:-1]))
        elif scope in present:
            out.append(scope)
    return out


def _metric_title(metric: str) -> str:
    """The catalogue's title of a metric, e.g. ``income Gini``."""
    return catalogue.metric_title(metric)


def _grid(panels: int, titles: Sequence[str]) -> go.Figure:
    cols = min(3, max(panels, 1))
    rows = -(-max(panels, 1) // cols)
    figure = make_subplots(rows=rows, cols=cols, subplot_titles=list(titles))
    figure.update_layout(
        template="plotly_white",
        height=320 * rows + 100,
        legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.0},
        margin={"b": 90},
    )
    return figure
