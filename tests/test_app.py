"""The explorer app's main flows, driven headless with streamlit.testing.v1.AppTest."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.proto.Metric_pb2 import Metric as MetricProto
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TIMEOUT = 240
POLL_S = 0.3


def _new_app(tmp_path, monkeypatch, **params) -> AppTest:
    monkeypatch.setenv("ECOSYSTEM_SCENARIOS", str(ROOT / "tests" / "data"))
    monkeypatch.setenv("ECOSYSTEM_APP_RUNS", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"scenario": "tiny-web", **params})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The app on the tiny scenario, one seed, its runs kept under ``tmp_path``."""
    return _new_app(tmp_path, monkeypatch, seeds="1")


def _settle(at: AppTest, limit: float = TIMEOUT) -> AppTest:
    """Rerun the page until no run, study or export shows progress (what the browser's
    timed redraws do)."""
    deadline = time.monotonic() + limit
    while at.get("progress"):
        assert time.monotonic() < deadline, "still running"
        time.sleep(POLL_S)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def _run(at: AppTest) -> AppTest:
    at.button(key="run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return _settle(at)


def _widget(widgets, label: str):
    found = [w for w in widgets if w.label.startswith(label)]
    assert found, f"no widget labelled {label!r}: {[w.label for w in widgets]}"
    return found[0]


def _tab(at, label: str):
    (found,) = [tab for tab in at.tabs if tab.label == label]
    return found


def _runs(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "runs").glob("*") if (p / "manifest.json").exists())


def _summary(at: AppTest) -> str:
    return next(c.value for c in at.sidebar.caption if c.value.startswith("**"))


ECOSYSTEM_TABS = [
    "Quality and diversity",
    "Web composition",
    "Creators and money",
    "Companies",
    "Knowledge",
    "Documents",
    "Pictures",
    "Network",
    "Compare",
    "Lever study",
    "Uncertainty",
    "Export",
]


# --------------------------------------------------------------------- the sidebar


def test_opens_on_the_chosen_scenario_with_run_on_top_and_levers_as_switches(app):
    assert app.selectbox(key="scenario").value == "tiny-web"
    assert "Tiny baseline" in " ".join(c.value for c in app.sidebar.caption)
    assert app.sidebar.button[0].label == "Run"
    groups = [e.label for e in app.sidebar.expander]
    assert {"Policy levers", "AI companies", "Creators", "Readers", "Web"} <= set(groups)
    switches = [t.label for t in app.sidebar.toggle][:6]
    assert switches == [
        "Detection",
        "Watermarks",
        "Provenance",
        "Opt-out enforced",
        "Licensing",
        "Cap",
    ]
    assert "No policy lever on" in _summary(app)
    assert [t.label for t in app.tabs] == ECOSYSTEM_TABS
    assert any("Nothing run yet" in i.value for i in _tab(app, "Quality and diversity").info)


def test_scenario_choices_carry_their_descriptions(app):
    picker = app.selectbox(key="scenario")
    assert "—" in picker.format_func("baseline")
    assert "Tiny baseline" in picker.format_func("tiny-web")


def test_default_is_the_baseline_two_years_three_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOSYSTEM_APP_RUNS", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert at.selectbox(key="scenario").value == "baseline"
    assert at.number_input(key="steps").value == 24
    assert at.number_input(key="seeds").value == 3
    full = at.button(key="full_length")
    assert full.label == "Full length: 120 months"
    full.click().run()
    assert at.number_input(key="steps").value == 120


def test_a_switched_on_lever_shows_its_strengths_and_the_summary_names_it(app):
    assert not [s for s in app.sidebar.slider if s.label.startswith("Share of fully AI pages")]
    _widget(app.sidebar.toggle, "Detection").set_value(True).run()
    tpr = _widget(app.sidebar.slider, "Share of fully AI pages the detector flags")
    assert tpr.value == pytest.approx(0.95) and tpr.min == 0.0 and tpr.max == 1.0
    assert "true positive rate" in tpr.help
    assert "Levers on: Detection" in _summary(app)
    assert "--set policy.detection.enabled=true" in app.sidebar.code[0].value
    _widget(app.sidebar.toggle, "Cap").set_value(True).run()
    assert "Cap 0.25" in _summary(app)  # the packaged policy-cap scenario's cap
    cap = _widget(app.sidebar.slider, "Most the companies' pages")
    cap.set_value(0.4).run()
    assert "Cap 0.4" in _summary(app)
    _widget(app.sidebar.toggle, "Detection").set_value(False).run()
    assert "Detection" not in _summary(app)
    assert "policy.detection" not in app.sidebar.code[0].value


