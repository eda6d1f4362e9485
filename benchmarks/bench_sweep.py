"""Throughput of `ecosystem sweep`: runs per minute on a local Dask cluster of 1 and 2 worker
processes, and what the engine costs per run against running the same runs in this process.

Run: .venv/bin/python benchmarks/bench_sweep.py [--runs 4] [--steps 48] [--trivial 24]

Throughput: `--runs` seeds of the `baseline` (its first `--steps` months, 48 by default: the
whole ten years take 44 s a run on one thread, and the figures are per run anyway), timed from
submitting the runs to the last one finishing. Each worker is one process with one torch
thread. Overhead: `--trivial` one-step runs of a tiny scenario on a cluster of 2 workers
against the same runs in this process, one after another; the difference in CPU seconds per
run (worker processes plus this one, which holds the scheduler) is the engine's cost:
scheduling, pickling, the status record, sweep.json. Every process first runs one step of
the tiny scenario, so imports and cluster start-up stay out of the timings (they are printed
apart). Wall times depend on the load of the machine (printed); CPU seconds much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from ecosystem.experiments.sweep import plan_sweep, run_sweep, sweep_backend

SCENARIO = "baseline"
TRIVIAL = str(Path(__file__).resolve().parent.parent / "tests" / "data" / "tiny-web.toml")
WORKER_COUNTS = (1, 2)


def timed_sweep(source: str, out: Path, *, seeds: int, steps: int, workers: int) -> dict:
    """Wall and CPU seconds of the runs (``workers=0``: in this process) and of starting the
    backend, which includes one warm-up step of the tiny scenario in every worker process."""
    plan = plan_sweep(source, out=out, seeds=seeds, steps=steps)
    started = time.perf_counter()
    with sweep_backend(workers=workers) as backend:
        if workers:
            backend.client.run(warm_up)
        else:
            warm_up()
        ready = time.perf_counter()
        cpu_before = cpu_seconds() + (
            sum(backend.client.run(cpu_seconds).values()) if workers else 0
        )
        run_sweep(plan, backend)
        done = time.perf_counter()
        cpu_after = cpu_seconds() + (
            sum(backend.client.run(cpu_seconds).values()) if workers else 0
        )
    failed = [run.id for run in plan.runs if run.status != "complete"]
    if failed:
        raise RuntimeError(f"runs failed: {failed}")
    return {
        "startup": ready - started,
        "wall": done - ready,
        "cpu": cpu_after - cpu_before,
        "n": len(plan.runs),
    }


def cpu_seconds() -> float:
    """User plus system CPU seconds of the calling process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def warm_up() -> None:
    """One step of the tiny scenario, so that imports and first calls stay out of the timings."""
    from ecosystem.runs.runner import simulate
    from ecosystem.scenario import load_scenario

    for _ in simulate(load_scenario(TRIVIAL, ["steps=1"])):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="baseline runs per worker count")
    parser.add_argument("--steps", type=int, default=48, help="months of each baseline run")
    parser.add_argument("--trivial", type=int, default=24, help="one-step runs for the overhead")
    args = parser.parse_args()
    print(f"sweep engine ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start)")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        print(
            f"throughput: {args.runs} runs of `{SCENARIO}` with --steps {args.steps} "
            f"(the full scenario has 120 steps)"
        )
        single = None
        for workers in WORKER_COUNTS:
            result = timed_sweep(
                SCENARIO,
                scratch / f"baseline-{workers}",
                seeds=args.runs,
                steps=args.steps,
                workers=workers,
            )
            per_minute = 60 * result["n"] / result["wall"]
            single = single or per_minute
            print(
                f"  {workers} worker{'s' if workers > 1 else ' '}: {per_minute:5.2f} runs/min, "
                f"x{per_minute / single:.2f} of 1 worker ({result['wall'] / result['n']:.1f} s "
                f"of wall time and {result['cpu'] / result['n']:.1f} CPU-s per run; "
                f"cluster start and warm-up {result['startup']:.1f} s)"
            )
        print(f"overhead: {args.trivial} one-step runs of tests/data/tiny-web.toml")
        serial = timed_sweep(TRIVIAL, scratch / "trivial-0", seeds=args.trivial, steps=1, workers=0)
        dask = timed_sweep(TRIVIAL, scratch / "trivial-2", seeds=args.trivial, steps=1, workers=2)
        rows = (("in this process", serial), ("Dask, 2 workers", dask))
        for label, result in rows:
            print(
                f"  {label}: {result['wall'] / result['n'] * 1000:4.0f} ms of wall time and "
                f"{result['cpu'] / result['n'] * 1000:4.0f} CPU-ms per run"
            )
        extra = (dask["cpu"] / dask["n"] - serial["cpu"] / serial["n"]) * 1000
        print(
            f"  engine overhead: {extra:.0f} CPU-ms per run (workers, scheduler and client "
            f"together), plus {dask['startup']:.1f} s to start the cluster once per sweep"
        )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
