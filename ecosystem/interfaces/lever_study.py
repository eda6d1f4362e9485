"""A one-lever study from the explorer: one setting over chosen values and seeds, run as an
``ecosystem sweep`` in the background, so it leaves the same directories as the command line.

Core objects: :class:`LeverStudy` (what to sweep: scenario, setting, values, seeds) with
:meth:`LeverStudy.command` (the same study as an ``ecosystem sweep`` command line) and
:class:`LeverStudyJob` (the sweep going on in a thread: runs done of runs planned, then
its directory, read with :func:`ecosystem.experiments.sweep.read_sweep`), :func:`parse_values`
and :func:`default_values` (the values typed, and those offered to start with).
"""

from __future__ import annotations

import hashlib
import shlex
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ecosystem.experiments.sweep import plan_sweep, run_sweep
from ecosystem.runs.backends import InProcess

__all__ = ["LeverStudy", "LeverStudyJob", "default_values", "parse_values"]

MAX_VALUES = 8
"""The most values a study from the app sweeps (each value runs every seed)."""


@dataclass(frozen=True)
class LeverStudy:
    """``setting`` of ``source`` at each of ``values`` (as ``--set`` takes them), ``seeds``
    seeds each, with the sidebar's other ``overrides`` and ``steps``."""

    source: str
    setting: str
    values: tuple[str, ...]
    seeds: int
    steps: int
    overrides: tuple[str, ...] = ()
    scenario_argument: str = ""
    """How the command line names the scenario (a packaged name, or the file's path)."""

    @property
    def grid(self) -> str:
        """The sweep's ``--grid`` specification."""
        return f"{self.setting}={','.join(self.values)}"

    def directory(self, root: str | Path) -> Path:
        """Where the sweep is kept: named by the setting and a hash of the whole study."""
        digest = hashlib.sha256(repr(self).encode()).hexdigest()[:8]
        stem = Path(self.scenario_argument or self.source).stem
        return Path(root) / f"{stem}-{self.setting.replace('.', '_')}-{digest}"

    def command(self, out: str | Path) -> str:
        """The same study from the command line."""
        sets = [part for override in self.overrides for part in ("--set", override)]
        return shlex.join(
            [
                "ecosystem",
                "sweep",
                self.scenario_argument or self.source,
                "--grid",
                self.grid,
                "--seeds",
                str(self.seeds),
                "--steps",
                str(self.steps),
                *sets,
                "--workers",
                "0",
                "--out",
                str(out),
            ]
        )


class LeverStudyJob:
    """A :class:`LeverStudy` swept in a background thread into ``out``; planned (and checked)
    at once, so bad values fail before the thread starts."""

    def __init__(self, study: LeverStudy, out: str | Path, slots: threading.Semaphore) -> None:
        if not 2 <= len(study.values) <= MAX_VALUES:
            raise ValueError(
                f"lever study: give 2 to {MAX_VALUES} values of {study.setting}, "
                f"got {len(study.values)}"
            )
        self.study = study
        self.out = Path(out)
        self.plan = plan_sweep(
            study.source,
            out=self.out,
            grid=[study.grid],
            seeds=study.seeds,
            steps=study.steps,
            overrides=list(study.overrides),
        )
        self.total = len(self.plan.runs)
        self.finished = self.total - len(self.plan.pending)
        self.failed: list[str] = []
        self.error: BaseException | None = None
        self.started = time.monotonic()
        self._slots = slots
        self._thread = threading.Thread(target=self._work, name="lever-study", daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        """Whether the sweep has ended."""
        return not self._thread.is_alive()

    @property
    def elapsed(self) -> float:
        """Seconds since it was started."""
        return time.monotonic() - self.started

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds; whether it has ended."""
        self._thread.join(timeout)
        return self.done

    def _work(self) -> None:
        try:
            with self._slots:
                run_sweep(
                    self.plan,
                    InProcess(),
                    progress=self._count,
                    command=self.study.command(self.out),
                )
        except Exception as error:  # kept for the page to show
            self.error = error

    def _count(self, run) -> None:
        self.finished += 1
        if run.status != "complete":
            self.failed.append(f"{run.directory.name}: {run.error}")


def parse_values(text: str) -> tuple[str, ...]:
    """Comma-separated values as ``--set`` takes them, blanks dropped."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def default_values(value: object, minimum: float | None, maximum: float | None) -> Sequence[str]:
    """Values to start a study of a setting now at ``value``: off and on for a switch, else
    the value and a few steps around it within the bounds."""
    if isinstance(value, bool):
        return ("false", "true")
    if isinstance(value, int | float):
        low = 0.0 if minimum is None else float(minimum)
        high = float(maximum) if maximum is not None else max(2.0 * float(value), 1.0)
        points = sorted({low + (high - low) * k / 3 for k in range(4)})
        if isinstance(value, int):
            return tuple(dict.fromkeys(str(round(p)) for p in points))
        return tuple(f"{p:g}" for p in points)
    return (str(value),)
