"""Where planned runs execute: this process, a local Dask cluster, or a Dask scheduler.

Core objects: :func:`open_backend` (chooses and starts a backend from ``--workers`` and
``--address``, and stops it on exit), :class:`Backend` (runs planned runs and yields each
outcome as it finishes), :func:`execute_run` (the task: one run into its directory with
one torch thread, returning only its status) and :class:`PlannedRun` (what a backend
needs of a run). Sweeps and comparisons both run through here.

Local Dask workers start with one BLAS/OpenMP thread each and without Dask's
``MALLOC_TRIM_THRESHOLD_``, and a worker started with it undoes its effect on glibc
first (:func:`unfreeze_malloc`), so a run takes as long as in a plain process.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from ecosystem.runs.locks import writer_lock
from ecosystem.runs.results import RunInterrupted, read_manifest, run_state
from ecosystem.runs.runner import DEFAULT_CHECKPOINT_EVERY, run_scenario
from ecosystem.runs.store import RunIdentity, code_version
from ecosystem.scenario import Scenario, ScenarioError

__all__ = [
    "MAX_WORKERS",
    "Backend",
    "DaskBackend",
    "InProcess",
    "PlannedRun",
    "RunOutcome",
    "check_workers",
    "execute_run",
    "one_line",
    "open_backend",
    "unfreeze_malloc",
]

WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}
"""Environment local Dask workers start with: one BLAS/OpenMP thread each, idle threads not
spinning. It replaces Dask's default, whose ``MALLOC_TRIM_THRESHOLD_`` slows runs down (see
:func:`unfreeze_malloc`)."""
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
"""The highest mmap threshold glibc's own adjustment reaches on 64-bit systems (bytes)."""
CONNECT_TIMEOUT = "20s"
MAX_WORKERS = 1024
"""The most local worker processes ``--workers`` may ask for."""
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
"""glibc's ``mallopt`` parameter numbers (malloc.h)."""

RunOutcome = dict[str, Any]
"""What a finished run reports back: ``status``, ``error``, ``seconds`` (never its series)."""


class PlannedRun(Protocol):
    """What a backend needs of a run: its scenario, its directory and its identity."""

    scenario: Scenario
    directory: Path
    identity: RunIdentity


StepProgress = Callable[[Any, int], None]
"""Called with ``(run, step)`` after each step of a run in this process."""


def execute_run(
    scenario: Scenario,
    directory: str | Path,
    identity: RunIdentity,
    command: str = "",
    progress: Callable[[int], None] | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
) -> RunOutcome:
    """Run one scenario into ``directory`` with one torch thread; report only its outcome.

    The run directory's writer lock is held throughout: a directory that another process is
    writing is not touched (a ``failed`` outcome says who). A directory that already holds
    this complete, whole run is kept; a run cut short there resumes from its checkpoint
    (or starts again without one), and a corrupt one is done again. A process whose
    code version differs from the one the run was planned
    with does not run it. An exception inside the run becomes a ``failed`` outcome with its
    type and first line.
    """
    directory = Path(directory)
    try:
        with writer_lock(directory):
            state = run_state(directory, identity)
            if state == "complete":
                seconds = _manifest_seconds(directory)
                return {"status": "complete", "error": None, "seconds": seconds}
            here = code_version()
            if here != identity.code_version:
                error = (
                    f"this process runs code version {here}, the run was planned with "
                    f"{identity.code_version}: every worker needs the same code"
                )
                return {"status": "failed", "error": error, "seconds": None}
            unfreeze_malloc()
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            started = time.perf_counter()
            steps = None if progress is None else (lambda step, rows: progress(step))
            try:
                run_scenario(
                    scenario,
                    directory,
                    progress=steps,
                    command=command,
                    checkpoint_every=checkpoint_every,
                    existing="resume" if state == "partial" else "refuse",
                )
            except (KeyboardInterrupt, RunInterrupted):
                raise
            except Exception as exc:
                seconds = round(time.perf_counter() - started, 3)
                return {"status": "failed", "error": one_line(exc), "seconds": seconds}
            finally:
                torch.set_num_threads(threads)
    except ScenarioError as exc:
        return {"status": "failed", "error": one_line(exc), "seconds": None}
    return {"status": "complete", "error": None, "seconds": round(time.perf_counter() - started, 3)}


@contextlib.contextmanager
def open_backend(
    workers: int | None = None, address: str | None = None, *, runs: int | None = None
) -> Iterator[Backend]:
    """Where the runs go: ``address`` (an existing Dask scheduler), ``workers=0`` (this process,
    one run after another) or a local Dask cluster of ``workers`` single-threaded processes
    (default: one per core), never more processes than runs to do.

    ``runs``, the number of runs to do when known: with none, nothing is started; with one
    and no ``workers`` or ``address``, it runs in this process (a cluster would only add its
    start-up). More ``workers`` than cores is allowed (the backend's ``note`` says that they
    share the cores); more than :data:`MAX_WORKERS` is refused. Closing the backend cancels
    unfinished runs and stops a local cluster.
    """
    if workers is not None and address is not None:
        raise ScenarioError("--workers and --address exclude each other: choose one")
    check_workers(workers)
    here = workers == 0 or (
        address is None and runs is not None and (runs == 0 or (workers is None and runs == 1))
    )
    if here:
        yield InProcess()
        return
    cores = os.cpu_count() or 1
    local = workers or cores
    if runs is not None:
        local = min(local, runs)
    backend = DaskBackend(local, address)
    if address is None and workers is not None and workers > cores:
        backend.note = (
            f"warning: --workers {workers} is more than the {cores} cores here; "
            f"{local} worker process{'' if local == 1 else 'es'} share them"
        )
    try:
        yield backend
    finally:
        backend.close()


