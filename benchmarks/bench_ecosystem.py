"""Wall time and peak memory of the whole ecosystem model as the web grows to 10k, 100k and
1M pages, and the naive design (one Mesa agent per page) against the columnar web at 10k pages.

Run: .venv/bin/python benchmarks/bench_ecosystem.py [--sizes 10k,100k,1M]

Every size is the `baseline` scenario with `--set`-style overrides, run in a fresh subprocess
so that its peak RSS is its own; the child prints one JSON line the parent collects. The
metric sample size stays at the baseline's for every size, so the metric cost per step should
not grow with the web. All of it takes about 70 s on an idle 2-core machine and many times
longer when other processes compete for the CPUs (the table prints the load average).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time

import mesa
import numpy as np
import torch

from ecosystem.scenario import load_scenario
from ecosystem.world.model import PHASES, EcosystemModel
from ecosystem.world.web import HUMAN, Web

SCENARIO = "baseline"
# Overrides of `baseline` per size, besides the per-company ones of COMPANY_OVERRIDES. 10k and
# 1M keep the baseline's rates per creator and its company timing (start at step 12, 14-month
# ramp, retraining every 6 months from step 18); creators and company output are scaled so the
# web ends near the size's number of alive pages. 100k is the baseline itself (~143k alive).
SIZES: dict[str, tuple[str, ...]] = {
    "10k": ("web.initial_pages=2000", "steps=24", "creators.count=600"),
    "100k": (),
    "1M": ("web.initial_pages=200000", "steps=48", "creators.count=20000"),
}
COMPANY_OVERRIDES: dict[str, tuple[str, ...]] = {
    "10k": ("crawl_budget=1000",),
    "100k": (),
    "1M": ("pages_per_month=5500.0", "crawl_budget=20000"),
}

# Targets the figures are reported against.
BASELINE_TARGET_S = 60.0
MILLION_TARGET_S = 600.0
MILLION_RSS_TARGET_BYTES = 4e9
FLAT_RATIO = 1.5  # metric seconds per step may vary this much across sizes and still be "flat"

# The naive-versus-columnar workload: a 10k-page web grown like the 10k run.
NAIVE_SEED = 0
NAIVE_INITIAL = 2_000
NAIVE_SEED_BATCHES = 10  # the initial pages link in batches, as EcosystemModel seeds its web
NAIVE_STEPS = 24
NAIVE_PER_STEP = 350
NAIVE_DIM = 16
NAIVE_TOPICS = 50
NAIVE_ZIPF = 1.1
LINKS_PER_PAGE = 5.0
ATTACHMENT = 1.0
HOMOPHILY = 0.5
DEATH_RATE = 0.004
TRAFFIC_DECAY = 0.1
WEB_PHASES = ("add", "link", "step")


def cpu_seconds() -> float:
    """User plus system CPU time of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_kib() -> int:
    """Peak resident memory of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def overrides(size: str) -> list[str]:
    """The `--set` overrides of `baseline` that make the scenario of ``size``."""
    companies = load_scenario(SCENARIO).active_companies
    per_company = [
        f"companies.{name}.{setting}" for name in companies for setting in COMPANY_OVERRIDES[size]
    ]
    return [*SIZES[size], *per_company]


# ----------------------------------------------------------------- one size (child process)


def run_size(size: str) -> dict:
    """Build and step the scenario of ``size``; wall times, phase times, web size, peak RSS."""
    rss_imports = peak_rss_kib()
    started = time.perf_counter()
    scenario = load_scenario(SCENARIO, overrides(size))
    model = EcosystemModel(scenario)
    setup = time.perf_counter() - started
    rss_setup = peak_rss_kib()
    initial = model.web.size
    metric_quiet = []  # metric seconds of the steps where no company retrained
    retrainings = 0  # (company, step) retrainings: each new generation is measured again
    stepping_started, cpu_started = time.perf_counter(), cpu_seconds()
    for _ in range(scenario.steps):
        month = model.steps + 1
        due = sum(company.is_due(month) for company in model.companies)
        retrainings += due
        before = model.timings["metrics"]
        model.step()
        if not due:
            metric_quiet.append(model.timings["metrics"] - before)
    stepping = time.perf_counter() - stepping_started
    stepping_cpu = cpu_seconds() - cpu_started
    web = model.web
    return {
        "size": size,
        "overrides": overrides(size),
        "steps": scenario.steps,
        "companies": len(model.companies),
        "creators": len(model.creators),
        "initial_pages": initial,
        "pages": web.size,
        "alive": web.count_alive,
        "links": web.n_links,
        "setup_s": setup,
        "stepping_s": stepping,
        "stepping_cpu_s": stepping_cpu,
        "load_average": os.getloadavg()[0],
        "timings": dict(model.timings),
        "metrics_quiet_s_per_step": float(np.mean(metric_quiet)) if metric_quiet else None,
        "quiet_steps": len(metric_quiet),
        "retrainings": retrainings,
        "samples": scenario.metrics.samples,
        "rss_imports_kib": rss_imports,
        "rss_setup_kib": rss_setup,
        "peak_rss_kib": peak_rss_kib(),
    }


def measure(size: str) -> dict | None:
    """Run ``size`` in a fresh interpreter; its JSON result, or None if it failed."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", size], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(f"  {size}: child failed with exit code {done.returncode}", file=sys.stderr)
        print(done.stderr[-4000:], file=sys.stderr)
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


