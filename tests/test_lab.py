"""The self-consuming loop: data composition per loop and data policy, rows, reproducibility."""

import pytest
import torch

import models
from ecosystem.measure import catalogue
from ecosystem.scenario import LabSettings, load_scenario
from ecosystem.world.lab import lab_steps, self_consuming_loop

SMALL = [
    "culture.topics=6",
    "culture.dim=2",
    "culture.reference_size=200",
    "lab.n_real=200",
    "lab.n_synthetic=150",
    "model.params.components=6",
    "metrics.samples=200",
]


def _loop(culture, steps=4, **settings):
    generator = torch.Generator().manual_seed(0)
    model = models.make("gaussian")
    return [
        (g.index, g.train.clone(), g.synthetic.clone())
        for g in self_consuming_loop(culture, model, LabSettings(**settings), steps, generator)
    ]


def test_first_generation_is_fitted_on_real_data(small_culture):
    (index, train, synthetic), *_ = _loop(small_culture, steps=1, n_real=100)
    assert index == 1 and len(train) == 100 and not synthetic.any()


def test_fully_synthetic_replace_trains_only_on_samples(small_culture):
    gens = _loop(small_culture, n_real=100, n_synthetic=80)
    assert [len(t) for _, t, _ in gens] == [100, 80, 80, 80]
    assert all(s.all() for _, _, s in gens[1:])


def test_fully_synthetic_accumulate_keeps_everything(small_culture):
    gens = _loop(small_culture, n_real=100, n_synthetic=80, data="accumulate")
    assert [len(t) for _, t, _ in gens] == [100, 180, 260, 340]
    assert [int((~s).sum()) for _, _, s in gens] == [100] * 4
    assert torch.equal(gens[3][1][:100], gens[0][1])  # the real data is kept, not redrawn


def test_augmentation_reuses_the_fixed_real_set(small_culture):
    gens = _loop(small_culture, loop="synthetic_augmentation", n_real=100, n_synthetic=50)
    assert [len(t) for _, t, _ in gens] == [100, 150, 150, 150]
    for _, train, synthetic in gens[1:]:
        assert torch.equal(train[~synthetic], gens[0][1])
    acc = _loop(
        small_culture, loop="synthetic_augmentation", n_real=100, n_synthetic=50, data="accumulate"
    )
    assert [len(t) for _, t, _ in acc] == [100, 150, 200, 250]
    assert [int((~s).sum()) for _, _, s in acc] == [100] * 4


def test_fresh_data_draws_new_real_samples(small_culture):
    gens = _loop(small_culture, loop="fresh_data", n_real=60, n_synthetic=40)
    assert [len(t) for _, t, _ in gens] == [60, 100, 100, 100]
    assert [int(s.sum()) / len(s) for _, _, s in gens[1:]] == [0.4] * 3
    assert not torch.equal(gens[1][1][~gens[1][2]], gens[2][1][~gens[2][2]])


def test_accumulate_subsample_keeps_the_replace_size(small_culture):
    gens = _loop(
        small_culture, loop="fresh_data", n_real=60, n_synthetic=40, data="accumulate_subsample"
    )
    assert [len(t) for _, t, _ in gens] == [60, 100, 100, 100]
    # drawn from everything so far: later generations still contain first-generation points
    first = {tuple(row.tolist()) for row in gens[0][1]}
    assert any(tuple(row.tolist()) in first for row in gens[3][1])


def test_loop_rejects_unusable_settings(small_culture):
    with pytest.raises(ValueError, match="n_real"):
        _loop(small_culture, n_real=1)
    with pytest.raises(ValueError, match="n_synthetic"):
        _loop(small_culture, n_real=10, n_synthetic=0)


def test_lab_steps_emit_tidy_rows_per_generation():
    scenario = load_scenario("mad-fresh-data", [*SMALL, "steps=3"])
    steps = list(lab_steps(scenario))
    assert [step for step, _ in steps] == [1, 2, 3]
    for step, rows in steps:
        assert {generation for generation, *_ in rows} == {step}
        metrics = {(scope, metric) for _, scope, metric, _ in rows}
        for scope in ("model", "training"):
            for metric in catalogue.content_metric_names("vector"):
                assert (scope, metric) in metrics
        assert ("training", "synthetic_share") in metrics
    shares = [v for _, rows in steps for _, s, m, v in rows if m == "synthetic_share"]
    assert shares == [0.0, 150 / 350, 150 / 350]


def test_same_seed_same_numbers_different_seed_different_numbers():
    def values(seed):
        scenario = load_scenario("mad-fully-synthetic", [*SMALL, "steps=3", f"seed={seed}"])
        return [row for _, rows in lab_steps(scenario) for row in rows]

    assert values(1) == values(1)
    assert values(1) != values(2)


def test_bias_shrinks_what_the_model_publishes():
    def recall(bias):
        scenario = load_scenario("mad-fully-synthetic", [*SMALL, "steps=3", f"lab.bias={bias}"])
        rows = [row for _, rows in lab_steps(scenario) for row in rows]
        return next(v for g, s, m, v in rows if s == "model" and m == "recall" and g == 3)

    assert recall(0.5) < recall(1.0)
