"""Scenario schema, TOML inheritance, overrides and one-line errors."""

import pytest

from ecosystem.scenario import (
    Scenario,
    ScenarioError,
    available_scenarios,
    describe_fields,
    load_scenario,
    scenario_hash,
)

LAB = ["accumulate", "mad-fresh-data", "mad-fully-synthetic", "mad-synthetic-augmentation"]


def test_packaged_lab_scenarios_are_available_and_valid():
    names = available_scenarios()
    for name in LAB:
        assert name in names
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.description


def test_extends_inherits_and_overrides():
    parent = load_scenario("mad-fully-synthetic")
    child = load_scenario("mad-fresh-data")
    assert child.lab.loop == "fresh_data"
    assert child.culture == parent.culture
    assert child.model.params["warm_start"] is True  # inherited key of a merged table
    assert child.description != parent.description


def test_overrides_are_typed_and_validated():
    s = load_scenario(
        "accumulate",
        ["lab.bias=0.5", "steps=3", "lab.loop=fresh_data", "model.params.components=7"],
    )
    assert s.lab.bias == 0.5 and s.steps == 3 and s.lab.loop == "fresh_data"
    assert s.model.params["components"] == 7


def test_unknown_key_names_it_and_suggests():
    with pytest.raises(ScenarioError) as err:
        load_scenario("accumulate", ["lab.biass=0.5"])
    message = str(err.value)
    assert "unknown key 'lab.biass'" in message
    assert "did you mean 'lab.bias'" in message
    assert "\n" not in message


def test_bad_value_names_field_and_range():
    with pytest.raises(ScenarioError) as err:
        load_scenario("accumulate", ["lab.bias=1.5"])
    message = str(err.value)
    assert "lab.bias" in message and ">= 0.01 and <= 1.0" in message and "1.5" in message


def test_bad_choice_lists_allowed_values():
    with pytest.raises(ScenarioError, match=r"lab\.data.*'replace'.*'accumulate'"):
        load_scenario("accumulate", ["lab.data=keep"])


def test_unknown_model_and_parameter():
    with pytest.raises(ScenarioError, match=r"unknown model 'gmn'.*did you mean 'gmm'"):
        load_scenario("accumulate", ["model.name=gmn"])
    with pytest.raises(ScenarioError, match=r"model\.params"):
        load_scenario("accumulate", ["model.params.nonsense=3"])


def test_unknown_scenario_suggests():
    with pytest.raises(ScenarioError, match="did you mean 'accumulate'"):
        load_scenario("acumulate")


def test_bad_override_syntax():
    with pytest.raises(ScenarioError, match=r"section\.key=value"):
        load_scenario("accumulate", ["lab.bias"])
    with pytest.raises(ScenarioError, match="not a section"):
        load_scenario("accumulate", ["steps.x=1"])


def test_toml_file_with_relative_extends_and_cycle(tmp_path):
    (tmp_path / "base.toml").write_text('extends = "mad-fully-synthetic"\nsteps = 4\n')
    (tmp_path / "child.toml").write_text('extends = "base.toml"\n[lab]\nbias = 0.9\n')
    s = load_scenario(tmp_path / "child.toml")
    assert (s.name, s.steps, s.lab.bias) == ("child", 4, 0.9)
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "a.toml")
    (tmp_path / "bad.toml").write_text("steps = [\n")
    with pytest.raises(ScenarioError, match="invalid TOML"):
        load_scenario(tmp_path / "bad.toml")


def test_to_toml_round_trips(tmp_path):
    s = load_scenario("mad-synthetic-augmentation", ["seed=7"])
    path = tmp_path / "resolved.toml"
    path.write_text(s.to_toml())
    again = load_scenario(path)
    assert again.model_dump(exclude={"name"}) == s.model_dump(exclude={"name"})


def test_hash_is_stable_and_sensitive():
    a, b = load_scenario("accumulate"), load_scenario("accumulate")
    assert scenario_hash(a) == scenario_hash(b)
    assert scenario_hash(a) != scenario_hash(load_scenario("accumulate", ["seed=1"]))


