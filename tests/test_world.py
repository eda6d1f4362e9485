"""The world protocol: the vector world honours it, and the step speaks only through it."""

import sys

import numpy as np
import pytest
import torch

import models
from ecosystem.measure.metrics import METRIC_NAMES
from ecosystem.scenario import MetricSettings, ScenarioError, load_scenario
from ecosystem.world import worlds
from ecosystem.world.content import DenseStore, subsample
from ecosystem.world.lab import lab_steps
from ecosystem.world.model import EcosystemModel
from ecosystem.world.protocol import ContentColumn, ContentStore, World
from ecosystem.world.vectors import VectorWorld
from ecosystem.world.web import Web
from models.gaussian_math import component_log_prob

TINY = "tests/data/tiny-web.toml"
LAB = ["steps=2", "culture.topics=6", "culture.dim=2", "culture.reference_size=200"]
LAB += ["lab.n_real=200", "lab.n_synthetic=200", "metrics.samples=100"]
PROTOCOL = set(World.__annotations__) | {n for n in vars(World) if not n.startswith("_")}
STORE_PROTOCOL = {n for n in vars(ContentStore) if not n.startswith("_")}


@pytest.fixture(scope="module")
def world() -> VectorWorld:
    return VectorWorld.generate(
        torch.Generator().manual_seed(7), topics=5, dim=3, separation=30.0, reference_size=300
    )


# ----------------------------------------------------------------- the vector world


def test_the_vector_world_satisfies_the_protocol(world):
    assert isinstance(world, World)
    assert isinstance(world.store, ContentStore)
    assert isinstance(world.store.column(4), ContentColumn)
    assert worlds.WORLDS["vectors"] is VectorWorld and world.name == "vectors"
    assert set(world.models) <= set(models.available())
    assert world.metric_names == METRIC_NAMES
    assert not isinstance(object(), World)


def test_ground_truth_shapes(world):
    x, topics = world.sample(40, torch.Generator().manual_seed(0))
    assert x.dtype == torch.float32 and x.shape == (40, 3) and len(x) == 40
    assert topics.dtype == torch.long and topics.shape == (40,)
    assert world.log_prob(x).dtype == torch.float64 and world.log_prob(x).shape == (40,)
    assert world.assign(x).dtype == torch.long and world.assign(x).shape == (40,)
    assert world.weights.shape == world.head_mask.shape == world.tail_mask.shape == (5,)
    assert float(world.weights.sum()) == pytest.approx(1.0)
    assert torch.equal(world.head_mask, ~world.tail_mask) and world.head_mask.any()
    chosen = torch.tensor([4, 4, 0])
    _, about = world.sample(3, torch.Generator().manual_seed(0), topics=chosen)
    assert torch.equal(about, chosen)
    empty, _ = world.sample(0, torch.Generator().manual_seed(0))
    assert len(empty) == 0 and len(world.assign(empty)) == 0


def test_the_world_is_determined_by_its_generator():
    scenario = load_scenario(TINY)
    first = VectorWorld.from_scenario(scenario, torch.Generator().manual_seed(3))
    second = worlds.make_world(scenario, torch.Generator().manual_seed(3))
    other = worlds.make_world(scenario, torch.Generator().manual_seed(4))
    assert isinstance(second, VectorWorld)
    assert torch.equal(first.means, second.means) and not torch.equal(first.means, other.means)
    assert torch.equal(first.reference.x, second.reference.x)
    draws = [first.sample(50, torch.Generator().manual_seed(1))[0] for _ in range(2)]
    assert torch.equal(draws[0], draws[1])


def test_assign_and_score_agree_with_the_mixture(world):
    x, topics = world.sample(500, torch.Generator().manual_seed(2))
    terms = component_log_prob(x.double(), world.means, world.chols) + world.weights.log()
    assert torch.allclose(world.log_prob(x), torch.logsumexp(terms, dim=1))
    assert torch.equal(world.assign(x), terms.argmax(dim=1))
    assert float((world.assign(x) == topics).double().mean()) > 0.99  # well separated topics
    far = x + 1000.0
    assert (world.log_prob(far) < world.log_prob(x)).all()


