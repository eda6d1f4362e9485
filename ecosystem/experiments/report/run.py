"""The report on one run directory: its key series, their end-of-run values and its provenance.

Core object: :func:`run_content` (the page content of a run report).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ecosystem.calendar import month_of_step
from ecosystem.experiments.compare import DEFAULT_WINDOW, end_of_run, format_number, series_label
from ecosystem.experiments.figures import XAxis, metric_unit, series_figure_png, x_axis
from ecosystem.experiments.report.html import (
    PageContent,
    PageSection,
    esc,
    figure_html,
    image_html,
    note_html,
    run_label,
    seconds_text,
    table_html,
    window_text,
)
from ecosystem.experiments.report.provenance import provenance_blocks
from ecosystem.experiments.report.reading import read_run_manifest, read_run_series, report_series
from ecosystem.runs.results import read_excerpts, read_status
from ecosystem.runs.store import PICTURES

__all__ = ["run_content"]


def run_content(
    path: Path, folder: Path, window: int | None, allow_incomplete: bool = False
) -> PageContent:
    """The report on the run directory ``path``, its figure written into ``folder``; a run
    that is not complete is refused unless ``allow_incomplete`` (then its status says so)."""
    manifest = read_run_manifest(path)
    frame = read_run_series(path, allow_incomplete)
    metrics = report_series(frame, path)
    window = window or DEFAULT_WINDOW
    name = manifest.get("scenario") or str(frame["scenario"].iloc[0])
    seed = manifest.get("seed", int(frame["seed"].iloc[0]))
    axis = x_axis(manifest) if manifest.get("resolved_scenario") else XAxis()
    end = end_of_run(frame, window)

    figure = series_figure_png(
        frame, metrics, folder / "series.png", x=axis, title=f"{name}, seed {seed}: key series"
    )
    last = frame[frame["step"] == frame["step"].max()]
    finals = last.groupby(["scope", "metric"])["value"].mean()
    ends = end.set_index(["scope", "metric"])["value"]
    table = pd.DataFrame(
        [
            {
                "series": series_label(scope, metric),
                "unit": metric_unit(metric),
                "end of run": format_number(ends.get((scope, metric), math.nan)),
                "final step": format_number(finals.get((scope, metric), math.nan)),
            }
            for scope, metric in metrics
        ]
    )
    window_used = window_text(end, window, axis)
    status = read_status(path) or "unknown (no manifest.json)"
    if status != "complete":
        status += " (incomplete: its series stop early)"
    sections = [
        PageSection(
            "series",
            "Key series",
            [
                figure_html(
                    figure,
                    f"The key series of {name} seed {seed}, one panel per series.",
                    metrics,
                    [f"{name} seed {seed}"],
                )
            ],
        ),
        PageSection(
            "end",
            "End of run",
            [
                table_html(table.set_index(["series", "unit"]), index=True),
                note_html(
                    f"End of run: {window_used}. Final step: the value at {_step(axis, end)}."
                ),
            ],
        ),
        PageSection(
            "provenance", "Provenance", provenance_blocks({run_label(name, seed): manifest})
        ),
    ]
    excerpts = read_excerpts(path)
    documents = None if excerpts is None else excerpts[excerpts["text"] != ""]
    if documents is not None and len(documents):
        sections.insert(2, PageSection("documents", "Sample documents", _excerpt_blocks(documents)))
    if (path / PICTURES).exists():
        sections.insert(2, PageSection("pictures", "Sample pictures", _picture_blocks(path)))
    facts = [
        ("directory", str(path)),
        ("scenario", name),
        ("seed", str(seed)),
        ("status", status),
        ("steps", _steps_text(manifest, frame)),
        ("wall time", f"{seconds_text(manifest.get('wall_time_s')) or 'unknown'} s"),
        ("scenario hash", manifest.get("scenario_hash", "unknown")),
        ("end of run", window_used),
    ]
    return PageContent(f"Run report: {name}, seed {seed}", facts, sections, [figure])


def _excerpt_blocks(excerpts: pd.DataFrame) -> list[str]:
    """The documents the run kept, one table per scope: a row per step, its first words."""
    blocks = [
        note_html(
            "The first documents of each measured sample, cut after 40 words, at the first "
            "steps, every few steps and the last (metrics.excerpt_every): read the collapse."
        )
    ]
    for scope, rows in excerpts.groupby("scope", sort=False):
        table = pd.DataFrame(
            {
                "step": rows["step"].astype(str),
                "generation": rows["generation"].astype(str),
                "document": rows["text"],
            }
        )
        blocks.append(f"<h3>{esc(str(scope))}</h3>")
        blocks.append(table_html(table, text=True))
    return blocks


def _picture_blocks(path: Path) -> list[str]:
    """The run's grid of kept pictures (``pictures.png``), embedded."""
    return [
        note_html(
            "The first images of each measured sample, a row per kept step (every generation "
            "of a lab run; the first months, every metrics.excerpt_every months and the last "
            "of an ecosystem run): see the images degrade."
        ),
        image_html(path / PICTURES, "The kept pictures: a panel per scope, a row per step"),
    ]


def _steps_text(manifest: Mapping, frame: pd.DataFrame) -> str:
    done, planned = manifest.get("steps_completed"), manifest.get("steps_planned")
    if done is None:
        return f"{frame['step'].nunique()} recorded"
    return f"{done} of {planned} completed"


def _step(axis: XAxis, end: pd.DataFrame) -> str:
    last = int(end["last_step"].max())
    if axis.start is not None:  # a calendar axis
        return f"step {last} ({month_of_step(axis.start, last)})"
    return f"{axis.label} {last}"
