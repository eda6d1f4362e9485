"""The explorer app's runs, kept by identity, so the same settings never run twice.

Core objects: :class:`RunStore` (a folder of run directories named by
:func:`ecosystem.runs.store.run_identity`, ``<scenario>-s<seed>-<hash>``, plus an
in-memory index), :class:`RunResult`
(one run's tidy series, manifest and network sample) and :class:`RunJob` (a run
going on in a background thread, so that a page that reloads, or a second
viewer asking for the same settings, follows the same run instead of
restarting it). The explorer app keeps
its runs here; :func:`load_runs` reads a run directory from anywhere else, or every
run of a compare or sweep directory, for comparison.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecosystem.runs.network import NetworkSample, read_network
from ecosystem.runs.results import (
    StepRows,
    read_excerpts,
    read_manifest,
    read_status,
    read_timeseries,
    run_state,
)
from ecosystem.runs.runner import run_scenario
from ecosystem.runs.store import MANIFEST, RUNS, run_identity
from ecosystem.scenario import Scenario, scenario_hash

__all__ = ["RunJob", "RunResult", "RunStore", "load_run", "load_runs"]


@dataclass(frozen=True)
class RunResult:
    """One run: where it is, its tidy series, its manifest, (ecosystem runs) its network and
    (text world) the documents it kept for reading."""

    directory: Path
    frame: pd.DataFrame
    manifest: dict
    network: NetworkSample | None
    excerpts: pd.DataFrame | None = None

    @property
    def label(self) -> str:
        """A short, unique name: scenario, seed and the hash its directory is named by."""
        return _label(self.manifest, self.directory)

    @property
    def complete(self) -> bool:
        """Whether the run finished every planned step."""
        return self.manifest.get("status") == "complete"


def load_run(directory: str | Path) -> RunResult:
    """Read any run directory (``manifest.json`` and its series)."""
    directory = Path(directory)
    if not (directory / MANIFEST).exists():
        raise FileNotFoundError(f"{directory} is not a run directory (no manifest.json)")
    return RunResult(
        directory,
        read_timeseries(directory),
        read_manifest(directory),
        read_network(directory),
        read_excerpts(directory),
    )


def load_runs(directory: str | Path) -> list[RunResult]:
    """A run directory, or every complete run under a compare or sweep directory's ``runs/``."""
    directory = Path(directory)
    if (directory / MANIFEST).exists():
        return [load_run(directory)]
    complete = [
        load_run(manifest.parent)
        for manifest in sorted(directory.glob(f"{RUNS}/*/{MANIFEST}"))
        if read_status(manifest.parent) == "complete"
    ]
    if not complete:
        raise FileNotFoundError(
            f"{directory} holds no run (no manifest.json, and no complete run under runs/)"
        )
    return complete


