"""The command line: ``ecosystem run | compare | sweep | sensitivity | discover | robust | report |
list | show | schema | validate``.

Core objects: :func:`main` (the console script) and :func:`build_parser`.
Bad input (an unknown scenario, key or value) prints one line naming the
field and what is allowed, exits with code 2 and writes nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import shlex
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ecosystem.measure import catalogue
from ecosystem.runs.results import atomic_write_text, read_timeseries, run_state
from ecosystem.runs.runner import DEFAULT_CHECKPOINT_EVERY, Existing, run_scenario, stop_on_sigterm
from ecosystem.runs.store import PARTS, RUNS, TIMESERIES, run_identity
from ecosystem.scenario import (
    ScenarioError,
    available_scenarios,
    load_scenario,
    schema_markdown,
)

__all__ = ["build_parser", "main"]

RUN_EXAMPLES = """examples:
  ecosystem run mad-fully-synthetic
  ecosystem run mad-fresh-data --seed 3 --steps 20 --set lab.bias=0.7
  ecosystem run my-scenario.toml --out runs/my-run
  ecosystem run baseline --force                  (run again, though runs/ holds this run)
  ecosystem run --resume runs/my-run              (continue a run that was killed)
Without --out, the run goes to runs/<scenario>-s<seed>-<hash>, the hash of the resolved
scenario and the code version; when that directory holds the complete run it is reused
(its summary is printed, nothing is simulated) unless --force is given, and a run cut
short there resumes from its last checkpoint. One process writes a run directory at a
time: a second one is refused. Ctrl-C or SIGTERM stops a run (exit code 130), keeping
every completed step.
"""
COMPARE_EXAMPLES = """examples:
  ecosystem compare baseline no-ai
  ecosystem compare mad-fully-synthetic mad-fresh-data accumulate --seeds 5 --steps 20
  ecosystem compare baseline no-ai --seeds 5 --out runs/ai-vs-none --window 24
  ecosystem compare runs/b-s0 runs/b-s1 runs/n-s0 runs/n-s1   (existing run directories)
  ecosystem compare baseline no-ai --workers 0             (in this process, one at a time)
  ecosystem compare baseline no-ai --address tcp://head-node:8786   (a Dask scheduler)
Running again with the same --out reuses the runs already there that the same code made.
"""
SHOW_EXAMPLES = """examples:
  ecosystem show mad-fully-synthetic
  ecosystem show accumulate --set lab.data=replace
"""
VALIDATE_EXAMPLES = """examples:
  ecosystem validate
  ecosystem validate --fast --check bias --check tails
  ecosystem validate --history
  ecosystem validate --world text
  ecosystem validate --world digits --fast
  ecosystem validate --json validation.json
"""
SWEEP_EXAMPLES = """examples:
  ecosystem sweep baseline --grid companies.alpha.bias=0.7,0.9,1.0 --seeds 3 --out runs/bias
  ecosystem sweep baseline --sample lhs:20 --range policy.cap.ai_share_max=0.1:0.6 \\
      --range creators.adoption=0.1:0.5 --seeds 2 --steps 60 --out runs/cap-adoption
  ecosystem sweep mad-fresh-data --grid lab.bias=0.6,0.8,1.0 --grid lab.n_real=200,500 \\
      --workers 0 --out runs/fresh                          (in this process, one at a time)
  ecosystem sweep baseline --grid web.homophily=0.2,0.8 --seeds 5 --out runs/homophily \\
      --address tcp://head-node:8786                        (an existing Dask scheduler)
Running it again with the same --out resumes: complete runs are kept, the others run.
Read the results back with ecosystem.read_sweep(OUT).
"""
SENSITIVITY_EXAMPLES = """examples:
  ecosystem sensitivity levers-under-uncertainty --method morris --n 10
  ecosystem sensitivity levers-under-uncertainty --method sobol --n 128 --out runs/sobol
  ecosystem sensitivity my-study.toml --policy cap --workers 0
Without --out the study goes to runs/<study>-sensitivity. Running it again with the same
--out resumes: complete runs are kept, the others run, then the indices are computed again.
"""
DISCOVER_EXAMPLES = """examples:
  ecosystem discover levers-under-uncertainty --outcome web_recall --below 0.9
  ecosystem discover levers-under-uncertainty --outcome income_mean --below 20 --n 100
  ecosystem discover my-study.toml --outcome web_recall --above 0.95 --density 0.7
