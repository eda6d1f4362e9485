"""Speed and noise of the `baseline` against the code before the speed work, in one sitting.

Run: .venv/bin/python benchmarks/bench_speed.py [--against REV] [--large] [--trees before,now]

A git worktree of REV (default ``BEFORE``, the code before common random numbers) is made in
a temporary folder, and this script runs its measurements as
a child process in each tree in turn (``PYTHONPATH`` set to the tree), so both see the same
machine in the same minutes. Each tree's figures:

- ``make run``: wall time of the whole ``ecosystem run baseline`` process, and the stepping
  time of the 120 months in process (torch's default threads, as ``make run``), by phase;
- sweeps: `baseline` runs per minute on a local Dask cluster of 1 worker (2 runs) and of
  2 workers (4 runs), one torch thread per worker, timed from submission to the last result;
- noise: the standard deviation of the first differences of the web's series in `no-ai`,
  where nothing should change from one month to the next;
- `policy-mix` against `baseline` over 3 seeds: the mean recall of the last 12 months (the
  companies' models and the web), with Welch's t-test;
- with ``--large``: the 1M-page run (48 months) and the `baseline` with 10x the creators.

It takes about 12 minutes (20 with --large) on an idle 2-core machine; other CPU-heavy work
at the same time distorts every figure (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "cf09cfa2d67bc1d71fb2a3e28e416bb8dda5a536"
"""The last commit before the speed and noise work."""

SEEDS = 3
LAST_MONTHS = 12
NOISE_SERIES = ("recall", "precision", "coverage", "density", "frechet", "tail_mass_ratio")
MILLION = (
    "web.initial_pages=200000",
    "steps=48",
    "creators.count=20000",
    *(
        f"companies.{name}.{key}"
        for name in ("alpha", "beta", "gamma", "delta")
        for key in ("pages_per_month=5500.0", "crawl_budget=20000")
    ),
)
TEN_TIMES_CREATORS = ("creators.count=20000",)

TARGETS = {
    "stepping_s": ("baseline stepping", "<=", 10.0, "s"),
    "process_s": ("make run process", "<=", 15.0, "s"),
    "runs_per_min_2": ("sweep, 2 workers", ">=", 10.0, "runs/min"),
    "million_s": ("1M pages, 48 months", "<=", 60.0, "s"),
    "creators_10x_s": ("10x creators", "<=", 30.0, "s"),
}
NOISE_TARGET = 0.005


# --- the child: measurements in one tree --------------------------------------------------


def _stepping(overrides: tuple[str, ...] = ()) -> dict:
    from ecosystem.scenario import load_scenario
    from ecosystem.world.model import EcosystemModel

    scenario = load_scenario("baseline", list(overrides))
    started = time.perf_counter()
    model = EcosystemModel(scenario)
    ready = time.perf_counter()
    for _ in range(scenario.steps):
        model.step()
    done = time.perf_counter()
    return {"init_s": ready - started, "stepping_s": done - ready, "phases": model.timings}


def _process(scratch: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ecosystem", "run", "baseline", "--out", str(scratch / "run")],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _sweep(name: str, out: Path, *, seeds: int, workers: int):
    from ecosystem.experiments.sweep import plan_sweep, read_sweep, run_sweep, sweep_backend

    plan = plan_sweep(name, out=out, seeds=seeds)
    with sweep_backend(workers=workers) as backend:
        started = time.perf_counter()
        run_sweep(plan, backend)
        wall = time.perf_counter() - started
    failed = [run.id for run in plan.runs if run.status != "complete"]
    if failed:
        raise RuntimeError(f"runs failed: {failed}")
    return 60 * len(plan.runs) / wall, read_sweep(out)


def _last_recall(table) -> dict[str, list[float]]:
    """Per seed, the mean recall of the last months: the companies' models and the web."""
    last = table[
        (table["metric"] == "recall") & (table["step"] > table["step"].max() - LAST_MONTHS)
    ]
    per_scope = {
        "company": last[last["scope"].str.startswith("company:")],
        "web": last[last["scope"] == "web"],
    }
    return {
        key: frame.groupby("seed")["value"].mean().sort_index().tolist()
        for key, frame in per_scope.items()
    }


def _noise() -> dict[str, float]:
    import numpy as np
    import pandas as pd

    from ecosystem.scenario import load_scenario
    from ecosystem.world.model import ecosystem_steps

    scenario = load_scenario("no-ai")
    rows = [(step, *row) for step, rows in ecosystem_steps(scenario) for row in rows]
    frame = pd.DataFrame(rows, columns=["step", "generation", "scope", "metric", "value"])
    web = frame[(frame["scope"] == "web") & (frame["step"] >= 1)].sort_values("step")
    return {
        metric: float(np.std(np.diff(web[web["metric"] == metric]["value"]), ddof=1))
        for metric in NOISE_SERIES
    }


