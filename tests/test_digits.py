"""The digits world: real images of digits, the cached feature classifier, the metrics in its
feature space, the pictures a run keeps, and the digits scenarios in both modes."""

from __future__ import annotations

import math
import pickle
import time

import numpy as np
import pytest
import torch

from ecosystem.scenario import load_scenario
from ecosystem.world.digit_features import real_digits, shift, split, trained_classifier
from ecosystem.world.digits import DigitsWorld

TINY = "tests/data/tiny-digits-web.toml"
LAB_SMALL = ["lab.n_real=300", "lab.n_synthetic=300", "metrics.samples=200"]
LAB_SMALL += ["model.params.steps=20", "model.params.epochs=3", "model.params.hidden=32"]


@pytest.fixture(scope="module")
def world() -> DigitsWorld:
    scenario = load_scenario("mad-digits-fully-synthetic")
    return DigitsWorld.from_scenario(scenario, torch.Generator().manual_seed(0))


def test_the_real_digits_ship_with_the_package_and_split_by_class():
    images, labels = real_digits()
    assert images.shape == (1797, 64) and images.dtype == torch.float32
    assert float(images.min()) == 0.0 and float(images.max()) == 1.0
    train, test = split(0.3, 0)
    assert len(set(train.tolist()) & set(test.tolist())) == 0 and len(train) + len(test) == 1797
    held_out = torch.bincount(labels[test], minlength=10) / torch.bincount(labels, minlength=10)
    assert torch.allclose(held_out, torch.tensor(0.3), atol=0.01)
    assert torch.equal(split(0.3, 0)[1], test) and not torch.equal(split(0.3, 1)[1], test)


def test_a_shift_moves_each_image_by_at_most_one_pixel():
    images, _ = real_digits()
    moved = shift(images[:200], torch.Generator().manual_seed(3))
    assert torch.equal(moved, shift(images[:200], torch.Generator().manual_seed(3)))
    assert not torch.equal(moved, images[:200])
    assert bool((moved.sum(1) <= images[:200].sum(1) + 1e-5).all())  # ink moves, never appears
    grid, original = moved.view(-1, 8, 8), images[:200].view(-1, 8, 8)
    for i in range(20):
        matches = [
            torch.equal(grid[i], _translated(original[i], dy, dx))
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        ]
        assert any(matches)


