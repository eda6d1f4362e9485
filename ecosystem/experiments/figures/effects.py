"""Effect figures of a sweep: each key outcome at the end of the run against one swept parameter.

Core objects: :func:`effect_figure_png` (matplotlib, Agg backend; one panel per key series,
grid values as means with t-intervals, sampled values as runs with a least-squares line),
:func:`lever_effect_figure` (plotly, from a sweep's tidy table: per outcome the mean across
seeds with its t-interval and each seed, against one lever) and the labels they share with
the sweep report: :func:`value_text` (a parameter value as short text), :func:`setting_text`
(``key=value, ...``), :func:`parameter_label` (a swept key with its unit) and
:func:`is_numeric`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from plotly.subplots import make_subplots

from ecosystem.experiments.figures.series import PALETTE, _rgba, legend_columns, metric_unit
from ecosystem.experiments.intervals import CONFIDENCE, end_of_run, interval_table
from ecosystem.measure import catalogue
from ecosystem.runs.results import atomic_write_bytes
from ecosystem.scenario import describe_fields

__all__ = [
    "effect_figure_png",
    "is_numeric",
    "lever_effect_figure",
    "parameter_label",
    "setting_text",
    "value_text",
]

Series = tuple[str, str]
"""A key series: ``(scope, metric)``."""

MAX_GROUPS = 6
"""At most this many combinations of the other parameters get a line each in an effect panel."""
COLUMNS = 3


def effect_figure_png(
    end: pd.DataFrame,
    parameter: str,
    metrics: Sequence[Series],
    path: Path,
    *,
    parameters: Sequence[str],
    sampled: set[str],
    order: list,
    window_text: str,
) -> tuple[Path, str, list[str]]:
    """One panel per key outcome: its end-of-run value against ``parameter``; returns the
    file, a caption and the legend's labels.

    Grid values show the mean across runs with its t-interval; sampled values each run and
    a least-squares line. One line per combination of the other grid parameters when there
    are few, else pooled over them; sampled parameters always vary within a line.
    """
    others = [key for key in parameters if key != parameter and key not in sampled]
    end = end.copy()
    end["group"] = [setting_text(row, others) for row in end[list(others)].to_dict("records")]
    pooled = bool(others) and len(pd.unique(end["group"])) > MAX_GROUPS
    if pooled or not others:
        end["group"] = ""
    groups = list(pd.unique(end["group"]))
    scale = _Scale.of(end[parameter], sampled=parameter in sampled, order=order, lines=len(groups))

    cols = min(COLUMNS, len(metrics))
    rows = -(-len(metrics) // cols)
    figure = Figure(figsize=(4.6 * cols, 3.3 * rows + 1.1), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    for ax, (scope, metric) in zip(axes, metrics, strict=False):
        panel = end[(end["scope"] == scope) & (end["metric"] == metric)].dropna(subset=["value"])
        for slot, group in enumerate(groups):
            rows_of = panel[panel["group"] == group]
            if rows_of.empty:
                continue
            if scale.scatter:
                prefix = f"{group}: " if group else ""
                _draw_runs(ax, rows_of, parameter, prefix, PALETTE[slot % len(PALETTE)])
            else:
                label = group or f"mean across runs with {CONFIDENCE:.0%} t-interval"
                _draw_means(ax, rows_of, parameter, scale, (slot, len(groups)), label)
        ax.set_title(f"{scope}: {metric.replace('_', ' ')}", fontsize=10)
        ax.set_xlabel(parameter_label(parameter))
        ax.set_ylabel(metric_unit(metric))
        ax.grid(alpha=0.3)
        scale.ticks(ax)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if labels:
        columns = legend_columns(labels, figure.get_figwidth())
        figure.legend(handles, labels, loc="outside lower center", ncols=columns)
    kind = " (sampled)" if scale.scatter else ""
    figure.suptitle(f"Effect of {parameter}{kind} on the end-of-run key series", fontsize=11)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    atomic_write_bytes(path, buffer.getvalue())

    if scale.scatter:
        what = "Each point is one run's end-of-run value; the dashed line is the least-squares fit"
    else:
        what = (
            "Each point is the mean of the end-of-run values of the runs with that value, with "
            f"its {CONFIDENCE:.0%} t-interval"
        )
    if others and not pooled:
        what += f"; one colour per value of {', '.join(others)}"
    varying = [key for key in parameters if key != parameter and (key in sampled or pooled)]
    if varying:
        what += f"; {', '.join(varying)} vary within each {'fit' if scale.scatter else 'point'}"
    return path, f"{what}. End of run: {window_text}.", labels


def lever_effect_figure(
    sweep_frame: pd.DataFrame,
    parameter: str,
    outcomes: Sequence[Series],
    window: int = 12,
) -> go.Figure:
    """One panel per outcome ``(scope, metric)``: its end-of-run value (the mean over the
    last ``window`` steps of each run) against the value of ``parameter``.

    ``sweep_frame`` is a sweep's tidy table (:func:`ecosystem.experiments.sweep.read_sweep`).
    Each value shows the mean across its runs (seeds) with the 95% t-interval as error bars,
    and every run as a faint point; numbers lie on a numeric axis, other values (booleans,
    names) are categories. Outcomes the sweep lacks are left out.
    """
    if parameter not in sweep_frame.columns:
        raise ValueError(f"the sweep did not vary {parameter!r}")
    # one end-of-run value per run (end_of_run counts one per (scenario, seed))
    per_run = sweep_frame.assign(scenario=sweep_frame["run"], seed_of_run=sweep_frame["seed"])
    per_run = per_run.assign(seed=per_run["run"])
    end = end_of_run(per_run, window)[["scenario", "scope", "metric", "value"]]
    constants = per_run.groupby("run", sort=False)[["seed_of_run", parameter]].first()
    end = end.join(constants, on="scenario").rename(
        columns={"scenario": "run", "seed_of_run": "seed"}
    )
    present = set(zip(end["scope"], end["metric"], strict=True))
    panels = [tuple(outcome) for outcome in outcomes if tuple(outcome) in present]
    if not panels:
        wanted = ", ".join(f"{scope}/{metric}" for scope, metric in outcomes)
        raise ValueError(f"none of the outcomes {wanted} is in the sweep")
    numeric = is_numeric(end[parameter])
    categories = _categories(end[parameter]) if not numeric else []
    cols = min(COLUMNS, len(panels))
    rows = -(-len(panels) // cols)
    figure = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[catalogue.series_title(scope, metric) for scope, metric in panels],
        horizontal_spacing=0.1,
    )
    colour = PALETTE[0]
    for index, (scope, metric) in enumerate(panels):
        row, col = index // cols + 1, index % cols + 1
        runs = end[(end["scope"] == scope) & (end["metric"] == metric)].dropna(subset=["value"])
        runs = runs.assign(x=_x_values(runs[parameter], numeric))
        stats = interval_table(runs, ["x"]).sort_values("x", key=_sort_key(numeric, categories))
        figure.add_trace(
            go.Scatter(
                x=list(runs["x"]),
                y=list(runs["value"]),
                mode="markers",
                marker={"size": 6, "color": _rgba(colour, 0.3)},
                name="one run (seed)",
                legendgroup="runs",
                showlegend=index == 0,
                customdata=runs[["seed"]].to_numpy(),
                hovertemplate="%{x}: %{y:.4g} (seed %{customdata[0]})<extra></extra>",
            ),
            row=row,
            col=col,
        )
        mean = stats["mean"].to_numpy()
        figure.add_trace(
            go.Scatter(
                x=list(stats["x"]),
                y=list(mean),
                mode="lines+markers",
                marker={"size": 8, "color": colour},
                line={"color": colour, "width": 1.5},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": list(stats["high"].to_numpy() - mean),
                    "arrayminus": list(mean - stats["low"].to_numpy()),
                    "color": colour,
                    "thickness": 1.5,
                    "width": 5,
                },
                name=f"mean across seeds with {CONFIDENCE:.0%} t-interval",
                legendgroup="means",
                showlegend=index == 0,
                customdata=stats[["n", "low", "high"]].to_numpy(),
                hovertemplate="%{x}: mean %{y:.4g} [%{customdata[1]:.4g}, "
                "%{customdata[2]:.4g}], n = %{customdata[0]}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        figure.update_xaxes(title_text=parameter_label(parameter), row=row, col=col)
        if not numeric:
            figure.update_xaxes(
                type="category", categoryorder="array", categoryarray=categories, row=row, col=col
            )
        figure.update_yaxes(title_text=metric_unit(metric), row=row, col=col)
    steps = "step" if window == 1 else f"{window} steps"
    figure.update_layout(
        title=f"Effect of {parameter} at the end of the run (mean over the last {steps})",
        height=320 * rows + 120,
        template="plotly_white",
        legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.0},
        margin={"b": 90},
    )
    return figure


def _categories(values: pd.Series) -> list[str]:
    """The category labels of a non-numeric parameter: ``false`` before ``true``, names in
    the order the sweep ran them."""
    seen = list(pd.unique(values))
    if all(isinstance(v, bool | np.bool_) for v in seen):
        seen = sorted(seen)
    return list(dict.fromkeys(value_text(v) for v in seen))


def _x_values(values: pd.Series, numeric: bool) -> pd.Series:
    """x of each run: the number itself, or its category label."""
    return values.astype(float) if numeric else values.map(value_text)


def _sort_key(numeric: bool, categories: list[str]):
    """Sort key of the x column: by number, or by the order of ``categories``."""
    if numeric:
        return None
    return lambda column: column.map(categories.index)


@dataclass(frozen=True)
class _Scale:
    """Where a parameter's values go on the x axis of an effect panel."""

    numeric: bool
    scatter: bool
    log: bool
    values: tuple
    dodge: float

    @classmethod
    def of(cls, values: pd.Series, *, sampled: bool, order: list, lines: int) -> _Scale:
        if not is_numeric(values):
            seen = [v for v in pd.unique(values) if v not in order]
            return cls(False, False, False, tuple(value_text(v) for v in [*order, *seen]), 0.06)
        grid = np.unique(values.to_numpy(dtype=float))
        log = not sampled and grid[0] > 0 and grid[-1] / grid[0] >= 100
        span = float(np.log(grid[-1] / grid[0]) if log else grid[-1] - grid[0])
        dodge = 0.012 * (span or 1.0) if lines > 1 else 0.0
        return cls(True, sampled, bool(log), tuple(grid), dodge)

    def x(self, values: pd.Series, slot: int, lines: int) -> np.ndarray:
        """x of each value for the ``slot``-th of ``lines`` lines, moved aside a little so
        the intervals of different lines do not hide each other."""
        if self.numeric:
            x = values.to_numpy(dtype=float)
        else:
            x = np.array([self.values.index(value_text(v)) for v in values], dtype=float)
        offset = self.dodge * (slot - (lines - 1) / 2)
        return x * np.exp(offset) if self.log else x + offset

    def ticks(self, ax) -> None:
        if not self.numeric:
            ax.set_xticks(range(len(self.values)), list(self.values))
            return
        if self.log:
            ax.set_xscale("log")
        if not self.scatter and len(self.values) <= 8:
            ax.set_xticks(self.values, [value_text(v) for v in self.values])
        elif not self.log:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=6))