"""
ROBUST_EXAMPLES = """examples:
  ecosystem robust levers-under-uncertainty
  ecosystem robust levers-under-uncertainty --n 20 --criterion satisficing
  ecosystem robust my-study.toml --outcome creator_income --address tcp://head-node:8786
"""
REPORT_EXAMPLES = """examples:
  ecosystem report runs/b3                      (a run: writes runs/b3/report.html)
  ecosystem report runs/levers                  (a comparison)
  ecosystem report runs/bias-sweep --out reports/bias.html
The PNG figures go to a folder named after the page: runs/b3/report/, reports/bias/.
"""


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line and exit with code 2; arguments that no
    option takes are reported by the sub-command's parser, which points to its own help."""

    def error(self, message: str):
        self.exit(2, f"error: {' '.join(message.split())} (see '{self.prog} --help')\n")

    def parse_args(self, args=None, namespace=None):
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self._command_parser(parsed).error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed

    def _command_parser(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        """The parser of the sub-command in ``parsed`` (this one when there is none)."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(str(getattr(parsed, action.dest, "")))
                if chosen is not None:
                    return chosen
        return self


def _add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario field, e.g. --set lab.bias=0.7 (repeatable)",
    )


def _add_backend(parser: argparse.ArgumentParser) -> None:
    """``--workers`` and ``--address``: where the runs go (:mod:`ecosystem.runs.backends`)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        help="local worker processes (default: one per core, at most one per run; 0: in this "
        "process, one at a time)",
    )
    where.add_argument(
        "--address",
        metavar="tcp://HOST:8786",
        help="send the runs to this running Dask scheduler instead of a local cluster",
    )


def _add_study_commands(commands, formatter) -> None:
    """``sensitivity``, ``discover`` and ``robust``: the analyses of a study file."""
    sensitivity = commands.add_parser(
        "sensitivity",
        help="global sensitivity of a study's outcomes to its uncertainties (SALib)",
        epilog=SENSITIVITY_EXAMPLES,
        formatter_class=formatter,
        description="Sample the study's uncertainties with SALib (Sobol: N(D+2) runs for first-\n"
        "and total-order indices; Morris: N(D+1) runs for mu* and sigma), run every sample\n"
        "through the sweep engine under one policy and write each outcome's indices with\n"
        "bootstrap intervals (OUT/indices.csv, .parquet) and a ranked bar figure (indices.png).",
    )
    _add_study(sensitivity)
    sensitivity.add_argument(
        "--method", choices=("sobol", "morris"), help="the design (default: the study's)"
    )
    sensitivity.add_argument(
        "--n",
        type=int,
        help="Sobol base samples (a power of two) or Morris trajectories (default: the study's)",
    )
    sensitivity.add_argument("--policy", help="the policy to run (default: the study's first)")
    _add_study_run(sensitivity)

    discover = commands.add_parser(
        "discover",
        help="PRIM scenario discovery: the futures in which an outcome crosses a threshold",
        epilog=DISCOVER_EXAMPLES,
        formatter_class=formatter,
        description="Run a Latin hypercube of futures under one policy and find, with the EMA\n"
        "Workbench's PRIM, the boxes of uncertainty ranges in which the outcome is below (or\n"
        "above) the threshold: their limits, coverage, density and cases (OUT/boxes.csv,\n"
        "peeling.csv) with the peeling trajectory (peeling.png) and the limits (box-limits.png).",
    )
    _add_study(discover)
    discover.add_argument(
        "--outcome", required=True, help="an outcome of the study, by name or metric"
    )
    side = discover.add_mutually_exclusive_group(required=True)
    side.add_argument("--below", type=float, metavar="X", help="futures with the outcome < X")
    side.add_argument("--above", type=float, metavar="X", help="futures with the outcome > X")
    discover.add_argument("--n", type=int, help="futures (default: the study's)")
    discover.add_argument(
        "--density", type=float, help="least density of a box, in (0, 1] (default: the study's)"
    )
    discover.add_argument("--boxes", type=int, help="most boxes, >= 1 (default: the study's)")
    discover.add_argument("--policy", help="the policy to run (default: the study's first)")
    _add_study_run(discover)

    robust = commands.add_parser(
        "robust",
        help="compare a study's policies across the same futures: regret and satisficing",
        epilog=ROBUST_EXAMPLES,
        formatter_class=formatter,
        description="Run every policy on the same Latin hypercube of futures with the same seeds\n"
        "(common random numbers) and write per outcome and policy the mean, the 10th and 90th\n"
        "percentiles, the share of futures meeting the threshold and the maximum regret\n"
        "against the best policy of each future (OUT/robustness.csv, regret.csv,\n"
        "robustness.png); it names the most robust policy and the criterion used.",
    )
    _add_study(robust)
    robust.add_argument("--n", type=int, help="futures (default: the study's)")
    robust.add_argument(
        "--criterion",
        choices=("regret", "satisficing", "mean", "p10"),
        help="how the most robust policy is chosen (default: the study's)",
    )
    robust.add_argument(
        "--outcome", help="the outcome that names the most robust policy (default: the first)"
    )
    _add_study_run(robust)


