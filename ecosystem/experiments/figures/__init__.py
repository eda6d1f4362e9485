"""All figure code: series across seeds with bands (PNG and self-contained HTML) and the
explorer's interactive figures, in one package.

Core objects are re-exported here from the modules of the package.
"""

from ecosystem.experiments.figures.effects import effect_figure_png
from ecosystem.experiments.figures.interactive import (
    ORIGIN_COLOURS,
    generation_figure,
    network_figure,
    overlay_figure,
    tab_figure,
    tab_panels,
)
from ecosystem.experiments.figures.series import (
    PALETTE,
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
    "legend_columns",
    "metric_unit",
    "network_figure",
    "overlay_figure",
    "series_figure",
    "series_figure_html",
    "series_figure_png",
    "tab_figure",
    "tab_panels",
    "x_axis",
]
