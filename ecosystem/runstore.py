"""Runs kept by resolved scenario and seed, so the same settings never run twice.

Core objects: :class:`RunStore` (a folder of run directories named
``<scenario>-s<seed>-<hash>``, plus an in-memory index) and :class:`RunResult`
(one run's tidy series, manifest and network sample). The explorer app keeps
its runs here; :func:`load_runs` reads a run directory from anywhere else, or every
run of a compare or sweep directory, for comparison.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecosystem.network import NetworkSample, read_network
from ecosystem.results import StepRows, read_manifest, read_timeseries
from ecosystem.runner import run_scenario
from ecosystem.scenario import Scenario, scenario_hash

__all__ = ["RunResult", "RunStore", "load_run", "load_runs"]

HASH_CHARS = 12


@dataclass(frozen=True)
class RunResult:
    """One run: where it is, its tidy series, its manifest and (ecosystem runs) its network."""

    directory: Path
    frame: pd.DataFrame
    manifest: dict
    network: NetworkSample | None

    @property
    def label(self) -> str:
        """A short, unique name: scenario, seed and the start of the scenario hash."""
        digest = (self.manifest.get("scenario_hash") or "")[:6]
        return f"{self.manifest.get('scenario', '?')} · seed {self.manifest.get('seed')} · {digest}"

    @property
    def complete(self) -> bool:
        """Whether the run finished every planned step."""
        return self.manifest.get("status") == "complete"


def load_run(directory: str | Path) -> RunResult:
    """Read any run directory (``manifest.json`` and its series)."""
    directory = Path(directory)
    if not (directory / "manifest.json").exists():
        raise FileNotFoundError(f"{directory} is not a run directory (no manifest.json)")
    return RunResult(
        directory, read_timeseries(directory), read_manifest(directory), read_network(directory)
    )


def load_runs(directory: str | Path) -> list[RunResult]:
    """A run directory, or every complete run under a compare or sweep directory's ``runs/``."""
    directory = Path(directory)
    if (directory / "manifest.json").exists():
        return [load_run(directory)]
    runs = [
        load_run(manifest.parent) for manifest in sorted(directory.glob("runs/*/manifest.json"))
    ]
    complete = [run for run in runs if run.complete]
    if not complete:
        raise FileNotFoundError(
            f"{directory} holds no run (no manifest.json, and no complete run under runs/)"
        )
    return complete


class RunStore:
    """Run directories under ``root``, one per resolved scenario (seed included).

    :meth:`run` returns the stored run when the same resolved scenario already
    finished, and otherwise simulates it (a partial directory left by an
    interrupted run is replaced).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._runs: dict[str, RunResult] = {}

    def directory_for(self, scenario: Scenario) -> Path:
        """Where the run of ``scenario`` lives."""
        digest = scenario_hash(scenario)[:HASH_CHARS]
        return self.root / f"{scenario.name}-s{scenario.seed}-{digest}"

    def cached(self, scenario: Scenario) -> RunResult | None:
        """The finished run of exactly ``scenario``, if there is one."""
        digest = scenario_hash(scenario)
        if digest in self._runs:
            return self._runs[digest]
        directory = self.directory_for(scenario)
        try:
            manifest = read_manifest(directory)
        except (FileNotFoundError, ValueError):
            return None
        if manifest.get("status") != "complete" or manifest.get("scenario_hash") != digest:
            return None
        result = load_run(directory)
        self._runs[digest] = result
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
        directory = self.directory_for(scenario)
        if directory.exists():
            shutil.rmtree(directory)
        run_scenario(scenario, directory, progress=progress, command=command)
        result = load_run(directory)
        self._runs[scenario_hash(scenario)] = result
        return result

    def finished(self) -> list[RunResult]:
        """Every finished run in the store, newest first."""
        results = []
        for manifest_path in self.root.glob("*/manifest.json"):
            try:
                result = load_run(manifest_path.parent)
            except (OSError, ValueError):
                continue
            if result.complete:
                results.append(result)
        return sorted(
            results, key=lambda r: (r.directory / "manifest.json").stat().st_mtime_ns, reverse=True
        )
