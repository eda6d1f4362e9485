"""Run identity and the run-directory layout, shared by every command that runs scenarios.

Core objects: :func:`code_version` (which code makes a run: the git commit of a
clean checkout, the commit plus a hash of the package sources when they have
uncommitted changes, else the package version plus that hash), :class:`RunIdentity`
and :func:`run_identity` (a run = its resolved scenario, seed included, and the code
version; its directory name ``<scenario>-s<seed>-<hash>``) and the file names of a run
directory (:data:`MANIFEST`, :data:`TIMESERIES`, ...).

``ecosystem run`` (without ``--out``), ``compare``, ``sweep`` and the explorer app name
their runs by :func:`run_identity` and reuse a run only when it is complete and whole
(:func:`ecosystem.runs.results.run_state`) and its manifest records the same scenario hash
and code version.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ecosystem.scenario import Scenario, scenario_hash

__all__ = [
    "CHECKPOINT",
    "COMPARE_RECORD",
    "EXCERPTS",
    "MANIFEST",
    "NETWORK_LINKS",
    "NETWORK_NODES",
    "PARTS",
    "PICTURES",
    "RESULT_MARKERS",
    "RUNS",
    "STUDY_RECORD",
    "SUMMARY",
    "SWEEP_RECORD",
    "TIMESERIES",
    "TIMESERIES_CSV",
    "RunIdentity",
    "code_version",
    "git_commit",
    "package_version",
    "run_identity",
]

MANIFEST = "manifest.json"
"""The run's record: resolved scenario, identity, status, versions, timing."""
TIMESERIES = "timeseries.parquet"
TIMESERIES_CSV = "timeseries.csv"
SUMMARY = "summary.json"
CHECKPOINT = "checkpoint.pkl"
"""The latest saved state of a run not yet complete (``ecosystem run --resume`` continues it)."""
PARTS = "parts"
"""The folder of per-step Parquet parts a run streams into (removed once consolidated)."""
NETWORK_NODES = "network.parquet"
NETWORK_LINKS = "network_links.parquet"
EXCERPTS = "excerpts.parquet"
"""Documents kept for reading (text world) or pictures to look at (digits world)."""
PICTURES = "pictures.png"
"""The kept pictures as one grid (digits world): a panel per scope, a row per kept step."""
RUNS = "runs"
"""The folder of run directories inside a compare or sweep directory."""
COMPARE_RECORD = "compare.json"
"""A compare directory's record (sources, seeds, runs, identities)."""
SWEEP_RECORD = "sweep.json"
"""A sweep directory's record (design, code version, every run's status)."""
STUDY_RECORD = "study.json"
"""A study directory's record (study, design, analysis, status, files and findings)."""
RESULT_MARKERS = (MANIFEST, PARTS, TIMESERIES)
"""Any of these in a directory means it holds (some) results of a run."""
SOURCE_FOLDERS = ("ecosystem", "models", "scenarios")
"""The package sources, relative to the source root: what the code version covers."""
HASH_CHARS = 12
GIT_TIMEOUT_S = 5


@dataclass(frozen=True)
class RunIdentity:
    """What makes two runs the same run: the resolved scenario's hash (seed included) and the
    version of the code that simulates it."""

    scenario: str
    seed: int
    scenario_hash: str
    code_version: str

    @property
    def key(self) -> str:
        """sha256 of the scenario hash and the code version (the ``hash`` of sweep records)."""
        text = json.dumps({"scenario_hash": self.scenario_hash, "code_version": self.code_version})
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def name(self) -> str:
        """The run directory's name: ``<scenario>-s<seed>-<first 12 hex digits of key>``."""
        return f"{self.scenario}-s{self.seed}-{self.key[:HASH_CHARS]}"

    def matches(self, manifest: dict) -> bool:
        """Whether a manifest records this scenario hash and code version."""
        return (
            manifest.get("scenario_hash") == self.scenario_hash
            and manifest.get("code_version") == self.code_version
        )


def run_identity(scenario: Scenario) -> RunIdentity:
    """The identity of running ``scenario`` with the code of this process."""
    return RunIdentity(scenario.name, scenario.seed, scenario_hash(scenario), code_version())


def package_version() -> str:
    """The version of this package (``ecosystem.__version__``)."""
    import ecosystem

    return ecosystem.__version__


@functools.cache
def code_version() -> str:
    """The version of the code that simulates, computed once per process.

    A clean git checkout: its commit. Uncommitted changes or extra files (untracked or
    git-ignored, byte code aside) in the package sources (``ecosystem/``, ``models/``,
    ``scenarios/``): the commit, ``+`` and a hash of every source file, so edited code never
    passes for committed code. No git checkout: the package version, ``+`` and that hash.
    """
    return compute_code_version()


@functools.cache
def git_commit() -> str | None:
    """The source tree's git commit (``-dirty`` when the sources have uncommitted changes),
    or None when it is not a checkout; computed once per process."""
    state = _checkout()
    if state is None:
        return None
    commit, dirty = state
    return f"{commit}-dirty" if dirty else commit


def compute_code_version(root: Path | None = None) -> str:
    """What :func:`code_version` returns, for the package sources under ``root`` (default:
    this package's source tree, whose git state is read once per process)."""
    state = _checkout() if root is None else _git_state(Path(root).resolve())
    root = _source_root() if root is None else Path(root).resolve()
    if state is None:
        return f"{package_version()}+{_sources_hash(root, _walk_sources(root))}"
    commit, dirty = state
    if not dirty:
        return commit
    return f"{commit}+{_sources_hash(root, _walk_sources(root))}"


def _source_root() -> Path:
    """The folder holding the ``ecosystem``, ``models`` and ``scenarios`` packages."""
    return Path(__file__).resolve().parents[2]


@functools.cache
def _checkout() -> tuple[str, bool] | None:
    """``(commit, dirty)`` of the source tree, read once per process (None: no checkout)."""
    return _git_state(_source_root())


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=True,
    ).stdout


def _git_state(root: Path) -> tuple[str, bool] | None:
    """``(commit, dirty)`` when ``root`` is the top of a git checkout, else None."""
    try:
        top, commit = _git(root, "rev-parse", "--show-toplevel", "HEAD").split()
        if Path(top).resolve() != root:
            return None  # the package lies inside some other repository (e.g. a venv)
        status = _git(root, "status", "--porcelain", "--ignored", "--", *SOURCE_FOLDERS)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    changed = [line for line in status.splitlines() if line.strip() and not _is_byte_code(line)]
    return commit, bool(changed)


def _is_byte_code(path: str) -> bool:
    return "__pycache__" in path or path.endswith((".pyc", ".pyo"))


def _walk_sources(root: Path) -> list[str]:
    """The package source files on disk (git-ignored ones included), without byte code."""
    found = []
    for folder in SOURCE_FOLDERS:
        for path in (root / folder).rglob("*"):
            name = path.relative_to(root).as_posix()
            if path.is_file() and not _is_byte_code(name):
                found.append(name)
    return sorted(found)


def _sources_hash(root: Path, names: list[str]) -> str:
    """sha256 (first 12 hex digits) over the names and contents of the source files."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0")
        try:
            digest.update((root / name).read_bytes())
        except OSError:
            digest.update(b"\0unreadable\0")
        digest.update(b"\0")
    return digest.hexdigest()[:HASH_CHARS]
