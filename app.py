"""Explore the web ecosystem in the browser: `streamlit run app.py`.

Pick a scenario, switch its levers on or off, run it over several seeds, read what happened
tab by tab, compare it with another setting against a base, sweep one lever, and take the
numbers away. UI only: the simulation, the caching of runs, the widgets' schema, the
comparisons and the figures come from the ``ecosystem`` package. Every setting is kept in
the page address, so a reload (or a shared link) shows the same runs and follows a run that
is still going. Environment: ``ECOSYSTEM_APP_RUNS`` (where runs are kept, default
``runs/app``), ``ECOSYSTEM_SCENARIOS`` (extra scenario files or folders, ``:``-separated) and
``ECOSYSTEM_APP_WORKERS`` (runs at once, default 1).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shlex
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from ecosystem import ScenarioError, available_scenarios, load_scenario
from ecosystem.calendar import schedule_at
from ecosystem.experiments.figures import (
    generation_figure,
    inactive_metrics,
    lever_effect_figure,
    live_figure,
    network_figure,
    overlay_figure,
    tab_figure,
    x_axis,
)
from ecosystem.experiments.report import write_report
from ecosystem.experiments.sweep import read_sweep
from ecosystem.interfaces.comparison_view import (
    Arm,
    differing_settings,
    effect_table,
    group_arms,
)
from ecosystem.interfaces.explorer import (
    TABS,
    company_fields,
    company_table,
    figures_zip,
    headlines,
    lever_fields,
    lever_switches,
    live_series,
    overrides_from,
    schedule_points,
    schedule_value,
    tabs_for,
)
from ecosystem.interfaces.lever_study import LeverStudy, LeverStudyJob, default_values, parse_values
from ecosystem.interfaces.uncertainty_view import find_studies, study_view
from ecosystem.measure import catalogue
from ecosystem.measure.catalogue import tab
from ecosystem.measure.excerpts import picture_grid
from ecosystem.runs.cache import RunJob, RunResult, RunStore, load_runs
from ecosystem.runs.results import read_manifest
from ecosystem.scenario import Scenario, scenario_hash

DEFAULT_SCENARIO = "baseline"
SHORT_STEPS = 24  # months of an ecosystem run unless the address says otherwise
DEFAULT_SEEDS = 3
MAX_SEEDS = 20
POLL_S = 1.0  # seconds between redraws of a run's progress


@dataclass
class Watch:
    """Something going on in the background that the page redraws until it ends: ``draw``
    writes its progress into ``place`` and says whether it has ended."""

    place: Any
    draw: Callable[[Any], bool]


WATCHES: list[Watch] = []  # this script run's; the script module is run afresh every time


def watch(draw: Callable[[Any], bool]) -> None:
    """Draw ``draw``'s progress here now, and again every ``POLL_S`` seconds once the page
    is drawn, until it ends; then the page is drawn again with what it produced."""
    place = st.empty()
    WATCHES.append(Watch(place, draw))
    draw(place)


def wait_for_watches() -> None:
    """Redraw the progress of everything going on until one of them ends, then rerun the
    page. A widget changed meanwhile starts a new run of the page, which watches again."""
    while WATCHES:
        time.sleep(POLL_S)
        if any(item.draw(item.place) for item in WATCHES):
            st.rerun()


@dataclass
class Plan:
    """What the sidebar asks for: one resolved scenario per seed, and how to say it."""

    name: str
    source: str
    argument: str
    overrides: list[str]
    seed: int
    steps: int
    seeds: int
    scenarios: list[Scenario] = field(default_factory=list)
    command: str = ""

    @property
    def hashes(self) -> list[str]:
        """The scenario hash of every seed's run."""
        return [scenario_hash(scenario) for scenario in self.scenarios]


def main() -> None:
    """The page: title, sidebar, a fixed header (progress, headline numbers) and the tabs."""
    st.set_page_config(page_title="Web ecosystem explorer", layout="wide")
    st.title("Web ecosystem explorer")
    st.caption(
        "What happens to the quality and diversity of the open web when AI models are "
        "retrained on a web they keep writing, and which policies keep it healthy? Choose a "
        "scenario, switch levers on in the sidebar, press **Run**, then read the tabs; "
        "**Compare** tells whether a lever helped, with intervals across seeds."
    )
    store = run_store(os.environ.get("ECOSYSTEM_APP_RUNS", "runs/app"))
    header = st.container()
    plan, pressed = sidebar(store, header)
    st.session_state["plan"] = plan
    if plan is not None and pressed:
        start(store, plan)
    following = follow_runs(store, plan)
    results = [store.load(directory) for directory in st.session_state.get("shown", [])]
    frame = seeds_frame(results) if results else None
    with header:
        for message in st.session_state.get("errors", []):
            st.error(message, icon="🛑")
        if following:
            scenarios = [job.scenario for job in following]
            watch(lambda place: draw_progress(place, store, scenarios))
        if results:
            show_header(results, frame)
    show_tabs(store, results, frame)
    wait_for_watches()


@st.cache_resource
def run_store(root: str) -> RunStore:
    """The runs of every session of this server: on disk, so they outlive it."""
    workers = int(os.environ.get("ECOSYSTEM_APP_WORKERS", "1") or 1)
    return RunStore(root, workers=workers)


@st.cache_resource
def study_jobs() -> dict[str, LeverStudyJob]:
    """The one-lever studies of this server, by directory."""
    return {}


@st.cache_resource
def export_jobs() -> dict[str, ExportJob]:
    """The figure zips and reports being built, by (kind, directory)."""
    return {}


def scenario_sources() -> dict[str, Path]:
    """Packaged scenarios and the extra ones named by ``ECOSYSTEM_SCENARIOS``."""
    sources = dict(available_scenarios())
    for entry in filter(None, os.environ.get("ECOSYSTEM_SCENARIOS", "").split(os.pathsep)):
        path = Path(entry)
        files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
        sources.update({file.stem: file for file in files})
    return sources


@st.cache_data(show_spinner=False)
def describe(source: str) -> str:
    """A scenario's description, for the scenario picker."""
    try:
        return load_scenario(source).description or ""
    except (ScenarioError, ValueError, OSError):
        return "(cannot be read)"