def child(large: bool) -> dict:
    import torch

    figures: dict = {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        figures["process_s"] = _process(scratch)
        figures |= _stepping()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        figures["noise"] = _noise()
        figures["runs_per_min_1"], _ = _sweep("baseline", scratch / "one", seeds=2, workers=1)
        figures["runs_per_min_2"], baseline = _sweep(
            "baseline", scratch / "two", seeds=SEEDS + 1, workers=2
        )
        _, mix = _sweep("policy-mix", scratch / "mix", seeds=SEEDS, workers=2)
        baseline = baseline[baseline["seed"] < SEEDS]
        figures["recall"] = {"baseline": _last_recall(baseline), "policy-mix": _last_recall(mix)}
        torch.set_num_threads(threads)
        if large:
            figures["million"] = _stepping(MILLION)
            figures["million_s"] = figures["million"]["init_s"] + figures["million"]["stepping_s"]
            figures["creators_10x"] = _stepping(TEN_TIMES_CREATORS)
            figures["creators_10x_s"] = (
                figures["creators_10x"]["init_s"] + figures["creators_10x"]["stepping_s"]
            )
    return figures


# --- the parent: both trees and the table -------------------------------------------------


def _run_child(tree: Path, large: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = [sys.executable, str(Path(__file__).resolve()), "--child"]
    if large:
        command.append("--large")
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"measuring {tree} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _welch(figures: dict, scope: str) -> str:
    import numpy as np
    import scipy.stats

    mix = figures["recall"]["policy-mix"][scope]
    base = figures["recall"]["baseline"][scope]
    test = scipy.stats.ttest_ind(mix, base, equal_var=False)
    return f"{np.mean(mix) - np.mean(base):+.4f} (Welch p = {test.pvalue:.3f})"


def report(results: dict[str, dict]) -> None:
    names = list(results)
    header = f"{'figure':34s}" + "".join(f"{name:>16s}" for name in names) + "   target"
    print(header)
    print("-" * len(header))
    for key, (label, sense, goal, unit) in TARGETS.items():
        if not all(key in figures for figures in results.values()):
            continue
        cells = "".join(f"{figures[key]:>12.1f} {unit[:3]:3s}" for figures in results.values())
        now = results[names[-1]][key]
        met = now <= goal if sense == "<=" else now >= goal
        print(f"{label:34s}{cells}   {sense} {goal:g} {unit}: {'met' if met else 'NOT met'}")
    print(
        f"{'sweep, 1 worker':34s}"
        + "".join(f"{f['runs_per_min_1']:>12.1f} run" for f in results.values())
    )
    for phase in results[names[-1]]["phases"]:
        cells = "".join(f"{f['phases'][phase]:>12.2f} s  " for f in results.values())
        print(f"{'  phase ' + phase:34s}{cells}")
    print(f"no-ai: sd of month-to-month differences of the web's series (target <= {NOISE_TARGET})")
    for metric in NOISE_SERIES:
        cells = "".join(f"{f['noise'][metric]:>16.4f}" for f in results.values())
        mark = ""
        if metric in ("recall", "precision", "coverage"):
            mark = "   met" if results[names[-1]]["noise"][metric] <= NOISE_TARGET else "   NOT met"
        print(f"{'  web ' + metric:34s}{cells}{mark}")
    print(f"policy-mix - baseline, mean recall of the last {LAST_MONTHS} months, {SEEDS} seeds:")
    for scope in ("company", "web"):
        cells = "".join(f"  {name}: {_welch(f, scope)}" for name, f in results.items())
        print(f"  {scope + ' recall':32s}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default=BEFORE, help="the git revision to compare with")
    parser.add_argument("--large", action="store_true", help="also the 1M-page and 10x runs")
    parser.add_argument("--trees", default="before,now", help="which trees to measure")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.large)))
        return
    print(f"speed and noise ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f})")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as scratch:
        before = Path(scratch) / "before"
        trees = {"before": before, "now": ROOT}
        wanted = args.trees.split(",")
        if "before" in wanted:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before), args.against],
                check=True,
                capture_output=True,
            )
        try:
            for name in wanted:
                started = time.perf_counter()
                results[name] = _run_child(trees[name], args.large)
                print(f"measured {name} in {time.perf_counter() - started:.0f} s", flush=True)
        finally:
            if "before" in wanted:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)],
                    capture_output=True,
                )
    report(results)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
