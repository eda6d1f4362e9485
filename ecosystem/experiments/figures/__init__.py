"""All figure code: series across seeds with bands (PNG and self-contained HTML), in one package.

Core objects are re-exported here from the modules of the package.
"""

from ecosystem.experiments.figures.effects import effect_figure_png
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
    "PALETTE",
    "UNITS",
    "XAxis",
    "bands",
    "effect_figure_png",
    "legend_columns",
    "metric_unit",
    "series_figure",
    "series_figure_html",
    "series_figure_png",
    "x_axis",
]