# --------------------------------------------------------------------- sidebar


def sidebar(store: RunStore, header) -> tuple[Plan | None, bool]:
    """Run button and summary on top, then scenario, seeds, length and levers; the settings
    go into the page address. Returns the plan (None when the settings cannot run) and
    whether Run was pressed."""
    bar = st.sidebar
    top = bar.container()
    pressed = top.button("Run", type="primary", key="run", width="stretch")
    summary = top.container()
    sources = scenario_sources()
    names = sorted(sources)
    wanted = st.query_params.get("scenario", DEFAULT_SCENARIO)
    if wanted not in names:
        header.warning(
            f"Address parameter scenario={wanted!r} ignored: not a scenario here; "
            f"showing {DEFAULT_SCENARIO!r}. Scenarios: {', '.join(names)}."
        )
        wanted = DEFAULT_SCENARIO
    current = st.session_state.get("scenario", wanted)
    name = bar.selectbox(
        "Scenario",
        names,
        index=names.index(current if current in names else wanted),
        key="scenario",
        format_func=lambda item: f"{item} — {describe(str(sources[item]))}"[:90],
        help="Packaged scenarios and those named by ECOSYSTEM_SCENARIOS; `ecosystem list` "
        "shows them all.",
    )
    with bar.expander("Your own scenario file"):
        uploaded = st.file_uploader(
            "A scenario file (.toml)",
            type=["toml"],
            help="A scenario file as written by `ecosystem show NAME`; it may extend a "
            'packaged scenario with `extends = "baseline"`.',
        )
    source = str(sources[name])
    if uploaded is not None:
        data = uploaded.getvalue()
        folder = Path(tempfile.gettempdir()) / f"scenario-{hashlib.sha256(data).hexdigest()[:16]}"
        folder.mkdir(exist_ok=True)
        source = str(folder / Path(uploaded.name).name)
        Path(source).write_bytes(data)
    try:
        base = load_scenario(source)
    except (ScenarioError, ValueError, OSError) as error:
        text = str(error)
        hint = (
            " (an uploaded file may extend a packaged scenario by name, e.g. "
            'extends = "baseline", not another file)'
            if uploaded is not None and "extend" in text
            else ""
        )
        bar.error(f"Cannot read the scenario: {text}{hint}")
        return None, pressed
    bar.caption(base.description or "(no description)")
    form = f"{base.name}:{scenario_hash(base)[:8]}"
    unit = "months" if base.mode == "ecosystem" else "generations"
    default_steps = min(base.steps, SHORT_STEPS) if base.mode == "ecosystem" else base.steps
    address_steps = query_int("steps", default_steps, 1, 100_000, header)
    columns = bar.columns(3)
    seed = columns[0].number_input(
        "Seed",
        min_value=0,
        value=query_int("seed", base.seed, 0, 2**63 - 1, header),
        step=1,
        key="seed",
        help="The first seed: one seed drives every random draw, so the same settings and "
        "seed give the same run.",
    )
    seeds = columns[1].number_input(
        "Seeds",
        min_value=1,
        max_value=MAX_SEEDS,
        value=query_int("seeds", DEFAULT_SEEDS, 1, MAX_SEEDS, header),
        step=1,
        key="seeds",
        help="Replications: the seeds seed, seed+1, ...; every figure shows their mean with "
        "a 95% band and every table an interval.",
    )
    steps = columns[2].number_input(
        unit.capitalize(),
        min_value=1,
        max_value=100_000,
        value=address_steps,
        step=1,
        key="steps",
        help=f"How long to simulate, in {unit}; the scenario's full length is {base.steps}.",
    )
    if steps != base.steps:
        bar.button(
            f"Full length: {base.steps} {unit}",
            key="full_length",
            on_click=lambda: st.session_state.update(steps=base.steps),
        )
    edits = current_edits(form, base, source)
    try:
        edited = load_scenario(source, edits)
    except (ScenarioError, ValueError) as error:
        header.warning(f"Earlier settings dropped: {error}")
        edits = []
        st.session_state.setdefault("edits", {})[form] = []
        edited = base
    widgets = offered(edited)
    try:
        values = lever_widgets(edited, form)
    except ValueError as error:
        header.error(f"These settings cannot run: {error}", icon="⚠️")
        return None, False
    extra = bar.text_area(
        "Other settings",
        key=f"extra:{form}",
        value="\n".join(edit for edit in edits if edit.split("=", 1)[0] not in widgets),
        placeholder="section.key=value, one per line\ne.g. culture.topics=30",
        help="Any scenario field, as `ecosystem run --set` takes it (see the scenario reference "
        "in docs/scenarios.md).",
    )
    try:
        overrides = [
            *overrides_from(values, base),
            *(line.strip() for line in extra.splitlines() if line.strip()),
        ]
        scenarios = [
            load_scenario(source, [*overrides, f"seed={seed + offset}", f"steps={steps}"])
            for offset in range(int(seeds))
        ]
    except (ScenarioError, ValueError) as error:
        header.error(f"These settings cannot run: {error}", icon="⚠️")
        return None, False
    st.session_state.setdefault("edits", {})[form] = overrides
    packaged = uploaded is None and name in available_scenarios()
    argument = name if packaged else source
    sets = [part for override in overrides for part in ("--set", override)]
    if int(seeds) == 1:
        command = ["ecosystem", "run", argument, "--seed", str(seed), "--steps", str(steps), *sets]
    else:
        command = ["ecosystem", "compare", argument, "--seeds", str(seeds), "--steps", str(steps)]
        command += [*sets, *(["--set", f"seed={seed}"] if seed != base.seed else [])]
    plan = Plan(
        name=name,
        source=source,
        argument=argument,
        overrides=overrides,
        seed=int(seed),
        steps=int(steps),
        seeds=int(seeds),
        scenarios=scenarios,
        command=shlex.join(command),
    )
    with bar.expander("Same run from the command line"):
        st.code(plan.command, language="bash")
    remember_in_address(plan)
    active = [switch.summary() for switch in lever_switches(scenarios[0]) if switch.on]
    ran = sum(store.cached(scenario) is not None for scenario in scenarios)
    summary.caption(
        f"**{name}**, {steps} {unit}, {seeds} seed{'s' if seeds > 1 else ''}. "
        + (
            f"Levers on: {', '.join(active)}."
            if active
            else "No policy lever on (today's world)."
            if base.mode == "ecosystem"
            else ""
        )
        + (f" {ran} of {len(scenarios)} ran before." if ran else "")
    )
    runs_panel(store)
    return plan, pressed


