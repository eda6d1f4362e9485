"""Reports: one self-contained HTML page on a run, comparison, sweep or study directory.

Core objects: :func:`write_report` (reads a results directory and writes the page
with its PNG figures), :func:`report_kind` (which kind of directory it is),
:func:`report_paths` (where the page and the figures go) and :class:`Report`
(what was written). The figures are embedded as base64 PNG data URIs and the CSS
is inline, so the page opens without a network and prints as it shows; the same
PNGs are also written to a folder next to it.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ecosystem.experiments.report.compare import compare_content
from ecosystem.experiments.report.html import page_html
from ecosystem.experiments.report.run import run_content
from ecosystem.experiments.report.study import study_content
from ecosystem.experiments.report.sweep import sweep_content
from ecosystem.runs.results import atomic_write_text, is_run_directory
from ecosystem.runs.store import COMPARE_RECORD, STUDY_RECORD, SWEEP_RECORD

__all__ = ["Kind", "Report", "report_kind", "report_paths", "write_report"]

Kind = Literal["run", "compare", "sweep", "study"]
"""The kinds of results directory a report is written on."""


@dataclass
class Report:
    """A written report: the directory it describes, its kind, the page and the figure files."""

    source: Path
    kind: Kind
    page: Path
    figures: list[Path] = field(default_factory=list)


def report_kind(path: str | Path) -> Kind:
    """``study`` (study.json: a sensitivity, discovery or robustness study, whose sweep.json is
    its runs'), ``sweep`` (sweep.json), ``compare`` (compare.json) or ``run`` (manifest.json or
    parts/); any other path is a one-line ``ValueError``."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such directory")
    if not path.is_dir():
        raise ValueError(f"{path}: not a directory; give a run, compare, sweep or study directory")
    if (path / STUDY_RECORD).is_file():
        return "study"
    if (path / SWEEP_RECORD).is_file():
        return "sweep"
    if (path / COMPARE_RECORD).is_file():
        return "compare"
    if is_run_directory(path):
        return "run"
    raise ValueError(
        f"{path}: not a results directory (no manifest.json, compare.json, sweep.json or "
        "study.json)"
    )


def report_paths(path: str | Path, out: str | Path | None = None) -> tuple[Path, Path]:
    """The page and the figure folder: ``PATH/report.html`` and ``PATH/report/`` by default;
    ``out`` is the page itself when it ends in ``.html``, else the directory to hold it."""
    if out is None:
        page = Path(path) / "report.html"
    else:
        out = Path(out)
        page = out if out.suffix.lower() in (".html", ".htm") else out / "report.html"
    return page, page.with_suffix("")


def write_report(
    path: str | Path,
    out: str | Path | None = None,
    *,
    window: int | None = None,
    allow_incomplete: bool = False,
) -> Report:
    """Read the run, compare or sweep directory ``path`` and write its report.

    ``window``: end of run = the mean over this many last steps (default: the
    comparison's own window, else 12). Nothing is written when ``path`` is not a
    readable results directory, and a report that cannot be written (a full disk) leaves
    nothing behind: the directories it made and the figures it added are removed, and its
    ``OSError`` names the path it was writing. Runs that are not complete (interrupted,
    failed, corrupt) are refused unless ``allow_incomplete``; then the page flags them.
    """
    if window is not None and window < 1:
        raise ValueError(f"--window must be >= 1, got {window}")
    path = Path(path)
    kind = report_kind(path)
    page, folder = report_paths(path, out)
    build = {
        "run": run_content,
        "compare": compare_content,
        "sweep": sweep_content,
        "study": study_content,
    }[kind]
    new_directories = {_first_missing(page.parent), _first_missing(folder)} - {None}
    old_figures = set(folder.iterdir()) if folder.is_dir() else set()
    target = folder
    try:
        content = build(path, folder, window, allow_incomplete)
        target = page
        atomic_write_text(page, page_html(content, path, kind))
    except BaseException as exc:
        _remove_new(new_directories, folder, old_figures)
        if isinstance(exc, OSError) and exc.filename is None:
            raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from exc
        raise
    return Report(path, kind, page, content.figures)


def _first_missing(directory: Path) -> Path | None:
    """The outermost of ``directory`` and its parents that does not exist yet, if any."""
    missing = None
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def _remove_new(directories: set[Path | None], folder: Path, old_figures: set[Path]) -> None:
    """Remove what a failed report created: the directories it made and new figure files."""
    for directory in directories:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
    if folder.is_dir():
        for entry in set(folder.iterdir()) - old_figures:
            with contextlib.suppress(OSError):
                entry.unlink()
