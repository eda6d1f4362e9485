"""The report on a study directory (``ecosystem sensitivity | discover | robust``): what was
uncertain and compared, the analysis's figures and tables, the cases and provenance.

Core object: :func:`study_content` (the page content of a study report). The figures are drawn
again from the study's checksummed tables, so the page shows exactly what the tables hold.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ecosystem.experiments.compare import format_number
from ecosystem.experiments.figures.uncertainty import (
    box_limits_png,
    indices_figure_png,
    peeling_png,
    robustness_png,
)
from ecosystem.experiments.report.html import (
    PageContent,
    PageSection,
    facts_html,
    image_html,
    json_text,
    note_html,
    table_html,
)
from ecosystem.experiments.report.provenance import provenance_blocks
from ecosystem.experiments.report.reading import read_run_manifest
from ecosystem.experiments.uncertainty.ensemble import read_study
from ecosystem.experiments.uncertainty.outcomes import window_description
from ecosystem.experiments.uncertainty.robustness import CRITERIA
from ecosystem.experiments.uncertainty.sensitivity import INDEX_LABELS
from ecosystem.experiments.uncertainty.study import Study

__all__ = ["study_content"]

TITLES = {
    "sensitivity": "Global sensitivity",
    "discovery": "Scenario discovery (PRIM)",
    "robustness": "Robust policy comparison",
}


def study_content(
    path: Path, folder: Path, window: int | None, allow_incomplete: bool = False
) -> PageContent:
    """The report on the study directory ``path``, figures written into ``folder``
    (``window`` does not apply: each outcome has its own)."""
    record, tables = read_study(path)
    status = record["status"]
    if status != "complete" and not allow_incomplete:
        raise ValueError(
            f"{path}: the study is {status}; run its command again to finish it, or pass "
            "--allow-incomplete to report on what it holds"
        )
    study = Study.model_validate(record["study"])
    analysis = record["analysis"]
    figures: list[Path] = []
    blocks: list[str] = []
    if status != "complete":
        blocks.append(note_html(f"This study is {status}: the findings below are not complete."))
    if analysis == "sensitivity" and "indices" in tables:
        blocks += _sensitivity_blocks(study, record, tables["indices"], folder, figures)
    elif analysis == "discovery" and "boxes" in tables:
        blocks += _discovery_blocks(study, record, tables, folder, figures)
    elif analysis == "robustness" and "robustness" in tables:
        blocks += _robustness_blocks(study, record, tables, folder, figures)
    else:
        blocks.append(note_html("The study holds no analysis yet (its runs are not complete)."))
    cases = tables.get("cases")
    sections = [
        PageSection("study", "The study", _study_blocks(study, record)),
        PageSection("findings", TITLES[analysis], blocks),
        PageSection("cases", "Cases", _case_blocks(study, cases)),
        PageSection("provenance", "Provenance", _provenance(path, record, cases)),
    ]
    design = record["design"]
    facts = [
        ("directory", str(path)),
        ("study", f"{study.name}: {study.description}" if study.description else study.name),
        ("analysis", f"{analysis} ({design['method']}, {design['rows']} futures)"),
        ("policies", ", ".join(record["policies"])),
        ("cases", f"{record['cases']} ({record['runs']} distinct runs)"),
        ("status", status),
    ]
    return PageContent(f"{TITLES[analysis]}: {study.name}", facts, sections, figures)


def _study_blocks(study: Study, record: dict) -> list[str]:
    uncertainties = pd.DataFrame(
        [
            {
                "uncertainty": name,
                "meaning": u.label,
                "fields": ", ".join(u.paths),
                "range": f"{format_number(u.low)} – {format_number(u.high)}",
                "distribution": _distribution(u),
            }
            for name, u in study.uncertainties.items()
        ]
    )
    policies = pd.DataFrame(
        [
            {
                "policy": name,
                "meaning": study.policy(name)[1].label,
                "scenario": study.source(study.policy(name)[1]),
                "settings": ", ".join(study.policy(name)[1].set) or "–",
            }
            for name in study.policy_names
            if name in record["policies"]
        ]
    )
    outcomes = pd.DataFrame(
        [
            {
                "outcome": name,
                "meaning": o.label,
                "series": f"{o.scope}/{o.metric}",
                "statistic": window_description(o),
                "direction": o.direction,
                "threshold": "–" if o.threshold is None else format_number(o.threshold),
            }
            for name, o in study.outcomes.items()
        ]
    )
    design = record["design"]
    return [
        note_html(
            f"Scenario {study.scenario}; every future runs {study.seeds} seed(s) from seed "
            f"{study.seed}, the same in every future and for every policy (common random "
            f"numbers). Design: {json.dumps(design)}."
        ),
        "<h3>Uncertainties</h3>",
        table_html(uncertainties, text=True),
        "<h3>Policies</h3>",
        table_html(policies, text=True),
        "<h3>Outcomes</h3>",
        table_html(outcomes, text=True),
    ]


def _sensitivity_blocks(
    study: Study, record: dict, indices: pd.DataFrame, folder: Path, figures: list[Path]
) -> list[str]:
    method = record["design"]["method"]
    figure = indices_figure_png(
        indices,
        folder / "indices.png",
        method=method,
        title=f"{study.name}: {method} sensitivity under policy {record['policies'][0]}",
        labels={name: o.label or name for name, o in study.outcomes.items()},
    )
    figures.append(figure)
    shown = indices.assign(
        interval=[
            "–" if pd.isna(c) else f"{format_number(v - c)} – {format_number(v + c)}"
            for v, c in zip(indices["value"], indices["conf"], strict=True)
        ]
    )[["outcome", "rank", "uncertainty", "index", "value", "interval"]]
    shown = shown.assign(value=shown["value"].map(format_number))
    explained = "; ".join(
        f"{key}: {INDEX_LABELS[key]}" for key in pd.unique(indices["index"]) if key in INDEX_LABELS
    )
    return [
        image_html(figure, "Indices of every outcome, ranked, with 95% bootstrap intervals"),
        note_html(
            f"{explained}. Uncertainties ranked by "
            f"{record['summary'].get('ranked_by', '')} within each outcome."
        ),
        table_html(shown.sort_values(["outcome", "index", "rank"])),
    ]


def _discovery_blocks(
    study: Study, record: dict, tables: dict, folder: Path, figures: list[Path]
) -> list[str]:
    boxes, peeling = tables["boxes"], tables["peeling"]
    summary = record["summary"]
    condition = summary.get("condition", "")
    figures.append(peeling_png(peeling, folder / "peeling.png", title=f"PRIM: {condition}"))
    figures.append(box_limits_png(boxes, folder / "box-limits.png", title=f"PRIM: {condition}"))
    blocks = [
        note_html(
            f"{summary.get('futures_of_interest')} of {summary.get('futures')} futures have "
            f"{condition}. PRIM (the EMA Workbench) keeps from each peeling trajectory the box "
            f"of highest coverage with density at least {record['options'].get('density')}."
        ),
        image_html(figures[0], "Peeling trajectory: coverage against density"),
        image_html(figures[1], "Box limits on the restricted uncertainties"),
    ]
    if boxes.empty:
        blocks.append(note_html("No box reached the density threshold."))
        return blocks
    shown = boxes[boxes["restricted"].astype(bool)][
        ["box", "uncertainty", "lower", "upper", "low", "high", "coverage", "density", "cases"]
    ]
    blocks.append(table_html(shown.map(_cell)))
    return blocks


def _robustness_blocks(
    study: Study, record: dict, tables: dict, folder: Path, figures: list[Path]
) -> list[str]:
    table, regret = tables["robustness"], tables["regret"]
    summary = record["summary"]
    figure = robustness_png(
        regret,
        table,
        folder / "robustness.png",
        labels={name: o.label or name for name, o in study.outcomes.items()},
        title=f"{study.name}: {len(record['policies'])} policies on the same futures",
    )
    figures.append(figure)
    shown = table[
        [
            "outcome",
            "policy",
            "mean",
            "p10",
            "p90",
            "satisficing",
            "max_regret",
            "mean_regret",
            "rank",
        ]
    ]
    criterion = summary.get("criterion", "regret")
    by_outcome = summary.get("most_robust_by_outcome", {})
    return [
        note_html(
            f"Most robust policy: {summary.get('most_robust')} (outcome "
            f"{summary.get('outcome')}; criterion: {CRITERIA.get(criterion, criterion)}). By "
            f"outcome: {', '.join(f'{k}: {v}' for k, v in by_outcome.items())}."
        ),
        image_html(figure, "Every policy's outcome in each future, and its maximum regret"),
        table_html(shown.map(_cell)),
    ]


def _case_blocks(study: Study, cases: pd.DataFrame | None) -> list[str]:
    if cases is None or cases.empty:
        return [note_html("No cases recorded.")]
    rows = []
    for name in study.outcomes:
        for policy, values in cases.groupby("policy", sort=False)[name]:
            rows.append(
                {
                    "outcome": name,
                    "policy": policy,
                    "cases": int(values.notna().sum()),
                    "min": format_number(values.min()),
                    "median": format_number(values.median()),
                    "max": format_number(values.max()),
                }
            )
    return [
        note_html(
            f"{len(cases)} cases (future x policy x seed); every case's uncertainty values and "
            "outcomes are in cases.csv and cases.parquet."
        ),
        table_html(pd.DataFrame(rows)),
    ]


def _provenance(path: Path, record: dict, cases: pd.DataFrame | None) -> list[str]:
    blocks = [
        facts_html(
            [
                ("command", record.get("command") or "unknown"),
                ("code version", json_text(record.get("code_version", {}).get("code"))),
                ("created", record.get("created", "")),
                ("updated", record.get("updated") or ""),
                ("files", ", ".join(record.get("files", {}))),
            ],
            code=True,
        )
    ]
    if cases is None:
        return blocks
    manifests = {
        run: read_run_manifest(path / "runs" / run) for run in list(pd.unique(cases["run"]))[:200]
    }
    manifests = {run: m for run, m in manifests.items() if m}
    if manifests:
        study = Study.model_validate(record["study"])
        first = next(iter(manifests.values())).get("resolved_scenario") or {}
        companies = list((first.get("companies") or {}).keys())
        varying = {
            path.replace("*", company) if "*" in path else path
            for u in study.uncertainties.values()
            for path in u.paths
            for company in (companies if "*" in path else [""])
        }
        policy_fields = {
            override.partition("=")[0].strip()
            for name in study.policy_names
            for override in study.policy(name)[1].set
        }
        blocks += provenance_blocks(manifests, varying=varying | policy_fields)
    return blocks


def _distribution(uncertainty) -> str:
    if uncertainty.distribution == "triangular":
        return f"triangular, mode {format_number(uncertainty.mode)}"
    if uncertainty.distribution == "normal":
        return (
            f"normal ({format_number(uncertainty.mean)}, sd {format_number(uncertainty.sd)}), "
            "truncated"
        )
    return "uniform"


def _cell(value):
    if isinstance(value, float):
        return format_number(value)
    return value