def query_int(name: str, default: int, low: int, high: int, header) -> int:
    """An integer from the page address (``?seed=3``), or ``default`` with a message."""
    text = st.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        header.warning(f"Address parameter {name}={text!r} ignored: an integer in [{low}, {high}].")
        return default
    return value


def current_edits(form: str, base: Scenario, source: str) -> list[str]:
    """This scenario's settings: those of this session, else the page address's ``set``."""
    edits = st.session_state.setdefault("edits", {})
    if form not in edits:
        first = st.session_state.get("address_used") is None
        st.session_state["address_used"] = True
        from_address = st.query_params.get_all("set") if first else []
        edits[form] = [item for item in from_address if "=" in item]
    return list(edits[form])


def offered(scenario: Scenario) -> set[str]:
    """The fields that have a widget (the others go to "Other settings")."""
    return {field.path for field in lever_fields(scenario)}


def remember_in_address(plan: Plan) -> None:
    """Every setting in the page address, so a reload or a shared link shows the same."""
    params: dict[str, str | list[str]] = {
        "scenario": plan.name,
        "seed": str(plan.seed),
        "seeds": str(plan.seeds),
        "steps": str(plan.steps),
    }
    if plan.overrides:
        params["set"] = list(plan.overrides)
    now = {key: st.query_params.get_all(key) for key in st.query_params}
    wanted = {key: value if isinstance(value, list) else [value] for key, value in params.items()}
    if now != wanted:
        st.query_params.from_dict(params)


def lever_widgets(scenario: Scenario, form: str) -> dict:
    """The policy levers as switches with their strengths, the companies as one table, the
    other groups as widgets with plain labels; returns every offered field's value."""
    values = {field.path: field.value for field in lever_fields(scenario)}
    bar = st.sidebar
    if scenario.mode == "ecosystem":
        with bar.expander("Policy levers", expanded=True):
            for switch in lever_switches(scenario):
                key = f"{form}:switch:{switch.name}"
                st.session_state[key] = switch.on
                st.toggle(
                    switch.label,
                    key=key,
                    help=switch.description or None,
                    on_change=flip_lever,
                    args=(form, key, switch.turn_on, switch.turn_off),
                )
                if switch.on:
                    box = st.container(border=True)
                    for lever_field in switch.fields:
                        values[lever_field.path] = field_widget(box, lever_field, form)
        with bar.expander("AI companies"):
            values.update(company_editor(scenario, form))
    groups: dict[str, list] = {}
    for lever_field in lever_fields(scenario):
        if lever_field.group in ("Policy levers", "AI companies"):
            continue
        groups.setdefault(lever_field.group, []).append(lever_field)
    for group, fields in groups.items():
        with bar.expander(group, expanded=scenario.mode == "lab"):
            for lever_field in fields:
                if lever_field.kind == "schedule":
                    values[lever_field.path] = schedule_editor(scenario, lever_field, form)
                else:
                    values[lever_field.path] = field_widget(st, lever_field, form)
    return values


def flip_lever(form: str, key: str, turn_on, turn_off) -> None:
    """A lever switched on takes its policy scenario's settings; off, its switch's default."""
    edits = st.session_state.setdefault("edits", {}).setdefault(form, [])
    change = turn_on if st.session_state[key] else turn_off
    paths = {item.split("=", 1)[0] for item in change}
    edits[:] = [item for item in edits if item.split("=", 1)[0] not in paths] + list(change)
    for item in change:  # widgets of the lever start again from its new settings
        st.session_state.pop(f"{form}:{item.split('=', 1)[0]}", None)


def field_widget(place, lever_field, form: str):
    """One setting's widget: a switch, a choice, a slider for a share, a number otherwise."""
    key = f"{form}:{lever_field.path}"
    label, value, help_text = lever_field.label, lever_field.value, lever_field.help
    if lever_field.kind == "bool":
        return place.toggle(label, value=bool(value), help=help_text, key=key)
    if lever_field.kind == "choice":
        options = list(lever_field.choices)
        return place.selectbox(label, options, index=options.index(value), help=help_text, key=key)
    if lever_field.kind in ("int", "float"):
        cast = int if lever_field.kind == "int" else float
        low, high = lever_field.minimum, lever_field.maximum
        if cast is float and low is not None and high is not None and high - low <= 1.0:
            return float(
                place.slider(
                    label,
                    min_value=float(low),
                    max_value=float(high),
                    value=float(value),
                    step=0.01 if high - low >= 0.1 else 0.001,
                    help=help_text,
                    key=key,
                )
            )
        return cast(
            place.number_input(
                label,
                min_value=None if low is None else cast(low),
                max_value=None if high is None else cast(high),
                value=cast(value),
                step=cast(lever_field.step) if lever_field.step is not None else None,
                format="%g" if cast is float else None,
                help=help_text,
                key=key,
            )
        )
    return place.text_input(label, value=str(value), help=help_text, key=key)


def company_editor(scenario: Scenario, form: str) -> dict:
    """The companies as one editable table (a row each), with the schema's bounds per column."""
    table = company_table(scenario)
    config = {}
    for lever_field in company_fields():
        column = lever_field.path.removeprefix("companies.<name>.")
        if lever_field.kind == "bool":
            config[column] = st.column_config.CheckboxColumn(
                lever_field.label, help=lever_field.help
            )
        elif lever_field.kind == "choice":
            config[column] = st.column_config.SelectboxColumn(
                lever_field.label,
                options=list(lever_field.choices),
                required=True,
                help=lever_field.help,
            )
        else:
            config[column] = st.column_config.NumberColumn(
                lever_field.label,
                min_value=lever_field.minimum,
                max_value=lever_field.maximum,
                required=True,
                help=lever_field.help,
            )
    edited = st.data_editor(
        table,
        column_config=config,
        key=f"{form}:companies",
        num_rows="fixed",
        width="stretch",
    )
    st.caption("One row per company; hover a column's name for its meaning.")
    values = {}
    for name in edited.index:
        for column in edited.columns:
            cell = edited.at[name, column]
            values[f"companies.{name}.{column}"] = cell.item() if hasattr(cell, "item") else cell
    return values


