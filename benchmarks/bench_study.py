"""Wall time of a Morris sensitivity study of the packaged `levers-under-uncertainty` study (the
`baseline` over six uncertainties, 10 trajectories: 70 planned runs) on a local Dask cluster,
and the time of a 1,000-run Sobol study estimated from the measured per-run times.

Run: .venv/bin/python benchmarks/bench_study.py [--n 10] [--workers 2] [--out runs/bench-study]

The study goes through `plan_study` and `run_study`, exactly as `ecosystem sensitivity` runs it
(the cluster's start-up, every run, reading the outcomes back and SALib's analysis included).
Its directory is kept: running again reuses the complete runs (and then times only the rest).
The Sobol estimate: N = 128 base samples over the six uncertainties, N(D + 2) = 1,024 runs,
each taking the mean wall time of the runs measured here (on 2 busy cores, so it includes
their contention); on 2 cores the runs go two at a time, on a 32-worker cluster 32 at a time
(one run per worker, as the local cluster runs them). Target: the Morris study in 30 minutes
or less on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from ecosystem.experiments.uncertainty import ANALYSERS, plan_study, run_study
from ecosystem.experiments.uncertainty.design import design_size
from ecosystem.runs.backends import open_backend

STUDY = "levers-under-uncertainty"
TARGET_S = 30 * 60
SOBOL_N = 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", default=STUDY)
    parser.add_argument("--n", type=int, default=10, help="Morris trajectories")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-study"))
    args = parser.parse_args()

    plan = plan_study(args.study, "sensitivity", args.out, method="morris", n=args.n)
    runs, pending = len(plan.sweep.runs), len(plan.sweep.pending)
    print(
        f"{args.study}: Morris, {args.n} trajectories over {len(plan.design.names)} uncertainties "
        f"= {plan.design.rows} futures, {runs} distinct runs ({pending} to run) on "
        f"{args.workers} workers; {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
    )
    started = time.perf_counter()
    with open_backend(args.workers, None, runs=pending) as backend:
        ready = time.perf_counter()
        result = run_study(plan, backend, ANALYSERS["sensitivity"], command="bench_study.py")
    wall = time.perf_counter() - started
    if result is None:
        raise SystemExit(f"some runs failed; see {args.out / 'sweep.json'}")
    seconds = [run.seconds for run in plan.sweep.runs if run.seconds]
    mean = statistics.mean(seconds)
    print(
        f"wall time {wall / 60:.1f} min for {pending} runs "
        f"(cluster start-up {ready - started:.1f} s); "
        f"per run {mean:.1f} s mean, {min(seconds):.1f}-{max(seconds):.1f} s; "
        f"target {TARGET_S / 60:.0f} min: {'met' if wall <= TARGET_S else 'MISSED'}"
    )
    for line in result.lines:
        print(line)
    sobol_runs = design_size("sobol", SOBOL_N, len(plan.design.names))
    for workers in (2, 32):
        estimate = sobol_runs * mean / workers
        print(
            f"Sobol N={SOBOL_N} ({sobol_runs} runs) on {workers} workers: about "
            f"{estimate / 3600:.1f} h ({sobol_runs} x {mean:.1f} s / {workers})"
        )


if __name__ == "__main__":
    main()
