"""The series catalogue against what runs write, and against what its consumers read."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import torch

from ecosystem import load_scenario, simulate
from ecosystem.experiments import compare
from ecosystem.experiments.figures import metric_unit
from ecosystem.interfaces.explorer import TABS
from ecosystem.measure import catalogue
from ecosystem.measure.catalogue import (
    RESULT_TABS,
    SERIES,
    TAB_NOTES,
    ContentMetric,
    content_series,
    key_outcomes,
    lookup,
    scope_kind,
    scope_label,
)
from ecosystem.measure.metrics import METRIC_NAMES, evaluate
from ecosystem.world.culture import Culture
from ecosystem.world.text import TextWorld

TINY = Path(__file__).parent / "data" / "tiny-web.toml"
SMALL_LAB = [
    "culture.topics=6",
    "culture.dim=2",
    "culture.reference_size=200",
    "lab.n_real=200",
    "lab.n_synthetic=150",
    "model.params.components=6",
    "metrics.samples=200",
    "steps=2",
]


def _written(scenario) -> set[tuple[str, str, str]]:
    """Every ``(mode, scope kind, metric)`` a run of ``scenario`` writes."""
    found = set()
    for _, rows in simulate(scenario):
        for _, scope, metric, _ in rows:
            found.add((scope_kind(scope).mode, scope_kind(scope).name, metric))
    return found


def _catalogued(mode: str) -> set[tuple[str, str, str]]:
    return {(e.mode, e.scope, e.metric) for e in catalogue.series(mode, world="vector")}


@pytest.fixture(scope="module")
def ecosystem_written():
    # four months: the first retraining (month 2) writes the crawl series too
    return _written(load_scenario(TINY, ["steps=4"]))


def test_an_ecosystem_run_writes_exactly_the_catalogued_series(ecosystem_written):
    assert not ecosystem_written - _catalogued("ecosystem"), "written but not catalogued"
    assert not _catalogued("ecosystem") - ecosystem_written, "catalogued but never written"


def test_a_lab_run_writes_exactly_the_catalogued_series():
    written = _written(load_scenario("mad-fresh-data", SMALL_LAB))
    assert written == _catalogued("lab")


def test_every_series_is_described_once():
    keys = [(e.mode, e.scope, e.metric, e.world) for e in SERIES]
    assert len(keys) == len(set(keys))
    groups = set(TAB_NOTES)
    for entry in SERIES:
        assert entry.label and entry.unit and entry.meaning, entry
        assert entry.group in groups, entry
        assert isinstance(entry.format.format(0.5), str)
        assert entry.kind.mode == entry.mode
    units = defaultdict(set)
    for entry in SERIES:
        units[entry.metric].add(entry.unit)
    assert {m: u for m, u in units.items() if len(u) > 1} == {}, "one unit per metric name"


def test_key_outcomes_are_what_compare_and_reports_use():
    assert key_outcomes("ecosystem") == compare.KEY_METRICS
    assert key_outcomes("lab") == compare.LAB_KEY_METRICS
    assert key_outcomes("ecosystem", world="text") == (
        ("web", "word_log_likelihood"),
        ("web", "vocabulary_coverage"),
        ("web", "tail_word_mass_ratio"),
        ("web", "recall"),
        ("web", "tail_mass_ratio"),
        ("web", "synthetic_share"),
        ("creators", "active"),
        ("creators", "income_gini"),
        ("attention", "belief_distance"),
        ("models", "topic_overlap"),
    )
    assert key_outcomes("ecosystem", world="vector") == (
        ("web", "precision"),
        ("web", "recall"),
        ("web", "coverage"),
        ("web", "tail_mass_ratio"),
        ("web", "synthetic_share"),
        ("creators", "active"),
        ("creators", "income_gini"),
        ("attention", "belief_distance"),
        ("models", "topic_overlap"),
    )
    assert key_outcomes("lab", world="vector") == (
        ("model", "precision"),
        ("model", "recall"),
        ("model", "coverage"),
        ("model", "tail_mass_ratio"),
        ("training", "synthetic_share"),
    )
    assert key_outcomes() == key_outcomes("ecosystem") + key_outcomes("lab")
    for scope, metric in key_outcomes():
        assert not scope_kind(scope).named
        assert lookup(scope, metric).key


def test_run_summary_reads_the_catalogue():
    assert catalogue.summary_columns("vector") == (
        "precision",
        "recall",
        "coverage",
        "frechet",
        "tail_mass_ratio",
        "synthetic_share",
    )
    line = [(e.scope, e.metric, e.label) for e in catalogue.summary_line()]
    assert line == [
        ("creators", "active", "creators active"),
        ("creators", "income_mean", "mean income"),
        ("creators", "income_gini", "income Gini"),
        ("creators", "opt_out_share", "opt-out share"),
        ("attention", "click_through_ratio", "click-through with/without AI answer"),
    ]


def test_the_vector_worlds_metric_names_come_from_the_catalogue():
    assert catalogue.content_metric_names("vector") == METRIC_NAMES
    culture = Culture.generate(torch.Generator().manual_seed(0), topics=4, dim=2)
    sample, _ = culture.sample(60, torch.Generator().manual_seed(1))
    assert tuple(evaluate(culture, sample)) == METRIC_NAMES


def test_tab_figures_draw_catalogued_series_of_their_tab(ecosystem_written):
    assert list(TABS) == [tab.name for tab in RESULT_TABS]
    for tab in RESULT_TABS:
        for figure in tab.figures:
            for pattern in figure.scopes:
                scope = pattern.replace("*", "alpha")
                for metric in figure.metrics:
                    assert lookup(scope, metric).group == tab.name, (tab.name, scope, metric)
        for metric in tab.by_generation:
            assert lookup("company:alpha", metric)
    assert catalogue.tab("Companies").by_generation
    with pytest.raises(KeyError, match="no results tab 'Nope'"):
        catalogue.tab("Nope")


def test_scopes_are_labelled_and_kinds_found():
    assert scope_label("web") == "whole web"
    assert scope_label("web_new") == "new pages"
    assert scope_label("attention") == "readers"
    assert scope_label("company:alpha") == "model alpha"
    assert scope_label("training:beta") == "training set beta"
    assert scope_label("training") == "training set"
    assert scope_label("elsewhere") == "elsewhere"
    assert scope_kind("training").mode == "lab"
    assert scope_kind("training:alpha").mode == "ecosystem"
    with pytest.raises(KeyError, match="unknown scope 'web:alpha'"):
        scope_kind("web:alpha")
    with pytest.raises(KeyError, match="'web' has no series 'nope'"):
        lookup("web", "nope")


def test_figure_units_come_from_the_catalogue():
    assert metric_unit("precision") == "share (0-1)"
    assert metric_unit("income_gini") == "Gini coefficient (0-1)"
    assert metric_unit("revenue") == "$ / month"
    assert metric_unit("not_catalogued") == "not catalogued"
    for entry in SERIES:
        assert metric_unit(entry.metric) == entry.unit


def test_a_second_world_declares_its_content_metrics_once():
    metrics = (
        ContentMetric("perplexity", "perplexity", "perplexity", "exp of the mean NLL"),
        ContentMetric("distinct_2", "distinct-2", "share (0-1)", "share of distinct bigrams"),
    )
    declared = content_series("paintings", metrics)
    sampled = {(e.mode, e.scope) for e in declared}
    assert sampled == {(e.mode, e.scope) for e in SERIES if e.metric == "precision"}
    assert {e.world for e in declared} == {"paintings"}
    assert all(e.group == "Quality and diversity" and not e.key for e in declared)
    vector = catalogue.series(world="vector")
    assert all(e.world in (None, "vector") for e in vector)
    assert lookup("web", "precision", world="vector").world == "vector"
    assert lookup("web", "synthetic_share", world="text").world is None
    assert lookup("web", "precision", world="text").world == "text"
    with pytest.raises(KeyError, match="no series 'frechet'"):
        lookup("web", "frechet", world="text")
    assert catalogue.content_metric_names("text") == TextWorld.metric_names
    companies = {(e.scope, e.metric) for e in catalogue.in_group("Companies")}
    assert {("company", "answers"), ("training", "crawled")} <= companies
    assert ("web", "precision") not in companies
