"""Interactive figures of the explorer (plotly): the results tabs, runs side by side, each
company's model by generation and the sampled web.

Core objects: :func:`tab_figure` and :func:`tab_panels` (one figure of a results tab, as
declared in :mod:`ecosystem.measure.catalogue`), :func:`overlay_figure`,
:func:`generation_figure` and :func:`network_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ecosystem.experiments.figures.series import PALETTE, Panel, XAxis, metric_unit, series_figure
from ecosystem.measure.catalogue import Figure, scope_label
from ecosystem.runs.network import NetworkSample, layout

__all__ = [
    "ORIGIN_COLOURS",
    "generation_figure",
    "network_figure",
    "overlay_figure",
    "tab_figure",
    "tab_panels",
]


def tab_figure(
    frame: pd.DataFrame,
    series: Figure,
    *,
    x: XAxis | None = None,
    title: str | None = None,
) -> go.Figure | None:
    """One panel per metric of ``series``, one line per scope (and band across seeds where a
    run has several); None when the data holds none of it."""
    rows, panels, titles = tab_panels(frame, series)
    if not panels:
        return None
    return series_figure(
        rows, panels, x=x, title=title or series.title, by="source", columns=3, titles=titles
    )


def overlay_figure(
    frame: pd.DataFrame, scope: str, metrics: Sequence[str], *, x: XAxis | Mapping | None
) -> go.Figure | None:
    """Runs side by side: one panel per metric of ``scope``, one line per run (``label``)."""
    rows = frame[(frame["scope"] == scope) & frame["metric"].isin(metrics) & frame["value"].notna()]
    if rows.empty:
        return None
    panels = [(scope, m) for m in metrics if m in set(rows["metric"])]
    return series_figure(
        rows, panels, x=x, by="label", columns=3, title="Runs side by side (one line per run)"
    )


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
    for index, metric in enumerate(present):
        row, col = index // cols + 1, index % cols + 1
        for number, (scope, lines) in enumerate(table[table["metric"] == metric].groupby("scope")):
            figure.add_trace(
                go.Scatter(
                    x=lines["generation"],
                    y=lines["value"],
                    mode="lines+markers",
                    name=scope_label(scope),
                    legendgroup=scope,
                    showlegend=index == 0,
                    line={"color": _colour(number)},
                ),
                row=row,
                col=col,
            )
        figure.update_xaxes(title_text="model generation", dtick=1, row=row, col=col)
        figure.update_yaxes(title_text=metric_unit(metric), row=row, col=col)
    return figure


ORIGIN_COLOURS = {"human": "#1f77b4", "AI": "#d62728", "AI-assisted": "#ff7f0e"}


def network_figure(sample: NetworkSample, seed: int = 0) -> go.Figure:
    """The sampled web drawn with a spring layout: colour = origin, size = traffic."""
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
                line={"width": 0.5, "color": "rgba(120,120,120,0.35)"},
                hoverinfo="skip",
                name="links",
            )
        )
    traffic = nodes["traffic"].clip(lower=0)
    sizes = 5 + 25 * np.sqrt(traffic / traffic.max()) if traffic.max() > 0 else 8
    nodes = nodes.assign(size=sizes)
    for origin, colour in ORIGIN_COLOURS.items():
        group = nodes[nodes["origin"] == origin]
        if group.empty:
            continue
        figure.add_trace(
            go.Scatter(
                x=group["x"],
                y=group["y"],
                mode="markers",
                name=f"{origin} ({len(group)})",
                marker={"size": group["size"], "color": colour, "line": {"width": 0.5}},
                customdata=group[["page", "topic", "traffic", "in_degree"]].to_numpy(),
                hovertemplate="page %{customdata[0]}<br>topic %{customdata[1]}"
                "<br>traffic %{customdata[2]:.3g} visits<br>%{customdata[3]} in-links"
                "<extra>" + origin + "</extra>",
            )
        )
    figure.update_layout(
        template="plotly_white",
        height=620,
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        legend={"title": {"text": "origin (pages)"}},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return figure


def tab_panels(
    frame: pd.DataFrame, series: Figure
) -> tuple[pd.DataFrame, list[Panel], dict[Panel, str]]:
    """The rows of ``series`` with the scope moved to ``source`` (one line per scope), the
    panels present and their titles."""
    scopes = _expand_scopes(frame, series.scopes)
    rows = frame[frame["scope"].isin(scopes) & frame["metric"].isin(series.metrics)]
    rows = rows[rows["value"].notna()]
    rows = rows.assign(source=rows["scope"].map(scope_label), scope="")
    present = set(rows["metric"])
    panels = [("", m) for m in series.metrics if m in present]
    return rows, panels, {panel: _metric_title(panel[1]) for panel in panels}


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
    return metric.replace("_", " ")


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


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]
