"""What checkpoints cost: the share of a run's time spent saving its state, for each
`--checkpoint-every N`, measured on the `baseline` (and on a lab scenario) in one sitting.

Run: .venv/bin/python benchmarks/bench_checkpoint.py [--scenario baseline] [--steps 120]

One run, one torch thread: every step is simulated and timed, and after every step the state
is pickled and written atomically to a scratch file (as ``RunWriter.write_checkpoint`` does)
and timed apart. The overhead of checkpointing every N steps is then the time of the
checkpoints at the steps a run with that N saves (multiples of N below the last step) over the
run's own time (steps and writing its parts), so the figures for every N come from the same
run and do not depend on the load of the machine. Also printed: the checkpoint's size and the
seconds to load it back.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from pathlib import Path

import torch

from ecosystem.runs.results import RunWriter, atomic_write_bytes
from ecosystem.runs.runner import DEFAULT_CHECKPOINT_EVERY, simulation
from ecosystem.scenario import load_scenario

EVERY = (1, 5, 10, 20, 50)


def measure(name: str, steps: int | None) -> dict:
    """Per step: simulation + part seconds, checkpoint seconds and bytes."""
    torch.set_num_threads(1)
    overrides = [] if steps is None else [f"steps={steps}"]
    scenario = load_scenario(name, overrides)
    run_seconds, checkpoints = 0.0, {}
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "run"
        state = simulation(scenario)
        with RunWriter(out, scenario) as writer:
            while True:
                started = time.perf_counter()
                item = state.advance()
                if item is None:
                    break
                step, rows = item
                writer.write_step(step, rows)
                run_seconds += time.perf_counter() - started
                started = time.perf_counter()
                data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
                atomic_write_bytes(Path(scratch) / "checkpoint.pkl", data)
                checkpoints[step] = (time.perf_counter() - started, len(data))
            started = time.perf_counter()
            pickle.loads((Path(scratch) / "checkpoint.pkl").read_bytes())
            load_seconds = time.perf_counter() - started
    return {
        "scenario": scenario,
        "run_seconds": run_seconds,
        "checkpoints": checkpoints,
        "load_seconds": load_seconds,
    }


def report(result: dict) -> None:
    scenario = result["scenario"]
    run_seconds, checkpoints = result["run_seconds"], result["checkpoints"]
    sizes = [size for _, size in checkpoints.values()]
    print(
        f"{scenario.name}: {scenario.steps} steps in {run_seconds:.1f} s "
        f"({run_seconds / max(1, len(checkpoints)) * 1000:.0f} ms a step); checkpoint "
        f"{min(sizes) / 1e6:.1f}-{max(sizes) / 1e6:.1f} MB, "
        f"{min(t for t, _ in checkpoints.values()) * 1000:.0f}-"
        f"{max(t for t, _ in checkpoints.values()) * 1000:.0f} ms to save, "
        f"{result['load_seconds'] * 1000:.0f} ms to load the last"
    )
    print(f"  {'every':>5}  {'saves':>5}  {'seconds':>8}  {'overhead':>8}")
    for every in sorted({*EVERY, DEFAULT_CHECKPOINT_EVERY}):
        saved = [
            seconds
            for step, (seconds, _) in checkpoints.items()
            if step > 0 and step % every == 0 and step < scenario.steps
        ]
        mark = "  (default)" if every == DEFAULT_CHECKPOINT_EVERY else ""
        print(
            f"  {every:>5}  {len(saved):>5}  {sum(saved):>8.2f}  "
            f"{sum(saved) / run_seconds:>8.2%}{mark}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", help="default: baseline and accumulate")
    parser.add_argument("--steps", type=int, help="steps of each run (default: the scenario's)")
    args = parser.parse_args()
    for name in args.scenario or ["baseline", "accumulate"]:
        report(measure(name, args.steps))


if __name__ == "__main__":
    main()