def _add_study(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", help="study name (packaged) or path to a study .toml file")


def _add_study_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        help="study directory (default: runs/<study>-<analysis>); the same one again resumes",
    )
    _add_backend(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


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
        "scenario",
        nargs="?",
        help="scenario name (see 'ecosystem list') or path to a .toml file",
    )
    run.add_argument("--seed", type=int, help="seed of the run (default: the scenario's)")
    run.add_argument("--steps", type=int, help="number of steps (default: the scenario's)")
    _add_overrides(run)
    run.add_argument(
        "--out",
        type=Path,
        help="run directory, which must hold no results (default: runs/<scenario>-s<seed>-"
        "<hash of the resolved scenario and code version>, reused when complete)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="without --out: run again even when the default directory holds this complete run",
    )
    run.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the run cut short in DIR (killed, interrupted or failed) from its last "
        "checkpoint, with its own scenario; the result is byte-identical to an uninterrupted run",
    )
    run.add_argument(
        "--checkpoint-every",
        type=int,
        default=DEFAULT_CHECKPOINT_EVERY,
        metavar="N",
        help="save the run's state every N steps, for --resume "
        f"(default {DEFAULT_CHECKPOINT_EVERY}; "
        "0: never)",
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
        "--out/runs/<name>-s<seed>-<hash of the resolved scenario and code version>, on a local\n"
        "Dask cluster of one single-threaded process per core (at most one per run; a single\n"
        "run goes in this process), or on an existing Dask scheduler (--address).",
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
    compare.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="use run directories given as sources that are not complete (interrupted, failed, "
        "corrupt), flagged in the output, instead of refusing them",
    )
    _add_backend(compare)
    compare.add_argument("--quiet", action="store_true", help="no progress bar")

    sweep = commands.add_parser(
        "sweep",
        help="run a scenario over a parameter grid or sample and seeds, in parallel (Dask)",
        epilog=SWEEP_EXAMPLES,
        formatter_class=formatter,
        description="Run a scenario at every point of a parameter grid (--grid) and of a Latin\n"
        "hypercube sample (--sample lhs:N over the --range fields), each over --seeds seeds:\n"
        "grid points x sample points x seeds runs, one single-threaded process per core on a\n"
        "local Dask cluster, or on an existing Dask scheduler (--address). Each run streams into\n"
        "OUT/runs/<id>/; OUT/sweep.json records the sweep and the status of every run.",
    )
    sweep.add_argument(
        "scenario", help="scenario name (see 'ecosystem list') or path to a .toml file"
    )
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="sweep a field over these values, parsed like --set (repeatable: grids multiply)",
    )
    sweep.add_argument(
        "--sample",
        metavar="lhs:N",
        help="a Latin hypercube of N points over the --range fields, seeded from the scenario's "
        "seed",
    )
    sweep.add_argument(
        "--range",
        dest="ranges",
        action="append",
        default=[],
        metavar="KEY=LOW:HIGH",
        help="a sampled numeric field and its bounds; integer fields are rounded (repeatable)",
    )
    sweep.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="seeds per parameter point: seed, seed+1, ... (default 1)",
    )
    sweep.add_argument(
        "--steps", type=int, help="number of steps of every run (default: the scenario's)"
    )
    _add_overrides(sweep)
    sweep.add_argument(
        "--out", type=Path, required=True, help="sweep directory; the same one again resumes"
    )
    _add_backend(sweep)
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")

    _add_study_commands(commands, formatter)

    report = commands.add_parser(
        "report",
        help="write a self-contained HTML report of a run, comparison or sweep",
        epilog=REPORT_EXAMPLES,
        formatter_class=formatter,
        description="Write one HTML page (figures embedded, no network needed to open or print\n"
        "it) on a run, compare or sweep directory: the key series with 95% bands across seeds,\n"
        "the end-of-run table, the effect of each swept parameter and the manifest of what\n"
        "produced the runs; the figures are also written as PNG files next to the page.",
    )
    report.add_argument("path", type=Path, metavar="PATH", help="a run, compare or sweep directory")
    report.add_argument(
        "--out",
        type=Path,
        metavar="FILE_OR_DIR",
        help="the page (.html) or the directory to hold report.html (default: PATH/report.html)",
    )
    report.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="report on runs that are not complete (interrupted, failed), flagged on the page, "
        "instead of refusing them",
    )
    report.add_argument(
        "--window",
        type=int,
        help="end of run = mean over this many last steps (default: the comparison's, else 12)",
    )

    commands.add_parser(
        "list",
        help="list the packaged scenarios and studies",
        formatter_class=formatter,
        description="List every packaged scenario with its one-line description, by group, then "
        "the packaged studies.",
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
        "--world",
        choices=("vectors", "text", "digits"),
        default="vectors",
        help="the world whose laws to check (default: vectors)",
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
        "sweep": _sweep,
        "sensitivity": _study,
        "discover": _study,
        "robust": _study,
        "report": _report,
        "list": _list,
        "show": _show,
        "schema": _schema,
        "validate": _validate,
    }
    try:
        return handlers[args.command](args, console)
    except (ScenarioError, ValueError) as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. an --out that cannot be written, a full disk
        paths = [exc.filename or _written_path(args), exc.filename2]
        where = " -> ".join(str(path) for path in paths if path is not None)
        print(f"error: {_one_line(f'{exc.strerror or exc}: {where}')}", file=sys.stderr)
        return 2


