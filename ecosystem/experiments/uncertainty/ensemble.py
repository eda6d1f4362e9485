"""A study's ensemble: its runs planned on the sweep engine, run, and read back as cases.

Core objects: :func:`plan_study` (the design of one analysis as a :class:`StudyPlan`:
every case, a future x policy x seed, planned as a run of
:mod:`ecosystem.experiments.sweep`, checked before anything runs or is written),
:func:`run_study` (runs what is missing on a backend, collects every case's outcomes into
``cases.parquet``, analyses them and keeps ``study.json`` current, under the study
directory's writer lock) and :func:`read_study` (a finished study directory's record and
tables).

A study directory holds ``study.json`` (what was asked, with the code version, and what it
found), ``sweep.json`` and ``runs/`` (the sweep engine's: running the command again resumes
and reuses every complete run), ``cases.parquet`` and ``cases.csv`` (one row per case: its
future, policy, seed, run, uncertainty values and outcomes), the analysis's tidy tables
(CSV and Parquet) and its PNG figures.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecosystem.experiments.sweep import SweepPlan, SweepPoint, SweepRun, plan_points, run_sweep
from ecosystem.experiments.uncertainty.design import Design, sample_design
from ecosystem.experiments.uncertainty.outcomes import outcome_values
from ecosystem.experiments.uncertainty.study import Study, load_study
from ecosystem.runs.backends import Backend
from ecosystem.runs.locks import writer_lock
from ecosystem.runs.records import StudyRecord, read_record
from ecosystem.runs.results import atomic_write_bytes, atomic_write_text, file_sha256
from ecosystem.runs.store import MANIFEST, STUDY_RECORD, SWEEP_RECORD
from ecosystem.scenario import ScenarioError, load_scenario, value_at

__all__ = [
    "ANALYSES",
    "Analysis",
    "AnalysisResult",
    "StudyPlan",
    "plan_study",
    "read_study",
    "run_study",
    "write_table",
]

Analysis = Literal["sensitivity", "discovery", "robustness"]
ANALYSES: tuple[Analysis, ...] = ("sensitivity", "discovery", "robustness")
"""What a study directory holds: ``ecosystem sensitivity``, ``discover`` or ``robust``."""
CASES = "cases"
CASE_COLUMNS = ("future", "policy", "replicate", "seed", "run")


@dataclass
class AnalysisResult:
    """What an analysis found: tidy tables (written as CSV and Parquet), figure files, a
    summary for ``study.json`` and the lines the command prints."""

    tables: dict[str, pd.DataFrame]
    figures: list[Path]
    summary: dict
    lines: list[str] = field(default_factory=list)


@dataclass
class StudyPlan:
    """One analysis of a study: its design, cases and the sweep of their runs."""

    study: Study
    source: str
    analysis: Analysis
    design: Design
    policies: list[str]
    cases: pd.DataFrame
    sweep: SweepPlan
    options: dict

    @property
    def out(self) -> Path:
        """The study directory."""
        return self.sweep.out

    def record(self, status: str, **extra: Any) -> dict:
        """The contents of ``study.json``."""
        return {
            "kind": "study",
            "analysis": self.analysis,
            "name": self.study.name,
            "source": self.source,
            "study": self.study.model_dump(mode="json"),
            "design": self.design.record(),
            "policies": self.policies,
            "options": self.options,
            "cases": len(self.cases),
            "runs": len(self.sweep.runs),
            "code_version": self.sweep.code_version,
            "created": self.sweep.created,
            "updated": _now(),
            "status": status,
            **extra,
        }


def plan_study(
    source: str | Path,
    analysis: Analysis,
    out: str | Path,
    *,
    method: str | None = None,
    n: int | None = None,
    policy: str | None = None,
    options: dict | None = None,
) -> StudyPlan:
    """The runs of one analysis of the study ``source``, checked before anything is written.

    ``sensitivity``: a Sobol or Morris design (``method``, default the study's) of ``n`` (its
    base samples or trajectories) under one ``policy`` (default the first); ``discovery``: a
    Latin hypercube of ``n`` futures under one policy; ``robustness``: every policy on the same
    ``n`` futures with the same seeds (common random numbers). Each future runs ``study.seeds``
    times. Raises :class:`ScenarioError` (one line) on bad input, including an ``out`` that
    holds another kind of results.
    """
    study = load_study(source)
    out = Path(out)
    _check_directory(out, analysis)
    if analysis == "sensitivity":
        method = method or study.sensitivity.method
        n = n if n is not None else study.sensitivity.n
        design = sample_design(study, method, n, levels=study.sensitivity.levels)
        policies = [study.policy(policy)[0]]
    elif analysis == "discovery":
        if method not in (None, "lhs"):
            raise ScenarioError(f"--method {method!r}: discovery samples a Latin hypercube (lhs)")
        design = sample_design(study, "lhs", n if n is not None else study.discovery.n)
        policies = [study.policy(policy)[0]]
    elif analysis == "robustness":
        if policy is not None:
            raise ScenarioError("--policy: a robustness study runs every policy of the study")
        design = sample_design(study, "lhs", n if n is not None else study.robustness.n)
        policies = study.policy_names
    else:
        raise ScenarioError(f"analysis {analysis!r}: allowed: {', '.join(ANALYSES)}")
    rows, points = _cases(study, design, policies)
    sample = {**design.record(), "study": study.name, "analysis": analysis, "policies": policies}
    sweep, ids = plan_points(
        points,
        out=out,
        source=str(source),
        scenario=load_scenario(study.scenario, study.set).name,
        overrides=study.set,
        grid={},
        sample=sample,
        seeds=study.seeds,
        parameters=["policy", *design.names],
    )
    cases = pd.DataFrame(rows)
    cases["run"] = ids
    return StudyPlan(study, str(source), analysis, design, policies, cases, sweep, options or {})


def run_study(
    plan: StudyPlan,
    backend: Backend,
    analyse: Callable[[StudyPlan, pd.DataFrame], AnalysisResult],
    *,
    progress: Callable[[SweepRun], None] | None = None,
    command: str = "",
) -> AnalysisResult | None:
    """Run the plan's pending runs, collect the cases and analyse them (None, with
    ``study.json`` saying why, when some runs failed: run the command again to retry them).

    The study directory's writer lock is held throughout; an interruption leaves
    ``study.json`` marked ``interrupted`` and every complete run in place.
    """
    with writer_lock(plan.out, "study directory"):
        atomic_write_text(
            plan.out / STUDY_RECORD, json.dumps(plan.record("running", command=command), indent=2)
        )
        try:
            run_sweep(plan.sweep, backend, progress=progress, command=command)
        except BaseException:
            _write_record(plan, "interrupted", command=command)
            raise
        cases = collect_cases(plan)
        files = write_table(plan.out, CASES, cases)
        failed = [run.id for run in plan.sweep.runs if run.status != "complete"]
        if failed:
            _write_record(
                plan,
                "failed",
                command=command,
                files=files,
                failed=failed[:20],
                failures=len(failed),
            )
            return None
        try:
            result = analyse(plan, cases)
        except Exception as exc:
            _write_record(plan, "failed", command=command, files=files, error=str(exc))
            raise
        for name, table in result.tables.items():
            files.update(write_table(plan.out, name, table))
        for figure in result.figures:
            files[figure.name] = file_sha256(figure)
        files = {name: files[name] for name in sorted(files)}
        _write_record(plan, "complete", command=command, files=files, summary=result.summary)
        return result


def collect_cases(plan: StudyPlan) -> pd.DataFrame:
    """The cases with their outcomes (NaN where the run is not complete)."""
    status = {run.id: run for run in plan.sweep.runs}
    cache: dict[str, dict[str, float]] = {}
    names = list(plan.study.outcomes)
    for run_id in pd.unique(plan.cases["run"]):
        run = status[run_id]
        if run.status == "complete":
            cache[run_id] = outcome_values(run.directory, plan.study.outcomes)
        else:
            cache[run_id] = dict.fromkeys(names, float("nan"))
    cases = plan.cases.copy()
    for name in names:
        cases[name] = [cache[run_id][name] for run_id in cases["run"]]
    return cases


def futures(cases: pd.DataFrame, study: Study) -> pd.DataFrame:
    """One row per (future, policy): the uncertainty values and the outcomes averaged over
    the seeds of the future."""
    names = list(study.uncertainties)
    outcomes = list(study.outcomes)
    grouped = cases.groupby(["future", "policy"], sort=False)
    frame = grouped[names].first().join(grouped[outcomes].mean()).reset_index()
    return frame.sort_values(["future", "policy"], kind="stable").reset_index(drop=True)


def write_table(out: Path, name: str, frame: pd.DataFrame) -> dict[str, str]:
    """Write ``name.parquet`` and ``name.csv`` atomically; their sha256 by file name."""
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return {
        f"{name}.parquet": atomic_write_bytes(out / f"{name}.parquet", buffer.getvalue()),
        f"{name}.csv": atomic_write_text(out / f"{name}.csv", frame.to_csv(index=False)),
    }


def read_study(directory: str | Path) -> tuple[dict, dict[str, pd.DataFrame]]:
    """A study directory's validated ``study.json`` and its tables by name (the Parquet
    files it lists); a defect is a one-line :class:`ScenarioError`."""
    directory = Path(directory)
    path = directory / STUDY_RECORD
    if not path.is_file():
        raise ScenarioError(f"{directory}: not a study directory (no {STUDY_RECORD})")
    record = read_record(path, StudyRecord, f"study {directory}").model_dump(mode="json")
    tables = {}
    for name, digest in (record.get("files") or {}).items():
        if not name.endswith(".parquet"):
            continue
        table_path = directory / name
        if not table_path.is_file():
            raise ScenarioError(f"{table_path}: listed in {STUDY_RECORD} but missing")
        if file_sha256(table_path) != digest:
            raise ScenarioError(
                f"{table_path}: does not match the checksum in {STUDY_RECORD} (changed since)"
            )
        tables[name.removesuffix(".parquet")] = pd.read_parquet(table_path)
    return record, tables


def _cases(
    study: Study, design: Design, policies: list[str]
) -> tuple[list[dict], list[SweepPoint]]:
    rows: list[dict] = []
    points: list[SweepPoint] = []
    for policy_name in policies:
        _, policy = study.policy(policy_name)
        base = load_scenario(study.source(policy), study.fixed(policy))
        fields = {name: study.fields(base, name) for name in design.names}
        integer = {
            name: all(type(value_at(base, path)) is int for path in paths)
            for name, paths in fields.items()
        }
        for future, values in enumerate(design.values):
            settings = {
                name: (round(float(v)) if integer[name] else float(v))
                for name, v in zip(design.names, values, strict=True)
            }
            overrides = tuple(
                f"{path}={value!r}" for name, value in settings.items() for path in fields[name]
            )
            for replicate in range(study.seeds):
                seed = study.seed + replicate
                rows.append(
                    {
                        "future": future,
                        "policy": policy_name,
                        "replicate": replicate,
                        "seed": seed,
                        **settings,
                        **{
                            f"unit:{n}": float(u)
                            for n, u in zip(design.names, design.unit[future], strict=True)
                        },
                    }
                )
                points.append(
                    SweepPoint(
                        study.source(policy),
                        (*study.fixed(policy), *overrides),
                        seed,
                        parameters={"policy": policy_name, **settings},
                    )
                )
    order = sorted(
        range(len(rows)),
        key=lambda i: (rows[i]["future"], policies.index(rows[i]["policy"]), rows[i]["replicate"]),
    )
    return [rows[i] for i in order], [points[i] for i in order]


def _check_directory(out: Path, analysis: Analysis) -> None:
    if (out / MANIFEST).exists():
        raise ScenarioError(f"--out {out} is a run directory; choose a directory for the study")
    record_path = out / STUDY_RECORD
    if record_path.is_file():
        record = read_record(record_path, StudyRecord, f"study {out}")
        if record.analysis != analysis:
            raise ScenarioError(
                f"--out {out} holds a {record.analysis} study; choose another directory for "
                f"the {analysis} study"
            )
    elif (out / SWEEP_RECORD).is_file():
        raise ScenarioError(f"--out {out} holds a sweep; choose another directory for the study")


def _write_record(plan: StudyPlan, status: str, **extra: Any) -> None:
    record = plan.record(status, **extra)
    atomic_write_text(plan.out / STUDY_RECORD, json.dumps(_finite(record), indent=2))


def _finite(value: Any) -> Any:
    """JSON without NaN or infinities (written as null)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