def test_companies_are_one_table_and_schedules_are_dated_points_with_a_preview(app):
    def expander(label):
        (found,) = [e for e in app.sidebar.expander if e.label == label]
        return found

    (companies,) = expander("AI companies").dataframe
    table = companies.value
    assert list(table.index) == ["alpha", "beta", "gamma", "delta"]
    assert {"bias", "archive_share", "crawler.name", "data"} <= set(table.columns)
    readers = expander("Readers")
    schedules = [frame.value for frame in readers.dataframe]
    assert len(schedules) == 2 and all(list(f.columns) == ["month", "share"] for f in schedules)
    charts = [c for c in readers.children.values() if getattr(c, "type", "") == "vega_lite_chart"]
    assert len(charts) == 2  # a preview of each schedule over the run's months


def test_lever_widgets_carry_plain_labels_from_the_schema(app):
    labels = [w.label for w in [*app.sidebar.number_input, *app.sidebar.slider]]
    assert "Active human creators at step 0 (creators)" in labels
    assert not [label for label in labels if "›" in label or "_" in label]


def test_every_setting_is_in_the_address_and_a_new_page_restores_it(app, tmp_path, monkeypatch):
    _widget(app.sidebar.toggle, "Detection").set_value(True).run()
    app.number_input(key="steps").set_value(3).run()
    app.number_input(key="seed").set_value(4).run()
    params = app.query_params
    assert params["scenario"] == "tiny-web" and params["steps"] == "3"
    assert params["seed"] == "4" and params["seeds"] == "1"
    sets = params["set"] if isinstance(params["set"], list) else [params["set"]]
    assert "policy.detection.enabled=true" in sets
    again = _new_app(tmp_path, monkeypatch, steps="3", seed="4", seeds="1", set=sets)
    assert again.number_input(key="steps").value == 3
    assert again.number_input(key="seed").value == 4
    assert _widget(again.sidebar.toggle, "Detection").value is True
    assert app.sidebar.code[0].value == again.sidebar.code[0].value


def test_changing_the_scenario_and_back_keeps_length_seed_and_levers(app):
    app.number_input(key="steps").set_value(4).run()
    app.number_input(key="seed").set_value(2).run()
    _widget(app.sidebar.toggle, "Cap").set_value(True).run()
    app.selectbox(key="scenario").set_value("small-policy").run()
    assert app.number_input(key="steps").value == 4
    assert app.number_input(key="seed").value == 2
    app.selectbox(key="scenario").set_value("tiny-web").run()
    assert app.number_input(key="steps").value == 4
    assert _widget(app.sidebar.toggle, "Cap").value is True
    assert "Cap 0.25" in _summary(app)


def test_a_bad_address_scenario_says_so(tmp_path, monkeypatch):
    at = _new_app(tmp_path, monkeypatch, scenario="nosuch")
    warnings = " ".join(w.value for w in at.warning)
    assert "scenario='nosuch' ignored" in warnings and "baseline" in warnings
    assert at.selectbox(key="scenario").value == "baseline"


def test_bad_address_numbers_are_ignored_with_a_warning(tmp_path, monkeypatch):
    at = _new_app(tmp_path, monkeypatch, seed="abc", steps="0")
    warnings = " ".join(w.value for w in at.warning)
    assert "seed='abc' ignored" in warnings and "steps='0' ignored" in warnings
    assert at.number_input(key="steps").value == 6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("culture.topics=1", "culture.topics"),
        ("policy.nonsense=1", "nonsense"),
    ],
)
def test_bad_settings_show_a_message_not_a_traceback(app, tmp_path, text, message):
    _widget(app.text_area, "Other settings").set_value(text)
    app.run()
    app.button(key="run").click().run()
    errors = [e.value for e in app.error]
    assert errors and message in errors[0]
    assert errors[0].startswith("These settings cannot run")
    assert _runs(tmp_path) == []


# --------------------------------------------------------------------- runs


@pytest.mark.slow
def test_run_renders_every_tab_with_charts_and_coloured_headlines(app, tmp_path):
    _run(app)
    assert [tab.label for tab in app.tabs] == ECOSYSTEM_TABS
    for tab in app.tabs:
        if tab.label in ("Quality and diversity", "Web composition", "Creators and money"):
            assert tab.get("plotly_chart"), f"{tab.label} shows no chart"
    figure = json.loads(_tab(app, "Web composition").get("plotly_chart")[0].proto.spec)
    titles = {a["text"] for a in figure["layout"]["annotations"]}
    assert {"synthetic share", "detected share"} <= titles
    names = {trace.get("name") for trace in figure["data"]}
    assert {"whole web", "new pages"} <= names
    assert len(_runs(tmp_path)) == 1
    (runs,) = [e for e in app.sidebar.expander if e.label == "Runs of this app"]
    assert [c.value for c in runs.caption] == ["1 kept, newest first:", app.subheader[0].value]
    first = app.metric[0]
    assert first.label == "AI-written share of the web"
    assert first.value != "0.000" and first.delta.startswith("+")
    assert first.proto.color == MetricProto.RED  # more AI-written pages: worse for the web
    quiet = " ".join(c.value for c in _tab(app, "Web composition").caption)
    assert "not active in this run" in quiet and "watermarked share" in quiet
    title = app.subheader[0].value
    assert title.split(" · ")[-1] == _runs(tmp_path)[0].name.rsplit("-", 1)[-1]