def test_every_field_is_documented():
    docs = describe_fields()
    paths = {d.path for d in docs}
    assert {"lab.bias", "culture.topics", "metrics.samples", "seed", "steps"} <= paths
    for doc in docs:
        assert doc.description, doc.path
    bias = next(d for d in docs if d.path == "lab.bias")
    assert bias.allowed == ">= 0.01 and <= 1.0" and bias.default == 1.0
    assert next(d for d in docs if d.path == "lab.n_real").unit == "items"
    assert "'replace'" in next(d for d in docs if d.path == "lab.data").allowed


def test_defaults_are_a_valid_scenario():
    assert Scenario().lab.loop == "fully_synthetic"


def test_switching_model_replaces_the_inherited_model_table(tmp_path):
    (tmp_path / "child.toml").write_text(
        'extends = "baseline"\n[companies.alpha.model]\nname = "gaussian"\n'
    )
    s = load_scenario(tmp_path / "child.toml")
    assert s.companies["alpha"].model.name == "gaussian" and s.companies["alpha"].model.params == {}
    assert s.companies["beta"].model.params["components"] == 50


def test_company_overrides_and_errors():
    s = load_scenario("baseline", ["companies.alpha.bias=0.5", "companies.zeta.pages_per_month=10"])
    assert s.companies["alpha"].bias == 0.5
    assert s.companies["zeta"].pages_per_month == 10 and s.companies["zeta"].crawler.name == "links"
    with pytest.raises(ScenarioError, match=r"unknown key 'companies\.alpha\.biass'; did you mean"):
        load_scenario("baseline", ["companies.alpha.biass=0.5"])
    with pytest.raises(ScenarioError, match=r"companies\.alpha\.crawler.*'uniform'"):
        load_scenario("baseline", ["companies.alpha.crawler=random"])


def test_show_leaves_out_sections_the_mode_ignores(tmp_path):
    text = load_scenario("baseline").to_toml()
    assert "[lab]" not in text and "[companies.alpha]" in text
    lab_text = load_scenario("accumulate").to_toml()
    assert "[companies" not in lab_text and "[web]" not in lab_text and "[lab]" in lab_text
    path = tmp_path / "resolved.toml"
    path.write_text(text)
    assert load_scenario(path).model_dump(exclude={"name"}) == load_scenario("baseline").model_dump(
        exclude={"name"}
    )


def test_lab_sizes_that_cannot_run_are_refused_up_front():
    with pytest.raises(ScenarioError, match=r"lab\.n_real must be >= 2"):
        load_scenario("accumulate", ["lab.n_real=0"])
    with pytest.raises(ScenarioError, match=r"lab\.n_synthetic must be >= 2"):
        load_scenario("mad-fully-synthetic", ["lab.n_synthetic=0"])
    assert load_scenario("mad-fully-synthetic", ["lab.n_synthetic=0", "steps=1"]).steps == 1


def test_overriding_the_model_name_drops_the_inherited_parameters():
    s = load_scenario("baseline", ["companies.alpha.model.name=kde"])
    assert s.companies["alpha"].model.name == "kde" and s.companies["alpha"].model.params == {}
    s = load_scenario("baseline", ["companies.alpha.model.name=gmm"])
    assert s.companies["alpha"].model.params["components"] == 50


def test_value_at_reads_a_dotted_path_through_named_tables():
    from ecosystem.scenario import value_at

    scenario = load_scenario("baseline", ["companies.alpha.bias=0.7"])
    assert value_at(scenario, "companies.alpha.bias") == 0.7
    assert value_at(scenario, "policy.detection.enabled") is False
    assert value_at(scenario, "steps") == scenario.steps


@pytest.mark.parametrize("name", ["../../x", "/abs/path", "..", ".hidden", "a b", "x" * 101])
def test_a_name_that_is_not_a_safe_slug_is_refused(name):
    with pytest.raises(ScenarioError, match="name: String should match pattern"):
        load_scenario("baseline", [f"name={name!r}"])


