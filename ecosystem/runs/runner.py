"""Running a scenario end to end: simulate, stream results to a run directory, resume.

Core objects: :class:`Simulation` (a scenario being simulated step by step; pickled between
steps it is a checkpoint), :func:`simulation` (the simulation of any scenario, whatever its
mode), :func:`simulate` (its steps as tidy rows), :func:`run_scenario` (simulate into a run
directory under its writer lock, keeping every completed step if interrupted and saving a
checkpoint every ``checkpoint_every`` steps), :func:`resume_run` (continue a run directory
from its checkpoint: the output is byte-identical to an uninterrupted run) and
:func:`stop_on_sigterm`. The CLI, the app and sweeps all run through here.
"""

from __future__ import annotations

import contextlib
import pickle
import signal
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, Protocol

import pandas as pd

from ecosystem.measure.excerpts import Excerpts
from ecosystem.randomness import Streams
from ecosystem.runs.locks import writer_lock
from ecosystem.runs.network import sample_network, write_network
from ecosystem.runs.records import CorruptRun, Manifest, ResultFileError
from ecosystem.runs.results import (
    Resumed,
    RunInterrupted,
    RunWriter,
    StepRows,
    clear_run_directory,
    file_sha256,
    read_manifest,
    run_status,
    write_excerpts,
)
from ecosystem.runs.store import CHECKPOINT, code_version
from ecosystem.scenario import Scenario, ScenarioError, scenario_hash
from ecosystem.world.model import EcosystemModel
from ecosystem.world.simulations import make_simulation
from models.devices import resolve_device

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "Simulation",
    "resume_run",
    "run_scenario",
    "simulate",
    "simulation",
    "stop_on_sigterm",
]

DEFAULT_CHECKPOINT_EVERY = 10
"""Steps between checkpoints: the baseline spends under 5% of its time saving them
(benchmarks/bench_checkpoint.py)."""

ProgressCallback = Callable[[int, StepRows], None]
Existing = Literal["refuse", "replace", "resume"]


class Simulation(Protocol):
    """A scenario being simulated, one step per :meth:`advance`.

    Its whole state (random streams, world, web, agents, models and their data) lives in
    the object, so ``pickle.dumps`` between two steps is a checkpoint and ``pickle.loads``
    continues it exactly. Every world and mode must keep it so.
    """

    def advance(self) -> tuple[int, StepRows] | None:
        """Simulate the next step: ``(step, rows)``, or None after the last step."""
        ...


def simulation(scenario: Scenario) -> Simulation:
    """The simulation of ``scenario``, whatever its mode (:mod:`ecosystem.world.simulations`)."""
    return make_simulation(scenario)


def simulate(
    scenario: Scenario, *, finished: Callable[[EcosystemModel], None] | None = None
) -> Iterator[tuple[int, StepRows]]:
    """The steps of ``scenario``: ``(step, rows)``, rows ``(generation, scope, metric, value)``.

    ``finished`` (ecosystem mode) is called with the model after its last step.
    """
    state = simulation(scenario)
    while (item := state.advance()) is not None:
        step, rows = item
        if finished is not None and step > 0 and step == scenario.steps:
            model = getattr(state, "model", None)
            if isinstance(model, EcosystemModel):
                finished(model)
        yield step, rows


def check_devices(scenario: Scenario) -> None:
    """Refuse, before anything is written, a scenario asking for a device this machine lacks
    (a one-line ValueError naming the setting)."""
    for path, device in scenario.devices.items():
        resolve_device(device, path)


def run_scenario(
    scenario: Scenario,
    out: str | Path,
    *,
    progress: ProgressCallback | None = None,
    command: str = "",
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    existing: Existing = "refuse",
) -> pd.DataFrame:
    """Simulate ``scenario`` into the run directory ``out`` and return its tidy series.

    The directory's writer lock is held throughout (a second writer is refused at once).
    ``existing``: what to do with results already there: ``refuse`` (raise
    ``FileExistsError``), ``replace`` (clear them first) or ``resume`` (continue the run from
    its checkpoint; a directory without one starts again from the first step).
    ``checkpoint_every``: steps between checkpoints (0: none). An ecosystem run also keeps a
    drawable sample of its final web (:mod:`ecosystem.runs.network`).
    """
    if checkpoint_every < 0:
        raise ValueError(
            f"--checkpoint-every must be >= 0 (0: no checkpoints), got {checkpoint_every}"
        )
    check_devices(scenario)
    out = Path(out)
    with writer_lock(out):
        resumed: Resumed | None = None
        state: Simulation | None = None
        if existing == "replace":
            clear_run_directory(out)
        elif existing == "resume":
            resumed, state = _resume_point(out, scenario)
            if resumed is None:
                clear_run_directory(out)
        if state is None:
            state = simulation(scenario)
        writer = RunWriter(out, scenario, command=command, resume=resumed)
        last = resumed.step if resumed is not None else -1
        with writer:
            while (item := state.advance()) is not None:
                step, rows = item
                writer.write_step(step, rows)
                if (
                    checkpoint_every
                    and step > last
                    and step % checkpoint_every == 0
                    and step < scenario.steps
                ):
                    writer.write_checkpoint(
                        step, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
                    )
                if progress is not None:
                    progress(step, rows)
            model = getattr(state, "model", None)
            if isinstance(model, EcosystemModel) and scenario.steps > 0:
                _keep_network(out, scenario, model)
            excerpts = _excerpts(state)
            if excerpts is not None and excerpts.rows:
                label = "generation" if scenario.mode == "lab" else "month"
                write_excerpts(out, excerpts.table(), step_label=label)
    return writer.frame