@pytest.mark.slow
def test_several_seeds_give_bands_and_a_mean_headline(tmp_path, monkeypatch):
    at = _new_app(tmp_path, monkeypatch, seeds="2", steps="3")
    _run(at)
    assert len(_runs(tmp_path)) == 2
    assert "seeds 0–1 (2 runs)" in at.subheader[0].value
    assert "Mean of 2 seeds" in at.metric[0].help
    figure = json.loads(_tab(at, "Quality and diversity").get("plotly_chart")[0].proto.spec)
    assert any("95% band" in (trace.get("name") or "") for trace in figure["data"])


@pytest.mark.slow
def test_same_settings_run_once_and_a_new_page_shows_them_at_once(app, tmp_path, monkeypatch):
    _run(app)
    first = _runs(tmp_path)
    stamp = (first[0] / "manifest.json").stat().st_mtime_ns
    _run(app)
    assert _runs(tmp_path) == first
    assert (first[0] / "manifest.json").stat().st_mtime_ns == stamp
    again = _new_app(tmp_path, monkeypatch, seeds="1")
    assert again.metric, "a new page with the same settings shows their results at once"


@pytest.mark.slow
def test_a_run_that_fails_shows_a_message(app, tmp_path, failing_fit):
    _widget(app.text_area, "Other settings").set_value(failing_fit.override)
    app.run()
    _run(app)
    errors = [e.value for e in app.error]
    assert (
        errors
        and errors[0].startswith("The run failed: ValueError")
        and failing_fit.error in errors[0]
    )
    (directory,) = [p for p in (tmp_path / "runs").iterdir() if (p / "manifest.json").exists()]
    assert json.loads((directory / "manifest.json").read_text())["status"] == "failed"


# --------------------------------------------------------------------- compare


@pytest.mark.slow
def test_compare_names_runs_by_what_differs_with_the_effect_against_a_base(tmp_path, monkeypatch):
    at = _new_app(tmp_path, monkeypatch, seeds="2", steps="3")
    _run(at)
    _widget(at.sidebar.toggle, "Detection").set_value(True).run()
    _run(at)
    compare = _tab(at, "Compare")
    picker = compare.multiselect[0]
    assert len(picker.value) == 2, "the last two settings run are chosen"
    assert _widget(compare.selectbox, "Base").options == ["detection off", "detection on"]
    tables = compare.dataframe
    differs = tables[0].value
    assert list(differs.index) == ["detection"]
    assert list(differs.columns) == ["field", "detection off", "detection on"]
    clear = " ".join(m.value for m in compare.markdown)
    assert "Clear changes beyond the key outcomes" in clear and "training set alpha" in clear
    effects = tables[1].value
    assert {"outcome", "base", "value", "Δ", "Δ %", "p", "verdict"} <= set(effects.columns)
    assert "whole web: synthetic share" in set(effects["outcome"])
    assert set(effects["seeds"]) == {2}
    figure = json.loads(compare.get("plotly_chart")[0].proto.spec)
    names = {t.get("name") for t in figure["data"] if t.get("mode") == "lines"}
    assert names == {"detection off", "detection on"}
    at.selectbox(key="compare_scope").set_value("training:alpha").run()
    assert not at.exception


def test_loading_a_missing_run_directory_shows_a_message(app):
    app.text_input(key="load_path").set_value("/nowhere/at/all")
    app.button(key="load").click().run()
    assert any("Cannot load" in e.value for e in app.error)
    assert not app.exception


# --------------------------------------------------------------------- lever study


@pytest.mark.slow
def test_a_one_lever_study_plots_each_outcome_against_the_value(tmp_path, monkeypatch):
    at = _new_app(tmp_path, monkeypatch, seeds="1", steps="2")
    at.selectbox(key="study_setting").set_value("policy.cap.ai_share_max").run()
    at.text_input(key="study_values:policy.cap.ai_share_max").set_value("1.0, 0.2").run()
    code = _tab(at, "Lever study").code[0].value
    assert code.startswith("ecosystem sweep") and "--grid policy.cap.ai_share_max=1.0,0.2" in code
    at.button(key="study_start").click().run()
    _settle(at)
    (sweep,) = (tmp_path / "runs" / "studies").glob("*/sweep.json")
    record = json.loads(sweep.read_text())
    assert len(record["runs"]) == 2 and {r["status"] for r in record["runs"]} == {"complete"}
    figure = json.loads(_tab(at, "Lever study").get("plotly_chart")[0].proto.spec)
    xs = {x for trace in figure["data"] for x in (trace.get("x") or [])}
    assert {0.2, 1.0} <= xs