class RunJob:
    """One run in a background thread: the rows of the steps done so far, then its
    :class:`RunResult` or the error that stopped it."""

    def __init__(self, store: RunStore, scenario: Scenario, command: str = "") -> None:
        self.scenario = scenario
        self.steps: list[tuple[int, list]] = []
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        self.started = time.monotonic()
        self.running = False
        self._thread = threading.Thread(
            target=self._work,
            args=(store, command),
            name=f"run-{scenario.name}-s{scenario.seed}",
            daemon=True,
        )

    def start(self) -> RunJob:
        """Start the run's thread (once)."""
        self.started = time.monotonic()
        self._thread.start()
        return self

    @property
    def elapsed(self) -> float:
        """Seconds since the run started (or was queued)."""
        return time.monotonic() - self.started

    @property
    def queued(self) -> bool:
        """Whether the run waits for a free worker (the store runs ``workers`` at a time)."""
        return not self.running and not self.done

    @property
    def done(self) -> bool:
        """Whether the run has ended (finished or failed)."""
        return self._thread.ident is not None and not self._thread.is_alive()

    @property
    def step(self) -> int:
        """The last step completed (-1 before the initial state is measured)."""
        return self.steps[-1][0] if self.steps else -1

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for the end; whether it has ended."""
        self._thread.join(timeout)
        return self.done

    def _work(self, store: RunStore, command: str) -> None:
        with store.slots:
            self.running = True
            self.started = time.monotonic()
            try:
                self.result = store.run(self.scenario, self._record, command=command)
            except Exception as error:  # kept for the page to show; the run directory says failed
                self.error = error
            finally:
                self.running = False

    def _record(self, step: int, rows) -> None:
        self.steps.append((step, list(rows)))


class RunStore:
    """Run directories under ``root``, one per run identity: resolved scenario (seed
    included) and code version (:mod:`ecosystem.runs.store`).

    :meth:`run` returns the stored run when the same resolved scenario already
    finished with the same code, and otherwise simulates it (a partial directory
    left by an interrupted run is replaced).
    """

    def __init__(self, root: str | Path, workers: int = 1) -> None:
        self.root = Path(root)
        self.slots = threading.BoundedSemaphore(max(1, workers))
        """Runs going on at once; the others wait their turn, in order."""
        self._runs: dict[str, RunResult] = {}
        self._loaded: dict[str, RunResult] = {}
        self._jobs: dict[str, RunJob] = {}
        self._lock = threading.Lock()

    def directory_for(self, scenario: Scenario) -> Path:
        """Where the run of ``scenario`` with this code lives."""
        return self.root / run_identity(scenario).name

    def cached(self, scenario: Scenario) -> RunResult | None:
        """The finished run of exactly ``scenario`` with this code, if there is one."""
        identity = run_identity(scenario)
        if identity.key in self._runs:
            return self._runs[identity.key]
        directory = self.root / identity.name
        if run_state(directory, identity) != "complete":
            return None
        result = load_run(directory)
        self._runs[identity.key] = result
        return result

    def run(
        self,
        scenario: Scenario,
        progress: Callable[[int, StepRows], None] | None = None,
        *,
        command: str = "",
    ) -> RunResult:
        """The run of ``scenario``: from the store if it finished before, else simulated."""
        found = self.cached(scenario)
        if found is not None:
            return found
        identity = run_identity(scenario)
        directory = self.root / identity.name
        run_scenario(scenario, directory, progress=progress, command=command, existing="resume")
        result = load_run(directory)
        self._runs[identity.key] = result
        return result

    def load(self, directory: str | Path) -> RunResult:
        """A finished run directory from anywhere, read once (its results do not change)."""
        key = str(Path(directory).resolve())
        if key not in self._loaded:
            self._loaded[key] = load_run(directory)
        return self._loaded[key]

    def submit(self, scenario: Scenario, *, command: str = "") -> RunJob:
        """Start the run of ``scenario`` in a background thread, or return the job already
        running it (a failed job is started again)."""
        digest = scenario_hash(scenario)
        with self._lock:
            job = self._jobs.get(digest)
            if job is None or (job.done and job.error is not None):
                job = RunJob(self, scenario, command).start()
                self._jobs[digest] = job
            return job

    def job(self, digest: str) -> RunJob | None:
        """The job started for the scenario hash ``digest``, if any."""
        return self._jobs.get(digest)

    def jobs(self) -> list[RunJob]:
        """Every job this store started, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def finished(self) -> list[tuple[str, str]]:
        """``(label, directory)`` of every finished run in the store, newest first (reads
        the manifests only)."""
        found = []
        for path in self.root.glob(f"*/{MANIFEST}"):
            try:
                manifest = read_manifest(path.parent)
            except (OSError, ValueError):
                continue
            if manifest.get("status") == "complete":
                found.append(
                    (path.stat().st_mtime_ns, _label(manifest, path.parent), str(path.parent))
                )
        return [(label, directory) for _, label, directory in sorted(found, reverse=True)]


def _label(manifest: dict, directory: Path) -> str:
    """``baseline · seed 0 · 3f2a91``: the hash is the one that names the run's directory
    (``<scenario>-s<seed>-<hash>``), so the title and the folder agree."""
    digest = Path(directory).name.rsplit("-", 1)[-1]
    return f"{manifest.get('scenario', '?')} · seed {manifest.get('seed')} · {digest}"