def schedule_editor(scenario: Scenario, lever_field, form: str):
    """A share over time as dated points (one point: constant), with a preview of the run."""
    st.markdown(f"**{lever_field.label}**", help=lever_field.help)
    points = schedule_points(
        json.loads(lever_field.value)
        if str(lever_field.value).startswith("{")
        else float(lever_field.value),
        scenario.start,
    )
    edited = st.data_editor(
        points,
        key=f"{form}:{lever_field.path}",
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_config={
            "month": st.column_config.TextColumn("month (YYYY-MM)", required=True),
            "share": st.column_config.NumberColumn(
                "share", min_value=0.0, max_value=1.0, required=True
            ),
        },
    )
    value = schedule_value(edited, lever_field.path)
    months = pd.date_range(scenario.start, periods=max(scenario.steps, 2), freq="MS")
    preview = pd.DataFrame(
        {"share": [schedule_at(value, scenario.start, step) for step in range(1, len(months) + 1)]},
        index=months,
    )
    st.line_chart(preview, height=110, x_label=None, y_label="share")
    return value


def runs_panel(store: RunStore) -> None:
    """The runs of this app: those going on with their progress (redrawn while they go), the
    failed ones and those kept."""
    jobs = store.jobs()
    finished = store.finished()
    with st.sidebar.expander("Runs of this app"):
        if any(not job.done for job in jobs):
            watch(lambda place: draw_runs(place, store))
        failed = [job for job in jobs if job.done and job.error is not None]
        for job in failed:
            st.caption(f"{job.scenario.name} · seed {job.scenario.seed}: failed ({job.error})")
        st.caption(f"{len(finished)} kept, newest first:" if finished else "None kept yet.")
        for label, _ in finished[:12]:
            st.caption(label)
        if len(finished) > 12:
            st.caption(f"… and {len(finished) - 12} more (Compare lists them all)")


def draw_runs(place, store: RunStore) -> bool:
    """The runs going on, each with its progress; whether none is going any more."""
    going = [job for job in store.jobs() if not job.done]
    if not going:
        return True
    with place.container():
        st.caption(f"{len(going)} going:")
        for job in going:
            scenario = job.scenario
            state = (
                "waiting"
                if job.queued
                else f"step {max(job.step, 0)} of {scenario.steps}, {job.elapsed:.0f} s"
            )
            st.progress(
                max(job.step, 0) / scenario.steps,
                text=f"{scenario.name} · seed {scenario.seed}: {state}",
            )
    return False


# --------------------------------------------------------------------- runs


def start(store: RunStore, plan: Plan) -> None:
    """Start every seed's run that has not run before; the page follows them and then shows
    their results."""
    for scenario in plan.scenarios:
        if store.cached(scenario) is None:
            store.submit(scenario, command=plan.command)
    st.session_state["pending"] = list(plan.scenarios)
    st.session_state["errors"] = []


def follow_runs(store: RunStore, plan: Plan | None) -> list[RunJob]:
    """The jobs still going of the runs asked for here, or (after a reload, or from a shared
    link) of the sidebar's settings; once they have all ended, their results are shown. The
    settings' runs are shown at once when they all ran before."""
    pending = st.session_state.get("pending")
    if not pending and plan is not None:
        going = [store.job(digest) for digest in plan.hashes]
        if any(job is not None and not job.done for job in going):
            pending = list(plan.scenarios)  # a reload while they run: follow them again
        elif "shown" not in st.session_state and all(
            store.cached(scenario) is not None for scenario in plan.scenarios
        ):
            pending = list(plan.scenarios)
    if not pending:
        return []
    jobs = [store.job(scenario_hash(scenario)) for scenario in pending]
    following = [job for job in jobs if job is not None and not job.done]
    if following:
        return following
    st.session_state["pending"] = None
    st.session_state["errors"] = [
        f"The run failed: {type(job.error).__name__}: {job.error}"
        for job in jobs
        if job is not None and job.error is not None
    ]
    finished = [store.cached(scenario) for scenario in pending]
    directories = [str(result.directory) for result in finished if result is not None]
    if directories:
        st.session_state["shown"] = directories
        history = st.session_state.setdefault("history", [])
        if directories in history:
            history.remove(directories)
        history.append(directories)
    return []


def draw_progress(place, store: RunStore, scenarios: list[Scenario]) -> bool:
    """Progress of the runs going on, and a live chart of the one that runs now; whether they
    have all ended."""
    found = [store.job(scenario_hash(scenario)) for scenario in scenarios]
    jobs = [job for job in found if job is not None]
    if all(job.done for job in jobs):
        return True
    total = sum(job.scenario.steps for job in jobs)
    done = sum(job.scenario.steps if job.done else max(job.step, 0) for job in jobs)
    now = next((job for job in jobs if job.running), None)
    waiting = sum(job.queued for job in jobs)
    finished = sum(job.done for job in jobs)
    unit = x_axis(scenarios[0]).unit
    text = f"{finished} of {len(jobs)} runs done"
    if now is not None:
        text += (
            f" · seed {now.scenario.seed}: {max(now.step, 0)} of {now.scenario.steps} {unit}"
            f" · {now.elapsed:.0f} s"
        )
        if now.step < 0:
            text += " (building the initial web and the first models)"
    elif waiting:
        text += " · waiting for another run to end"
    with place.container():
        st.progress(min(done / max(total, 1), 1.0), text=text)
        if now is not None and now.step >= 0:
            st.plotly_chart(
                live_figure(live_series(now.steps), x_axis(now.scenario)),
                width="stretch",
                key=f"live-chart-{time.monotonic_ns()}",
            )
    return False