# --------------------------------------------------------------------- export


@pytest.mark.slow
def test_downloads_carry_the_data_and_the_zip_is_built_in_the_background(app, monkeypatch):
    stored: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        if filename:
            data = path_or_data if isinstance(path_or_data, bytes) else b""
            stored[filename] = data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    _run(app)
    labels = [b.label for b in app.get("download_button")]
    assert labels == ["Time series (CSV)", "Time series (Parquet)", "Manifest (JSON)"]
    csv = pd.read_csv(io.BytesIO(stored["tiny-web-s0.csv"]))
    parquet = pd.read_parquet(io.BytesIO(stored["tiny-web-s0.parquet"]))
    manifest = json.loads(stored["tiny-web-s0-manifest.json"])
    assert len(csv) == len(parquet) > 0
    assert set(csv.columns) >= {"seed", "step", "scope", "metric", "value"}
    assert manifest["scenario"] == "tiny-web" and manifest["status"] == "complete"
    app.button(key="prepare_zip").click().run()
    _settle(app)
    labels = [b.label for b in app.get("download_button")]
    assert "Figures (PNG + HTML, zip)" in labels
    assert stored["tiny-web-s0-figures.zip"][:2] == b"PK"
    app.button(key="prepare_report").click().run()
    _settle(app)
    assert "Report (HTML)" in [b.label for b in app.get("download_button")]
    assert b"<html" in stored["tiny-web-s0-report.html"][:500].lower()


# --------------------------------------------------------------------- other worlds


@pytest.mark.slow
def test_a_lab_scenario_shows_only_its_tabs_with_lab_texts(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOSYSTEM_APP_RUNS", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"scenario": "mad-fully-synthetic", "steps": "2", "seeds": "1"})
    at.run()
    assert "Lab loop" in [e.label for e in at.sidebar.expander]
    assert not at.sidebar.toggle or "Detection" not in [t.label for t in at.sidebar.toggle]
    _run(at)
    assert [t.label for t in at.tabs] == [
        "Quality and diversity",
        "Compare",
        "Lever study",
        "Uncertainty",
        "Export",
    ]
    assert next(m.label for m in at.metric) == "Model quality (precision)"
    quality = _tab(at, "Quality and diversity")
    assert quality.get("plotly_chart")
    note = quality.markdown[0].value
    assert "One model retrained" in note and "each company" not in note


@pytest.mark.slow
def test_a_text_run_shows_its_documents_and_exports(tmp_path, monkeypatch):
    app = _new_app(tmp_path, monkeypatch, scenario="tiny-text-web", seeds="1")
    _run(app)
    documents = _tab(app, "Documents")
    slider = app.select_slider(key="documents-step")
    assert slider.options == ["0", "1", "6"]  # the first steps and the last of 6
    texts = [t.value for t in documents.text]
    assert len(texts) >= 3 * 5 and all(len(t.split()) >= 1 for t in texts)
    scopes = " ".join(m.value for m in documents.markdown)
    assert "web_new" in scopes and "company:alpha" in scopes and "new pages" in scopes
    slider.set_value(0).run()
    assert not app.exception
    assert next(b.label for b in app.get("download_button")) == "Time series (CSV)"


@pytest.mark.slow
def test_a_digits_run_shows_its_pictures(tmp_path, monkeypatch):
    app = _new_app(tmp_path, monkeypatch, scenario="tiny-digits-web", steps="2", seeds="1")
    _run(app)
    pictures = _tab(app, "Pictures")
    images = [c for c in pictures.children.values() if type(c).__name__ == "Image"]
    assert images, "the Pictures tab shows no image"
    assert any("Only text-world runs" in i.value for i in _tab(app, "Documents").info)
    assert _tab(app, "Quality and diversity").get("plotly_chart")


@pytest.mark.slow
def test_the_network_view_colours_by_topic_on_request(app):
    _run(app)
    network = _tab(app, "Network")
    assert "whole web" in network.markdown[0].value
    app.radio(key="network_colour").set_value("topic").run()
    figure = json.loads(_tab(app, "Network").get("plotly_chart")[0].proto.spec)
    assert "topic" in figure["layout"]["legend"]["title"]["text"]
