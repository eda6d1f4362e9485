"""The report on a comparison directory: each scenario's key series across seeds, the
end-of-run table with intervals and Welch tests against the reference, the runs and provenance.

Core object: :func:`compare_content` (the page content of a comparison report).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ecosystem.experiments.compare import (
    DEFAULT_WINDOW,
    Comparison,
    assemble_comparison,
    format_number,
    plan_runs,
    series_label,
)
from ecosystem.experiments.figures import metric_unit, series_figure_png
from ecosystem.experiments.intervals import CONFIDENCE
from ecosystem.experiments.report.html import (
    NO_INTERVAL,
    PageContent,
    PageSection,
    capitalised,
    facts_html,
    figure_html,
    interval_text,
    note_html,
    p_value_text,
    relative_text,
    run_label,
    seconds_text,
    signed_text,
    table_html,
)
from ecosystem.experiments.report.provenance import provenance_blocks
from ecosystem.experiments.report.reading import read_record, read_run_manifest
from ecosystem.runs.records import CompareRecord
from ecosystem.runs.results import is_run_directory
from ecosystem.runs.store import COMPARE_RECORD

__all__ = ["compare_content"]

BAND = f"mean across seeds with {CONFIDENCE:.0%} t-interval"


def compare_content(
    path: Path, folder: Path, window: int | None, allow_incomplete: bool = False
) -> PageContent:
    """The report on the comparison directory ``path``, its figure written into ``folder``;
    ``window`` defaults to the comparison's own."""
    record = read_record(path / COMPARE_RECORD, CompareRecord)
    directories = _compare_run_directories(path, record)
    scenarios = plan_runs(
        [str(directory) for directory in directories],
        out=path,
        allow_incomplete=allow_incomplete,
    )
    window = window or int(record.get("window") or DEFAULT_WINDOW)
    comparison = assemble_comparison(scenarios, out=path, window=window)
    names = [group.name for group in comparison.scenarios]

    figure = series_figure_png(
        comparison.frame,
        comparison.metrics,
        folder / "series.png",
        x=comparison.axis,
        title=f"{' vs '.join(names)}: {BAND}",
    )
    manifests = {
        run_label(group.name, run.seed): read_run_manifest(run.directory)
        for group in comparison.scenarios
        for run in group.runs
    }
    seeds = ", ".join(f"{group.name} {len(group.runs)}" for group in comparison.scenarios)
    sections = [
        PageSection(
            "series",
            "Key series",
            [
                figure_html(
                    figure,
                    f"The key series of each scenario: the {BAND} (shaded) across its seeds.",
                    comparison.metrics,
                    names,
                )
            ],
        ),
        PageSection(
            "end",
            "End of run",
            [
                note_html(
                    f"{capitalised(comparison.description)}. Each row: the mean of the per-seed "
                    f"values with its {CONFIDENCE:.0%} t-interval and the number of seeds n."
                ),
                table_html(_comparison_table(comparison), index=True),
                note_html(_comparison_legend(comparison)),
            ],
        ),
        PageSection(
            "runs", "Runs", [table_html(_runs_table(comparison, path, manifests), text=True)]
        ),
        PageSection(
            "provenance",
            "Provenance",
            [
                facts_html(
                    [
                        ("compared", record.get("created_at", "unknown")),
                        ("sources", " ".join(record.get("sources", []))),
                        ("reference", comparison.reference),
                        ("window in compare.json", str(record.get("window", "unknown"))),
                    ]
                ),
                *provenance_blocks(manifests, compare_to_first=True),
            ],
        ),
    ]
    facts = [
        ("directory", str(path)),
        ("scenarios", ", ".join(names)),
        ("reference", comparison.reference),
        ("seeds", seeds),
        ("end of run", comparison.description.removeprefix("end of run = ")),
    ]
    return PageContent(f"Comparison report: {' vs '.join(names)}", facts, sections, [figure])


def _compare_run_directories(path: Path, record: Mapping) -> list[Path]:
    """The run directories compare.json lists, found under ``path/runs`` when they moved."""
    found = []
    for group in record.get("scenarios", []):
        for run in group.get("runs", []):
            listed = Path(run["directory"])
            moved = path / "runs" / listed.name
            candidates = [listed, moved] if listed.is_absolute() else [moved, listed]
            here = next((c for c in candidates if is_run_directory(c)), None)
            if here is None:
                raise ValueError(
                    f"{path}: compare.json lists the run directory {listed}, which holds no results"
                )
            found.append(here)
    if not found:
        raise ValueError(f"{path}: compare.json lists no runs")
    return found


def _comparison_table(comparison: Comparison) -> pd.DataFrame:
    """One row per key series and scenario (series first, so each series reads as a block)."""
    rank = {key: i for i, key in enumerate(comparison.metrics)}
    statistics = comparison.statistics
    order = np.argsort(
        [rank[key] for key in zip(statistics["scope"], statistics["metric"], strict=True)],
        kind="stable",
    )
    rows = []
    for row in statistics.iloc[order].to_dict("records"):
        reference = row["scenario"] == comparison.reference
        cells = {
            "series": series_label(row["scope"], row["metric"]),
            "unit": metric_unit(row["metric"]),
            "scenario": row["scenario"] + (" (reference)" if reference else ""),
            "n": row["n"],
            "mean": format_number(row["mean"]),
            f"{CONFIDENCE:.0%} interval": interval_text(row["low"], row["high"], row["n"]),
        }
        if len(comparison.scenarios) > 1:
            cells["difference"] = "" if reference else signed_text(row["difference"])
            cells["Welch p"] = "" if reference else p_value_text(row["p_value"])
        rows.append(cells)
    return pd.DataFrame(rows).set_index(["series", "unit", "scenario"])


def _comparison_legend(comparison: Comparison) -> str:
    if len(comparison.scenarios) == 1:
        return NO_INTERVAL
    return (
        f"Difference: the scenario's mean minus that of the reference {comparison.reference}. "
        "Welch p: two-sided Welch's t-test of the per-seed values against the reference; "
        "* p < 0.05; – no test (fewer than 2 seeds a side, or both sides constant across "
        f"seeds). {NO_INTERVAL}"
    )


def _runs_table(comparison: Comparison, path: Path, manifests: Mapping) -> pd.DataFrame:
    rows = []
    for group in comparison.scenarios:
        for run in group.runs:
            manifest = manifests[run_label(group.name, run.seed)]
            rows.append(
                {
                    "scenario": group.name,
                    "seed": run.seed,
                    "status": manifest.get("status", ""),
                    "steps": manifest.get("steps_completed", ""),
                    "seconds": seconds_text(manifest.get("wall_time_s")),
                    "scenario hash": manifest.get("scenario_hash", ""),
                    "directory": relative_text(run.directory, path),
                }
            )
    return pd.DataFrame(rows)
