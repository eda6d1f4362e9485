"""Speed of the text world: `text-baseline` against its 60 s target, the metric cost per month
as the web grows, and the transformer's lab loop (10 generations, 5 min target) with the time
of one retraining on 10,000 documents, on the CPU and, when one is present, on CUDA.

Run: .venv/bin/python benchmarks/bench_text.py [--skip-baseline] [--skip-transformer]

Figures depend on the load of the machine: run it alone (the first line prints the load).
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch

import models
from ecosystem.measure.text_metrics import perplexity
from ecosystem.runs.runner import simulation
from ecosystem.scenario import load_scenario
from ecosystem.world.language import Language
from ecosystem.world.model import EcosystemModel


def baseline() -> None:
    """`text-baseline`, 120 months: the whole stepping time, then the measurement's time per
    month by year, beside the number of pages alive."""
    scenario = load_scenario("text-baseline")
    started = time.perf_counter()
    state = simulation(scenario)
    yearly: dict[int, list[float]] = {}
    pages: dict[int, int] = {}
    last_metrics = 0.0
    while (item := state.advance()) is not None:
        step, _ = item
        model = getattr(state, "model", None)
        assert isinstance(model, EcosystemModel)
        spent = model.timings["metrics"] - last_metrics
        last_metrics = model.timings["metrics"]
        if step:
            year = (step - 1) // 12 + 1
            yearly.setdefault(year, []).append(spent)
            pages[year] = len(model.web.live())
    total = time.perf_counter() - started
    print(f"text-baseline: {scenario.steps} months in {total:.1f} s (target 60 s)")
    print("  year  pages alive  measurement per month")
    for year, spent in yearly.items():
        print(f"  {year:>4}  {pages[year]:>11,}  {1000 * np.mean(spent):>8.0f} ms")


def transformer() -> None:
    """The `text-transformer` lab loop, then one fit on 10,000 human documents per device."""
    scenario = load_scenario("text-transformer", ["model.params.device=cpu"])
    started = time.perf_counter()
    state = simulation(scenario)
    shown = ("perplexity", "vocabulary_coverage", "distinct_words", "tail_word_mass_ratio")
    series: dict[str, dict[int, float]] = {name: {} for name in shown}
    while (item := state.advance()) is not None:
        step, rows = item
        for _, scope, metric, value in rows:
            if scope == "model" and metric in series:
                series[metric][step] = value
    total = time.perf_counter() - started
    print(
        f"text-transformer: {scenario.steps} generations in {total:.1f} s on the CPU (target 300 s)"
    )
    measured = sorted(series["perplexity"])
    kept = [measured[0], measured[min(4, len(measured) - 1)], measured[-1]]
    for name in shown:
        values = " / ".join(f"{series[name][g]:.3g}" for g in kept)
        print(f"  {name} at generations {', '.join(map(str, kept))}: {values}")
    generator = torch.Generator().manual_seed(0)
    language = Language.generate(generator)
    documents, _ = language.sample(10_000, generator)
    held_out, _ = language.sample(1000, generator)
    truth = math.exp(-float(language.log_prob(held_out).sum()) / int(held_out.lengths.sum()))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        model = models.make("transformer", vocab=language.vocab, device=device)
        fits = []
        for seed in range(2):  # the first fit on a device also pays its start-up
            started = time.perf_counter()
            model.fit(documents, generator=torch.Generator().manual_seed(seed))
            if device == "cuda":
                torch.cuda.synchronize()
            fits.append(time.perf_counter() - started)
        started = time.perf_counter()
        model.sample(1000, generator=torch.Generator().manual_seed(9))
        sampled = time.perf_counter() - started
        print(
            f"  one retraining on 10,000 documents ({len(documents.tokens):,} words), {device}: "
            f"{fits[-1]:.1f} s (first {fits[0]:.1f} s); 1,000 documents sampled in "
            f"{sampled:.1f} s; perplexity {perplexity(model, held_out):.1f} (truth {truth:.1f})"
        )
    if len(devices) == 1:
        print("  (no CUDA device here: no GPU figure)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-transformer", action="store_true")
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} CPUs, torch {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    if not args.skip_baseline:
        baseline()
    if not args.skip_transformer:
        transformer()


if __name__ == "__main__":
    main()
