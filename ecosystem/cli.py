"""The command line: ``ecosystem run | compare | list | show | schema | validate``.

Core objects: :func:`main` (the console script) and :func:`build_parser`.
Bad input (an unknown scenario, key or value) prints one line naming the
field and what is allowed, exits with code 2 and writes nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ecosystem.results import atomic_write_text
from ecosystem.runner import run_scenario, stop_on_sigterm
from ecosystem.scenario import (
    ScenarioError,
    available_scenarios,
    load_scenario,
    schema_markdown,
)

__all__ = ["build_parser", "main"]

KEY_METRICS = ("precision", "recall", "coverage", "frechet", "tail_mass_ratio", "synthetic_share")

RUN_EXAMPLES = """examples:
  ecosystem run mad-fully-synthetic
  ecosystem run mad-fresh-data --seed 3 --steps 20 --set lab.bias=0.7
  ecosystem run my-scenario.toml --out runs/my-run
"""
COMPARE_EXAMPLES = """examples:
  ecosystem compare baseline no-ai
  ecosystem compare mad-fully-synthetic mad-fresh-data accumulate --seeds 5 --steps 20
  ecosystem compare baseline no-ai --seeds 5 --out runs/ai-vs-none --window 24
  ecosystem compare runs/b-s0 runs/b-s1 runs/n-s0 runs/n-s1   (existing run directories)
Running again with the same --out reuses the runs already there.
"""
SHOW_EXAMPLES = """examples:
  ecosystem show mad-fully-synthetic
  ecosystem show accumulate --set lab.data=replace
"""
VALIDATE_EXAMPLES = """examples:
  ecosystem validate
  ecosystem validate --fast --check bias --check tails
  ecosystem validate --history
  ecosystem validate --json validation.json