def _one_line(message: str) -> str:
    """A message as one printable line: control characters (a newline in a key the user
    gave, say) are written as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _written_path(args: argparse.Namespace) -> Path:
    """Where the command writes, for an error that does not say which file it was writing."""
    for name in ("out", "json_path", "path"):
        if getattr(args, name, None) is not None:
            return Path(getattr(args, name))
    return Path("runs")


def _run(args, console: Console) -> int:
    from ecosystem.runs.locks import writer_lock
    from ecosystem.runs.runner import resumable_scenario

    if args.checkpoint_every < 0:
        raise ValueError(
            f"--checkpoint-every must be >= 0 (0: no checkpoints), got {args.checkpoint_every}"
        )
    if args.resume is not None:
        given = [
            flag
            for flag, value in (
                ("SCENARIO", args.scenario),
                ("--seed", args.seed),
                ("--steps", args.steps),
                ("--set", args.overrides or None),
                ("--out", args.out),
                ("--force", args.force or None),
            )
            if value is not None
        ]
        if given:
            raise ScenarioError(
                f"--resume takes the run's own scenario: it cannot go with {', '.join(given)}"
            )
        out = args.resume
        scenario = resumable_scenario(out)
        return _simulate_into(args, console, scenario, out, "resume")
    if args.scenario is None:
        raise ScenarioError(
            "run needs a SCENARIO (see 'ecosystem list') or --resume DIR "
            "(see 'ecosystem run --help')"
        )
    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.steps is not None:
        overrides.append(f"steps={args.steps}")
    scenario = load_scenario(args.scenario, overrides)
    if args.out is not None:
        if args.force:
            raise ScenarioError("--force goes without --out: a given --out must hold no results")
        out = args.out
        if (out / TIMESERIES).exists() or (out / PARTS).exists():
            raise ScenarioError(
                f"--out {out}: the directory already holds results; choose another, or "
                f"continue a run cut short with 'ecosystem run --resume {out}'"
            )
        with writer_lock(out):
            return _simulate_into(args, console, scenario, out, "refuse")
    identity = run_identity(scenario)
    out = Path("runs") / identity.name
    with writer_lock(out):
        state = run_state(out, identity)
        if state == "complete" and not args.force:
            console.print(_summary_table(read_timeseries(out), scenario.name))
            console.print(
                f"reused {out}: it holds this complete run (same resolved scenario and code "
                "version); --force runs it again"
            )
            return 0
        if state == "partial" and not args.force:
            console.print(_partial_note(out))
            return _simulate_into(args, console, scenario, out, "resume")
        if state != "missing":
            console.print(f"replacing the run in {out}")
        return _simulate_into(args, console, scenario, out, "replace")


def _partial_note(out: Path) -> str:
    """What ``run`` does with the run in its default directory that is not complete."""
    from ecosystem.runs.results import run_status

    try:
        state = run_status(out)
    except (OSError, ValueError):
        return f"running again what a run cut short left in {out}"
    if state.status == "corrupt":
        return f"running again the corrupt run in {out} ({state.problem})"
    checkpoint = state.manifest.get("checkpoint")
    if checkpoint:
        return (
            f"resuming the run cut short in {out} from its checkpoint at step {checkpoint['step']}"
        )
    return f"running again the run cut short in {out} (it has no checkpoint)"


def _simulate_into(args, console: Console, scenario, out: Path, existing: Existing) -> int:
    """Run (or resume) ``scenario`` into ``out`` with a progress bar; Ctrl-C and SIGTERM stop
    it with one line and exit code 130, keeping every completed step."""
    from ecosystem.runs.results import RunInterrupted

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
    try:
        with progress, stop_on_sigterm():
            task = progress.add_task(
                f"{scenario.name} seed {scenario.seed}", total=scenario.steps, share="-"
            )

            def advance(step, rows):
                share = next((v for _, scope, m, v in rows if m == "synthetic_share"), None)
                shown = "-" if share is None else f"{share:.3f}"
                progress.update(task, completed=step, share=shown)

            frame = run_scenario(
                scenario,
                out,
                progress=advance,
                command=command,
                checkpoint_every=args.checkpoint_every,
                existing=existing,
            )
    except (KeyboardInterrupt, RunInterrupted):
        print(
            f"interrupted: completed steps kept in {out}; continue with "
            f"'ecosystem run --resume {out}'",
            file=sys.stderr,
        )
        return 130
    console.print(_summary_table(frame, scenario.name))
    economy = _economy_line(frame)
    if economy:
        console.print(economy)
    console.print(f"{scenario.steps} steps in {time.perf_counter() - started:.1f} s -> {out}")
    return 0


def _summary_table(frame, name: str) -> Table:
    final = frame[frame["step"] == frame["step"].max()]
    final = final[final["metric"].isin(catalogue.summary_columns())]
    table = Table(title=f"{name}: final step {int(frame['step'].max())}")
    table.add_column("scope", no_wrap=True)
    columns = [m for m in catalogue.summary_columns() if m in set(final["metric"])]
    for metric in columns:
        table.add_column(metric.replace("_", " "), justify="right")
    for scope, rows in final.groupby("scope", sort=False):
        values = dict(zip(rows["metric"], rows["value"], strict=True))
        cells = (_formatted(scope, m, values[m]) if m in values else "" for m in columns)
        table.add_row(scope, *cells)
    return table


def _formatted(scope: str, metric: str, value: float) -> str:
    """One value as the catalogue prints it (three decimals for a series it does not hold)."""
    try:
        return catalogue.lookup(scope, metric).format.format(value)
    except KeyError:
        return f"{value:.3f}"


def _compare(args, console: Console) -> int:
    from ecosystem.experiments.compare import RunFailed, plan_runs, run_comparison
    from ecosystem.runs.backends import open_backend
    from ecosystem.runs.results import RunInterrupted

    if args.window < 1:
        raise ValueError(f"--window must be >= 1, got {args.window}")
    if args.workers is not None and args.workers < 0:
        raise ValueError(f"--workers must be >= 0 (0: in this process), got {args.workers}")
    out = args.out or Path("runs") / f"compare-{dt.datetime.now():%Y%m%d-%H%M%S}"
    scenarios = plan_runs(
        args.sources,
        out=out,
        seeds=args.seeds,
        steps=args.steps,
        overrides=args.overrides,
        allow_incomplete=args.allow_incomplete,
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
    with progress, stop_on_sigterm():
        task = progress.add_task("runs", total=len(runs), current="")

        def advance(run, step):
            if step is None:
                progress.update(task, advance=1, current="")
            else:
                detail = f"{run.name} seed {run.seed}: step {step}/{run.scenario.steps}"
                progress.update(task, current=detail)

        try:
            with open_backend(args.workers, args.address, runs=simulated) as backend:
                if backend.note:
                    print(backend.note, file=sys.stderr)
                if simulated:
                    progress.console.print(f"running on {backend.description}")
                comparison = run_comparison(
                    scenarios,
                    out=out,
                    window=args.window,
                    progress=advance,
                    command=command,
                    backend=backend,
                )
        except (KeyboardInterrupt, RunInterrupted):
            console.print(
                f"[yellow]interrupted: completed runs kept in {out / RUNS}; run the same "
                "command again to finish"
            )
            return 130
        except RunFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    table = Table(title=f"{comparison.description}\nmean [95% t-interval] across seeds")
    frame = comparison.table()
    table.add_column("series", no_wrap=True)
    for header in frame.columns:
        table.add_column(header, justify="right")
    for label, row in frame.iterrows():
        table.add_row(label, *(f"[bold]{cell}" if "*" in cell else cell for cell in row))
    table.caption = comparison.legend
    console.print(table)
    for run in comparison.incomplete:
        print(
            f"warning: run {run.directory} is {run.status}: its series stop early "
            "(--allow-incomplete)",
            file=sys.stderr,
        )
    console.print(
        f"{simulated} runs simulated, {len(runs) - simulated} reused or read in "
        f"{time.perf_counter() - started:.1f} s -> {out}: {', '.join(comparison.files)}"
    )
    return 0


def _report(args, console: Console) -> int:
    from ecosystem.experiments.report import write_report

    report = write_report(
        args.path, args.out, window=args.window, allow_incomplete=args.allow_incomplete
    )
    count = len(report.figures)
    console.print(
        f"{report.kind} report -> {report.page}; its {count} figure{'s' if count > 1 else ''} "
        f"also as PNG in {report.page.with_suffix('')}/",
        soft_wrap=True,
    )
    return 0


def _sweep(args, console: Console) -> int:
    from ecosystem.experiments.sweep import plan_sweep, run_sweep
    from ecosystem.runs.backends import check_workers, open_backend
    from ecosystem.runs.results import RunInterrupted

    check_workers(args.workers)
    plan = plan_sweep(
        args.scenario,
        out=args.out,
        grid=args.grid,
        sample=args.sample,
        ranges=args.ranges,
        seeds=args.seeds,
        steps=args.steps,
        overrides=args.overrides,
    )
    total, to_run = len(plan.runs), len(plan.pending)
    console.print(
        f"sweep of {plan.scenario}: {total} run{'' if total == 1 else 's'} ({_sweep_shape(plan)}), "
        f"{total - to_run} already complete, {to_run} to run -> {plan.out}"
    )
    if plan.duplicates:
        console.print(f"{plan.duplicates} parameter points repeat a planned run and are left out")
    if plan.dropped:
        console.print(
            f"[yellow]{plan.out / 'sweep.json'} described another sweep: {len(plan.dropped)} of "
            "its runs are not in this one (their directories are kept)"
        )
    command = shlex.join(["ecosystem", *sys.argv[1:]])
    progress = Progress(
        TextColumn("[bold]runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]}"),
        TimeRemainingColumn(),
        console=console,
        disable=args.quiet,
    )
    failures = []

    def advance(run):
        if run.status == "failed":
            failures.append(run)
        progress.update(task, advance=1, failed=f"[red]{len(failures)} failed" if failures else "")

    started = time.perf_counter()
    workers, address = (args.workers, args.address) if to_run else (0, None)
    with stop_on_sigterm():
        try:
            with open_backend(workers, address, runs=to_run) as backend:
                if backend.note:
                    print(backend.note, file=sys.stderr)
                if to_run:
                    console.print(f"running on {backend.description}")
                    _print_estimate(console, plan, backend)
                with progress:
                    task = progress.add_task("runs", total=to_run, failed="")
                    run_sweep(plan, backend, progress=advance, command=command)
        except (KeyboardInterrupt, RunInterrupted):
            console.print(
                f"[yellow]interrupted: {len(plan.complete)} of {total} runs complete; run the same "
                "command again to resume"
            )
            return 130
    console.print(
        f"{len(plan.complete)} of {total} runs complete ({total - to_run} reused), "
        f"{len(failures)} failed, in {time.perf_counter() - started:.1f} s -> {plan.out}"
    )
    if not failures:
        return 0
    table = Table(title=f"failed runs (their errors are in {plan.out / 'sweep.json'})")
    for column in ("run", "parameters", "seed", "error"):
        table.add_column(column, overflow="fold")
    for run in failures:
        parameters = ", ".join(f"{key}={value}" for key, value in run.parameters.items())
        table.add_row(run.id, parameters, str(run.seed), run.error or "")
    console.print(table)
    return 1


STUDY_ANALYSES = {"sensitivity": "sensitivity", "discover": "discovery", "robust": "robustness"}


def _study(args, console: Console) -> int:
    from ecosystem.experiments.uncertainty import ANALYSERS, load_study, plan_study, run_study
    from ecosystem.runs.backends import check_workers, open_backend
    from ecosystem.runs.results import RunInterrupted

    check_workers(args.workers)
    analysis = STUDY_ANALYSES[args.command]
    study = load_study(args.study)
    options = _study_options(args, study)
    out = args.out if args.out is not None else Path("runs") / f"{study.name}-{analysis}"
    if args.n is not None and args.n < 2:
        raise ValueError(f"--n must be >= 2, got {args.n}")
    plan = plan_study(
        args.study,
        analysis,  # type: ignore[arg-type]
        out,
        method=getattr(args, "method", None),
        n=args.n,
        policy=getattr(args, "policy", None),
        options=options,
    )
    sweep = plan.sweep
    total, to_run = len(sweep.runs), len(sweep.pending)
    design = plan.design
    console.print(
        f"{analysis} study {study.name}: {design.method} design of {design.rows} futures over "
        f"{len(design.names)} uncertainties x {len(plan.policies)} polic"
        f"{'y' if len(plan.policies) == 1 else 'ies'} x {study.seeds} seed"
        f"{'' if study.seeds == 1 else 's'} = {len(plan.cases)} cases, {total} runs "
        f"({total - to_run} already complete, {to_run} to run) -> {out}",
        soft_wrap=True,
    )
    command = shlex.join(["ecosystem", *sys.argv[1:]])
    progress = Progress(
        TextColumn("[bold]runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]}"),
        TimeRemainingColumn(),
        console=console,
        disable=args.quiet,
    )
    failures = []

    def advance(run):
        if run.status == "failed":
            failures.append(run)
        progress.update(task, advance=1, failed=f"[red]{len(failures)} failed" if failures else "")

    started = time.perf_counter()
    workers, address = (args.workers, args.address) if to_run else (0, None)
    with stop_on_sigterm():
        try:
            with open_backend(workers, address, runs=to_run) as backend:
                if backend.note:
                    print(backend.note, file=sys.stderr)
                if to_run:
                    console.print(f"running on {backend.description}")
                    _print_estimate(console, sweep, backend)
                with progress:
                    task = progress.add_task("runs", total=to_run, failed="")
                    result = run_study(
                        plan, backend, ANALYSERS[analysis], progress=advance, command=command
                    )
        except (KeyboardInterrupt, RunInterrupted):
            console.print(
                f"[yellow]interrupted: {len(sweep.complete)} of {total} runs complete; run the "
                "same command again to resume"
            )
            return 130
    elapsed = time.perf_counter() - started
    if result is None:
        console.print(
            f"[red]{len(sweep.pending)} of {total} runs did not complete ({len(failures)} "
            f"failed); their errors are in {out / 'sweep.json'}; run the same command again to "
            "retry them"
        )
        return 1
    for line in result.lines:
        console.print(line, soft_wrap=True, highlight=False)
    console.print(
        f"{total} runs ({total - to_run} reused) in {elapsed:.1f} s -> {out}: study.json, "
        f"cases.csv, {', '.join(f'{name}.csv' for name in result.tables)}, "
        f"{', '.join(figure.name for figure in result.figures)}",
        soft_wrap=True,
    )
    return 0


def _study_options(args, study) -> dict:
    """The analysis options of a study command, checked against the study (one-line errors)."""
    if args.command == "discover":
        name, _ = study.outcome(args.outcome)
        density = args.density if args.density is not None else study.discovery.density
        boxes = args.boxes if args.boxes is not None else study.discovery.boxes
        if not 0 < density <= 1:
            raise ValueError(f"--density must be in (0, 1], got {density}")
        if boxes < 1:
            raise ValueError(f"--boxes must be >= 1, got {boxes}")
        below = args.below is not None
        threshold = args.below if below else args.above
        if not math.isfinite(threshold):
            raise ValueError(f"--{'below' if below else 'above'} must be a finite number")
        return {
            "outcome": name,
            "side": "below" if below else "above",
            "threshold": threshold,
            "density": density,
            "boxes": boxes,
        }
    if args.command == "robust":
        name = study.outcome(args.outcome)[0] if args.outcome else next(iter(study.outcomes))
        criterion = args.criterion or study.robustness.criterion
        if criterion == "satisficing" and study.outcomes[name].threshold is None:
            raise ValueError(
                f"--criterion satisficing: outcomes.{name} has no threshold; give it one in the "
                "study file or choose another criterion"
            )
        return {"outcome": name, "criterion": criterion}
    return {}


def _sweep_shape(plan) -> str:
    """How the runs multiply, e.g. ``2 x 3 grid x 8 sample points x 2 seeds``."""
    parts = []
    if plan.grid:
        parts.append(" x ".join(str(len(values)) for values in plan.grid.values()) + " grid")
    if plan.sample:
        parts.append(f"{plan.sample['n']} sample points")
    parts.append(f"{plan.seeds} seed{'' if plan.seeds == 1 else 's'}")
    return " x ".join(parts)


def _print_estimate(console: Console, plan, backend) -> None:
    from ecosystem.experiments.sweep import estimate_wall_time

    seconds, note = estimate_wall_time(
        plan, backend.slots, startup=backend.startup_s, parallel=backend.parallel
    )
    if seconds is None:
        console.print(note)
        return
    slots = backend.slots
    console.print(
        f"estimated wall time {_duration(seconds)} on {slots} worker{'' if slots == 1 else 's'}: "
        f"{note}"
    )


def _duration(seconds: float) -> str:
    """``12.3 s`` under a minute, else ``h:mm:ss``."""
    return f"{seconds:.1f} s" if seconds < 60 else str(dt.timedelta(seconds=round(seconds)))


def _economy_line(frame) -> str:
    """The final step's creators and readers in one line (ecosystem runs only)."""
    final = frame[frame["step"] == frame["step"].max()]
    rows = zip(final["scope"], final["metric"], final["value"], strict=True)
    values = {(scope, metric): value for scope, metric, value in rows}
    parts = []
    for entry in catalogue.summary_line():
        value = values.get((entry.scope, entry.metric), math.nan)
        if value == value:
            parts.append(f"{entry.label} {entry.format.format(value)}")
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
    from ecosystem.experiments.uncertainty import available_studies, load_study

    table = Table(
        title="studies (ecosystem sensitivity | discover | robust)",
        title_justify="left",
        show_header=False,
        box=None,
    )
    table.add_column("name", style="bold")
    table.add_column("description")
    for name in available_studies():
        table.add_row(name, load_study(name).description)
    console.print(table)
    return 0


def _show(args, console: Console) -> int:
    print(load_scenario(args.scenario, args.overrides).to_toml(), end="")
    return 0


def _schema(args, console: Console) -> int:
    print(schema_markdown(), end="")
    return 0


def _validate(args, console: Console) -> int:
    from ecosystem.experiments.history_validation import history_checks
    from ecosystem.experiments.validation import run_checks

    if args.history and args.checks:
        raise ValueError("--check selects self-consuming-loop checks; it cannot go with --history")
    if args.history and args.world != "vectors":
        raise ValueError("--history validates the calibrated baseline: use it without --world")
    with console.status("running validation checks"):
        started = time.perf_counter()
        if args.history:
            results = history_checks(fast=args.fast)
        else:
            results = run_checks(args.checks, fast=args.fast, world=args.world)
    title = f"validation of the {args.world} world ({'fast' if args.fast else 'full'})"
    table = Table(title=title, show_lines=True)
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
