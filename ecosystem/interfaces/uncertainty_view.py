"""What the explorer's Uncertainty tab shows of a finished study directory, apart from Streamlit.

Core objects: :func:`find_studies` (the study directories under a folder) and
:func:`study_view` (a :class:`StudyView`: the findings in a few lines, the tables to show and
the figures of a ``ecosystem sensitivity | discover | robust`` directory). The tab only reads
studies; it never starts one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ecosystem.experiments.uncertainty.ensemble import read_study
from ecosystem.experiments.uncertainty.robustness import CRITERIA
from ecosystem.runs.store import STUDY_RECORD

__all__ = ["StudyView", "find_studies", "study_view"]

FIGURES = {
    "sensitivity": ("indices.png",),
    "discovery": ("peeling.png", "box-limits.png"),
    "robustness": ("robustness.png",),
}
MAX_STUDIES = 200


@dataclass
class StudyView:
    """A study directory as the tab shows it."""

    directory: Path
    analysis: str
    title: str
    status: str
    findings: list[str]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)


def find_studies(root: str | Path) -> list[Path]:
    """Study directories (holding ``study.json``) directly under ``root`` or in it, newest
    first, at most ``MAX_STUDIES``."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [path.parent for path in root.glob(f"*/{STUDY_RECORD}")]
    if (root / STUDY_RECORD).is_file():
        found.append(root)
    found.sort(key=lambda path: (path / STUDY_RECORD).stat().st_mtime, reverse=True)
    return found[:MAX_STUDIES]


def study_view(directory: str | Path) -> StudyView:
    """The findings, tables and figures of the study in ``directory`` (a one-line
    ``ValueError`` when it is not a readable study directory)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory}: no such directory")
    record, tables = read_study(directory)
    analysis, status = record["analysis"], record["status"]
    summary = record.get("summary") or {}
    design = record["design"]
    title = (
        f"{analysis} study {record['name']}: {design['method']} design, {design['rows']} futures, "
        f"{record['cases']} cases, policies {', '.join(record['policies'])}"
    )
    findings: list[str] = []
    shown: dict[str, pd.DataFrame] = {}
    if status != "complete":
        findings.append(f"The study is {status}: run its command again to finish it.")
    if analysis == "sensitivity" and "indices" in tables:
        key = summary.get("ranked_by", "ST")
        for outcome, top in (summary.get("top") or {}).items():
            drivers = ", ".join(
                f"{entry['uncertainty']} ({entry[key]:.3g} ± {entry['conf']:.2g})" for entry in top
            )
            findings.append(f"**{outcome}**: top drivers by {key}: {drivers}")
        indices = tables["indices"]
        shown["Indices"] = indices[
            ["outcome", "rank", "uncertainty", "label", "index", "value", "conf"]
        ]
    elif analysis == "discovery" and "boxes" in tables:
        findings.append(
            f"{summary.get('futures_of_interest')} of {summary.get('futures')} futures have "
            f"{summary.get('condition')}."
        )
        for box in summary.get("boxes", []):
            limits = "; ".join(
                f"{name} {low:.3g}–{high:.3g}" for name, (low, high) in box["limits"].items()
            )
            findings.append(
                f"**Box {box['box']}**: coverage {box['coverage']:.2f}, density "
                f"{box['density']:.2f}, {box['cases']} cases: {limits or 'no limits'}"
            )
        boxes = tables["boxes"]
        shown["Boxes"] = boxes[boxes["restricted"].astype(bool)].drop(columns=["restricted"])
        shown["Peeling trajectory"] = tables["peeling"]
    elif analysis == "robustness" and "robustness" in tables:
        criterion = summary.get("criterion", "regret")
        findings.append(
            f"Most robust policy: **{summary.get('most_robust')}** (outcome "
            f"{summary.get('outcome')}; {CRITERIA.get(criterion, criterion)})."
        )
        for outcome, policy in (summary.get("most_robust_by_outcome") or {}).items():
            findings.append(f"{outcome}: {policy}")
        shown["Robustness"] = tables["robustness"]
    if "cases" in tables:
        shown["Cases"] = tables["cases"]
    figures = [directory / name for name in FIGURES[analysis] if (directory / name).is_file()]
    return StudyView(directory, analysis, title, status, findings, shown, figures)