def test_a_safe_slug_name_is_accepted():
    assert load_scenario("baseline", ["name='my-run_2.v3'"]).name == "my-run_2.v3"


DEEP = 50_000


@pytest.mark.parametrize(
    "text", [f"x = {'[' * DEEP}{']' * DEEP}\n", f"x = {'{a=' * DEEP}1{'}' * DEEP}\n"]
)
def test_a_file_nested_too_deeply_is_one_line_naming_it(tmp_path, text):
    path = tmp_path / "deep.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert (
        str(err.value) == f"scenario file {path}: invalid TOML: arrays or tables nested too deeply"
    )


def test_an_override_nested_too_deeply_is_one_line_naming_it():
    with pytest.raises(ScenarioError, match=r"^override 'lab\.bias': .* nested too deeply$"):
        load_scenario("accumulate", [f"lab.bias={'[' * DEEP}{']' * DEEP}"])


def test_a_long_extends_chain_is_refused_at_the_limit(tmp_path):
    from ecosystem.scenario.loading import MAX_EXTENDS_DEPTH

    def chain(length: int) -> None:
        for i in range(length):
            (tmp_path / f"c{i}.toml").write_text(f'extends = "c{i + 1}.toml"\n')
        (tmp_path / f"c{length}.toml").write_text("steps = 3\n")

    chain(MAX_EXTENDS_DEPTH)  # c1 .. c32: 32 levels above c0
    assert load_scenario(tmp_path / "c0.toml").steps == 3
    chain(MAX_EXTENDS_DEPTH + 1)
    with pytest.raises(ScenarioError, match="more than 32 levels"):
        load_scenario(tmp_path / "c0.toml")
    chain(1500)
    with pytest.raises(ScenarioError) as err:
        load_scenario(tmp_path / "c0.toml")
    message = str(err.value)
    assert message.startswith("scenario 'c0': 'extends' goes more than 32 levels deep")
    assert "at most 32 levels" in message and "\n" not in message


def test_a_file_that_is_not_utf8_names_the_file_and_the_byte(tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b'steps = 3\ndescription = "caf\xe9"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value).startswith(
        f"scenario file {path}: not UTF-8 text (byte 0xe9 at position 28)"
    )


def test_a_file_that_cannot_be_read_names_the_file(tmp_path, monkeypatch):
    folder = tmp_path / "x.toml"
    folder.mkdir()
    with pytest.raises(ScenarioError, match=rf"^scenario file {folder}: not a file"):
        load_scenario(folder)
    with pytest.raises(ScenarioError, match=rf"^scenario file {folder}: not a file"):
        load_scenario(str(tmp_path / "x"))
    path = tmp_path / "locked.toml"
    path.write_text("steps = 3\n")

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(path), "read_bytes", refuse)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == f"scenario file {path}: cannot be read (Permission denied)"


@pytest.mark.parametrize(("line", "shown"), [('extends = ""', "''"), ("extends = 3", "3")])
def test_an_empty_or_non_text_extends_says_what_extends_must_be(tmp_path, line, shown):
    path = tmp_path / "child.toml"
    path.write_text(f"{line}\nsteps = 3\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == (
        "scenario 'child': extends must be a scenario name or the path of a .toml file "
        f"(relative to child.toml), got {shown}"
    )