def seeds_frame(results: list[RunResult]) -> pd.DataFrame:
    """The series of every seed's run in one frame, with its ``seed``."""
    return pd.concat(
        [r.frame.assign(seed=r.manifest.get("seed")) for r in results], ignore_index=True
    )


def show_header(results: list[RunResult], frame: pd.DataFrame) -> None:
    """The run's name and its headline numbers (mean across seeds), coloured by better or
    worse for the web."""
    first = results[0]
    seeds = sorted(int(result.manifest.get("seed", 0)) for result in results)
    if len(results) == 1:
        st.subheader(first.label)
    else:
        st.subheader(
            f"{first.manifest.get('scenario')} · seeds {seeds[0]}–{seeds[-1]} ({len(results)} runs)"
        )
    mean = frame.groupby(["step", "scope", "metric"], as_index=False)["value"].mean()
    numbers = headlines(mean)
    for column, number in zip(st.columns(max(len(numbers), 1)), numbers, strict=False):
        column.metric(
            number.label,
            number.value,
            number.change,
            delta_color=number.delta_color,
            help=number.help + (f" Mean of {len(results)} seeds." if len(results) > 1 else ""),
        )


# --------------------------------------------------------------------- tabs


def show_tabs(store: RunStore, results: list[RunResult], frame: pd.DataFrame | None) -> None:
    """The results tabs of the runs shown (those that apply to their mode)."""
    resolved = results[0].manifest.get("resolved_scenario", {}) if results else {}
    mode = resolved.get("mode", "ecosystem")
    names = tabs_for(mode, resolved.get("world", "vector"))
    names.insert(names.index("Compare") + 1, "Lever study")
    tabs = dict(zip(names, st.tabs(names, key="results_tab"), strict=True))
    for name in TABS:
        if name not in tabs:
            continue
        with tabs[name]:
            if frame is None:
                st.info("Nothing run yet: choose a scenario in the sidebar and press **Run**.")
                continue
            results_tab(name, frame, results[0].manifest, mode)
    if "Documents" in tabs:
        with tabs["Documents"]:
            documents_tab(results[0]) if results else nothing_yet()
    if "Pictures" in tabs:
        with tabs["Pictures"]:
            pictures_tab(results[0]) if results else nothing_yet()
    if "Network" in tabs:
        with tabs["Network"]:
            network_tab(store, results[0]) if results else nothing_yet()
    with tabs["Compare"]:
        compare_tab(store, results)
    with tabs["Lever study"]:
        lever_study_tab(store, results)
    with tabs["Uncertainty"]:
        uncertainty_tab()
    with tabs["Export"]:
        export_tab(results, frame) if results and frame is not None else nothing_yet()


def nothing_yet() -> None:
    st.info("Nothing run yet: choose a scenario in the sidebar and press **Run**.")


def results_tab(name: str, frame: pd.DataFrame, manifest: dict, mode: str) -> None:
    """One results tab: its note, its figures (mean and 95% band across seeds), and the
    panels of series that stay at zero named instead of drawn."""
    entry = tab(name)
    st.markdown(entry.lab_note if mode == "lab" and entry.lab_note else entry.note)
    axis = x_axis(manifest)
    if entry.by_generation:
        figure = generation_figure(frame, entry.by_generation)
        if figure is not None:
            st.plotly_chart(figure, width="stretch", key=f"{name}-generations")
    shown = 0
    for number, series in enumerate(entry.figures):
        quiet = inactive_metrics(frame, series)
        figure = tab_figure(frame, series, x=axis)
        if figure is not None:
            shown += 1
            st.plotly_chart(figure, width="stretch", key=f"{name}-{number}")
        if quiet:
            st.caption(
                f"{series.title}: not active in this run (zero throughout): "
                + ", ".join(catalogue.metric_title(metric) for metric in quiet)
                + "."
            )
    if not shown:
        st.info("This run has none of these series.")


@st.cache_resource(show_spinner=False, max_entries=16)
def cached_network_figure(_store: RunStore, directory: str, colour_by: str):
    """The network figure of a run directory, laid out once per server and colouring."""
    result = _store.load(directory)
    assert result.network is not None  # the Network tab draws only runs that keep one
    return network_figure(
        result.network, seed=int(result.manifest.get("seed", 0)), colour_by=colour_by
    )


def network_tab(store: RunStore, result: RunResult) -> None:
    """The sampled link graph of the final web and who wrote it."""
    if result.network is None:
        st.info("Only ecosystem runs that finished keep a sample of their web.")
        return
    nodes = result.network.nodes
    st.markdown(
        f"A sample of **{len(nodes)} pages** alive at the end of seed "
        f"{result.manifest.get('seed')}'s run (the most visited tenth, then pages linking to "
        f"them, drawn at random) and the **{len(result.network.links)} links** among them, "
        "drawn with a spring layout. Size: the page's traffic (its visits, older months "
        "counting less); in-links "
        "are counted over the whole web, not only the sample."
    )
    colour_by = st.radio("Colour by", ["origin", "topic"], horizontal=True, key="network_colour")
    st.plotly_chart(
        cached_network_figure(store, str(result.directory), colour_by),
        width="stretch",
        key="network",
    )
    counts = nodes.groupby("origin").agg(
        pages=("page", "size"), traffic=("traffic", "sum"), in_links=("in_degree", "mean")
    )
    counts["traffic share"] = counts["traffic"] / counts["traffic"].sum()
    counts = counts.rename(columns={"in_links": "mean in-links (whole web)"})
    st.dataframe(counts[["pages", "traffic share", "mean in-links (whole web)"]], width="content")