# ----------------------------------------------------------------- the naive design


class PageAgent(mesa.Agent):
    """One web page as a Mesa agent: the naive design the columnar `Web` replaces."""

    def __init__(
        self,
        model: mesa.Model,
        *,
        content: np.ndarray,
        origin: int,
        topic: int,
        created_step: int,
    ) -> None:
        super().__init__(model)
        self.content = content
        self.origin = origin
        self.topic = topic
        self.created_step = created_step
        self.alive = True
        self.in_degree = 0
        self.traffic = 0.0
        self.out_links: list[PageAgent] = []

    def age(self, death_rate: float, keep: float) -> None:
        """Die with probability ``death_rate`` (link rot); traffic decays to ``keep`` of itself."""
        if self.alive and self.model.random.random() < death_rate:
            self.alive = False
        self.traffic *= keep

    def forget_in_degree(self) -> None:
        self.in_degree = 0

    def count_out_links(self) -> None:
        """Add this page's links between alive pages to their targets' in-degree."""
        if self.alive:
            for target in self.out_links:
                if target.alive:
                    target.in_degree += 1


class NaiveWeb(mesa.Model):
    """The web as a list of `PageAgent`, linked and aged with per-page Python choices.

    Not a straw man: the attachment weights are cumulated once per batch and per topic (not
    per link), and every draw is `random.choices` with those cumulative weights.
    """

    def __init__(self, seed: int) -> None:
        super().__init__(rng=seed)
        self.pages: list[PageAgent] = []  # in creation order, dead pages kept

    def add_pages(self, content: np.ndarray, topics: np.ndarray, step: int) -> range:
        """One agent per page; returns their positions in `pages`."""
        start = len(self.pages)
        self.pages.extend(
            PageAgent(self, content=row.copy(), origin=HUMAN, topic=topic, created_step=step)
            for row, topic in zip(content, topics.tolist(), strict=True)
        )
        return range(start, len(self.pages))

    def link_new_pages(self, new: range) -> int:
        """Poisson(LINKS_PER_PAGE) links per new alive page to alive pages older than the
        batch: in-topic with probability HOMOPHILY, weight (in_degree + 1) ** ATTACHMENT."""
        pool = [page for page in self.pages[: new.start] if page.alive]
        if not pool:
            return 0
        weights = [(page.in_degree + 1) ** ATTACHMENT for page in pool]
        grouped: dict[int, tuple[list[PageAgent], list[float]]] = {}
        for page, weight in zip(pool, weights, strict=True):
            members, member_weights = grouped.setdefault(page.topic, ([], []))
            members.append(page)
            member_weights.append(weight)
        everything = (pool, list(itertools.accumulate(weights)))
        by_topic = {
            topic: (members, list(itertools.accumulate(member_weights)))
            for topic, (members, member_weights) in grouped.items()
        }
        rnd, made = self.random, 0
        for page in (self.pages[i] for i in new):
            if not page.alive:
                continue
            for _ in range(int(self.rng.poisson(LINKS_PER_PAGE))):
                in_topic = rnd.random() < HOMOPHILY
                members, cumulative = (
                    by_topic.get(page.topic, everything) if in_topic else everything
                )
                target = rnd.choices(members, cum_weights=cumulative)[0]
                page.out_links.append(target)
                target.in_degree += 1
                made += 1
        return made

    def age(self) -> None:
        """Kill and decay every page, then recount in-degrees from the alive links."""
        self.agents.shuffle_do("age", DEATH_RATE, 1.0 - TRAFFIC_DECAY)
        self.agents.do("forget_in_degree")
        self.agents.do("count_out_links")


