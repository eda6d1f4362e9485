"""The explorer's widgets from the schema, overrides back, tab figures and the figures zip."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from ecosystem import load_scenario
from ecosystem.experiments.figures import (
    generation_figure,
    network_figure,
    overlay_figure,
    tab_figure,
    x_axis,
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
    plain_label,
    schedule_points,
    schedule_value,
    tabs_for,
)
from ecosystem.runs.cache import RunStore
from ecosystem.scenario import describe_fields

TINY = Path(__file__).parent / "data" / "tiny-web.toml"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(TINY)


@pytest.fixture(scope="module")
def result(tmp_path_factory, scenario):
    return RunStore(tmp_path_factory.mktemp("runs")).run(scenario)


def test_fields_come_from_the_schema_with_the_scenarios_values(scenario):
    fields = {f.path: f for f in lever_fields(scenario)}
    bias = fields["companies.alpha.bias"]
    assert bias.kind == "float" and bias.value == scenario.companies["alpha"].bias
    assert bias.minimum > 0.0 and bias.maximum == 1.0  # bias > 0 is exclusive
    assert fields["creators.count"].kind == "int" and fields["creators.count"].value == 60
    assert fields["creators.count"].label == "Active human creators at step 0 (creators)"
    assert fields["policy.opt_out.compliance"].label == "Share of opted-out pages a crawler skips"
    assert fields["policy.watermark.readable_by"].choices == ("issuer", "all")
    assert fields["attention.chat_share"].kind == "schedule"
    assert "Allowed" in fields["policy.detection.tpr"].help
    assert {f.group for f in fields.values()} == {
        "Policy levers",
        "AI companies",
        "Creators",
        "Readers",
        "Web",
    }
    assert "companies.delta.bias" in fields  # disabled companies can be switched on


def test_lab_scenarios_get_the_lab_loop_fields():
    fields = lever_fields(load_scenario("mad-fully-synthetic"))
    assert {f.group for f in fields} == {"Lab loop"}
    assert "lab.bias" in {f.path for f in fields}


def test_unchanged_values_give_no_overrides(scenario):
    values = {f.path: f.value for f in lever_fields(scenario)}
    assert overrides_from(values, scenario) == []


def test_changed_values_round_trip_through_load_scenario(scenario):
    values = {f.path: f.value for f in lever_fields(scenario)}
    values.update(
        {
            "policy.detection.enabled": True,
            "companies.beta.bias": 0.7,
            "policy.watermark.readable_by": "issuer",
            "attention.chat_share": '{"2023-01": 0.1, "2024-01": 0.3}',
            "creators.count": 80,
        }
    )
    overrides = overrides_from(values, scenario)
    assert len(overrides) == 5
    resolved = load_scenario(TINY, overrides)
    assert resolved.policy.detection.enabled is True
    assert resolved.companies["beta"].bias == 0.7
    assert resolved.policy.watermark.readable_by == "issuer"
    assert resolved.attention.chat_share == {"2023-01": 0.1, "2024-01": 0.3}
    assert resolved.creators.count == 80


def test_schedule_text_may_be_a_number_or_toml(scenario):
    values = {"attention.chat_share": "0.25", "attention.ai_answer_share": '{"2024-05" = 0.2}'}
    resolved = load_scenario(TINY, overrides_from(values, scenario))
    assert resolved.attention.chat_share == 0.25
    assert resolved.attention.ai_answer_share == {"2024-05": 0.2}
    with pytest.raises(ValueError, match=r"attention\.chat_share: 'soon' is not a share"):
        overrides_from({"attention.chat_share": "soon"}, scenario)


def test_every_tab_has_figures_with_units(result):
    axis = x_axis(result.manifest)
    for tab, groups in TABS.items():
        figures = [tab_figure(result.frame, series, x=axis) for series in groups]
        drawn = [f for f in figures if f is not None]
        assert drawn, tab
        for figure in drawn:
            titled = [a for a in figure.select_yaxes() if a.title.text]
            assert len(titled) == len(figure.layout.annotations)
    web = tab_figure(result.frame, TABS["Web composition"][0], x=axis)
    names = {trace.name for trace in web.data}
    assert names == {"whole web", "new pages"}
    assert web.layout.title.text.startswith("Who writes the web")
    assert [a.text for a in web.layout.annotations] == [
        "synthetic share",
        "detected share",
        "AI-assisted share",
    ]


def test_company_figures_have_one_line_per_company(result):
    figure = tab_figure(result.frame, TABS["Companies"][0])
    assert {t.name for t in figure.data} == {
        "training set alpha",
        "training set beta",
        "training set gamma",
    }
    generations = generation_figure(result.frame, ["precision", "recall"])
    assert {t.name for t in generations.data} == {"model alpha", "model beta", "model gamma"}
    assert generations.layout.xaxis.title.text == "model generation"


def test_network_figure_colours_by_origin(result):
    figure = network_figure(result.network, seed=0)
    names = [t.name for t in figure.data]
    assert names[0] == "links"
    assert any(name.startswith("human (") for name in names)
    pages = sum(len(t.x) for t in figure.data[1:] if t.legend != "legend2")
    assert pages == len(result.network.nodes)


def test_overlay_draws_one_line_per_run(result, tmp_path, scenario):
    other = RunStore(tmp_path).run(scenario.model_copy(update={"seed": 1}))
    frame = __import__("pandas").concat(
        [r.frame.assign(label=r.label) for r in (result, other)], ignore_index=True
    )
    figure = overlay_figure(frame, "web", ["recall"], x=x_axis(result.manifest))
    assert {t.name for t in figure.data} == {result.label, other.label}
    assert overlay_figure(frame, "nowhere", ["recall"], x=None) is None


def test_figures_zip_holds_pngs_one_html_and_the_manifest(result):
    data = figures_zip(result.frame, result.manifest)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert "manifest.json" in names and "figures.html" in names
        pngs = [n for n in names if n.endswith(".png")]
        assert len(pngs) == sum(len(g) for g in TABS.values()) - 1  # no lab-scope panels
        assert archive.read(pngs[0])[:8] == b"\x89PNG\r\n\x1a\n"
        html = archive.read("figures.html").decode()
        assert html.count("Plotly.newPlot") == len(pngs)
        assert json.loads(archive.read("manifest.json"))["scenario"] == "tiny-web"
    assert len(data) < 8_000_000


def test_headlines_and_live_series_of_an_ecosystem_run(result):
    numbers = headlines(result.frame)
    assert [n.label for n in numbers] == [
        "AI-written share of the web",
        "Web diversity (recall)",
        "Web quality (precision)",
        "Active creators",
    ]
    web = result.frame[(result.frame.scope == "web") & (result.frame.metric == "recall")]
    assert numbers[1].value == f"{web.loc[web.step.idxmax(), 'value']:.3f}"
    steps = [(step, rows.itertuples(index=False)) for step, rows in _steps(result.frame)]
    live = live_series(steps)
    assert list(live.index) == sorted(result.frame.step.unique())
    assert "web: synthetic share" in live.columns and "model: recall (diversity)" not in live


def test_headlines_of_a_lab_run_are_the_models(tmp_path):
    lab = RunStore(tmp_path).run(load_scenario("mad-fully-synthetic", ["steps=2"]))
    assert [n.label for n in headlines(lab.frame)] == [
        "Model quality (precision)",
        "Model diversity (recall)",
        "Model tail mass (1 = truth)",
        "Synthetic share of training data",
    ]
    assert lab.network is None


def _steps(frame):
    columns = ["generation", "scope", "metric", "value"]
    return [(step, rows[columns]) for step, rows in frame.groupby("step")]


# --- the sidebar's levers, companies and schedules


def test_lever_switches_say_which_levers_act_and_how_to_turn_them_on(scenario):
    off = {switch.name: switch for switch in lever_switches(scenario)}
    assert list(off) == ["detection", "watermark", "provenance", "opt_out", "licensing", "cap"]
    assert not any(switch.on for switch in off.values())
    assert off["detection"].turn_on == ("policy.detection.enabled=true",)
    assert off["cap"].turn_on == ("policy.cap.ai_share_max=0.25",)
    assert off["cap"].turn_off == ("policy.cap.ai_share_max=1.0",)
    # a watermark that marks nothing is off, whatever drop_marked says
    marked = load_scenario(TINY, ["policy.watermark.drop_marked=true"])
    assert not {s.name: s for s in lever_switches(marked)}["watermark"].on
    on = load_scenario(TINY, [*off["cap"].turn_on, *off["detection"].turn_on])
    switches = {switch.name: switch for switch in lever_switches(on)}
    assert switches["cap"].on and switches["detection"].on
    assert (
        switches["cap"].summary() == "Cap 0.25" and switches["detection"].summary() == "Detection"
    )
    assert [f.path for f in switches["detection"].fields] == [
        "policy.detection.tpr",
        "policy.detection.tpr_edited",
        "policy.detection.fpr",
    ]


def test_plain_labels_are_the_descriptions_first_clause():
    docs = {doc.path: doc for doc in describe_fields()}
    assert plain_label(docs["policy.detection.tpr"]) == "Share of fully AI pages the detector flags"
    assert plain_label(docs["companies.<name>.crawl_budget"]) == "Pages crawled per retraining"
    assert all(len(plain_label(doc)) <= 64 for doc in docs.values())


def test_the_companies_table_has_a_row_per_company_and_edits_become_overrides(scenario):
    table = company_table(scenario)
    assert list(table.index) == list(scenario.companies)
    assert {"bias", "crawler.name", "archive_share"} <= set(table.columns)
    assert next(f.path for f in company_fields()) == "companies.<name>.enabled"
    values = {
        f"companies.{name}.{column}": table.at[name, column]
        for name in table.index
        for column in table.columns
    }
    assert overrides_from(values, scenario) == []
    values["companies.beta.archive_share"] = 0.5
    assert overrides_from(values, scenario) == ["companies.beta.archive_share=0.5"]


def test_schedules_round_trip_through_dated_points():
    points = schedule_points({"2023-01": 0.0, "2025-06": 0.4}, "2022-01")
    assert list(points["month"]) == ["2023-01", "2025-06"]
    assert schedule_value(points, "attention.chat_share") == {"2023-01": 0.0, "2025-06": 0.4}
    constant = schedule_points(0.2, "2022-01")
    assert schedule_value(constant, "attention.chat_share") == 0.2
    bad = points.assign(month=["2023-1", "2025-06"])
    with pytest.raises(ValueError, match=r"attention.chat_share: month '2023-1' is not YYYY-MM"):
        schedule_value(bad, "attention.chat_share")
    with pytest.raises(ValueError, match=r"share 1.5 at 2025-06 is not in \[0, 1\]"):
        schedule_value(points.assign(share=[0.0, 1.5]), "attention.chat_share")


def test_lab_runs_get_only_the_tabs_that_apply():
    assert tabs_for("lab", "vector") == [
        "Quality and diversity",
        "Compare",
        "Uncertainty",
        "Export",
    ]
    assert "Documents" in tabs_for("lab", "text")
    assert "Network" in tabs_for("ecosystem", "vector")


def test_headline_changes_are_coloured_by_the_catalogues_direction(result):
    numbers = {n.label: n for n in headlines(result.frame)}
    assert numbers["AI-written share of the web"].delta_color == "inverse"
    assert numbers["Web diversity (recall)"].delta_color == "normal"


def test_runs_side_by_side_get_their_own_line_style(result, tmp_path, scenario):
    other = RunStore(tmp_path).run(scenario.model_copy(update={"seed": 1}))
    frame = __import__("pandas").concat(
        [r.frame.assign(label=name) for r, name in ((result, "base"), (other, "other"))],
        ignore_index=True,
    )
    figure = overlay_figure(frame, "web", ["recall"], x=x_axis(result.manifest))
    dashes = {t.name: t.line.dash for t in figure.data if t.mode == "lines"}
    assert dashes == {"base": "solid", "other": "dash"}