def documents_tab(result: RunResult) -> None:
    """The documents a text-world run kept: the first few of each measured sample at the
    chosen step, so a user can read the collapse."""
    excerpts = result.excerpts
    if excerpts is not None:
        excerpts = excerpts[excerpts["text"] != ""]
    if excerpts is None or not len(excerpts):
        st.info(
            "Only text-world runs keep documents to read (the first documents of each "
            "measured sample, at the first steps, every `metrics.excerpt_every` steps and the "
            "last)."
        )
        return
    steps = sorted(int(step) for step in excerpts["step"].unique())
    axis = x_axis(result.manifest)
    step = st.select_slider(
        f"{axis.label.capitalize()} to read",
        options=steps,
        value=steps[-1],
        key="documents-step",
        help="The steps at which the run kept documents.",
    )
    st.markdown(
        "The first documents of the web's sample, the month's new pages and each company's "
        "model (lab runs: the model and its training set), cut after 40 words."
    )
    shown = excerpts[excerpts["step"] == step]
    for scope, rows in shown.groupby("scope", sort=False):
        generation = int(rows["generation"].iloc[0])
        suffix = f" (generation {generation})" if scope.startswith(("company", "model")) else ""
        st.markdown(f"**{catalogue.scope_label(scope)}** (`{scope}`){suffix}")
        for text in rows["text"]:
            st.text(text)


def pictures_tab(result: RunResult) -> None:
    """The pictures a digits-world run kept: the first few of each measured sample, a row
    per kept step, so a user can see the images degrade."""
    excerpts = result.excerpts
    if excerpts is None or not (excerpts["pixels"].map(len) > 0).any():
        st.info(
            "Only digits-world runs keep pictures to look at (the first images of each "
            "measured sample: every generation of a lab run; the first months, every "
            "`metrics.excerpt_every` months and the last of an ecosystem run)."
        )
        return
    lab = result.manifest.get("resolved_scenario", {}).get("mode") == "lab"
    st.markdown(
        "The first images of each measured sample (lab runs: the model and its training "
        "set; ecosystem runs: the web, the month's new pages and each company's model)."
    )
    st.image(picture_grid(excerpts, step_label="generation" if lab else "month"))


# --------------------------------------------------------------------- compare


def known_arms(store: RunStore) -> list[Arm]:
    """Every setting that has finished runs here (this app's, and run directories added),
    newest first, with its runs' directories (frames are loaded when chosen)."""
    entries = []
    directories = [directory for _, directory in store.finished()]
    for group in st.session_state.get("loaded", []):
        directories.extend(group)
    for directory in dict.fromkeys(directories):
        try:
            entries.append((directory, read_manifest(directory), None))
        except (OSError, ValueError):
            continue
    return group_arms(entries)


def arm_option(arm: Arm) -> str:
    """How the run picker names a setting: its scenario, what it changes, its seeds."""
    steps = arm.settings.get("steps")
    seeds = len(arm.seeds)
    own = arm.name if arm.name and arm.name != arm.scenario else ""
    return (
        f"{arm.scenario}{': ' + own if own else ''} · {steps} steps · "
        f"{seeds} seed{'s' if seeds > 1 else ''}"
    )


def compare_tab(store: RunStore, results: list[RunResult]) -> None:
    """Settings side by side: named after what differs, against a chosen base, with the
    change of every key outcome, its interval across seeds, Welch's p and better or worse."""
    st.markdown(
        "Choose two or more settings (each with its seeds): the first is the **base**. Runs "
        "are named after the settings that set them apart. **Δ** is the change of the mean "
        "over the last 12 months against the base; green is better for the web, red worse "
        "(significant at 5% by Welch's test when each side has at least two seeds)."
    )
    with st.expander("Add runs from a directory"):
        path = st.text_input(
            "A run directory, or a compare or sweep directory (all its runs)",
            placeholder="runs/baseline-s0",
            key="load_path",
        )
        if st.button("Add", key="load"):
            try:
                if not path.strip():
                    raise ValueError("give the path of a run, compare or sweep directory")
                loaded = load_runs(path.strip())
            except (OSError, ValueError) as error:
                st.error(f"Cannot load {path!r}: {error}")
            else:
                st.session_state.setdefault("loaded", []).append(
                    [str(run.directory) for run in loaded]
                )
                st.success(f"Added {len(loaded)} run{'s' if len(loaded) > 1 else ''}.")
    arms = known_arms(store)
    if not arms:
        st.info("Nothing to compare yet: run a setting, change a lever, run again.")
        return
    options = {arm_option(arm): arm for arm in arms}
    by_directory = {d: label for label, arm in options.items() for d in arm.directories}
    history = st.session_state.get("history", [])
    defaults = []
    for directories in history[-2:]:
        label = by_directory.get(directories[0]) if directories else None
        if label is not None and label not in defaults:
            defaults.append(label)
    chosen = st.multiselect(
        "Settings to compare (the first is the base)",
        list(options),
        default=defaults,
        key=f"compare_runs:{len(history)}",  # a new run starts Compare from the newest two
    )
    if not chosen:
        st.info("Choose one or more settings.")
        return
    picked = [
        (directory, store.load(directory))
        for label in chosen
        for directory in options[label].directories
    ]
    compared = group_arms([(d, r.manifest, r.frame) for d, r in picked])
    names = [arm.name for arm in compared]
    base = st.selectbox("Base", names, index=0, key=f"compare_base:{'|'.join(names)}")
    if len(compared) > 1:
        st.markdown("**What differs**")
        st.dataframe(
            differing_settings(compared).set_index("setting"), width="stretch", hide_index=False
        )
    every = st.toggle("Every series, not only the key outcomes", key="compare_every")
    full = effect_table(compared, base, every=True)
    table = full if every else full[full["key"]]
    if not table.empty:
        st.markdown("**Effect against the base**" if len(compared) > 1 else "**End of run**")
        st.dataframe(style_effects(table), width="stretch", hide_index=True)
    if len(compared) > 1 and not every:
        clear_changes(full[~full["key"]])
    frame = pd.concat([arm.frame for arm in compared], ignore_index=True)
    scopes = list(pd.unique(frame["scope"]))
    scope = st.selectbox(
        "Scope",
        scopes,
        index=scopes.index("web") if "web" in scopes else 0,
        format_func=lambda item: f"{catalogue.scope_label(item)}",
        key="compare_scope",
    )
    metrics = list(pd.unique(frame.loc[frame["scope"] == scope, "metric"]))
    defaults = [m for m in ("synthetic_share", "precision", "recall") if m in metrics]
    series = st.multiselect(
        "Series",
        metrics,
        default=defaults,
        format_func=catalogue.metric_title,
        key="compare_metrics",
    )
    axes: dict | None = {arm.name: x_axis({"resolved_scenario": arm.settings}) for arm in compared}
    if axes and len({axis.label for axis in axes.values()}) > 1:
        axes = None  # months and generations do not share an axis: plot steps
    figure = overlay_figure(frame, scope, series, x=axes)
    if figure is not None:
        st.plotly_chart(figure, width="stretch", key="compare-figure")


