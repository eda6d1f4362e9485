"""Wall time of the neural generators: one generation (fit, then sample as many points) of
each with its training budget, on the CPU and, when one is present, on CUDA, and the
10-generation diffusion loop on digits.

Two data sets: the vector world's lab loop (5,000 points in 16-D, a random 50-component
mixture, each model's defaults) and 2,000 human pages of the digits world (real 8x8 images,
the budget of the `mad-digits-*` scenarios for diffusion, the defaults otherwise).

Run: .venv/bin/python -m benchmarks.bench_neural [--skip-loop]   (run it alone: it prints the
load first)
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from benchmarks.bench_models import random_mixture_data
from ecosystem.runs.runner import simulation
from ecosystem.scenario import load_scenario
from ecosystem.world.digits import DigitsWorld
from models import make

MODELS = ("flow", "vae", "diffusion")
DIGITS_DIFFUSION = {"steps": 200, "epochs": 100}
"""The diffusion budget of the `mad-digits-*` scenarios."""


def generation(name: str, data: torch.Tensor, device: str, params: dict) -> tuple[float, float]:
    """Seconds to fit ``name`` on ``data`` and to sample as many points."""
    model = make(name, device=device, **params)
    started = time.perf_counter()
    model.fit(data, generator=torch.Generator().manual_seed(0))
    if device == "cuda":
        torch.cuda.synchronize()
    fitted = time.perf_counter()
    model.sample(len(data), generator=torch.Generator().manual_seed(1))
    return fitted - started, time.perf_counter() - fitted


def generations(devices: list[str]) -> None:
    """One generation of each model on each data set and device."""
    vectors, _, _ = random_mixture_data(5000, 16, 50, generator=torch.Generator().manual_seed(0))
    scenario = load_scenario("mad-digits-fully-synthetic")
    world = DigitsWorld.from_scenario(scenario, torch.Generator().manual_seed(0))
    digits, _ = world.sample(2000, torch.Generator().manual_seed(1))
    for label, data in (("vectors 5000 x 16", vectors), ("digits 2000 x 64", digits)):
        for name in MODELS:
            params = DIGITS_DIFFUSION if name == "diffusion" and data is digits else {}
            times = {device: generation(name, data, device, params) for device in devices}
            cells = "   ".join(
                f"{device}: fit {fit:6.2f} s + sample {sample:5.2f} s"
                for device, (fit, sample) in times.items()
            )
            ratio = ""
            if "cuda" in times:
                ratio = f"   GPU speed-up {sum(times['cpu']) / sum(times['cuda']):.1f}x"
            print(f"{name:<10s} {label:<18s} {cells}{ratio}")


def loop() -> None:
    """`mad-digits-fully-synthetic` on the CPU: 10 generations, metrics and pictures."""
    scenario = load_scenario("mad-digits-fully-synthetic", ["model.params.device=cpu"])
    started = time.perf_counter()
    state = simulation(scenario)
    while state.advance() is not None:
        pass
    total = time.perf_counter() - started
    print(f"mad-digits-fully-synthetic: {scenario.steps} generations in {total:.1f} s on the CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-loop", action="store_true")
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    generations(devices)
    if not args.skip_loop:
        loop()
    if len(devices) == 1:
        print("(no CUDA device here: no GPU figures)")


if __name__ == "__main__":
    main()
