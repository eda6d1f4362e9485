"""Explore the web ecosystem in the browser: `streamlit run app.py`.

Pick a scenario, change its levers, run it, read what happened tab by tab and
take the numbers away. UI only: the simulation, the caching of runs, the
widgets' schema and the figures come from the ``ecosystem`` package.
Environment: ``ECOSYSTEM_APP_RUNS`` (where runs are kept, default ``runs/app``)
and ``ECOSYSTEM_SCENARIOS`` (extra scenario files or folders, ``:``-separated).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import shlex
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from ecosystem import ScenarioError, available_scenarios, load_scenario
from ecosystem.experiments.compare import DEFAULT_WINDOW, end_of_run
from ecosystem.experiments.figures import (
    generation_figure,
    network_figure,
    overlay_figure,
    tab_figure,
    x_axis,
)
from ecosystem.experiments.report import write_report
from ecosystem.interfaces.explorer import (
    TABS,
    figures_zip,
    headlines,
    lever_fields,
    live_series,
    overrides_from,
)
from ecosystem.interfaces.uncertainty_view import find_studies, study_view
from ecosystem.measure.catalogue import TAB_NOTES, tab
from ecosystem.measure.excerpts import picture_grid
from ecosystem.runs.cache import RunJob, RunResult, RunStore, load_runs
from ecosystem.scenario import scenario_hash

DEFAULT_SCENARIO = "baseline"
LIVE_REDRAWS = 40


def main() -> None:
    """The page: title, sidebar, the run if one was asked for, the results."""
    st.set_page_config(page_title="Web ecosystem explorer", layout="wide")
    st.title("Web ecosystem explorer")
    st.caption(
        "What happens to the quality and diversity of the open web when AI models are "
        "retrained on a web they keep writing, and which policies keep it healthy? Choose a "
        "scenario and its levers in the sidebar, press **Run**, then read the tabs."
    )
    store = run_store(os.environ.get("ECOSYSTEM_APP_RUNS", "runs/app"))
    request = sidebar(store)
    following = store.job(st.session_state.get("following", ""))
    if request is not None:
        run(store, request)
    elif following is not None:
        follow(following)
    show_results(store)


@st.cache_resource
def run_store(root: str) -> RunStore:
    """The runs of every session of this server: on disk, so they outlive it."""
    return RunStore(root)


def scenario_sources() -> dict[str, Path]:
    """Packaged scenarios and the extra ones named by ``ECOSYSTEM_SCENARIOS``."""
    sources = dict(available_scenarios())
    for entry in filter(None, os.environ.get("ECOSYSTEM_SCENARIOS", "").split(os.pathsep)):
        path = Path(entry)
        files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
        sources.update({file.stem: file for file in files})
    return sources


def sidebar(store: RunStore):
    """Scenario, seed, steps and levers; returns the resolved scenario when Run is pressed."""
    bar = st.sidebar
    bar.header("Scenario")
    sources = scenario_sources()
    names = sorted(sources)
    wanted = st.query_params.get("scenario", DEFAULT_SCENARIO)
    index = names.index(wanted) if wanted in names else names.index(DEFAULT_SCENARIO)
    name = bar.selectbox("Scenario", names, index=index, key="scenario")
    uploaded = bar.file_uploader(
        "…or your own scenario file (.toml)",
        type=["toml"],
        help="A scenario file as written by `ecosystem show NAME`; it may extend a packaged "
        'scenario with `extends = "baseline"`.',
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
        hint = (
            " (an uploaded file may extend a packaged scenario by name, e.g. "
            'extends = "baseline", not another file)'
            if uploaded is not None
            else ""
        )
        bar.error(f"Cannot read the scenario: {error}{hint}")
        return None
    bar.caption(base.description or "(no description)")
    form_key = f"{base.name}:{scenario_hash(base)[:8]}"
    seed = bar.number_input(
        "Seed",
        min_value=0,
        value=query_int("seed", base.seed, 0, 2**63 - 1),
        step=1,
        help="One seed drives every random draw: the same settings and seed give the same run.",
        key=f"seed:{form_key}",
    )
    unit = "months" if base.mode == "ecosystem" else "generations"
    steps = bar.number_input(
        f"Steps ({unit})",
        min_value=1,
        max_value=100_000,
        value=query_int("steps", base.steps, 1, 100_000),
        step=1,
        help=f"How long to simulate, in {unit}.",
        key=f"steps:{form_key}",
    )
    values = lever_widgets(base, form_key)
    extra = bar.text_area(
        "Other settings",
        key=f"extra:{form_key}",
        placeholder="section.key=value, one per line\ne.g. culture.topics=30",
        help="Any scenario field, as `ecosystem run --set` takes it (see the scenario reference "
        "in docs/scenarios.md).",
    )
    pressed = bar.button("Run", type="primary", key="run", width="stretch")
    try:
        overrides = [
            *overrides_from(values, base),
            *(line.strip() for line in extra.splitlines() if line.strip()),
        ]
        resolved = load_scenario(source, [*overrides, f"seed={seed}", f"steps={steps}"])
    except (ScenarioError, ValueError) as error:
        st.error(f"These settings cannot run: {error}", icon="⚠️")
        return None
    packaged = uploaded is None and name in available_scenarios()
    sets = [part for override in overrides for part in ("--set", override)]
    scenario_argument = name if packaged else source
    command = shlex.join(
        ["ecosystem", "run", scenario_argument, "--seed", str(seed), "--steps", str(steps), *sets]
    )
    with bar.expander("Same run from the command line"):
        st.code(command, language="bash")
    st.session_state["pending"] = scenario_hash(resolved)
    if store.cached(resolved) is not None and not pressed:
        bar.caption("These settings have run before: Run shows them at once.")
    return (resolved, command) if pressed else None


def query_int(name: str, default: int, low: int, high: int) -> int:
    """An integer from the page address (``?seed=3``), or ``default`` with a message."""
    text = st.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        st.warning(f"Address parameter {name}={text!r} ignored: an integer in [{low}, {high}].")
        return default
    return value


def lever_widgets(base, form_key: str) -> dict:
    """One widget per lever, grouped in expanders, with the schema's bounds and help."""
    values = {}
    group = None
    container = None
    for field in lever_fields(base):
        if field.group != group:
            group = field.group
            container = st.sidebar.expander(group, expanded=group == "Policy levers")
        key = f"{form_key}:{field.path}"
        if field.kind == "bool":
            values[field.path] = container.checkbox(
                field.label, value=field.value, help=field.help, key=key
            )
        elif field.kind == "choice":
            options = list(field.choices)
            values[field.path] = container.selectbox(
                field.label, options, index=options.index(field.value), help=field.help, key=key
            )
        elif field.kind in ("int", "float"):
            cast = int if field.kind == "int" else float
            values[field.path] = cast(
                container.number_input(
                    field.label,
                    min_value=None if field.minimum is None else cast(field.minimum),
                    max_value=None if field.maximum is None else cast(field.maximum),
                    value=cast(field.value),
                    step=cast(field.step) if field.step is not None else None,
                    format="%g" if cast is float else None,
                    help=field.help,
                    key=key,
                )
            )
        else:
            values[field.path] = container.text_input(
                field.label, value=str(field.value), help=field.help, key=key
            )
    return values


