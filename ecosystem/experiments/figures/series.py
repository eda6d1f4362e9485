"""Figures of time series across seeds: one line and a 95% band per scenario, one panel per series.

Core objects: :func:`bands` (the mean and 95% t-interval across seeds of one
series, per step), :class:`XAxis` and :func:`x_axis` (what a step means:
a calendar month in ecosystem mode, a model generation in lab mode),
:func:`series_figure_png` (matplotlib, Agg backend) and
:func:`series_figure_html` (plotly, self-contained: opens without network).
Every panel of a figure spans the same x range; lines take their fixed colours
(:mod:`ecosystem.experiments.figures.colours`). Every file is written atomically.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib import colors as mcolors
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator
from plotly.subplots import make_subplots

from ecosystem.calendar import month_of_step
from ecosystem.experiments.figures.colours import PALETTE, line_colours
from ecosystem.experiments.intervals import CONFIDENCE, interval_table
from ecosystem.measure import catalogue
from ecosystem.runs.results import atomic_write_bytes, atomic_write_text
from ecosystem.scenario import Scenario

__all__ = [
    "PALETTE",
    "XAxis",
    "bands",
    "legend_columns",
    "metric_unit",
    "series_figure",
    "series_figure_html",
    "series_figure_png",
    "x_axis",
]

Panel = tuple[str, str]
"""One panel: ``(scope, metric)``."""

UNITS = {entry.metric: entry.unit for entry in catalogue.SERIES}
"""The axis label of every catalogued metric (:mod:`ecosystem.measure.catalogue`)."""
COLUMNS = 3


@dataclass(frozen=True)
class XAxis:
    """What the steps of a run are on the x axis.

    ``start`` is the calendar month (``YYYY-MM``) of step 1 in ecosystem mode
    (step 0, the initial state, is the month before); without it x is the step itself.
    """

    label: str = "step"
    start: str | None = None

    @property
    def is_calendar(self) -> bool:
        """Whether x is a calendar month."""
        return self.start is not None

    @property
    def unit(self) -> str:
        """Plural name of one step: ``months``, ``generations`` or ``steps``."""
        return f"{self.label}s"

    def values(self, steps: Sequence[int] | np.ndarray) -> np.ndarray:
        """x of each step: the first day of its month (datetime64[D]) or the step number."""
        steps = np.asarray(steps, dtype=np.int64)
        if self.start is None:
            return steps
        months = [month_of_step(self.start, int(step)) for step in steps]
        return np.array(months, dtype="datetime64[M]").astype("datetime64[D]")


def x_axis(source: Scenario | Mapping) -> XAxis:
    """The x axis of a scenario, a run manifest or a resolved scenario dict.

    Ecosystem mode: calendar months from ``start``; lab mode: model generations.
    """
    if isinstance(source, Scenario):
        mode, start = source.mode, source.start
    else:
        resolved = source.get("resolved_scenario", source)
        mode, start = resolved.get("mode"), resolved.get("start")
    if mode == "ecosystem" and start:
        return XAxis("month", start)
    if mode == "lab":
        return XAxis("generation")
    return XAxis()


def metric_unit(metric: str) -> str:
    """Axis label of a metric with its unit, e.g. ``share (0-1)``, ``creators``, ``$ / month``,
    from the catalogue; a metric it does not hold is named by itself."""
    return catalogue.unit(metric) or metric.replace("_", " ")


def legend_columns(labels: Sequence[str], width: float, most: int = 5) -> int:
    """How many legend columns fit ``labels`` (10-point text) in a figure ``width`` inches wide."""
    longest = max((len(str(label)) for label in labels), default=1)
    fit = int(width // (0.08 * longest + 0.7))
    return max(1, min(len(labels), most, fit))


def bands(frame: pd.DataFrame, scope: str, metric: str, by: str = "scenario") -> pd.DataFrame:
    """Per value of ``by`` and step: ``n`` seeds, their ``mean`` and 95% t-interval ``low, high``.

    ``frame`` is a tidy series (``read_timeseries``) of one or more runs; a run
    counts once per step (repeated rows of a seed are averaged first).
    """
    rows = frame[(frame["scope"] == scope) & (frame["metric"] == metric)]
    per_seed = rows.groupby([by, "seed", "step"], sort=False)["value"].mean().reset_index()
    out = interval_table(per_seed, [by, "step"])
    order = {name: i for i, name in enumerate(pd.unique(out[by]))}
    ranked = out.assign(_order=out[by].map(order)).sort_values(["_order", "step"], kind="stable")
    return ranked.drop(columns="_order").reset_index(drop=True)


AxisChoice = XAxis | Mapping[str, XAxis] | None


def series_figure_png(
    frame: pd.DataFrame,
    panels: Sequence[Panel],
    path: str | Path,
    *,
    x: AxisChoice = None,
    title: str | None = None,
    by: str = "scenario",
    titles: Mapping[Panel, str] | None = None,
) -> Path:
    """Write a PNG grid: per panel ``(scope, metric)``, one line and 95% band per scenario.

    ``x`` is one :class:`XAxis` for all, one per scenario (e.g. different start
    months) or None (steps). Panels missing from ``frame`` are left out.
    """
    figure = _png_figure(frame, panels, x=x, title=title, by=by, titles=titles)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def _png_figure(
    frame: pd.DataFrame,
    panels: Sequence[Panel],
    *,
    x: AxisChoice,
    title: str | None,
    by: str,
    titles: Mapping[Panel, str] | None,
) -> Figure:
    """The matplotlib figure of :func:`series_figure_png`, every panel on the same x range."""
    series = _series(frame, panels, by)
    rows = -(-len(series) // COLUMNS)
    cols = min(COLUMNS, len(series))
    figure = Figure(figsize=(4.6 * cols, 3.3 * rows + 0.9), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    colours = _colours(series)
    limits = _x_limits(series, x, by)
    for ax, ((scope, metric), table) in zip(axes, series.items(), strict=False):
        for name, band in table.groupby(by, sort=False):
            axis = _axis_of(x, name)
            xs = axis.values(band["step"])
            colour = colours[name]
            ax.plot(xs, band["mean"], color=colour, linewidth=1.6, label=str(name))
            ax.fill_between(xs, band["low"], band["high"], color=colour, alpha=0.2, linewidth=0)
        axis = _axis_of(x, next(iter(colours)))
        ax.set_title(_panel_title((scope, metric), titles), fontsize=10)
        ax.set_xlabel(axis.label)
        ax.set_ylabel(metric_unit(metric))
        ax.grid(alpha=0.3)
        _png_x_axis(ax, axis, limits)
    for ax in axes[len(series) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    columns = legend_columns(labels, figure.get_figwidth())
    figure.legend(handles, labels, loc="outside lower center", ncols=columns)
    figure.suptitle(title or _default_title(), fontsize=11)
    return figure


def _png_x_axis(ax: Axes, axis: XAxis, limits: tuple | None) -> None:
    """Ticks and range of one PNG panel's x axis: whole months named with their year
    (:class:`_MonthFormatter`), or whole steps."""
    if limits is not None and limits[0] != limits[1]:
        low, high = (
            (mdates.date2num(value) for value in limits) if axis.is_calendar else map(float, limits)
        )
        pad = 0.02 * (high - low)  # room for the last tick's label at the figure's edge
        ax.set_xlim(low - pad, high + pad)
    if axis.is_calendar:
        months = _months_between(limits) if limits is not None else 1
        first = int(np.datetime64(limits[0], "M").astype(np.int64)) % 12 + 1 if limits else 1
        ax.xaxis.set_major_locator(_month_locator(months, first))
        ax.xaxis.set_major_formatter(_MonthFormatter())
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))


class _MonthFormatter(Formatter):
    """Month ticks named by the month, with the year below it at the first tick and wherever
    the year changes (``Dec`` over ``2023``, ``Jan`` over ``2024``, ``Feb``, ...), so no month
    is left without its year; ticks on every January a year or more apart are the year."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return mdates.num2date(x).strftime("%b %Y")

    def format_ticks(self, values) -> list[str]:
        dates = [mdates.num2date(value) for value in values]
        yearly = len(dates) > 1 and all(date.month == 1 for date in dates)
        if yearly and len({date.year for date in dates}) == len(dates):
            return [date.strftime("%Y") for date in dates]
        labels = []
        for number, date in enumerate(dates):
            new_year = number == 0 or date.year != dates[number - 1].year
            labels.append(date.strftime("%b\n%Y" if new_year else "%b"))
        return labels