def naive_workload() -> list[tuple[np.ndarray, np.ndarray]]:
    """Content and topics of the initial pages, then of each step's new pages."""
    rng = np.random.default_rng(NAIVE_SEED)
    popularity = 1.0 / np.arange(1, NAIVE_TOPICS + 1) ** NAIVE_ZIPF
    popularity /= popularity.sum()
    batches = []
    for n in (NAIVE_INITIAL, *([NAIVE_PER_STEP] * NAIVE_STEPS)):
        content = rng.normal(size=(n, NAIVE_DIM)).astype(np.float32)
        batches.append((content, rng.choice(NAIVE_TOPICS, size=n, p=popularity)))
    return batches


def run_naive(batches: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """The workload through `PageAgent`s; seconds per phase and the web it made."""
    seconds = dict.fromkeys(WEB_PHASES, 0.0)
    links = 0
    model = NaiveWeb(NAIVE_SEED)
    for step, (content, topics) in enumerate(batches):
        started = time.perf_counter()
        new = model.add_pages(content, topics, step)
        added = time.perf_counter()
        parts = np.array_split(np.asarray(new), NAIVE_SEED_BATCHES) if step == 0 else [new]
        for part in parts:
            links += model.link_new_pages(range(int(part[0]), int(part[-1]) + 1))
        linked = time.perf_counter()
        if step > 0:
            model.age()
        seconds["add"] += added - started
        seconds["link"] += linked - added
        seconds["step"] += time.perf_counter() - linked
    alive = [page for page in model.pages if page.alive]
    in_degree = np.array([page.in_degree for page in alive])
    return _web_result(seconds, len(model.pages), len(alive), links, in_degree)


def run_columnar(batches: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """The same workload through the columnar `Web`."""
    seconds = dict.fromkeys(WEB_PHASES, 0.0)
    links = 0
    rng = np.random.default_rng(NAIVE_SEED)
    web = Web(NAIVE_DIM)
    for step, (content, topics) in enumerate(batches):
        started = time.perf_counter()
        new = web.add_pages(content, origin=HUMAN, topic=topics, quality=0.0, step=step)
        added = time.perf_counter()
        parts = np.array_split(new, NAIVE_SEED_BATCHES) if step == 0 else [new]
        for part in parts:
            links += web.link_new_pages(
                part,
                rng,
                links_per_page=LINKS_PER_PAGE,
                attachment=ATTACHMENT,
                homophily=HOMOPHILY,
            )
        linked = time.perf_counter()
        if step > 0:
            web.step(rng, death_rate=DEATH_RATE, traffic_decay=TRAFFIC_DECAY)
        seconds["add"] += added - started
        seconds["link"] += linked - added
        seconds["step"] += time.perf_counter() - linked
    return _web_result(seconds, web.size, web.count_alive, links, web.in_degree[web.live()])


def _web_result(
    seconds: dict[str, float], pages: int, alive: int, links: int, in_degree: np.ndarray
) -> dict:
    return {
        "seconds": seconds,
        "total_s": sum(seconds.values()),
        "pages": pages,
        "alive": alive,
        "links": links,
        "mean_in": float(in_degree.mean()),
        "max_in": int(in_degree.max()),
    }


# ----------------------------------------------------------------- report


def print_sizes(results: dict[str, dict]) -> None:
    print(f"{'size':<6}{'steps':>6}{'pages made':>12}{'alive':>11}{'links':>12}", end="")
    print(f"{'setup s':>9}{'steps s':>9}{'s/step':>8}{'pages/s':>9}{'peak RSS':>11}")
    for size, r in results.items():
        made = r["pages"] - r["initial_pages"]
        print(
            f"{size:<6}{r['steps']:>6}{made:>12,}{r['alive']:>11,}{r['links']:>12,}"
            f"{r['setup_s']:>9.1f}{r['stepping_s']:>9.1f}{r['stepping_s'] / r['steps']:>8.3f}"
            f"{made / r['stepping_s']:>9,.0f}{r['peak_rss_kib'] / 1024:>7,.0f} MiB"
        )
    print("\nseconds per step by phase (model.timings / steps)")
    header = "".join(f"{phase:>9}" for phase in PHASES)
    print(f"{'size':<6}{header}{'metrics, no-retrain steps':>28}{'retrainings/step':>18}")
    for size, r in results.items():
        phases = "".join(f"{r['timings'][phase] / r['steps']:>9.3f}" for phase in PHASES)
        quiet_text = f"{_quiet(r)} ({r['quiet_steps']} steps)"
        print(f"{size:<6}{phases}{quiet_text:>28}{r['retrainings'] / r['steps']:>18.2f}")
    print("\ncontext: process wall time (imports included), CPU time of the stepping (all")
    print("threads), 1-min load average when the run ended, RSS after imports / after setup")
    print(f"{'size':<6}{'process s':>11}{'steps cpu s':>13}{'load':>7}{'RSS imports/setup':>20}")
    for size, r in results.items():
        rss = f"{r['rss_imports_kib'] / 1024:,.0f}/{r['rss_setup_kib'] / 1024:,.0f} MiB"
        print(
            f"{size:<6}{r['process_s']:>11.1f}{r['stepping_cpu_s']:>13.1f}"
            f"{r['load_average']:>7.2f}{rss:>20}"
        )


def print_targets(results: dict[str, dict]) -> None:
    print("\ntargets")
    base = results.get("100k")
    if base is not None:
        wall = base["setup_s"] + base["stepping_s"]
        print(
            f"  {SCENARIO} ({base['steps']} steps, {base['alive']:,} pages, "
            f"{base['companies']} companies, {base['creators']:,} creators): {wall:.1f} s"
            f"   [target < {BASELINE_TARGET_S:.0f} s: {_verdict(wall < BASELINE_TARGET_S)}]"
        )
    million = results.get("1M")
    if million is not None:
        wall = million["setup_s"] + million["stepping_s"]
        rss = million["peak_rss_kib"] * 1024
        print(
            f"  1M run ({million['steps']} steps, {million['alive']:,} pages alive): "
            f"{wall:.1f} s = {wall / 60:.1f} min"
            f"   [target < {MILLION_TARGET_S / 60:.0f} min: {_verdict(wall < MILLION_TARGET_S)}]"
        )
        print(
            f"  1M peak RSS: {rss / 2**20:,.0f} MiB = {rss / 1e9:.2f} GB"
            f"   [target < {MILLION_RSS_TARGET_BYTES / 1e9:.0f} GB: "
            f"{_verdict(rss < MILLION_RSS_TARGET_BYTES)}]"
        )
    if results:
        print_metric_flatness(results)


def print_metric_flatness(results: dict[str, dict]) -> None:
    """Metric seconds per step by size; the verdict compares the sizes whose samples are full.

    A size whose mean new pages per step is below `metrics.samples` evaluates its `web_new`
    scope on fewer items, so its metric cost is lower for a reason other than its page count.
    """
    figures = ", ".join(
        f"{size} {r['timings']['metrics'] / r['steps']:.3f}/{_quiet(r)} s"
        for size, r in results.items()
    )
    print(f"  metric cost per step (all steps / no-retrain steps): {figures}")
    full, short = {}, {}
    for size, r in results.items():
        new_per_step = (r["pages"] - r["initial_pages"]) / r["steps"]
        (full if new_per_step >= r["samples"] else short)[size] = (r, new_per_step)
    for size, (r, new_per_step) in short.items():
        print(
            f"    {size} left out: {new_per_step:,.0f} new pages per step < {r['samples']:,}"
            f" samples, so its web_new scope is evaluated on fewer items"
        )
    if len(full) < 2:
        print("    [target flat: needs two sizes with full samples]")
        return
    by_alive = sorted(full, key=lambda size: full[size][0]["alive"])
    low, high = full[by_alive[0]][0], full[by_alive[-1]][0]
    ratio_all = (high["timings"]["metrics"] / high["steps"]) / (
        low["timings"]["metrics"] / low["steps"]
    )
    ratios = [ratio_all]
    quiet_text = "-"
    if high["metrics_quiet_s_per_step"] and low["metrics_quiet_s_per_step"]:
        ratios.append(high["metrics_quiet_s_per_step"] / low["metrics_quiet_s_per_step"])
        quiet_text = f"x{ratios[-1]:.2f}"
    worst = max(ratios)
    print(
        f"    {by_alive[0]} -> {by_alive[-1]} ({high['alive'] / low['alive']:.1f}x pages alive):"
        f" x{ratio_all:.2f} all steps, {quiet_text} no-retrain steps"
        f"   [target flat (< {FLAT_RATIO}x): {_verdict(worst < FLAT_RATIO)}]"
    )


def print_naive(naive: dict, columnar: dict) -> None:
    pages = NAIVE_INITIAL + NAIVE_STEPS * NAIVE_PER_STEP
    print(
        f"\nnaive design (one mesa.Agent per page) vs columnar Web, {pages:,} pages: "
        f"{NAIVE_INITIAL:,} initial + {NAIVE_STEPS} steps x {NAIVE_PER_STEP}, "
        f"{LINKS_PER_PAGE:g} links/page, attachment {ATTACHMENT:g}, homophily {HOMOPHILY:g}, "
        f"death {DEATH_RATE:g}/step"
    )
    header = "".join(f"{phase + ' s':>9}" for phase in WEB_PHASES)
    print(f"  {'design':<10}{header}{'total s':>10}{'pages':>8}{'alive':>8}", end="")
    print(f"{'links':>8}{'mean in':>9}{'max in':>8}")
    for name, r in (("PageAgent", naive), ("Web", columnar)):
        phases = "".join(f"{r['seconds'][phase]:>9.3f}" for phase in WEB_PHASES)
        print(
            f"  {name:<10}{phases}{r['total_s']:>10.3f}{r['pages']:>8,}{r['alive']:>8,}"
            f"{r['links']:>8,}{r['mean_in']:>9.2f}{r['max_in']:>8,}"
        )
    ratios = "  ".join(
        f"{phase} {naive['seconds'][phase] / columnar['seconds'][phase]:,.0f}x"
        for phase in WEB_PHASES
    )
    print(f"  speed-up of the columnar Web: {naive['total_s'] / columnar['total_s']:,.0f}x")
    print(f"    by phase: {ratios}")


def _quiet(result: dict) -> str:
    """Metric seconds per no-retrain step, or "-" when every step had a retraining."""
    seconds = result["metrics_quiet_s_per_step"]
    return "-" if seconds is None else f"{seconds:.3f}"


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help="comma-separated: 10k,100k,1M")
    parser.add_argument("--child", choices=list(SIZES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_size(args.child)))
        return
    sizes = [size.strip() for size in args.sizes.split(",") if size.strip()]
    unknown = [size for size in sizes if size not in SIZES]
    if unknown:
        parser.error(f"unknown sizes {unknown}; choose from {', '.join(SIZES)}")

    print(
        f"ecosystem model: scenario `{SCENARIO}` with overrides, each size in a fresh process "
        f"({os.cpu_count()} CPUs, torch {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.2f} at start)"
    )
    for size in sizes:
        print(f"  {size:<5} {' '.join(overrides(size)) or f'(none: {SCENARIO} itself)'}")
    results = {}
    for size in sizes:
        result = measure(size)
        if result is not None:
            results[size] = result
    print()
    if results:
        print_sizes(results)
        print_targets(results)

    batches = naive_workload()
    naive = run_naive(batches)
    columnar = run_columnar(batches)
    print_naive(naive, columnar)


if __name__ == "__main__":
    main()