def _translated(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    padded = torch.nn.functional.pad(image, (1, 1, 1, 1))
    return padded[1 - dy : 9 - dy, 1 - dx : 9 - dx]


def test_the_classifier_is_accurate_deterministic_and_cached(tmp_path, monkeypatch):
    _, accuracy = trained_classifier()
    assert accuracy >= 0.97  # on the held-out images
    monkeypatch.setenv("ECOSYSTEM_CACHE_DIR", str(tmp_path))
    started = time.perf_counter()
    first, first_accuracy = trained_classifier(epochs=3)
    trained = time.perf_counter() - started
    (cached,) = tmp_path.glob("digits-classifier-*.pt")
    started = time.perf_counter()
    again, again_accuracy = trained_classifier(epochs=3)
    assert time.perf_counter() - started < trained / 5  # read back, not trained again
    assert first_accuracy == again_accuracy
    for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    cached.unlink()  # trained again from nothing: the same weights
    retrained, _ = trained_classifier(epochs=3)
    for a, b in zip(first.state_dict().values(), retrained.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_the_digits_world_follows_the_protocol(world):
    from ecosystem.world.protocol import World
    from ecosystem.world.worlds import WORLDS

    assert isinstance(world, World) and WORLDS["digits"] is DigitsWorld
    assert world.pictured and not world.readable and "log_likelihood" not in world.metric_names
    assert world.topics == 10 and math.isclose(float(world.weights.sum()), 1.0)
    assert bool(world.tail_mask[9]) and not bool(world.tail_mask[0])  # 9 is the rarest digit
    x, digits = world.sample(4000, torch.Generator().manual_seed(1))
    assert x.shape == (4000, 64) and float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    shares = torch.bincount(digits, minlength=10).double() / 4000
    assert torch.allclose(shares, world.weights, atol=0.02)
    assert float((world.assign(x) == digits).double().mean()) > 0.95
    scores = world.log_prob(x)
    assert scores.dtype == torch.float64 and bool((scores <= 0).all())
    again, _ = world.sample(4000, torch.Generator().manual_seed(1))
    assert torch.equal(x, again)
    restored = pickle.loads(pickle.dumps(world))
    assert torch.equal(restored.log_prob(x[:50]), world.log_prob(x[:50]))
    pictures = world.picture(x, 5)
    assert pictures.shape == (5, 8, 8) and pictures.dtype == np.uint8
    assert world.excerpt(x, 5, 40) == []


def test_human_images_score_as_real_and_noise_does_not(world):
    settings = load_scenario("mad-digits-fully-synthetic").metrics
    human, _ = world.sample(1000, torch.Generator().manual_seed(2))
    real = world.evaluate(human, settings)
    assert set(real) == set(world.metric_names)
    assert real["precision"] > 0.9 and real["recall"] > 0.9 and real["coverage"] > 0.9
    assert real["frechet"] < 20 and real["topic_coverage"] == 1.0
    assert 0.8 < real["tail_mass_ratio"] < 1.25
    noise = torch.rand(1000, 64, generator=torch.Generator().manual_seed(3))
    fake = world.evaluate(noise, settings)
    # k-NN precision counts noise inside the wide balls of the reference's outliers (0.5
    # here); density and coverage (Naeem et al. 2020) and the Fréchet distance do not
    assert fake["density"] < 0.3 and fake["coverage"] < 0.3 and fake["recall"] < 0.2
    assert fake["frechet"] > 10 * real["frechet"] and fake["precision"] < real["precision"]
    only_ones = world.evaluate(human[world.assign(human) == 1], settings)
    assert only_ones["recall"] < 0.4 and only_ones["topic_coverage"] == pytest.approx(0.1)
    empty = world.evaluate(human[:0], settings)
    assert all(math.isnan(v) for v in empty.values())


def test_a_digits_lab_run_keeps_its_pictures_and_reports_them(tmp_path):
    from ecosystem.experiments.report import write_report
    from ecosystem.runs.results import read_excerpts
    from ecosystem.runs.runner import run_scenario

    scenario = load_scenario("mad-digits-fully-synthetic", [*LAB_SMALL, "steps=3"])
    run_scenario(scenario, tmp_path / "run")
    pictures = (tmp_path / "run" / "pictures.png").read_bytes()
    assert pictures[:8] == b"\x89PNG\r\n\x1a\n"
    excerpts = read_excerpts(tmp_path / "run")
    assert excerpts is not None and sorted(excerpts["step"].unique()) == [1, 2, 3]
    assert excerpts.groupby(["step", "scope"]).size().eq(16).all()
    assert (excerpts["height"] == 8).all() and excerpts["pixels"].map(len).eq(64).all()
    assert (excerpts["text"] == "").all()
    html = write_report(tmp_path / "run", tmp_path / "report").page.read_text()
    assert "Sample pictures" in html and "Sample documents" not in html


def test_the_digits_world_runs_in_ecosystem_mode_with_neural_companies():
    from ecosystem.world.model import ecosystem_steps

    overrides = ["steps=3", "companies.alpha.model.name=vae"]
    overrides += ["companies.alpha.model.params.epochs=2", "companies.alpha.model.params.hidden=16"]
    scenario = load_scenario(TINY, overrides)
    rows = [row for _, step in ecosystem_steps(scenario) for row in step]
    scopes = {scope for _, scope, _, _ in rows}
    assert {"web", "web_new", "company:alpha", "training:alpha", "creators"} <= scopes
    metrics = {metric for _, scope, metric, _ in rows if scope == "web"}
    assert "frechet" in metrics and "log_likelihood" not in metrics
    recall = [v for _, s, m, v in rows if s == "web" and m == "recall"]
    assert recall and all(0.5 < v <= 1 for v in recall)