"""


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line and exit with code 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario field, e.g. --set lab.bias=0.7 (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``ecosystem`` argument parser with every sub-command."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="ecosystem",
        description="Simulate the open web's content ecosystem under self-consuming "
        "generative models.",
        epilog="Run 'ecosystem COMMAND --help' for the options and examples of a command.",
        formatter_class=formatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser(
        "run",
        help="run a scenario and write its results",
        epilog=RUN_EXAMPLES,
        formatter_class=formatter,
        description="Run a named scenario or a TOML file; write timeseries.csv/.parquet, "
        "manifest.json and summary.json to a run directory.",
    )
    run.add_argument(
        "scenario", help="scenario name (see 'ecosystem list') or path to a .toml file"
    )
    run.add_argument("--seed", type=int, help="seed of the run (default: the scenario's)")
    run.add_argument("--steps", type=int, help="number of steps (default: the scenario's)")
    _add_overrides(run)
    run.add_argument(
        "--out", type=Path, help="run directory (default: runs/<scenario>-s<seed>-<time>)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    compare = commands.add_parser(
        "compare",
        help="compare scenarios across seeds: table and figures",
        epilog=COMPARE_EXAMPLES,
        formatter_class=formatter,
        description="Run (or reuse) each scenario over several seeds and compare the end of run\n"
        "(the mean over the last --window steps) of its key series: the mean and 95% t-interval\n"
        "across seeds, and the difference from the first scenario with Welch's t-test.\n"
        "Writes compare.csv, .md, .json, .png and .html to --out; the runs go to\n"
        "--out/runs/<name>-s<seed>.",
    )
    compare.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="scenario name, .toml file or run directory (several directories of one scenario "
        "are its seeds); the first is the reference",
    )
    compare.add_argument(
        "--seeds", type=int, default=3, help="seeds per scenario: seed, seed+1, ... (default 3)"
    )
    compare.add_argument(
        "--steps", type=int, help="number of steps of every scenario (default: each one's)"
    )
    _add_overrides(compare)
    compare.add_argument(
        "--window",
        type=int,
        default=12,
        help="end of run = mean over this many last steps (default 12, clipped to the run)",
    )
    compare.add_argument("--out", type=Path, help="output directory (default: runs/compare-<time>)")
    compare.add_argument("--quiet", action="store_true", help="no progress bar")

    commands.add_parser(
        "list",
        help="list the packaged scenarios",
        formatter_class=formatter,
        description="List every packaged scenario with its one-line description, by group.",
        epilog="examples:\n  ecosystem list\n",
    )

    show = commands.add_parser(
        "show",
        help="print a resolved scenario as TOML",
        epilog=SHOW_EXAMPLES,
        formatter_class=formatter,
        description="Print the scenario with inheritance and overrides resolved.",
    )
    show.add_argument("scenario", help="scenario name or path to a .toml file")
    _add_overrides(show)

    schema = commands.add_parser(
        "schema",
        help="print every scenario field (Markdown)",
        formatter_class=formatter,
        description="Print the scenario reference generated from the schema: every field with "
        "its type, default, allowed values, unit and description.",
        epilog="examples:\n  ecosystem schema\n  ecosystem schema > docs/scenarios.md\n",
    )
    del schema

    validate = commands.add_parser(
        "validate",
        help="reproduce published results (the self-consuming loops, or --history)",
        epilog=VALIDATE_EXAMPLES,
        formatter_class=formatter,
        description="Run the validation checks and print check, source, expected, measured, "
        "tolerance and pass; exit 1 if any check fails.",
    )
    validate.add_argument("--fast", action="store_true", help="fewer seeds and generations")
    validate.add_argument(
        "--history",
        action="store_true",
        help="compare the calibrated baseline (from January 2022) with the measured history of "
        "2023-2025 instead of the self-consuming-loop checks",
    )
    validate.add_argument(
        "--check",
        dest="checks",
        action="append",
        metavar="NAME",
        help="run only this check (repeatable)",
    )
    validate.add_argument(
        "--json", dest="json_path", type=Path, metavar="PATH", help="also write the table as JSON"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ecosystem`` console script."""
    args = build_parser().parse_args(argv)
    console = Console()
    handlers = {
        "run": _run,
        "compare": _compare,
        "list": _list,
        "show": _show,
        "schema": _schema,
        "validate": _validate,
    }
    try:
        return handlers[args.command](args, console)
    except (ScenarioError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args, console: Console) -> int:
    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.steps is not None:
        overrides.append(f"steps={args.steps}")
    scenario = load_scenario(args.scenario, overrides)
    out = args.out or Path("runs") / (
        f"{scenario.name}-s{scenario.seed}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    )
    if (out / "timeseries.parquet").exists() or (out / "parts").exists():
        raise ScenarioError(f"--out {out}: the directory already holds results; choose another")
    command = shlex.join(["ecosystem", *sys.argv[1:]])
    started = time.perf_counter()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("synthetic share {task.fields[share]}"),
        TimeRemainingColumn(),
        console=console,
        disable=args.quiet,
    )
    with progress, stop_on_sigterm():
        task = progress.add_task(
            f"{scenario.name} seed {scenario.seed}", total=scenario.steps, share="-"
        )

        def advance(step, rows):
            share = next((v for _, scope, m, v in rows if m == "synthetic_share"), None)
            progress.update(task, completed=step, share="-" if share is None else f"{share:.3f}")

        try:
            frame = run_scenario(scenario, out, progress=advance, command=command)
        except KeyboardInterrupt:
            console.print(f"[yellow]interrupted: completed steps kept in {out}")
            return 130
    console.print(_summary_table(frame, scenario.name))
    economy = _economy_line(frame)
    if economy:
        console.print(economy)
    console.print(f"{scenario.steps} steps in {time.perf_counter() - started:.1f} s -> {out}")
    return 0


def _summary_table(frame, name: str) -> Table:
    final = frame[frame["step"] == frame["step"].max()]
    final = final[final["metric"].isin(KEY_METRICS)]
    table = Table(title=f"{name}: final step {int(frame['step'].max())}")
    table.add_column("scope", no_wrap=True)
    columns = [m for m in KEY_METRICS if m in set(final["metric"])]
    for metric in columns:
        table.add_column(metric.replace("_", " "), justify="right")
    for scope, rows in final.groupby("scope", sort=False):
        values = dict(zip(rows["metric"], rows["value"], strict=True))
        table.add_row(scope, *(f"{values[m]:.3f}" if m in values else "" for m in columns))
    return table