def resume_run(
    directory: str | Path,
    *,
    progress: ProgressCallback | None = None,
    command: str = "",
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
) -> pd.DataFrame:
    """Continue the run in ``directory`` (killed, interrupted or failed) from its checkpoint.

    The scenario is the one its manifest records; the code must be the version that started
    it. The finished directory is byte-identical to that of an uninterrupted run.
    """
    scenario = resumable_scenario(directory)
    return run_scenario(
        scenario,
        directory,
        progress=progress,
        command=command,
        checkpoint_every=checkpoint_every,
        existing="resume",
    )


def resumable_scenario(directory: str | Path) -> Scenario:
    """The scenario of the run in ``directory``, checked to be resumable by this code."""
    directory = Path(directory)
    try:
        state = run_status(directory)
    except FileNotFoundError:
        raise ScenarioError(
            f"--resume {directory}: not a run directory (no manifest.json)"
        ) from None
    manifest = state.manifest
    if state.status == "complete":
        raise ScenarioError(f"--resume {directory}: the run is already complete")
    if state.status == "running":
        raise ScenarioError(f"--resume {directory}: {state.describe(directory)}")
    here = code_version()
    if manifest.get("code_version") != here:
        raise ScenarioError(
            f"--resume {directory}: the run was made by code version "
            f"{manifest.get('code_version')}, this is {here}; run it again instead"
        )
    try:
        scenario = Scenario.model_validate(manifest.get("resolved_scenario") or {})
    except ValueError:
        raise ResultFileError(
            f"run {directory}: manifest.json holds no valid resolved_scenario"
        ) from None
    if scenario_hash(scenario) != manifest.get("scenario_hash"):
        raise ResultFileError(
            f"run {directory}: manifest.json's resolved_scenario does not match its scenario_hash"
        )
    return scenario


def _resume_point(out: Path, scenario: Scenario) -> tuple[Resumed | None, Simulation | None]:
    """The checkpoint to continue from (None, None: start again)."""
    try:
        manifest = Manifest.model_validate(read_manifest(out))
    except (OSError, ValueError):
        return None, None
    if (
        manifest.status == "complete"
        or manifest.scenario_hash != scenario_hash(scenario)
        or manifest.code_version != code_version()
        or manifest.checkpoint is None
    ):
        return None, None
    path = out / manifest.checkpoint.file
    if path.name != CHECKPOINT:
        return None, None
    try:
        if file_sha256(path) != manifest.checkpoint.sha256:
            raise CorruptRun(f"run {out} is corrupt: {CHECKPOINT} does not match its checksum")
        state = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, CorruptRun):
        warnings.warn(
            f"run {out}: its checkpoint cannot be used; the run starts again", stacklevel=3
        )
        return None, None
    return Resumed(manifest, manifest.checkpoint.step), state


def _excerpts(state: Simulation) -> Excerpts | None:
    """The documents a simulation kept for reading (lab: its own; ecosystem: its
    measurement's)."""
    model = getattr(state, "model", None)
    holder = model.measurement if isinstance(model, EcosystemModel) else state
    excerpts = getattr(holder, "excerpts", None)
    return excerpts if isinstance(excerpts, Excerpts) else None


def _keep_network(out: Path, scenario: Scenario, model: EcosystemModel) -> None:
    rng = Streams(scenario.seed).numpy("network-sample")
    try:
        write_network(out, sample_network(model.web, rng))
    except (OSError, ValueError) as error:  # a drawing aid: never fail the run for it
        warnings.warn(f"no network sample kept in {out}: {error}", stacklevel=3)


@contextlib.contextmanager
def stop_on_sigterm():
    """Within the block, SIGTERM stops the run the way Ctrl-C does (results are kept); a
    second SIGTERM while the run winds down, or after the block, is ignored so that its
    outcome is recorded and reported."""
    stopping = False

    def _raise(signum, frame):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise RunInterrupted(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        # once stopping, later SIGTERMs are ignored until the process exits: a second one
        # must not kill it with its outcome half-reported
        signal.signal(signal.SIGTERM, signal.SIG_IGN if stopping else previous)