def check_workers(workers: int | None) -> None:
    """Refuse a ``--workers`` count below 0 or above :data:`MAX_WORKERS` (one line)."""
    if workers is not None and not 0 <= workers <= MAX_WORKERS:
        raise ScenarioError(
            f"--workers must be from 0 to {MAX_WORKERS} (0: in this process), got {workers}"
        )


class Backend:
    """Runs planned runs somewhere and yields ``(run, outcome)`` as each finishes."""

    slots: int = 1
    """How many runs it takes at once."""
    parallel: int = 1
    """How many of them really go at the same time (a local cluster: at most one per core)."""
    description: str = ""
    note: str | None = None
    """A warning about how it was set up, for the user (one line), or None."""
    startup_s: float = 0.0
    """Seconds it took to start: a local cluster with its workers' imports, or connecting."""

    def run(
        self, runs: Sequence[PlannedRun], command: str = "", progress: StepProgress | None = None
    ) -> Iterator[tuple[Any, RunOutcome]]:
        """Run ``runs``; ``progress`` gets each step where the backend can tell (this process)."""
        raise NotImplementedError


class InProcess(Backend):
    """This process, one run after another (no Dask)."""

    description = "this process, one run at a time"

    def run(self, runs, command="", progress=None):
        for run in runs:
            steps = None if progress is None else functools.partial(progress, run)
            yield run, execute_run(run.scenario, run.directory, run.identity, command, steps)


class DaskBackend(Backend):
    """A Dask client: of a new local cluster of single-threaded processes, or of ``address``."""

    def __init__(self, workers: int, address: str | None) -> None:
        import dask
        from distributed import Client, LocalCluster

        self.cluster = None
        self.client = None
        self.futures: list = []
        started = time.perf_counter()
        if address is not None:
            try:
                self.client = Client(address, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                message = one_line(exc)
                raise ScenarioError(
                    f"--address {address}: no Dask scheduler there ({message})"
                ) from None
            self.slots = self.parallel = sum(self.client.nthreads().values())
            self.startup_s = time.perf_counter() - started
            self.description = f"the Dask scheduler at {address} ({self.slots} worker threads)"
            return
        # The nannies set their workers' environment in this process before spawning them;
        # remember it so that closing the cluster gives this process its own back.
        self.environ = dict(os.environ)
        with dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENV}):
            self.cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        try:
            self.client = Client(self.cluster)
            # Unpickling this function imports this module, and with it torch and the runner,
            # in every worker: the first runs then cost what the later ones do.
            self.client.run(_ready)
        except BaseException:
            self.close()
            raise
        self.startup_s = time.perf_counter() - started
        self.slots = workers
        self.parallel = min(workers, os.cpu_count() or 1)
        self.description = f"a local Dask cluster of {workers} single-threaded processes"

    def run(self, runs, command="", progress=None):
        from distributed import as_completed

        # a backend exists only once __init__ has set its client (it raises otherwise)
        assert self.client is not None
        by_key = {}
        for run in runs:
            future = self.client.submit(
                execute_run,
                run.scenario,
                str(Path(run.directory).resolve()),
                run.identity,
                command,
                key=f"run-{run.identity.name}-{os.urandom(4).hex()}",
                pure=False,
            )
            by_key[future.key] = run
            self.futures.append(future)
        for future in as_completed(self.futures):
            try:
                outcome = future.result()
            except RunInterrupted:  # a signal to this process while it waited
                raise
            except Exception as exc:  # the worker died or the task could not run
                outcome = {"status": "failed", "error": one_line(exc), "seconds": None}
            yield by_key[future.key], outcome

    def close(self) -> None:
        """Cancel the runs not finished, close the client and stop a local cluster."""
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.cancel([f for f in self.futures if not f.done()])
            with contextlib.suppress(Exception):
                self.client.close(timeout=10)
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close(timeout=20)
            for name in set(os.environ) - set(self.environ):
                del os.environ[name]
            os.environ.update(self.environ)


@functools.cache
def unfreeze_malloc() -> None:
    """Undo, once per process, what ``MALLOC_TRIM_THRESHOLD_`` in the environment does to glibc.

    Dask's nannies start workers with it (65536). Setting it also freezes glibc's mmap
    threshold at 128 KiB, so every large numpy temporary becomes a fresh mmap and a baseline
    run takes 1.6x as long. Raising both thresholds to where glibc's own adjustment ends
    restores the usual speed.
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc
        return
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
    mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD_MAX)


def _ready() -> None:
    """Run on each new local worker: it returns once the worker has imported this module."""


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")[:500]


def _manifest_seconds(directory: Path) -> float | None:
    try:
        return read_manifest(directory).get("wall_time_s")
    except (OSError, ValueError):
        return None
