"""Figures: fixed colours, catalogue titles, flows without their initial stock, panels of
levers that are off, common x ranges, month ticks with years, the live chart, the network
view and the effect of one lever across a sweep."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest
from matplotlib import colors as mcolors

from ecosystem.experiments.figures import (
    PALETTE,
    XAxis,
    generation_figure,
    inactive_metrics,
    lever_effect_figure,
    line_colours,
    live_figure,
    overlay_figure,
    series_figure,
    tab_figure,
    tab_panels,
    without_initial_stock,
)
from ecosystem.experiments.figures import series as series_module
from ecosystem.experiments.figures.colours import COMPANY_COLOURS, SCOPE_COLOURS, company_colour
from ecosystem.experiments.intervals import interval_table
from ecosystem.measure.catalogue import Figure


def _frame(rows: dict[tuple[str, str], list[float]], **constants) -> pd.DataFrame:
    """A tidy run frame: one value per step (from 0) for each (scope, metric)."""
    pieces = [
        pd.DataFrame(
            {
                "step": np.arange(len(values)),
                "generation": 0,
                "scope": scope,
                "metric": metric,
                "value": np.asarray(values, dtype=float),
            }
        )
        for (scope, metric), values in rows.items()
    ]
    frame = pd.concat(pieces, ignore_index=True)
    return frame.assign(seed=0, scenario="run", **constants)


# --- colours -------------------------------------------------------------------------------


def test_scopes_and_companies_keep_their_colour_in_every_figure():
    one = line_colours(["whole web", "new pages", "model alpha", "model beta"])
    other = line_colours(["training set beta", "alpha", "training set alpha", "creators"])
    assert one["whole web"] == SCOPE_COLOURS["whole web"]
    assert one["model alpha"] == other["alpha"] == other["training set alpha"]
    assert one["model beta"] == other["training set beta"] == COMPANY_COLOURS["beta"]
    assert len(set(one.values())) == 4
    fixed = set(SCOPE_COLOURS.values()) | set(COMPANY_COLOURS.values())
    assert len(fixed) == len(SCOPE_COLOURS) + len(COMPANY_COLOURS)


def test_unknown_companies_take_a_stable_slot_and_other_names_skip_used_colours():
    colours = line_colours(["model acme", "whole web", "detection on", "detection off"])
    assert colours["model acme"] == company_colour("acme")
    assert company_colour("acme") == company_colour("acme")
    slots = list(COMPANY_COLOURS.values())
    assert colours["model acme"] == slots[zlib.crc32(b"acme") % len(slots)]
    used = {colours["model acme"], colours["whole web"]}
    free = [c for c in PALETTE if c not in used]
    assert [colours["detection on"], colours["detection off"]] == free[:2]
    alone = line_colours(["detection on", "detection off"])
    assert list(alone.values()) == PALETTE[:2]


def test_plotly_and_png_figures_draw_the_fixed_colours():
    frame = pd.concat(
        [
            _frame({("web", "recall"): [0.5, 0.6, 0.7]}, source="whole web"),
            _frame({("web", "recall"): [0.4, 0.5, 0.6]}, source="model beta"),
        ]
    )
    plotly = series_figure(frame, [("web", "recall")], by="source")
    drawn = {trace.name: trace.line.color for trace in plotly.data if trace.mode == "lines"}
    assert drawn == {"whole web": SCOPE_COLOURS["whole web"], "model beta": COMPANY_COLOURS["beta"]}
    png = series_module._png_figure(
        frame, [("web", "recall")], x=None, title=None, by="source", titles=None
    )
    lines = {line.get_label(): mcolors.to_hex(line.get_color()) for line in png.axes[0].lines}
    assert lines == drawn


def test_generation_figure_colours_companies_by_name_not_by_order():
    rows = {(f"company:{name}", "recall"): [0.1, 0.2] for name in ("gamma", "alpha")}
    figure = generation_figure(_frame(rows), ["recall"])
    assert figure is not None
    drawn = {trace.name: trace.line.color for trace in figure.data}
    assert drawn == {
        "model alpha": COMPANY_COLOURS["alpha"],
        "model gamma": COMPANY_COLOURS["gamma"],
    }


# --- titles and flows ----------------------------------------------------------------------


def test_panel_titles_and_units_come_from_the_catalogue():
    frame = _frame({("creators", "income_gini"): [0.3, 0.4], ("web", "ai_assisted_share"): [0, 1]})
    figure = series_figure(frame, [("creators", "income_gini"), ("web", "ai_assisted_share")])
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert titles == ["creators: income Gini", "whole web: AI-assisted share"]
    assert figure.layout.yaxis.title.text == "Gini coefficient (0-1)"
    _, _, tab_titles = tab_panels(frame, Figure("income", ("creators",), ("income_gini",)))
    assert list(tab_titles.values()) == ["income Gini"]


def test_flows_leave_out_their_initial_stock():
    frame = _frame({("web", "pages_new"): [600, 40, 42], ("web_new", "pages_new"): [600, 40, 42]})
    kept = without_initial_stock(frame)
    assert sorted(kept.loc[kept["scope"] == "web_new", "step"]) == [1, 2]
    assert sorted(kept.loc[kept["scope"] == "web", "step"]) == [0, 1, 2]
    figure = tab_figure(frame, Figure("new", ("web", "web_new"), ("pages_new",)))
    assert figure is not None
    new_pages = next(trace for trace in figure.data if trace.name == "new pages")
    assert list(new_pages.x) == [1, 2]
    overlay = overlay_figure(frame.assign(label="a"), "web_new", ["pages_new"], x=None)
    assert overlay is not None
    assert list(overlay.data[0].x) == [1, 2]


def test_panels_of_levers_that_are_off_are_left_out():
    rows = {
        ("web", "synthetic_share"): [0.0, 0.1, 0.2],
        ("web", "detected_share"): [0.0, 0.0, float("nan")],
        ("web_new", "detected_share"): [0.0, 0.0, 0.0],
        ("web", "watermarked_share"): [0.0, 0.0, 0.0],
        ("web_new", "watermarked_share"): [0.3, 0.0, 0.0],  # the initial stock only
    }
    frame = _frame(rows)
    figure = Figure(
        "who", ("web", "web_new"), ("synthetic_share", "detected_share", "watermarked_share")
    )
    assert inactive_metrics(frame, figure) == ["detected_share", "watermarked_share"]
    drawn = tab_figure(frame, figure)
    assert drawn is not None
    assert [annotation.text for annotation in drawn.layout.annotations] == ["synthetic share"]
    off = Figure("off", ("web", "web_new"), ("detected_share", "watermarked_share"))
    assert tab_figure(frame, off) is None
    assert inactive_metrics(frame, Figure("none", ("web",), ("quits",))) == []


# --- x axes --------------------------------------------------------------------------------


def test_every_panel_spans_the_same_x_range():
    frame = pd.concat(
        [
            _frame({("web", "recall"): [0.5] * 13}),
            _frame({("web", "precision"): [0.5] * 5}).assign(step=lambda f: f["step"] + 4),
        ]
    )
    panels = [("web", "recall"), ("web", "precision")]
    figure = series_figure(frame, panels)
    assert list(figure.layout.xaxis.range) == list(figure.layout.xaxis2.range) == [0, 12]
    axis = XAxis("month", "2024-01")
    dated = series_figure(frame, panels, x=axis)
    assert list(dated.layout.xaxis2.range) == ["2023-12-01", "2024-12-01"]
    png = series_module._png_figure(frame, panels, x=axis, title=None, by="scenario", titles=None)
    assert png.axes[0].get_xlim() == png.axes[1].get_xlim()


def test_png_month_ticks_carry_their_year():
    frame = _frame({("web", "recall"): list(np.linspace(0, 1, 25))})
    png = series_module._png_figure(
        frame,
        [("web", "recall")],
        x=XAxis("month", "2024-01"),
        title=None,
        by="scenario",
        titles=None,
    )
    png.canvas.draw()
    labels = [label.get_text() for label in png.axes[0].get_xticklabels() if label.get_text()]
    assert labels[0] == "Dec\n2023"
    dated = [label.split("\n") for label in labels]
    years = [parts[1] for parts in dated if len(parts) == 2]
    assert years == ["2023", "2024", "2025"]  # each year written once, where it starts
    assert all(parts[0].isalpha() and len(parts[0]) == 3 for parts in dated)


def test_png_year_ticks_of_a_long_run_are_years():
    formatter = series_module._MonthFormatter()
    dates = np.array(["2024-01-01", "2026-01-01", "2028-01-01"], dtype="datetime64[D]")
    values = [series_module.mdates.date2num(d) for d in dates]
    assert formatter.format_ticks(values) == ["2024", "2026", "2028"]


# --- the live chart ------------------------------------------------------------------------


def test_live_figure_draws_one_panel_per_series_on_its_own_scale():
    points = pd.DataFrame(
        {
            "web: synthetic share": [0.0, 0.01, 0.02],
            "web: recall (diversity)": [0.8, 0.79, 0.78],
            "new pages: pages made up": [1.0, 5.0, 9.0],
        },
        index=pd.Index([1, 2, 3], name="step"),
    )
    figure = live_figure(points, XAxis("month", "2024-01"))
    assert [annotation.text for annotation in figure.layout.annotations] == list(points.columns)
    assert len(figure.data) == 3
    assert list(figure.data[0].x) == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert figure.layout.xaxis.title.text == "month"
    units = [figure.layout[f"yaxis{n}"].title.text for n in ("", "2", "3")]
    assert units == ["share (0-1)", "share (0-1)", "value"]
    assert all(figure.layout[f"yaxis{n}"].range is None for n in ("", "2", "3"))
    assert 260 <= figure.layout.height <= 320
    lab = live_figure(points, XAxis("generation"))
    assert list(lab.data[0].x) == [1, 2, 3] and lab.layout.xaxis.title.text == "generation"


# --- the network view ----------------------------------------------------------------------


def _sweep(parameter: str, values: list, seeds: int = 3) -> pd.DataFrame:
    """A sweep's tidy table: ``value = level + seed / 10`` over steps 0..5, then a jump to
    ``level + seed`` in the last two steps; level is the parameter's rank."""
    rows = []
    run = 0
    for level, value in enumerate(values):
        for seed in range(seeds):
            for step in range(6):
                result = level + seed / 10 if step < 4 else level + seed
                rows.append(
                    {
                        "run": f"{run:03d}",
                        "seed": seed,
                        parameter: value,
                        "step": step,
                        "generation": 0,
                        "scope": "web",
                        "metric": "synthetic_share",
                        "value": float(result),
                    }
                )
            run += 1
    return pd.DataFrame(rows)


