"""All figure code: series across seeds with bands (PNG and self-contained HTML), effects of
swept levers and the explorer's interactive figures, drawn in fixed colours, in one package.

Core objects are re-exported here from the modules of the package.
"""

from ecosystem.experiments.figures.colours import PALETTE, line_colours
from ecosystem.experiments.figures.effects import effect_figure_png, lever_effect_figure
from ecosystem.experiments.figures.interactive import (
    ORIGIN_COLOURS,
    generation_figure,
    inactive_metrics,
    live_figure,
    network_figure,
    overlay_figure,
    tab_figure,
    tab_panels,
    without_initial_stock,
)
from ecosystem.experiments.figures.series import (
    UNITS,
    XAxis,
    bands,
    legend_columns,
    metric_unit,
    series_figure,
    series_figure_html,
    series_figure_png,
    x_axis,
)

__all__ = [
    "ORIGIN_COLOURS",
    "PALETTE",
    "UNITS",
    "XAxis",
    "bands",
    "effect_figure_png",
    "generation_figure",
    "inactive_metrics",
    "legend_columns",
    "lever_effect_figure",
    "line_colours",
    "live_figure",
    "metric_unit",
    "network_figure",
    "overlay_figure",
    "series_figure",
    "series_figure_html",
    "series_figure_png",
    "tab_figure",
    "tab_panels",
    "without_initial_stock",
    "x_axis",
]