def clear_changes(others: pd.DataFrame) -> None:
    """The largest clear changes (p < 0.05) among the series that are not key outcomes: where
    a lever acts before the web shows it (a company's training data, say)."""
    clear = others[others["verdict"].isin(["better", "worse"])]
    clear = clear.loc[clear["Δ %"].abs().sort_values(ascending=False).index].head(6)
    if clear.empty:
        return
    lines = [
        f"- {row['outcome']} ({row['run']}): {row['value']} against {row['base']}, "
        f"{row['Δ %']:+.1f}%, {row['verdict']}"
        for row in clear.to_dict("records")
    ]
    st.markdown("**Clear changes beyond the key outcomes** (p < 0.05)\n" + "\n".join(lines))


def style_effects(table: pd.DataFrame):
    """The effect table for display: readable columns, green for better and red for worse."""
    columns = ["outcome", "run", "base", "value", "Δ", "Δ %", "p", "verdict", "seeds"]
    shown = table[columns]
    if shown["run"].nunique() <= 1:
        shown = shown.drop(columns=["run"])
    if table["Δ"].isna().all():  # one setting: its own values and intervals only
        shown = shown.drop(columns=["base", "Δ", "Δ %", "p", "verdict"], errors="ignore")

    def colour(row):
        verdict = str(row.get("verdict", ""))
        tint = (
            "background-color: rgba(46, 160, 67, 0.18)"
            if verdict.startswith("better")
            else "background-color: rgba(218, 54, 51, 0.18)"
            if verdict.startswith("worse")
            else ""
        )
        return [tint if column in ("Δ", "Δ %", "verdict") else "" for column in row.index]

    return shown.style.apply(colour, axis=1).format(
        {"Δ": "{:+.3g}", "Δ %": "{:+.1f}%", "p": "{:.2g}"}, na_rep="–"
    )


# --------------------------------------------------------------------- lever study


def lever_study_tab(store: RunStore, results: list[RunResult]) -> None:
    """One setting over several values and seeds, run as an `ecosystem sweep`: each key
    outcome against the setting's value, with intervals."""
    st.markdown(
        "Sweep one setting of the sidebar's scenario over a few values, each with the "
        "sidebar's seeds and length, as `ecosystem sweep` does (the same run directories): "
        "each key outcome is plotted against the value, with its 95% interval across seeds."
    )
    plan = st.session_state.get("plan")
    if plan is None:
        st.info("Choose a scenario whose settings can run.")
        return
    base = plan.scenarios[0]
    fields = [f for f in lever_fields(base) if f.kind in ("bool", "int", "float", "choice")]
    paths = {f.path: f for f in fields}
    path = st.selectbox(
        "Setting",
        list(paths),
        format_func=lambda item: f"{paths[item].label} ({item})",
        key="study_setting",
    )
    chosen = paths[path]
    suggested = (
        ",".join(str(c) for c in chosen.choices)
        if chosen.kind == "choice"
        else ",".join(default_values(chosen.value, chosen.minimum, chosen.maximum))
    )
    values_text = st.text_input(
        "Values (comma-separated)", value=suggested, key=f"study_values:{path}"
    )
    study = LeverStudy(
        source=plan.source,
        setting=path,
        values=parse_values(values_text),
        seeds=plan.seeds,
        steps=plan.steps,
        overrides=(
            *(o for o in plan.overrides if o.split("=", 1)[0] != path),
            f"seed={plan.seed}",
        ),
        scenario_argument=plan.argument,
    )
    root = Path(os.environ.get("ECOSYSTEM_APP_RUNS", "runs/app")) / "studies"
    out = study.directory(root)
    runs = len(study.values) * study.seeds
    st.caption(f"{runs} runs of {study.steps} steps into `{out}`. The same from the command line:")
    st.code(study.command(out), language="bash")
    jobs = study_jobs()
    job = jobs.get(str(out))
    if st.button("Start the study", key="study_start", disabled=job is not None and not job.done):
        try:
            job = LeverStudyJob(study, out, store.slots)
        except (ScenarioError, ValueError) as error:
            st.error(f"This study cannot run: {error}")
            return
        jobs[str(out)] = job
    if job is not None and not job.done:
        watch(lambda place: draw_study_progress(place, job))
        return
    if job is not None and job.error is not None:
        st.error(f"The study stopped: {type(job.error).__name__}: {job.error}")
        return
    for line in job.failed if job is not None else []:
        st.warning(f"A run failed: {line}")
    if (out / "sweep.json").exists():
        show_study(out, path, base)


def draw_study_progress(place, job: LeverStudyJob) -> bool:
    """A study's runs done of its runs; whether it has ended."""
    if job.done:
        return True
    place.progress(
        job.finished / max(job.total, 1),
        text=f"{job.finished} of {job.total} runs of the study done · {job.elapsed:.0f} s",
    )
    return False


def show_study(out: Path, path: str, base: Scenario | None) -> None:
    """A finished study: each key outcome against the setting's value."""
    frame = read_sweep(out)
    if frame.empty:
        st.info("The study has no complete run yet.")
        return
    present = set(zip(frame["scope"], frame["metric"], strict=True))
    outcomes = [key for key in catalogue.key_outcomes() if key in present]
    figure = lever_effect_figure(frame, path, outcomes)
    st.plotly_chart(figure, width="stretch", key="study-figure")
    st.caption(
        "Mean over the last 12 steps of each run; bars: 95% t-interval across seeds; "
        "dots: the seeds. Outcomes: " + ", ".join(catalogue.series_title(*key) for key in outcomes)
    )


# --------------------------------------------------------------------- uncertainty


