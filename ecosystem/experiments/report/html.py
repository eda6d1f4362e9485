"""The HTML of a report: page assembly, its blocks, escaping and the number formatters.

Core objects: :class:`PageContent` and :class:`PageSection` (what a report page holds),
:func:`page_html` (the self-contained page: inline CSS, figures as base64 PNG data URIs),
the blocks :func:`figure_html`, :func:`table_html`, :func:`facts_html`, :func:`note_html`,
:func:`esc`, and the text of numbers and runs (:func:`interval_text`, :func:`signed_text`,
:func:`p_value_text`, :func:`window_text`, ...).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecosystem.experiments.compare import format_number
from ecosystem.experiments.figures import XAxis

__all__ = [
    "NO_INTERVAL",
    "PageContent",
    "PageSection",
    "capitalised",
    "esc",
    "facts_html",
    "figure_html",
    "image_html",
    "interval_text",
    "json_text",
    "note_html",
    "p_value_text",
    "page_html",
    "relative_text",
    "run_label",
    "seconds_text",
    "signed_text",
    "table_html",
    "window_text",
]

NO_INTERVAL = "An interval of – means a single seed (no interval)."


@dataclass
class PageSection:
    """One numbered section of a page: its anchor, title and HTML blocks."""

    anchor: str
    title: str
    blocks: list[str]


@dataclass
class PageContent:
    """What a report page shows: title, the facts at the top, the sections and the figures."""

    title: str
    facts: list[tuple[str, str]]
    sections: list[PageSection]
    figures: list[Path]


CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1a1a1a;
  max-width: 1180px; margin: 2em auto; padding: 0 1.2em; line-height: 1.45; }
h1 { font-size: 1.55em; margin-bottom: 0.3em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #bbb; padding-bottom: 0.2em; margin-top: 2em;
  break-after: avoid; }
h3 { font-size: 1.02em; margin: 1.4em 0 0.4em; break-after: avoid; }
nav ol { margin: 0.3em 0; padding-left: 1.4em; }
table { border-collapse: collapse; font-size: 0.82em; margin: 0.5em 0 1em;
  font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #c8c8c8; padding: 0.22em 0.5em; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td { text-align: right; white-space: nowrap; }
table.text td { text-align: left; white-space: normal; }
table.facts td { text-align: left; white-space: pre-wrap; word-break: break-word; }
table.facts th { width: 12em; }
span.interval { color: #444; font-size: 0.92em; }
td code { word-break: break-word; white-space: pre-wrap; }
figure { margin: 1em 0 1.6em; break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { font-size: 0.9em; color: #333; margin-top: 0.3em; }
p.note { font-size: 0.9em; color: #333; }
pre { background: #f6f6f6; border: 1px solid #e0e0e0; padding: 0.6em; font-size: 0.78em;
  white-space: pre-wrap; word-break: break-word; }
footer { margin-top: 3em; font-size: 0.8em; color: #555; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  nav { display: none; }
  td { white-space: normal; }
}
"""


def page_html(content: PageContent, path: Path, kind: str) -> str:
    """The whole page on the ``kind`` directory ``path``, stamped with when it was written."""
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    facts = [*content.facts, ("report generated", generated)]
    contents = "".join(
        f'<li><a href="#{section.anchor}">{esc(section.title)}</a></li>'
        for section in content.sections
    )
    body = "\n".join(
        f'<section id="{section.anchor}">\n<h2>{esc(section.title)}</h2>\n'
        + "\n".join(section.blocks)
        + "\n</section>"
        for section in content.sections
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(content.title)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{esc(content.title)}</h1>
{facts_html(facts)}
<nav><strong>Contents</strong><ol>{contents}</ol></nav>
{body}
<footer>Written by <code>ecosystem report {esc(str(path))}</code> from the {kind} directory
above; the figures are also saved as PNG files in the folder next to this page.</footer>
</body>
</html>
"""


def figure_html(
    path: Path, caption: str, panels: Sequence[tuple[str, str]], lines: Sequence[str]
) -> str:
    """The PNG embedded as a data URI, its alt text naming the panels and the lines drawn."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    titles = ", ".join(f"{scope}: {metric.replace('_', ' ')}" for scope, metric in panels)
    alt = f"Panels: {titles}. Lines: {', '.join(map(str, lines))}."
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
        f"<figcaption>{esc(caption)} (File: {esc(path.parent.name)}/{esc(path.name)}.)"
        "</figcaption></figure>"
    )


def image_html(path: Path, caption: str) -> str:
    """A PNG that is not a chart (a grid of pictures) embedded as a data URI."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}">'
        f"<figcaption>{esc(caption)} (File: {esc(path.name)}.)</figcaption></figure>"
    )


def table_html(frame: pd.DataFrame, *, index: bool = False, text: bool = False) -> str:
    """A table: the index (row labels) left-aligned, the values right-aligned unless ``text``."""
    classes = ["text"] if text else []
    return frame.to_html(index=index, escape=True, border=0, classes=classes, na_rep="–")


def facts_html(rows: Sequence[tuple[str, str]], *, code: bool = False) -> str:
    """A two-column table of labelled facts; ``code`` sets the values in monospace."""
    cells = "".join(
        f"<tr><th>{esc(label)}</th><td>{_code(value) if code else esc(value)}</td></tr>"
        for label, value in rows
    )
    return f'<table class="facts">{cells}</table>'


def _code(value: str) -> str:
    return f"<code>{esc(value)}</code>"


def note_html(text: str) -> str:
    """A paragraph of explanation under a table or figure."""
    return f'<p class="note">{esc(text)}</p>'


def esc(text: str) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


# --- text of numbers and runs ------------------------------------------------------------


def window_text(end: pd.DataFrame, window: int, axis: XAxis) -> str:
    """What "end of run" means: the window, and how it was clipped to short runs."""
    used = sorted(set(end["steps"]))
    text = f"the mean over the last {window} {axis.unit} of each run"
    if used != [window]:
        counts = f"{used[0]}" if len(used) == 1 else f"{used[0]}–{used[-1]}"
        text += f" (clipped to the run length: {counts} {axis.unit})"
    return text


def run_label(name: str, seed) -> str:
    """How a run is named in tables: ``baseline seed 3``."""
    return f"{name} seed {seed}"


def interval_text(low: float, high: float, n: int) -> str:
    """``[low, high]``, or ``–`` for a single seed."""
    return "–" if n < 2 else f"[{format_number(low)}, {format_number(high)}]"


def signed_text(value: float) -> str:
    """A difference with its sign (``+0.12``, ``−3``), ``–`` when there is none."""
    if value is None or math.isnan(value):
        return "–"
    return f"{'+' if value >= 0 else '−'}{format_number(abs(value))}"


def p_value_text(p_value: float) -> str:
    """A p-value to three places (or in e-notation when tiny), starred below 0.05."""
    if p_value is None or math.isnan(p_value):
        return "–"
    text = f"{p_value:.3f}" if p_value >= 0.001 else f"{p_value:.1e}"
    return text + ("*" if p_value < 0.05 else "")


def seconds_text(value) -> str:
    """Seconds to one decimal, empty when unknown."""
    return "" if value is None else f"{float(value):.1f}"


def relative_text(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` where it lies inside it, else as given."""
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def json_text(value) -> str:
    """A string as itself, any other value as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def capitalised(text: str) -> str:
    """``text`` with its first letter in upper case."""
    return text[:1].upper() + text[1:]