def series_figure_html(
    frame: pd.DataFrame,
    panels: Sequence[Panel],
    path: str | Path,
    *,
    x: AxisChoice = None,
    title: str | None = None,
    by: str = "scenario",
    titles: Mapping[Panel, str] | None = None,
) -> Path:
    """Write the same figure as :func:`series_figure_png` as interactive, self-contained HTML
    (plotly.js is embedded, so it opens without network)."""
    figure = series_figure(frame, panels, x=x, title=title, by=by, titles=titles)
    html = figure.to_html(include_plotlyjs=True, full_html=True)
    atomic_write_text(Path(path), html)
    return Path(path)


def series_figure(
    frame: pd.DataFrame,
    panels: Sequence[Panel],
    *,
    x: AxisChoice = None,
    title: str | None = None,
    by: str = "scenario",
    columns: int = COLUMNS,
    titles: Mapping[Panel, str] | None = None,
) -> go.Figure:
    """The interactive plotly figure: per panel ``(scope, metric)``, one line and 95% band
    per value of ``by`` (the band is left out where there is one seed)."""
    series = _series(frame, panels, by)
    if not series:
        raise ValueError("none of the requested series are in the data")
    rows = -(-len(series) // columns)
    cols = min(columns, len(series))
    figure = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[_panel_title(panel, titles) for panel in series],
        horizontal_spacing=0.1,
    )
    colours = _colours(series)
    limits = _x_limits(series, x, by)
    for index, ((_, metric), table) in enumerate(series.items()):
        row, col = index // cols + 1, index % cols + 1
        for name, band in table.groupby(by, sort=False):
            axis = _axis_of(x, name)
            xs = _plotly_x(axis.values(band["step"]))
            colour = colours[name]
            if band["n"].max() > 1:
                figure.add_trace(
                    go.Scatter(
                        x=[*xs, *xs[::-1]],
                        y=[*band["high"], *band["low"][::-1]],
                        fill="toself",
                        fillcolor=_rgba(colour, 0.2),
                        line={"width": 0},
                        hoverinfo="skip",
                        legendgroup=str(name),
                        showlegend=False,
                        name=f"{name} 95% band",
                    ),
                    row=row,
                    col=col,
                )
            figure.add_trace(
                go.Scatter(
                    x=xs,
                    y=list(band["mean"]),
                    mode="lines",
                    line={"color": colour, "width": 2},
                    name=str(name),
                    legendgroup=str(name),
                    showlegend=index == 0,
                    customdata=np.column_stack([band["low"], band["high"], band["n"]]),
                    hovertemplate=f"{name}<br>%{{x}}<br>mean %{{y:.4g}} "
                    "[%{customdata[0]:.4g}, %{customdata[1]:.4g}], n = %{customdata[2]}"
                    "<extra></extra>",
                ),
                row=row,
                col=col,
            )
        axis = _axis_of(x, next(iter(colours)))
        figure.update_xaxes(title_text=axis.label, row=row, col=col)
        if axis.is_calendar:
            figure.update_xaxes(tickformat="%b %Y", row=row, col=col)
        elif limits is not None:
            span = int(limits[1] - limits[0])
            figure.update_xaxes(dtick=max(1, -(-span // 6)), row=row, col=col)
        if limits is not None:
            figure.update_xaxes(range=_plotly_x(np.array(limits)), row=row, col=col)
        figure.update_yaxes(title_text=metric_unit(metric), row=row, col=col)
    figure.update_layout(
        title=title or _default_title(),
        height=320 * rows + 120,
        template="plotly_white",
        legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.0},
        margin={"b": 90},
    )
    return figure


def _panel_title(panel: Panel, titles: Mapping[Panel, str] | None) -> str:
    """``titles[panel]`` if given, else ``scope label: metric title`` from the catalogue
    (``whole web: income Gini``; the metric title alone for an empty scope)."""
    if titles and panel in titles:
        return titles[panel]
    return catalogue.series_title(*panel)


def _series(frame: pd.DataFrame, panels: Sequence[Panel], by: str) -> dict[Panel, pd.DataFrame]:
    present = set(zip(frame["scope"], frame["metric"], strict=True))
    series = {panel: bands(frame, *panel, by=by) for panel in panels if tuple(panel) in present}
    series = {panel: table for panel, table in series.items() if not table.empty}
    if not series:
        wanted = ", ".join(f"{s}/{m}" for s, m in panels)
        raise ValueError(f"none of the series {wanted} is in the data")
    return series


def _colours(series: Mapping[Panel, pd.DataFrame]) -> dict:
    """The fixed colour of every line of the figure (:func:`line_colours`)."""
    names = pd.unique(pd.concat([table.iloc[:, 0] for table in series.values()]))
    return line_colours(names)


def _x_limits(series: Mapping[Panel, pd.DataFrame], x: AxisChoice, by: str) -> tuple | None:
    """The least and greatest x over every line of every panel (one range for all panels);
    None when the lines mix calendar months and plain steps."""
    values = [
        _axis_of(x, name).values(band["step"])
        for table in series.values()
        for name, band in table.groupby(by, sort=False)
    ]
    kinds = {np.issubdtype(v.dtype, np.datetime64) for v in values if len(v)}
    if len(kinds) != 1:
        return None
    every = np.concatenate([v for v in values if len(v)])
    return every.min(), every.max()


def _months_between(limits: tuple) -> int:
    """Whole months from the first to the last date of ``limits``."""
    first, last = (np.datetime64(value, "M").astype(np.int64) for value in limits)
    return int(last - first)


def _axis_of(x: AxisChoice, name) -> XAxis:
    if x is None:
        return XAxis()
    if isinstance(x, XAxis):
        return x
    return x.get(name, XAxis())


def _month_locator(months: int, first_month: int = 1) -> mdates.DateLocator:
    """Ticks on whole months (never days), at most about six of them over ``months`` months,
    on ``first_month`` (1-12, the first month drawn) and every k-th month after it."""
    months = max(int(months), 1)
    if months > 6 * 12:
        return mdates.YearLocator(base=-(-months // (6 * 12)))
    step = next(k for k in (1, 2, 3, 4, 6, 12) if months / k <= 6)
    ticked = sorted({(first_month - 1 + step * i) % 12 + 1 for i in range(12 // step)})
    return mdates.MonthLocator(bymonth=ticked, bymonthday=1)


def _plotly_x(values: np.ndarray) -> list:
    if np.issubdtype(values.dtype, np.datetime64):
        return [str(v) for v in values]
    return values.tolist()


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (round(255 * c) for c in mcolors.to_rgb(colour))
    return f"rgba({r}, {g}, {b}, {alpha})"


def _default_title() -> str:
    return f"mean across seeds with {CONFIDENCE:.0%} t-interval"