def run(store: RunStore, request) -> None:
    """Start (or fetch) the requested run; the page then follows it until it ends."""
    scenario, command = request
    if store.cached(scenario) is not None:
        show_run(store.cached(scenario))
        return
    job = store.submit(scenario, command=command)
    st.session_state["following"] = scenario_hash(scenario)
    follow(job)


def follow(job: RunJob) -> None:
    """Progress bar and live chart of a run in the background, until it ends. The run goes
    on if the page reloads (a changed widget, another tab): the page picks it up again."""
    scenario = job.scenario
    bar = st.progress(0.0, text=f"Starting {scenario.name} (seed {scenario.seed})…")
    chart = st.empty()
    drawn = 0
    every = max(1, scenario.steps // LIVE_REDRAWS)
    while True:
        ended = job.wait(0.25)
        step = job.step
        elapsed = job.elapsed
        if step >= 0:
            bar.progress(
                min(step / scenario.steps, 1.0),
                text=f"Step {step} of {scenario.steps} · {elapsed:.0f} s",
            )
        if step >= 0 and (step - drawn >= every or ended):
            chart.line_chart(live_series(job.steps), height=260)
            drawn = step
        if ended:
            break
    bar.empty()
    chart.empty()
    st.session_state.pop("following", None)
    if job.error is not None:
        st.error(f"The run failed: {type(job.error).__name__}: {job.error}", icon="🛑")
        return
    show_run(job.result)
    st.toast(f"{job.result.label}: done")


def show_run(result: RunResult) -> None:
    """Make ``result`` the run the tabs show, and the first of this session's runs."""
    history = st.session_state.setdefault("history", [])
    directory = str(result.directory)
    if directory in history:
        history.remove(directory)
    history.insert(0, directory)
    st.session_state["current"] = directory


def show_results(store: RunStore) -> None:
    """Headline numbers and the tabs of the current run."""
    current = st.session_state.get("current")
    if current is None:
        st.info("Nothing run yet: choose a scenario in the sidebar and press **Run**.")
        (uncertainty,) = st.tabs(["Uncertainty"])
        with uncertainty:
            uncertainty_tab()
        return
    result = store.load(current)
    if result.manifest.get("scenario_hash") != st.session_state.get("pending"):
        st.info("The settings in the sidebar have changed since this run: press **Run**.")
    st.subheader(f"{result.label}")
    show_headlines(result)
    names = [*TABS, "Documents", "Pictures", "Network", "Compare", "Uncertainty", "Export"]
    tabs = dict(zip(names, st.tabs(names), strict=True))
    axis = x_axis(result.manifest)
    for name, groups in TABS.items():
        with tabs[name]:
            st.markdown(TAB_NOTES[name])
            by_generation = tab(name).by_generation
            if by_generation:
                figure = generation_figure(result.frame, by_generation)
                if figure is not None:
                    st.plotly_chart(figure, width="stretch", key=f"{name}-generations")
            shown = 0
            for number, series in enumerate(groups):
                figure = tab_figure(result.frame, series, x=axis)
                if figure is not None:
                    shown += 1
                    st.plotly_chart(figure, width="stretch", key=f"{name}-{number}")
            if not shown:
                st.info(
                    "This run has none of these series: lab runs have one model and its "
                    "training data, no web, creators or companies."
                )
    with tabs["Documents"]:
        documents_tab(result)
    with tabs["Pictures"]:
        pictures_tab(result)
    with tabs["Network"]:
        network_tab(store, result)
    with tabs["Compare"]:
        compare_tab(store, result)
    with tabs["Uncertainty"]:
        uncertainty_tab()
    with tabs["Export"]:
        export_tab(result)


def show_headlines(result: RunResult) -> None:
    """Four numbers at the end of the run, with their change since step 0."""
    numbers = headlines(result.frame)
    for column, number in zip(st.columns(max(len(numbers), 1)), numbers, strict=False):
        column.metric(
            number.label, number.value, number.change, delta_color="off", help=number.help
        )


@st.cache_resource(show_spinner=False, max_entries=16)
def cached_network_figure(_store: RunStore, directory: str):
    """The network figure of a run directory, laid out once per server."""
    result = _store.load(directory)
    return network_figure(result.network, seed=int(result.manifest.get("seed", 0)))


def network_tab(store: RunStore, result: RunResult) -> None:
    """The sampled link graph of the final web and who wrote it."""
    if result.network is None:
        st.info("Only ecosystem runs that finished keep a sample of their web.")
        return
    nodes = result.network.nodes
    st.markdown(
        f"A sample of **{len(nodes)} pages** alive at the end of the run (the most visited "
        "tenth, then pages linking to them, drawn at random) and the "
        f"**{len(result.network.links)} links** among them, drawn with a "
        "spring layout. Colour: who wrote the page; size: its traffic (visits per month)."
    )
    st.plotly_chart(
        cached_network_figure(store, str(result.directory)),
        width="stretch",
        key="network",
    )
    counts = nodes.groupby("origin").agg(pages=("page", "size"), traffic=("traffic", "sum"))
    counts["traffic share"] = counts["traffic"] / counts["traffic"].sum()
    st.dataframe(counts[["pages", "traffic share"]], width="content")


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
        st.markdown(f"**{scope}**{suffix}")
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


def compare_tab(store: RunStore, result: RunResult) -> None:
    """Runs side by side: chosen runs, scope and series, and their end-of-run means."""
    st.markdown(
        "Overlay this session's runs, earlier runs kept by this app, or any run directory "
        "(from `ecosystem run` or `ecosystem compare`)."
    )
    known = dict(store.finished())
    for directory in st.session_state.get("history", []):
        known.setdefault(store.load(directory).label, directory)
    for directory in st.session_state.get("loaded", []):
        known.setdefault(store.load(directory).label, directory)
    path = st.text_input(
        "Add a run directory, or a compare or sweep directory (all its runs)",
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
            for run in loaded:
                st.session_state.setdefault("loaded", []).append(str(run.directory))
                known[run.label] = str(run.directory)
            st.success(f"Added {len(loaded)} run{'s' if len(loaded) > 1 else ''}.")
    chosen = st.multiselect(
        "Runs",
        list(known),
        default=[result.label] if result.label in known else [],
        key="compare_runs",
    )
    if not chosen:
        st.info("Choose one or more runs.")
        return
    runs = [store.load(known[label]) for label in chosen]
    frame = pd.concat(
        [r.frame.assign(label=r.label, scenario=r.label) for r in runs], ignore_index=True
    )
    scopes = sorted(pd.unique(frame["scope"]))
    scope = st.selectbox(
        "Scope", scopes, index=scopes.index("web") if "web" in scopes else 0, key="compare_scope"
    )
    metrics = sorted(pd.unique(frame.loc[frame["scope"] == scope, "metric"]))
    defaults = [m for m in ("synthetic_share", "precision", "recall") if m in metrics]
    picked = st.multiselect("Series", metrics, default=defaults, key="compare_metrics")
    axes = {r.label: x_axis(r.manifest) for r in runs}
    if len({axis.label for axis in axes.values()}) > 1:
        axes = None  # months and generations do not share an axis: plot steps
    figure = overlay_figure(frame, scope, picked, x=axes)
    if figure is not None:
        st.plotly_chart(figure, width="stretch", key="compare-figure")
    end = end_of_run(frame[frame["scope"] == scope])
    table = end[end["metric"].isin(picked)].pivot_table(
        index="metric", columns="scenario", values="value"
    )
    st.markdown(f"Mean over the last {DEFAULT_WINDOW} steps of each run (fewer if it is shorter):")
    st.dataframe(table, width="stretch")


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


def export_tab(result: RunResult) -> None:
    """Downloads: the series, the manifest, the figures and the report."""
    manifest = result.manifest
    stem = f"{manifest.get('scenario')}-s{manifest.get('seed')}"
    st.markdown(
        f"The tidy time series has one row per step, scope and metric "
        f"({len(result.frame):,} rows). The run directory is `{result.directory}`."
    )
    st.dataframe(result.frame.head(200), width="stretch", height=240)
    parquet = io.BytesIO()
    result.frame.to_parquet(parquet, index=False)
    columns = st.columns(5)
    columns[0].download_button(
        "Time series (CSV)",
        result.frame.to_csv(index=False).encode(),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key="download_csv",
    )
    columns[1].download_button(
        "Time series (Parquet)",
        parquet.getvalue(),
        file_name=f"{stem}.parquet",
        mime="application/octet-stream",
        key="download_parquet",
    )
    columns[2].download_button(
        "Manifest (JSON)",
        json.dumps(manifest, indent=2).encode(),
        file_name=f"{stem}-manifest.json",
        mime="application/json",
        key="download_manifest",
    )
    columns[3].download_button(
        "Figures (PNG + HTML, zip)",
        functools.partial(figures_zip, result.frame, manifest),
        file_name=f"{stem}-figures.zip",
        mime="application/zip",
        key="download_figures",
    )
    columns[4].download_button(
        "Report (HTML)",
        functools.partial(report_html, str(result.directory)),
        file_name=f"{stem}-report.html",
        mime="text/html",
        key="download_report",
        help="The `ecosystem report` of this run: one self-contained page with figures, "
        "end-of-run table and provenance.",
    )


def report_html(directory: str) -> bytes:
    """The run's `ecosystem report` page, written into its run directory."""
    return write_report(directory).page.read_bytes()


main()