def _draw_runs(ax, rows: pd.DataFrame, parameter: str, prefix: str, colour: str) -> None:
    """Each run's end-of-run value and the least-squares line through them."""
    x = rows[parameter].to_numpy(dtype=float)
    y = rows["value"].to_numpy()
    ax.scatter(x, y, s=16, alpha=0.8, color=colour, label=f"{prefix}one run")
    if len(np.unique(x)) >= 2:
        slope, intercept = np.polyfit(x, y, 1)
        line = np.array([x.min(), x.max()])
        label = f"{prefix}least-squares line"
        ax.plot(line, intercept + slope * line, "--", color=colour, linewidth=1.4, label=label)


def _draw_means(
    ax, rows: pd.DataFrame, parameter: str, scale: _Scale, slots: tuple[int, int], label: str
) -> None:
    """Per parameter value: the mean across its runs with the t-interval as an error bar;
    ``slots`` is (this line, number of lines)."""
    stats = interval_table(rows, [parameter])
    x = scale.x(stats[parameter], *slots)
    order = np.argsort(x, kind="stable")
    mean = stats["mean"].to_numpy()[order]
    low, high = stats["low"].to_numpy()[order], stats["high"].to_numpy()[order]
    ax.errorbar(
        x[order],
        mean,
        yerr=np.vstack([mean - low, high - mean]),
        marker="o",
        markersize=4,
        linewidth=1.4,
        capsize=3,
        label=label,
        color=PALETTE[slots[0] % len(PALETTE)],
    )


def parameter_label(key: str) -> str:
    """A swept key with its unit from the scenario schema, e.g. ``web.death_rate (1/month)``."""
    parts = key.split(".")
    if parts[0] == "companies" and len(parts) > 2:
        parts[1] = "<name>"
    units = {doc.path: doc.unit for doc in describe_fields()}
    unit = units.get(".".join(parts))
    return f"{key} ({unit})" if unit else key


def is_numeric(values: pd.Series) -> bool:
    """Whether every value is a number (booleans are not)."""
    return all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)
        for v in values
    )


def value_text(value) -> str:
    """A parameter value as short text: ``true``, ``0.25``, ``–`` for none."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    if value is None:
        return "–"
    return str(value)


def setting_text(values: Mapping, keys: Sequence[str]) -> str:
    """The values of ``keys`` as ``key=value, ...``."""
    return ", ".join(f"{key}={value_text(values.get(key))}" for key in keys)
