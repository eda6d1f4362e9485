"""The explorer app's main flows, driven headless with streamlit.testing.v1.AppTest."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TIMEOUT = 240


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The app with the test scenarios listed and its runs kept under ``tmp_path``."""
    monkeypatch.setenv("ECOSYSTEM_SCENARIOS", str(ROOT / "tests" / "data"))
    monkeypatch.setenv("ECOSYSTEM_APP_RUNS", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["scenario"] = "tiny-web"
    at.run()
    assert not at.exception
    return at


def _run(at: AppTest) -> AppTest:
    at.button(key="run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _widget(widgets, label: str):
    found = [w for w in widgets if w.label.startswith(label)]
    assert found, f"no widget labelled {label!r}"
    return found[0]


def _tab(at, label: str):
    (found,) = [tab for tab in at.tabs if tab.label == label]
    return found


def _runs(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "runs").glob("*") if (p / "manifest.json").exists())


def test_opens_on_the_chosen_scenario_with_nothing_run(app):
    assert app.selectbox(key="scenario").value == "tiny-web"
    assert "Tiny baseline" in " ".join(c.value for c in app.sidebar.caption)
    assert any("Nothing run yet" in i.value for i in app.info)
    groups = [e.label for e in app.sidebar.expander]
    assert {"Policy levers", "AI companies", "Creators", "Readers", "Web"} <= set(groups)


def test_default_scenario_is_the_baseline(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOSYSTEM_APP_RUNS", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert at.selectbox(key="scenario").value == "baseline"
    assert _widget(at.number_input, "Steps (months)").value == 120


def test_lever_widgets_carry_schema_bounds_and_help(app):
    tpr = _widget(app.number_input, "detection › tpr")
    assert tpr.value == pytest.approx(0.95)
    assert tpr.min == 0.0 and tpr.max == 1.0
    assert "true positive rate" in tpr.help
    crawler = _widget(app.selectbox, "alpha › crawler › name")
    assert set(crawler.options) == {"uniform", "popularity", "links"}


@pytest.mark.slow
def test_run_renders_every_tab_with_charts(app, tmp_path):
    _run(app)
    labels = [tab.label for tab in app.tabs]
    assert labels == [
        "Quality and diversity",
        "Web composition",
        "Creators and money",
        "Companies",
        "Knowledge",
        "Documents",
        "Pictures",
        "Network",
        "Compare",
        "Uncertainty",
        "Export",
    ]
    for tab in app.tabs:
        if tab.label not in ("Documents", "Pictures", "Uncertainty", "Export"):
            assert tab.get("plotly_chart"), f"{tab.label} shows no chart"
    figure = json.loads(_tab(app, "Web composition").get("plotly_chart")[0].proto.spec)
    titles = {a["text"] for a in figure["layout"]["annotations"]}
    assert {"synthetic share", "detected share"} <= titles
    names = {trace.get("name") for trace in figure["data"]}
    assert {"whole web", "new pages"} <= names
    assert len(_runs(tmp_path)) == 1
    assert next(m.label for m in app.metric) == "AI-written share of the web"


@pytest.mark.slow
def test_changing_a_lever_runs_that_scenario(app, tmp_path):
    _widget(app.checkbox, "detection › enabled").check()
    _widget(app.number_input, "Steps").set_value(3)
    app.run()
    code = app.sidebar.code[0].value
    assert "--set policy.detection.enabled=true" in code and "--steps 3" in code
    assert "tiny-web.toml" in code  # not a packaged scenario: its path
    _run(app)
    (directory,) = _runs(tmp_path)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["resolved_scenario"]["policy"]["detection"]["enabled"] is True
    assert manifest["steps_completed"] == 4


@pytest.mark.slow
def test_same_settings_run_once(app, tmp_path):
    _run(app)
    first = _runs(tmp_path)
    stamp = (first[0] / "manifest.json").stat().st_mtime_ns
    _run(app)
    assert _runs(tmp_path) == first
    assert (first[0] / "manifest.json").stat().st_mtime_ns == stamp
    assert not any("changed since" in i.value for i in app.info)


def test_download_buttons_carry_the_data(app, monkeypatch):
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
    assert labels == [
        "Time series (CSV)",
        "Time series (Parquet)",
        "Manifest (JSON)",
        "Figures (PNG + HTML, zip)",
        "Report (HTML)",
    ]
    csv = pd.read_csv(io.BytesIO(stored["tiny-web-s0.csv"]))
    parquet = pd.read_parquet(io.BytesIO(stored["tiny-web-s0.parquet"]))
    manifest = json.loads(stored["tiny-web-s0-manifest.json"])
    assert len(csv) == len(parquet) > 0
    assert set(csv.columns) >= {"step", "scope", "metric", "value"}
    assert manifest["scenario"] == "tiny-web" and manifest["status"] == "complete"
    web = parquet[(parquet["scope"] == "web") & (parquet["metric"] == "synthetic_share")]
    assert web["step"].max() == 6


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
    _run(app)
    errors = [e.value for e in app.error]
    assert errors and message in errors[0]
    assert errors[0].startswith("These settings cannot run")
    assert _runs(tmp_path) == []


def test_bad_schedule_text_shows_a_message(app):
    _widget(app.text_input, "chat share").set_value("soon")
    app.run()
    errors = [e.value for e in app.error]
    assert errors and "attention.chat_share" in errors[0]
    assert not app.exception


@pytest.mark.slow
def test_compare_overlays_two_runs(app):
    _run(app)
    _widget(app.number_input, "Seed").set_value(1)
    app.run()
    _run(app)
    compare = _tab(app, "Compare")
    picker = compare.multiselect(key="compare_runs")
    picker.set_value(picker.options[:2]).run()
    figure = json.loads(_tab(app, "Compare").get("plotly_chart")[0].proto.spec)
    names = {trace.get("name") for trace in figure["data"] if trace.get("mode") == "lines"}
    assert len(names) == 2 and all("tiny-web · seed" in n for n in names)
    assert _tab(app, "Compare").dataframe


def test_loading_a_missing_run_directory_shows_a_message(app):
    _run(app)
    app.text_input(key="load_path").set_value("/nowhere/at/all")
    app.button(key="load").click().run()
    assert any("Cannot load" in e.value for e in app.error)
    assert not app.exception


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
    (directory,) = [p for p in (tmp_path / "runs").iterdir()]
    assert json.loads((directory / "manifest.json").read_text())["status"] == "failed"


def test_bad_address_parameters_are_ignored_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOSYSTEM_SCENARIOS", str(ROOT / "tests" / "data"))
    monkeypatch.setenv("ECOSYSTEM_APP_RUNS", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"scenario": "tiny-web", "seed": "abc", "steps": "0"})
    at.run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "seed='abc' ignored" in warnings and "steps='0' ignored" in warnings
    assert _widget(at.number_input, "Steps").value == 6


@pytest.mark.slow
def test_a_lab_scenario_runs_and_shows_its_model(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOSYSTEM_APP_RUNS", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"scenario": "mad-fully-synthetic", "steps": "2"})
    at.run()
    assert next(e.label for e in at.sidebar.expander) == "Lab loop"
    _run(at)
    assert next(m.label for m in at.metric) == "Model quality (precision)"
    quality = _tab(at, "Quality and diversity").get("plotly_chart")
    assert quality
    assert any("no web, creators or companies" in i.value for i in _tab(at, "Web composition").info)
    assert any("Only text-world runs" in i.value for i in _tab(at, "Documents").info)
    assert any("Only digits-world runs" in i.value for i in _tab(at, "Pictures").info)
    assert any("Only ecosystem runs" in i.value for i in _tab(at, "Network").info)


@pytest.mark.slow
def test_a_text_run_shows_its_documents_and_exports(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOSYSTEM_SCENARIOS", str(ROOT / "tests" / "data"))
    monkeypatch.setenv("ECOSYSTEM_APP_RUNS", str(tmp_path / "runs"))
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    app.query_params["scenario"] = "tiny-text-web"
    app.run()
    _run(app)
    documents = _tab(app, "Documents")
    slider = app.select_slider(key="documents-step")
    assert slider.options == ["0", "1", "6"]  # the first steps and the last of 6
    texts = [t.value for t in documents.text]
    assert len(texts) >= 3 * 5 and all(len(t.split()) >= 1 for t in texts)
    scopes = " ".join(m.value for m in documents.markdown)
    assert "web_new" in scopes and "company:alpha" in scopes
    slider.set_value(0).run()
    assert not app.exception
    assert next(b.label for b in app.get("download_button")) == "Time series (CSV)"


@pytest.mark.slow
def test_a_digits_run_shows_its_pictures(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOSYSTEM_SCENARIOS", str(ROOT / "tests" / "data"))
    monkeypatch.setenv("ECOSYSTEM_APP_RUNS", str(tmp_path / "runs"))
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    app.query_params.update({"scenario": "tiny-digits-web", "steps": "2"})
    app.run()
    _run(app)
    assert not app.exception
    pictures = _tab(app, "Pictures")
    images = [c for c in pictures.children.values() if type(c).__name__ == "Image"]
    assert images, "the Pictures tab shows no image"
    assert any("Only text-world runs" in i.value for i in _tab(app, "Documents").info)
    assert _tab(app, "Quality and diversity").get("plotly_chart")