def test_lever_effect_figure_means_intervals_and_seeds():
    frame = _sweep("policy.detection.tpr", [0.9, 0.1, 0.5])
    figure = lever_effect_figure(frame, "policy.detection.tpr", [("web", "synthetic_share")], 2)
    runs, means = figure.data
    assert len(runs.x) == 9 and runs.name == "one run (seed)"
    assert list(means.x) == [0.1, 0.5, 0.9]
    end = pd.DataFrame({"x": [0.9] * 3, "value": [0.0, 1.0, 2.0]})
    expected = interval_table(end, ["x"]).iloc[0]
    mean = means.y[2]
    assert mean == pytest.approx(expected["mean"])
    assert means.error_y.array[2] == pytest.approx(expected["high"] - mean)
    assert means.error_y.arrayminus[2] == pytest.approx(mean - expected["low"])
    assert figure.layout.annotations[0].text == "whole web: synthetic share"
    assert figure.layout.yaxis.title.text == "share (0-1)"
    assert figure.layout.xaxis.title.text.startswith("policy.detection.tpr")
    longer = lever_effect_figure(frame, "policy.detection.tpr", [("web", "synthetic_share")], 5)
    assert longer.data[1].y[2] < mean  # the window reaches back before the jump


def test_lever_effect_figure_puts_booleans_and_names_on_categories():
    frame = _sweep("policy.opt_out.enabled", [True, False])
    figure = lever_effect_figure(frame, "policy.opt_out.enabled", [("web", "synthetic_share")])
    assert figure.layout.xaxis.type == "category"
    assert list(figure.layout.xaxis.categoryarray) == ["false", "true"]
    assert list(figure.data[1].x) == ["false", "true"]
    with pytest.raises(ValueError, match="none of the outcomes"):
        lever_effect_figure(frame, "policy.opt_out.enabled", [("web", "recall")])
    with pytest.raises(ValueError, match="did not vary"):
        lever_effect_figure(frame, "web.death_rate", [("web", "synthetic_share")])