def test_a_table_override_on_a_section_merges_into_it(tmp_path):
    (tmp_path / "s.toml").write_text(
        'extends = "accumulate"\n[culture]\ndim = 3\nreference_size = 400\n'
    )
    s = load_scenario(tmp_path / "s.toml", ["culture={topics=5}"])
    assert (s.culture.topics, s.culture.dim, s.culture.reference_size) == (5, 3, 400)
    assert s.culture.zipf == load_scenario(tmp_path / "s.toml").culture.zipf
    model = load_scenario("baseline", ["companies.alpha.model={params={components=7}}"])
    alpha = model.companies["alpha"].model
    assert alpha.name == "gmm" and alpha.params["components"] == 7 and len(alpha.params) > 1
    other = load_scenario("baseline", ['companies.alpha.model={name="kde"}'])
    assert other.companies["alpha"].model.params == {}  # another model: replaced, as inherited
    crawler = load_scenario("baseline", ["companies.alpha.crawler={params={}}"])
    assert (
        crawler.companies["alpha"].crawler.name
        == load_scenario("baseline").companies["alpha"].crawler.name
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("culture.dim=true", "culture.dim: a number is required, got true; allowed: >= 1"),
        ("culture.zipf=false", "culture.zipf: a number is required, got false; allowed: >= 0.0"),
        ("seed=true", "seed: a number is required, got true"),
        ("companies.alpha.bias=true", "companies.alpha.bias: a number is required, got true"),
        ("policy.cap.ai_share_max=true", "policy.cap.ai_share_max: a number is required"),
    ],
)
def test_a_boolean_is_not_a_number(override, message):
    with pytest.raises(ScenarioError) as err:
        load_scenario("baseline", [override])
    assert message in str(err.value)


def test_a_boolean_for_a_number_in_a_file_is_refused_and_booleans_still_work(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('extends = "baseline"\n[culture]\ndim = true\n')
    with pytest.raises(ScenarioError, match=r"culture\.dim: a number is required, got true"):
        load_scenario(path)
    s = load_scenario("baseline", ["companies.alpha.enabled=false", "culture.dim=3"])
    assert s.companies["alpha"].enabled is False and s.culture.dim == 3
    with pytest.raises(ValueError, match="a number is required"):
        s.culture.dim = True  # assignment is validated too


def test_every_packaged_and_test_scenario_still_loads():
    from pathlib import Path

    files = sorted((Path(__file__).parent / "data").glob("*.toml"))
    for source in [*available_scenarios(), *files]:
        assert load_scenario(source).steps >= 1


@pytest.mark.parametrize("override", ["companies.alpha.bias=5e-324", "companies.alpha.bias=0.001"])
def test_a_company_bias_below_the_bound_is_refused_when_the_scenario_loads(override):
    with pytest.raises(ScenarioError, match=r"companies\.alpha\.bias: .* >= 0\.01 and <= 1\.0"):
        load_scenario("baseline", [override])
    assert load_scenario("baseline", ["companies.alpha.bias=0.01"]).companies["alpha"].bias == 0.01
    with pytest.raises(ScenarioError, match=r"lab\.bias: Input should be greater than or equal"):
        load_scenario("accumulate", ["lab.bias=1e-300"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["companies.alpha.model.params.components=-3"],
            "companies.alpha.model.params.components: Input should be greater than or equal to 1 "
            "(got -3); allowed: an integer >= 1 and <= 1000",
        ),
        (
            ["companies.alpha.model.params.components=abc"],
            "companies.alpha.model.params.components: Input should be a valid integer (got 'abc')",
        ),
        (
            ["companies.alpha.model.params.max_iter=0"],
            "companies.alpha.model.params.max_iter: Input should be greater than or equal to 1",
        ),
        (
            ["companies.alpha.model.name=kde", "companies.alpha.model.params.max_points=0"],
            "companies.alpha.model.params.max_points: Input should be greater than or equal to 1",
        ),
        (
            ["companies.alpha.model.params.compnents=5"],
            "companies.alpha.model.params.compnents: unknown parameter of model 'gmm'; did you "
            "mean 'components'? allowed: components, max_iter, tol, reg_covar, warm_start, init",
        ),
    ],
)
def test_model_parameters_are_checked_when_the_scenario_loads(overrides, message):
    with pytest.raises(ScenarioError) as err:
        load_scenario("baseline", overrides)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_lab_model_parameters_are_checked_too():
    with pytest.raises(ScenarioError, match=r"'accumulate': model\.params\.tol: .*finite number"):
        load_scenario("accumulate", ["model.params.tol=nan"])