def uncertainty_tab() -> None:
    """A finished study directory (`ecosystem sensitivity | discover | robust`): its findings,
    figures and tables. Studies are run from the command line, not from here."""
    st.markdown(
        "Read a finished study: `ecosystem sensitivity` (which uncertainties drive each outcome), "
        "`ecosystem discover` (under which futures an outcome crosses a threshold) or "
        "`ecosystem robust` (which policy holds up across the futures). Studies run from the "
        "command line; this tab only reads their directories."
    )
    root = os.environ.get("ECOSYSTEM_APP_STUDIES", "runs")
    found = [str(path) for path in find_studies(root)]
    path = st.selectbox(
        f"Study directory (found under {root}/), or type one below",
        ["", *found],
        key="study_found",
    )
    typed = st.text_input(
        "Study directory", placeholder="runs/levers-under-uncertainty-sensitivity", key="study_path"
    )
    chosen = (typed or path or "").strip()
    if not chosen:
        st.info("Choose or type a study directory.")
        return
    try:
        view = study_view(chosen)
    except (OSError, ValueError) as error:
        st.error(f"Cannot read {chosen!r}: {error}")
        return
    st.subheader(view.title)
    for line in view.findings:
        st.markdown(f"- {line}")
    for figure in view.figures:
        st.image(str(figure), caption=figure.name)
    for name, table in view.tables.items():
        st.markdown(f"**{name}** ({len(table):,} rows)")
        st.dataframe(table, width="stretch", height=min(420, 40 + 35 * len(table)))


# --------------------------------------------------------------------- export


class ExportJob:
    """A figures zip or a report built in a background thread, with its progress."""

    def __init__(self, kind: str, results: list[RunResult], target: Path) -> None:
        self.kind = kind
        self.target = target
        self.done_parts = 0
        self.parts = 1
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._work, args=(results,), name=f"export-{kind}", daemon=True
        )
        self._thread.start()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def _progress(self, done: int, total: int) -> None:
        self.done_parts, self.parts = done, max(total, 1)

    def _work(self, results: list[RunResult]) -> None:
        try:
            if self.kind == "zip":
                frame = seeds_frame(results)
                data = figures_zip(frame, results[0].manifest, progress=self._progress)
            else:
                data = write_report(results[0].directory).page.read_bytes()
            self.target.parent.mkdir(parents=True, exist_ok=True)
            partial = self.target.with_suffix(self.target.suffix + ".part")
            partial.write_bytes(data)
            partial.replace(self.target)
            self.done_parts = self.parts
        except Exception as error:  # shown on the page
            self.error = error


def export_tab(results: list[RunResult], frame: pd.DataFrame) -> None:
    """Downloads that do not reload the page: the series of every seed, the manifests, and a
    figures zip and a report built in the background."""
    first = results[0]
    manifest = first.manifest
    seeds = [r.manifest.get("seed") for r in results]
    stem = f"{manifest.get('scenario')}-s{seeds[0]}" + (
        f"-{len(seeds)}seeds" if len(seeds) > 1 else ""
    )
    st.markdown(
        f"The tidy time series has one row per seed, step, scope and metric "
        f"({len(frame):,} rows). Run directories: " + ", ".join(f"`{r.directory}`" for r in results)
    )
    st.dataframe(frame.head(200), width="stretch", height=240)
    columns = st.columns(3)
    parquet = io.BytesIO()
    frame.to_parquet(parquet, index=False)
    columns[0].download_button(
        "Time series (CSV)",
        frame.to_csv(index=False).encode(),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key="download_csv",
        on_click="ignore",
    )
    columns[1].download_button(
        "Time series (Parquet)",
        parquet.getvalue(),
        file_name=f"{stem}.parquet",
        mime="application/octet-stream",
        key="download_parquet",
        on_click="ignore",
    )
    manifests = manifest if len(results) == 1 else [r.manifest for r in results]
    columns[2].download_button(
        "Manifest (JSON)",
        json.dumps(manifests, indent=2).encode(),
        file_name=f"{stem}-manifest.json",
        mime="application/json",
        key="download_manifest",
        on_click="ignore",
    )
    root = Path(os.environ.get("ECOSYSTEM_APP_RUNS", "runs/app")) / ".exports"
    built = {
        "zip": (root / f"{Path(first.directory).name}-{len(results)}-figures.zip", "zip"),
        "report": (root / f"{Path(first.directory).name}-report.html", "report"),
    }
    left, right = st.columns(2)
    with left:
        export_control(
            "zip",
            "Figures (PNG + HTML, zip)",
            built["zip"][0],
            results,
            f"{stem}-figures.zip",
            "application/zip",
        )
    with right:
        export_control(
            "report",
            "Report (HTML)",
            built["report"][0],
            results,
            f"{manifest.get('scenario')}-s{seeds[0]}-report.html",
            "text/html",
        )


def export_control(kind, label, target: Path, results, file_name: str, mime: str) -> None:
    """A download built in the background: a button to build it, its progress, then the
    download (which does not reload the page)."""
    jobs = export_jobs()
    key = f"{kind}:{target}"
    job = jobs.get(key)
    if target.exists() and (job is None or job.done):
        st.download_button(
            label,
            target.read_bytes(),
            file_name=file_name,
            mime=mime,
            key=f"download_{kind}",
            on_click="ignore",
        )
        return
    what = (
        "the figures of every tab"
        if kind == "zip"
        else f"the report of seed {results[0].manifest.get('seed')}"
    )
    if job is None or (job.done and job.error is not None):
        if job is not None and job.error is not None:
            st.error(f"Could not build {label}: {job.error}")
        if st.button(
            f"Prepare {label}", key=f"prepare_{kind}", help=f"Builds {what} in the background."
        ):
            job = jobs[key] = ExportJob(kind, results, target)
            watch(lambda place: draw_export_progress(place, job, label))
        return
    watch(lambda place: draw_export_progress(place, job, label))


def draw_export_progress(place, job: ExportJob, label: str) -> bool:
    """Progress of a download being built; whether it is ready."""
    if job.done:
        return True
    place.progress(
        job.done_parts / job.parts, text=f"Building {label}: {job.done_parts} of {job.parts}"
    )
    return False


main()