def test_evaluate_emits_its_metric_names(world):
    x, _ = world.sample(300, torch.Generator().manual_seed(5))
    values = world.evaluate(x, MetricSettings(k=5))
    assert tuple(values) == world.metric_names
    assert values["precision"] > 0.8 and values["recall"] > 0.8
    nan = world.evaluate(world.store.empty(), MetricSettings())
    assert all(v != v for v in nan.values())


def test_assist_keeps_the_drafts_length_and_draws_nothing_at_strength_zero(world):
    model = models.make("gaussian").fit(
        world.sample(200, torch.Generator().manual_seed(0))[0], generator=torch.Generator()
    )
    drafts, _ = world.sample(10, torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(9)
    state = generator.get_state()
    assert world.assist(drafts, model, 0.0, generator) is drafts
    assert torch.equal(generator.get_state(), state)
    assert len(world.assist(drafts, model, 0.5, generator)) == 10


def test_store_append_take_round_trip(world):
    store = world.store
    parts = [world.sample(n, torch.Generator().manual_seed(n))[0] for n in (3, 0, 5)]
    joined = store.concat(parts)
    assert len(joined) == 8 and len(store.concat([])) == 0 and len(store.empty()) == 0
    column = store.column(2)  # grows past its capacity
    for part in parts:
        column.append(store.as_batch(part))
    assert len(column) == 8 and column.nbytes >= 8 * 3 * 4
    rows = np.array([7, 0, 3, 3])
    assert torch.equal(column.take(rows), store.take(joined, rows))
    assert torch.equal(store.take(joined, torch.from_numpy(rows)), joined[rows])
    mask = np.zeros(8, dtype=bool)
    mask[[1, 6]] = True
    assert torch.equal(store.take(joined, mask), joined[[1, 6]])
    assert np.array_equal(column.view(), joined.numpy())
    with pytest.raises(ValueError, match="content"):
        store.as_batch(np.zeros((2, 4)))
    sub = subsample(store, joined, 4, torch.Generator().manual_seed(0))
    assert len(sub) == 4 and subsample(store, joined, 8, torch.Generator()) is joined


def test_the_web_holds_its_worlds_content(world):
    web = Web(world.store, initial_capacity=2)
    x, topics = world.sample(5, torch.Generator().manual_seed(0))
    pages = web.add_pages(x, origin=0, topic=topics.numpy(), quality=0.0, step=0)
    assert web.store is world.store
    assert torch.equal(web.content_of(pages[::-1].copy()), x.flip(0))
    assert isinstance(Web(3).store, DenseStore) and Web(3).store.dim == 3


# ----------------------------------------------------------------- the step through the protocol


class _Recording:
    """Records which attributes code of the simulation (outside the world's own modules)
    reads from this object."""

    OWN = ("ecosystem.world.vectors", "ecosystem.world.culture", "ecosystem.world.content")

    def __getattribute__(self, attribute):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("ecosystem.") and caller not in _Recording.OWN:
            object.__getattribute__(self, "_seen").add((caller.rsplit(".", 1)[-1], attribute))
        return object.__getattribute__(self, attribute)


class RecordingStore(_Recording, DenseStore):
    def __init__(self, dim):
        self._seen = set()
        super().__init__(dim)


class RecordingWorld(_Recording, VectorWorld):
    """The vector world, recording what the step asks of it and of its store."""

    def __init__(self, *args, **kwargs):
        self._seen = set()
        super().__init__(*args, **kwargs)
        self.store = RecordingStore(self.dim)


@pytest.fixture()
def recording(monkeypatch):
    """Call it to make every world from then on a recording one; it returns the worlds made."""
    made = []

    def make(scenario, generator):
        made.append(RecordingWorld.from_scenario(scenario, generator))
        return made[-1]

    def start():
        import ecosystem.world.lab as lab
        import ecosystem.world.model as model

        for module in (worlds, model, lab):
            monkeypatch.setattr(module, "make_world", make)
        return made

    return start


def _uses(world):
    return world._seen, world.store._seen


def test_the_month_uses_only_the_world_protocol(recording):
    # alpha accumulates its crawls, beta mixes in the archive: every way to assemble data
    overrides = ["companies.alpha.data=accumulate", "companies.beta.archive_share=0.5"]
    scenario = load_scenario(TINY, overrides)
    plain = EcosystemModel(scenario)
    made = recording()
    model = EcosystemModel(scenario)
    for _ in range(3):
        plain.step()
        model.step()
    assert repr(model.rows) == repr(plain.rows)  # recording changes nothing
    (world,) = made
    seen, store_seen = _uses(world)
    assert {attribute for _, attribute in seen} <= PROTOCOL
    assert {attribute for _, attribute in store_seen} <= STORE_PROTOCOL
    used = {(module, attribute) for module, attribute in seen}
    assert {("model", "sample"), ("publishing", "sample"), ("publishing", "assist")} <= used
    assert {("publishing", "assign"), ("publishing", "log_prob")} <= used
    assert ("measurement", "evaluate") in used
    store_used = {(module, attribute) for module, attribute in store_seen}
    assert {("publishing", "concat"), ("publishing", "take"), ("web", "as_batch")} <= store_used
    assert {("web", "column"), ("agents", "concat"), ("agents", "take")} <= store_used


def test_the_lab_loop_uses_only_the_world_protocol(recording):
    scenario = load_scenario("mad-fresh-data", LAB)
    plain = list(lab_steps(scenario))
    made = recording()
    rows = list(lab_steps(scenario))
    assert len(rows) == 2 and repr(rows) == repr(plain)
    (world,) = made
    seen, store_seen = _uses(world)
    assert {attribute for _, attribute in seen} <= PROTOCOL
    assert {attribute for _, attribute in store_seen} <= STORE_PROTOCOL
    assert {("lab", "sample"), ("lab", "evaluate")} <= seen
    assert ("lab", "concat") in store_seen


# ----------------------------------------------------------------- validation


def test_a_model_that_does_not_apply_is_refused(monkeypatch):
    monkeypatch.setattr(VectorWorld, "models", ("gaussian",))
    with pytest.raises(ScenarioError) as error:
        load_scenario(TINY)
    message = str(error.value)
    assert "companies.alpha.model.name: model 'gmm' does not apply to the 'vectors'" in message
    assert message.endswith("allowed: gaussian") and "\n" not in message
    with pytest.raises(ScenarioError, match=r"model\.name: model 'gmm' does not apply"):
        load_scenario("mad-fresh-data")
    overrides = [f"companies.{n}.enabled=false" for n in ("alpha", "beta")]
    assert load_scenario(TINY, overrides).world == "vectors"  # disabled companies: not used


def test_a_registered_model_outside_the_world_is_refused(monkeypatch):
    monkeypatch.setitem(models.registry._MODELS, "tokens", type("Tokens", (), {}))
    with pytest.raises(ScenarioError, match="model 'tokens' does not apply to the 'vectors'"):
        load_scenario("accumulate", ["model.name=tokens"])


def test_the_scenario_names_its_world():
    assert load_scenario("baseline").world == "vectors"
    assert 'world = "vectors"' in load_scenario("baseline").to_toml()
    with pytest.raises(ScenarioError, match=r"world: .*allowed: 'vectors', 'text'"):
        load_scenario("baseline", ["world=paintings"])
    with pytest.raises(ScenarioError, match=r"model 'gmm' does not apply to the 'text' world"):
        load_scenario("baseline", ["world=text"])
    assert load_scenario("text-fully-synthetic").model.params["vocab"] == 2000
    with pytest.raises(ScenarioError, match=r"model.params.vocab: must be text.vocab \(2000\)"):
        load_scenario("text-fully-synthetic", ["model.params.vocab=300"])
