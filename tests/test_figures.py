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
    network_figure,
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
from ecosystem.runs.network import NetworkSample, sample_network
from ecosystem.world.web import AI, HUMAN, Web


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


def _web(pages: int = 400, topics: int = 4) -> Web:
    """A web of four monthly batches (pages link to older ones), traffic = row."""
    rng = np.random.default_rng(0)
    web = Web(2)
    for batch in np.array_split(np.arange(pages), 4):
        origin = np.where(batch % 3 == 0, AI, HUMAN).astype(np.int8)
        new = web.add_pages(
            rng.normal(size=(len(batch), 2)),
            origin=origin,
            topic=(batch % topics).astype(np.int16),
            quality=0.0,
            step=0,
        )
        web.link_new_pages(new, rng, links_per_page=3, attachment=1.0, homophily=0.0)
    web.traffic[:] = np.arange(pages, dtype=np.float32)
    return web


def test_sampled_pages_carry_their_in_links_over_the_whole_web():
    web = _web()
    sample = sample_network(web, np.random.default_rng(1), pages=60)
    whole = sample.nodes.set_index("page")["in_degree"]
    within = sample.links["target"].value_counts()
    assert (whole == web.in_degree[whole.index]).all()
    assert (whole > within.reindex(whole.index, fill_value=0)).any()


def test_network_figure_links_sizes_and_hover():
    sample = sample_network(_web(), np.random.default_rng(1), pages=80)
    figure = network_figure(sample, seed=0)
    links = figure.data[0]
    assert links.name == "links" and links.line.width >= 1
    sizes = [trace for trace in figure.data if trace.legend == "legend2"]
    assert [trace.name.split(":")[0] for trace in sizes] == ["low", "median", "high"]
    assert all(list(trace.x) == [None] for trace in sizes)  # legend entries, no points
    assert sizes[0].marker.size < sizes[1].marker.size < sizes[2].marker.size
    pages = [trace for trace in figure.data[1:] if trace.legend != "legend2"]
    assert sum(len(trace.x) for trace in pages) == len(sample.nodes)
    assert all("in-links (whole web)" in trace.hovertemplate for trace in pages)
    with pytest.raises(ValueError, match="colour_by"):
        network_figure(sample, colour_by="company")


def test_network_figure_colours_by_topic_and_groups_the_rarest():
    sample = sample_network(_web(topics=4), np.random.default_rng(1), pages=80)
    figure = network_figure(sample, colour_by="topic")
    names = [t.name for t in figure.data[1:] if t.legend != "legend2"]
    assert [name.split(" (")[0] for name in names] == [f"topic {t}" for t in range(4)]
    assert figure.layout.legend.title.text == "topic (pages)"
    nodes = pd.DataFrame(
        {
            "page": np.arange(60),
            "origin": "human",
            "topic": np.arange(60) % 30,
            "company": 0,
            "created_step": 0,
            "traffic": np.ones(60),
            "in_degree": 0,
        }
    )
    empty = pd.DataFrame({"source": [], "target": []})
    many = network_figure(NetworkSample(nodes, empty), colour_by="topic")
    groups = [t for t in many.data if t.legend != "legend2"]
    assert groups[-1].name.startswith("other topics")
    assert sum(len(t.x) for t in groups) == 60
    assert len({t.marker.color for t in groups}) == len(groups)


# --- the effect of one lever ---------------------------------------------------------------


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