def _compare(args, console: Console) -> int:
    from ecosystem.compare import plan_runs, run_comparison
    from ecosystem.results import RunInterrupted

    if args.window < 1:
        raise ValueError(f"--window must be >= 1, got {args.window}")
    out = args.out or Path("runs") / f"compare-{dt.datetime.now():%Y%m%d-%H%M%S}"
    scenarios = plan_runs(
        args.sources, out=out, seeds=args.seeds, steps=args.steps, overrides=args.overrides
    )
    runs = [run for group in scenarios for run in group.runs]
    simulated = sum(run.action == "run" for run in runs)
    command = shlex.join(["ecosystem", *sys.argv[1:]])
    started = time.perf_counter()
    progress = Progress(
        TextColumn("[bold]runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[current]}"),
        TimeRemainingColumn(),
        console=console,
        disable=args.quiet,
    )
    current = {}
    with progress, stop_on_sigterm():
        task = progress.add_task("runs", total=len(runs), current="")

        def advance(run, step):
            if step is None:
                current.clear()
                progress.update(task, advance=1, current="")
            else:
                current["run"] = run
                detail = f"{run.name} seed {run.seed}: step {step}/{run.scenario.steps}"
                progress.update(task, current=detail)

        try:
            comparison = run_comparison(
                scenarios, out=out, window=args.window, progress=advance, command=command
            )
        except (KeyboardInterrupt, RunInterrupted):
            stopped = current.get("run")
            hint = f"; remove {stopped.directory} before comparing again" if stopped else ""
            console.print(f"[yellow]interrupted: completed runs kept in {out / 'runs'}{hint}")
            return 130
    table = Table(title=f"{comparison.description}\nmean [95% t-interval] across seeds")
    frame = comparison.table()
    table.add_column("series", no_wrap=True)
    for header in frame.columns:
        table.add_column(header, justify="right")
    for label, row in frame.iterrows():
        table.add_row(label, *(f"[bold]{cell}" if "*" in cell else cell for cell in row))
    table.caption = comparison.legend
    console.print(table)
    console.print(
        f"{simulated} runs simulated, {len(runs) - simulated} reused or read in "
        f"{time.perf_counter() - started:.1f} s -> {out}: {', '.join(comparison.files)}"
    )
    return 0


ECONOMY_METRICS = (
    ("creators", "active", "creators active", "{:.0f}"),
    ("creators", "income_mean", "mean income", "${:.1f}/month"),
    ("creators", "income_gini", "income Gini", "{:.3f}"),
    ("creators", "opt_out_share", "opt-out share", "{:.3f}"),
    ("attention", "click_through_ratio", "click-through with/without AI answer", "{:.3f}"),
)


def _economy_line(frame) -> str:
    """The final step's creators and readers in one line (ecosystem runs only)."""
    final = frame[frame["step"] == frame["step"].max()]
    rows = zip(final["scope"], final["metric"], final["value"], strict=True)
    values = {(scope, metric): value for scope, metric, value in rows}
    parts = [
        f"{label} {fmt.format(values[(scope, metric)])}"
        for scope, metric, label, fmt in ECONOMY_METRICS
        if (scope, metric) in values and values[(scope, metric)] == values[(scope, metric)]
    ]
    return "; ".join(parts)


def _list(args, console: Console) -> int:
    groups: dict[str, list] = {}
    for name in available_scenarios():
        scenario = load_scenario(name)
        groups.setdefault(scenario.group, []).append(scenario)
    for group, scenarios in groups.items():
        table = Table(title=group, title_justify="left", show_header=False, box=None)
        table.add_column("name", style="bold")
        table.add_column("description")
        for scenario in scenarios:
            table.add_row(scenario.name, scenario.description)
        console.print(table)
    return 0


def _show(args, console: Console) -> int:
    print(load_scenario(args.scenario, args.overrides).to_toml(), end="")
    return 0


def _schema(args, console: Console) -> int:
    print(schema_markdown(), end="")
    return 0


def _validate(args, console: Console) -> int:
    from ecosystem.validation import history_checks, run_checks

    if args.history and args.checks:
        raise ValueError("--check selects self-consuming-loop checks; it cannot go with --history")
    with console.status("running validation checks"):
        started = time.perf_counter()
        if args.history:
            results = history_checks(fast=args.fast)
        else:
            results = run_checks(args.checks, fast=args.fast)
    table = Table(title=f"validation ({'fast' if args.fast else 'full'})", show_lines=True)
    table.add_column("check (source; tolerance)", ratio=3)
    table.add_column("expected", ratio=1)
    table.add_column("measured", ratio=2)
    table.add_column("pass", no_wrap=True)
    for row in results:
        mark = "[green]pass" if row.passed else "[red]FAIL"
        label = f"{row.check}\n[dim]{row.source}; {row.tolerance}"
        table.add_row(label, row.expected, row.measured, mark)
    console.print(table)
    failed = sum(not row.passed for row in results)
    console.print(
        f"{len(results) - failed} of {len(results)} validation checks passed "
        f"({time.perf_counter() - started:.0f} s)"
    )
    if args.json_path:
        atomic_write_text(args.json_path, json.dumps([row.as_dict() for row in results], indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
