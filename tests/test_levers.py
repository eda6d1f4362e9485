"""The lever protocol: every registered lever is complete, documented, pulled and tested.

For each lever of the registry: a packaged ``policy-*`` scenario that pulls it, a row
naming its module in the README's "Policy levers" table, and a collected directional
test that pulls it. Then the protocol's contracts: the registry's checks, the ``policy``
section assembled from it, and the random draws of each hook.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ecosystem.scenario import PolicySettings, available_scenarios, load_scenario
from ecosystem.scenario.fields import Section, setting
from ecosystem.world.content import DenseStore
from ecosystem.world.levers import HOOKS, Levers, implemented_hooks, registry
from ecosystem.world.levers.registry import check_levers
from ecosystem.world.web import AI, AI_ASSISTED, HUMAN, Web

ROOT = Path(__file__).resolve().parent.parent
LEVERS = list(registry().values())


def readme_lever_rows(text: str) -> list[str]:
    """The rows of the "Policy levers" table under "## The ecosystem" of the README."""
    section = text.split("\n## The ecosystem", 1)[1].split("\n## ", 1)[0]
    bullet = section.split("**Policy levers**", 1)[1]
    rows = []
    for line in bullet.splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("|"):
            rows.append(stripped)
        elif rows and not stripped.startswith("|"):
            break
    return rows[2:]  # without the header and its rule


def collected_tests(node_ids: list[str]) -> set[str]:
    """The node ids pytest collects from the files of ``node_ids`` (one collection run)."""
    files = sorted({node.split("::")[0] for node in node_ids})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return {line.strip() for line in result.stdout.splitlines() if "::" in line}


def source_of(node_id: str) -> str:
    """The source of the test function a node id names ('' when there is none)."""
    path, _, name = node_id.partition("::")
    file = ROOT / path
    if not file.is_file():
        return ""
    source = file.read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name.split("[")[0]:
            return ast.get_source_segment(source, node) or ""
    return ""


def lever_problems(lever, readme_rows: list[str], collected: set[str]) -> list[str]:
    """What a lever lacks: its scenario, its README row, its directional test."""
    problems = []
    scenario = lever.scenario
    if not scenario.startswith("policy-") or scenario not in available_scenarios():
        problems.append(f"no packaged scenario {scenario!r} (scenarios/policy-*.toml)")
    elif getattr(load_scenario(scenario).policy, lever.name, None) == lever.Settings():
        problems.append(f"scenario {scenario!r} leaves policy.{lever.name} at its defaults")
    module = f"`levers/{lever.__module__.rsplit('.', 1)[-1]}.py`"
    rows = [row for row in readme_rows if module in row]
    if not rows:
        problems.append(f"no row naming {module} in the README's Policy levers table")
    else:
        named = " ".join(row.split("|")[1] for row in rows)
        missing = [f for f in lever.Settings.model_fields if not re.search(rf"\b{f}\b", named)]
        if missing:
            problems.append(f"README rows of {module} do not name the settings {missing}")
    test = lever.directional_test
    if test not in collected:
        problems.append(f"directional test {test!r} is not collected")
    elif f"policy.{lever.name}." not in source_of(test):
        problems.append(f"directional test {test!r} does not pull policy.{lever.name}")
    return problems


@pytest.fixture(scope="module")
def readme_rows() -> list[str]:
    return readme_lever_rows((ROOT / "README.md").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def collected() -> set[str]:
    return collected_tests([lever.directional_test for lever in LEVERS])


# --- every lever: scenario, README row, directional test


@pytest.mark.parametrize("lever", LEVERS, ids=lambda lever: lever.name)
def test_each_lever_has_a_scenario_a_readme_row_and_a_directional_test(
    lever, readme_rows, collected
):
    assert lever_problems(lever, readme_rows, collected) == []


def test_the_checks_catch_a_lever_that_lacks_them(readme_rows, collected):
    class Unused(Section):
        strength: float = setting(0.0, "How strong", ge=0.0, le=1.0)

    class Unlisted:
        name = "unlisted"
        Settings = Unused
        order = 999
        scenario = "policy-unlisted"
        directional_test = "tests/test_policy.py::test_unlisted_lever_works"

        def fee(self, web, pages):
            return 0.0

    problems = lever_problems(Unlisted, readme_rows, collected)
    assert len(problems) == 3
    assert "no packaged scenario" in problems[0]
    assert "no row naming" in problems[1] and "not collected" in problems[2]
    # a real lever with a scenario at its defaults and the directional test of another lever
    cap = registry()["cap"]
    stale = type(
        "Cap",
        (cap,),
        {
            "__module__": cap.__module__,
            "scenario": "policy-accumulate",  # pulls no policy lever
            "directional_test": registry()["licensing"].directional_test,
        },
    )
    rows = [row for row in readme_rows if "levers/cap.py" not in row]
    problems = lever_problems(stale, rows, collected)
    assert "leaves policy.cap at its defaults" in problems[0]
    assert "no row naming `levers/cap.py`" in problems[1]
    assert "does not pull policy.cap" in problems[2]
    thin = [row.replace("ai_share_max", "share") for row in readme_rows]
    assert "do not name the settings ['ai_share_max']" in lever_problems(cap, thin, collected)[0]


def test_readme_rows_name_only_registered_lever_modules(readme_rows):
    modules = {f"levers/{lever.__module__.rsplit('.', 1)[-1]}.py" for lever in LEVERS}
    named = {m for row in readme_rows for m in re.findall(r"`(levers/\w+\.py)`", row)}
    assert named == modules


# --- the registry and the policy section


def test_every_lever_lives_in_its_own_module_named_after_its_section():
    for name, lever in registry().items():
        assert lever.__module__ == f"ecosystem.world.levers.{name}"
        assert implemented_hooks(lever), name
    orders = [lever.order for lever in LEVERS]
    assert orders == sorted(orders)


def test_the_policy_section_is_assembled_from_the_registry():
    assert list(PolicySettings.model_fields) == list(registry())
    defaults = PolicySettings()
    for name, lever in registry().items():
        assert PolicySettings.model_fields[name].annotation is lever.Settings
        assert getattr(defaults, name) == lever.Settings()
    assert load_scenario("baseline").policy == defaults


def test_a_scenario_holds_every_registered_lever():
    levers = Levers(load_scenario("policy-cap").policy)
    assert list(levers.levers) == list(registry())
    assert levers["cap"].settings.ai_share_max == 0.25
    for _, method, hook in HOOKS:
        with_hook = [lever for lever in levers.levers.values() if hook in implemented_hooks(lever)]
        assert all(callable(getattr(lever, method)) for lever in with_hook)


def lever_class(**members):
    """A lever class with the identity members filled in and ``members`` added."""
    identity = {
        "name": "extra",
        "Settings": Section,
        "order": 1000,
        "scenario": "policy-extra",
        "directional_test": "tests/test_levers.py::test_extra",
        "switch": "strength",
    }
    return type("Extra", (), identity | members)


def test_the_registry_check_rejects_incomplete_levers():
    check_levers([*LEVERS, lever_class(fee=lambda self, web, pages: 0.0)])
    with pytest.raises(ValueError, match="implements no hook"):
        check_levers([*LEVERS, lever_class()])
    with pytest.raises(ValueError, match="StampsPages also needs"):
        check_levers([*LEVERS, lever_class(stamp=lambda self, origin, draw: draw < 0)])
    stamping = lever_class(stamp=lambda self, o, d: d < 0, stamp_column="x", stamp_row=4)
    with pytest.raises(ValueError, match=re.escape("rows 0..3")):
        check_levers([*LEVERS, stamping])
    with pytest.raises(ValueError, match="unique names"):
        check_levers([*LEVERS, lever_class(name="cap", fee=lambda self, web, pages: 0.0)])
    incomplete = lever_class(fee=lambda self, web, pages: 0.0)
    del incomplete.directional_test
    with pytest.raises(ValueError, match="lacks"):
        check_levers([incomplete])


# --- the random draws of each hook do not depend on the settings


STAMP_ROWS = {"watermarked": ("watermark", 0), "certified_human": ("provenance", 1)}
STAMP_ROWS["flagged"] = ("detection", 2)
"""The layout of the stamping draw since the first version: its numbers depend on it."""


def test_stamping_draws_one_block_whatever_the_settings():
    origin = np.array([HUMAN, AI, AI_ASSISTED] * 50, dtype=np.int8)
    draw = np.random.default_rng(5).random((3, len(origin)))
    pulled = {"watermark": {"share": 1.0}, "provenance": {"certified_share": 0.5}}
    for sections in ({}, pulled, {"detection": {"enabled": True, "fpr": 0.5}}):
        settings = PolicySettings.model_validate(sections)
        rng = np.random.default_rng(5)
        stamps = Levers(settings).stamp(origin, rng)
        assert set(stamps.columns) == set(STAMP_ROWS)
        for column, (name, row) in STAMP_ROWS.items():
            lever = registry()[name](getattr(settings, name))
            np.testing.assert_array_equal(stamps[column], lever.stamp(origin, draw[row]))
        after = np.random.default_rng(5)
        after.random((3, len(origin)))
        assert rng.bit_generator.state == after.bit_generator.state


def test_crawl_and_quota_draw_only_when_they_act():
    web = Web(2)
    web.add_pages(np.zeros((10, 2)), origin=HUMAN, topic=0, quality=0.0, step=0)
    levers = Levers(PolicySettings(provenance={"min_certified_share": 0.2}))
    untouched = np.random.default_rng(9).bit_generator.state
    rng = np.random.default_rng(9)
    levers.crawlable(web, np.ones(10, bool), rng)  # nobody opted out
    x, synthetic = torch.zeros(10, 2), torch.zeros(10, dtype=torch.bool)
    certified = torch.tensor([True, True] + [False] * 8)
    levers.assemble(x, synthetic, certified, rng)  # 2 of 10 certified: the quota holds
    assert rng.bit_generator.state == untouched
    web.opt_out[:3] = True
    levers.crawlable(web, np.ones(10, bool), rng)
    assert rng.bit_generator.state != untouched
    rng = np.random.default_rng(9)
    levers.assemble(x, synthetic, torch.tensor([True] + [False] * 9), rng)  # the quota binds
    assert rng.bit_generator.state != untouched


def test_the_quota_indexes_content_only_through_the_world_store():
    class RecordingStore(DenseStore):
        def __init__(self, dim):
            super().__init__(dim)
            self.taken = []

        def take(self, batch, rows):
            self.taken.append(np.asarray(rows))
            return super().take(batch, rows)

    store = RecordingStore(2)
    levers = Levers(PolicySettings(provenance={"min_certified_share": 0.5}))
    x = torch.arange(20, dtype=torch.float32).view(10, 2)
    synthetic = torch.zeros(10, dtype=torch.bool)
    certified = torch.tensor([True, True] + [False] * 8)
    kept_x, _, kept_certified = levers.assemble(
        x, synthetic, certified, np.random.default_rng(3), store=store
    )
    assert len(store.taken) == 1 and store.taken[0].dtype == bool
    assert len(kept_x) == 4 and int(kept_certified.sum()) == 2
    assert torch.equal(kept_x, x[torch.from_numpy(store.taken[0])])
