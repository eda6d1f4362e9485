"""The schemas of the result files the program reads back: manifest, sweep, compare, study.

Core objects: :class:`Manifest` (``manifest.json`` of a run directory),
:class:`SweepRecord` (``sweep.json``), :class:`CompareRecord` (``compare.json``),
:class:`StudyRecord` (``study.json``),
:func:`read_record` (read and validate one of them; any defect is a one-line
:class:`ResultFileError` naming the file and the field) and :class:`CorruptRun` (a run
whose files do not match the checksums its manifest records).

Every reader goes through :func:`read_record`, so a file that is not JSON, is JSON of the
wrong shape (``[1, 2, 3]``, ``{}``) or holds a field of the wrong type gives the same kind
of message, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ecosystem.scenario import ScenarioError

__all__ = [
    "RUN_STATUSES",
    "CompareRecord",
    "CorruptRun",
    "Manifest",
    "ResultFileError",
    "StudyRecord",
    "SweepRecord",
    "SweepRunRecord",
    "read_record",
]

RUN_STATUSES = ("running", "complete", "interrupted", "failed")
"""What a writer records in a manifest. Readers also say ``interrupted`` for a ``running``
run whose writer is gone, and ``corrupt`` for one whose files fail their checksums."""

RUN_ID_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$"


class ResultFileError(ScenarioError):
    """A result file that cannot be read or is not of its kind (the message is one line)."""


class CorruptRun(ResultFileError):
    """A run directory whose files do not match what its manifest records."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", strict=False)

    kind_label: ClassVar[str] = "record"
    """How messages name a file of this kind."""


class Checkpoint(_Record):
    """The latest saved state of a run, from which ``ecosystem run --resume`` continues."""

    step: int = Field(ge=0)
    file: str
    sha256: str


class Manifest(_Record):
    """``manifest.json``: what a run is, how far it got and what its files must hash to."""

    kind_label: ClassVar[str] = "run manifest"

    scenario: str
    seed: int
    scenario_hash: str
    status: Literal[RUN_STATUSES]  # type: ignore[valid-type]
    steps_completed: int = Field(ge=0)
    steps_planned: int = Field(ge=0)
    started_at: str | None = None
    finished_at: str | None = None
    wall_time_s: float | None = None
    command: str = ""
    error: str | None = None
    package_version: str | None = None
    code_version: str | None = None
    versions: dict[str, str] = {}
    git_commit: str | None = None
    resolved_scenario: dict[str, Any] = {}
    last_step: int | None = None
    rows_per_step: dict[int, int] = {}
    """Rows written at each step (its keys are the completed steps)."""
    checksums: dict[str, str] = {}
    """sha256 of each final file (``timeseries.parquet``, ...), once the run is closed."""
    checkpoint: Checkpoint | None = None


class SweepRunRecord(_Record):
    """One run's entry in ``sweep.json``."""

    id: str = Field(pattern=RUN_ID_PATTERN)
    directory: str = Field(pattern=r"^runs/[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$")
    parameters: dict[str, Any]
    seed: int
    hash: str
    status: Literal["pending", "running", "complete", "interrupted", "failed"]
    error: str | None = None
    seconds: float | None = None


class SweepRecord(_Record):
    """``sweep.json``: the design of a sweep and the status of each of its runs."""

    kind_label: ClassVar[str] = "sweep record"

    kind: Literal["sweep"]
    scenario: str
    source: str
    overrides: list[str]
    grid: dict[str, list[Any]]
    sample: dict[str, Any] | None
    seeds: int = Field(ge=1)
    parameters: list[str]
    code_version: dict[str, Any] = {}
    runs: list[SweepRunRecord]
    created: str
    updated: str | None = None

    @model_validator(mode="after")
    def _runs_set_every_parameter(self) -> SweepRecord:
        for index, run in enumerate(self.runs):
            if set(run.parameters) != set(self.parameters):
                raise ValueError(
                    f"runs.{index}.parameters must set exactly the swept parameters "
                    f"({', '.join(self.parameters) or 'none'})"
                )
        return self


class CompareRun(_Record):
    """One run of a compared scenario in ``compare.json``."""

    directory: str
    seed: int | None
    scenario_hash: str | None = None
    code_version: str | None = None
    action: Literal["run", "reuse", "read"]
    status: str | None = None


class CompareScenario(_Record):
    """One compared scenario in ``compare.json``."""

    name: str
    sources: list[str]
    seeds: list[int | None]
    runs: list[CompareRun]


class CompareRecord(_Record):
    """``compare.json``: what was compared, over which runs and window."""

    kind_label: ClassVar[str] = "compare record"

    created_at: str
    sources: list[str]
    reference: str
    seeds: dict[str, int]
    window: int = Field(ge=1)
    description: str
    key_metrics: list[tuple[str, str]]
    files: list[str]
    code_version: str | None = None
    scenarios: list[CompareScenario]


class StudyRecord(_Record):
    """``study.json``: a study's analysis, design, status and the files it wrote."""

    kind_label: ClassVar[str] = "study record"

    kind: Literal["study"]
    analysis: Literal["sensitivity", "discovery", "robustness"]
    name: str
    source: str
    study: dict[str, Any]
    design: dict[str, Any]
    policies: list[str]
    options: dict[str, Any] = {}
    cases: int = Field(ge=0)
    runs: int = Field(ge=0)
    code_version: dict[str, Any] = {}
    created: str
    updated: str | None = None
    status: Literal["running", "interrupted", "failed", "complete"]
    command: str = ""
    files: dict[str, str] = {}
    summary: dict[str, Any] = {}


R = TypeVar("R", bound=_Record)


def read_record(path: str | Path, kind: type[R], what: str | None = None) -> R:
    """Read the JSON file ``path`` as a ``kind`` record; a defect is one :class:`ResultFileError`.

    ``what`` names the file's owner in the message (default: the file itself).
    """
    path = Path(path)
    label = what or str(path.parent)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ResultFileError(f"{label}: cannot read {path.name} ({exc.strerror or exc})") from None
    try:
        return kind.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "json_invalid":
            raise ResultFileError(f"{label}: {path.name} is not valid JSON") from None
        where = ".".join(str(part) for part in first["loc"])
        given = first.get("input")
        got = "" if isinstance(given, dict | list) else f" (got {str(given)[:60]!r})"
        field = f" {where}:" if where else ""
        raise ResultFileError(
            f"{label}: {path.name} is not a valid {kind.kind_label}:{field} "
            f"{first['msg'].removeprefix('Value error, ')}{got}"
        ) from None
    except RecursionError:
        raise ResultFileError(f"{label}: {path.name} is nested too deeply") from None
