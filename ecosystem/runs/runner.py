"""Running a scenario end to end: simulate, stream results to a run directory.

Core objects: :func:`simulate` (the steps of any scenario as tidy rows,
whatever its mode) and :func:`run_scenario` (simulate and write a run
directory, keeping every completed step if interrupted). The CLI, the app and
sweeps all run through here.
"""

from __future__ import annotations

import contextlib
import signal
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from ecosystem.randomness import Streams
from ecosystem.runs.network import sample_network, write_network
from ecosystem.runs.results import RunInterrupted, RunWriter, StepRows
from ecosystem.scenario import Scenario
from ecosystem.world.lab import lab_steps
from ecosystem.world.model import EcosystemModel, ecosystem_steps

__all__ = ["run_scenario", "simulate", "stop_on_sigterm"]

ProgressCallback = Callable[[int, StepRows], None]


def simulate(
    scenario: Scenario, *, finished: Callable[[EcosystemModel], None] | None = None
) -> Iterator[tuple[int, StepRows]]:
    """The steps of ``scenario``: ``(step, rows)``, rows ``(generation, scope, metric, value)``.

    ``finished`` (ecosystem mode) is called with the model after its last step.
    """
    if scenario.mode == "lab":
        return lab_steps(scenario)
    if scenario.mode == "ecosystem":
        return ecosystem_steps(scenario, finished)
    raise ValueError(f"mode {scenario.mode!r} has no simulator")


def run_scenario(
    scenario: Scenario,
    out: str | Path,
    *,
    progress: ProgressCallback | None = None,
    command: str = "",
) -> pd.DataFrame:
    """Simulate ``scenario`` into the run directory ``out`` and return its tidy series.

    An ecosystem run also keeps a drawable sample of its final web (:mod:`ecosystem.runs.network`).
    """
    writer = RunWriter(out, scenario, command=command)

    def keep_network(model: EcosystemModel) -> None:
        rng = Streams(scenario.seed).numpy("network-sample")
        try:
            write_network(out, sample_network(model.web, rng))
        except (OSError, ValueError) as error:  # a drawing aid: never fail the run for it
            warnings.warn(f"no network sample kept in {out}: {error}", stacklevel=2)

    with writer:
        for step, rows in simulate(scenario, finished=keep_network):
            writer.write_step(step, rows)
            if progress is not None:
                progress(step, rows)
    return writer.frame


@contextlib.contextmanager
def stop_on_sigterm():
    """Within the block, SIGTERM stops the run the way Ctrl-C does (results are kept)."""

    def _raise(signum, frame):
        raise RunInterrupted(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
