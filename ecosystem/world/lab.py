"""The single-model self-consuming loop of the literature (lab mode).

Core objects: :class:`SelfConsumingLoop` and :func:`self_consuming_loop` (model generations
of one of the three loops of Alemohammad et al., ICLR 2024, with sampling bias
and with replace, accumulate or accumulate-subsample data), :class:`Generation`
(one fitted generation and its training set), :class:`LabSimulation` and
:func:`lab_steps` (the loop of a scenario with every metric, as tidy rows per
generation; the simulation pickles between generations, which is its checkpoint).

Generation indexing: generation 1 is the fit on real data only; generation
``g > 1`` is fitted on data that includes samples of generation ``g - 1``.
The content, its truth and its metrics are the scenario's world's
(:mod:`ecosystem.world.protocol`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

import models
from ecosystem.measure.excerpts import Excerpts
from ecosystem.measure.rows import StepRows
from ecosystem.randomness import Streams
from ecosystem.scenario import LabSettings, Scenario
from ecosystem.world.content import subsample
from ecosystem.world.protocol import World
from ecosystem.world.worlds import make_world
from models.base import GenerativeModel

__all__ = ["Generation", "LabSimulation", "SelfConsumingLoop", "lab_steps", "self_consuming_loop"]


@dataclass
class Generation:
    """One model generation: the fitted model and the data it was fitted on."""

    index: int
    model: GenerativeModel
    train: Any
    """The training set, a batch of the world's store."""
    synthetic: torch.Tensor

    @property
    def synthetic_share(self) -> float:
        """Share of the training set that is synthetic."""
        return int(self.synthetic.sum()) / len(self.synthetic) if len(self.synthetic) else 0.0


class SelfConsumingLoop:
    """The self-consuming loop as an object advanced one generation at a time.

    Its whole state (the model, the real set, the pool, the generator) lives in its
    attributes, so pickling it between generations is a checkpoint. See
    :func:`self_consuming_loop` for what each generation trains on.
    """

    def __init__(
        self,
        world: World,
        model: GenerativeModel,
        settings: LabSettings,
        generations: int,
        generator: torch.Generator,
    ) -> None:
        _check_loop(settings, generations)
        self.world = world
        self.model = model
        self.settings = settings
        self.generations = generations
        self.generator = generator
        self.index = 0
        self.real: Any = None
        self.pool: list[tuple[Any, torch.Tensor]] = []

    def advance(self) -> Generation | None:
        """Fit the next generation (None once every generation is fitted)."""
        if self.index >= self.generations:
            return None
        world, model, settings, generator = self.world, self.model, self.settings, self.generator
        store = world.store
        if self.index == 0:
            real, _ = world.sample(settings.n_real, generator)
            self.real = real
            self.pool = [(real, torch.zeros(len(real), dtype=torch.bool))]
            train, synthetic = real, self.pool[0][1]
        else:
            fresh_x, fresh_synthetic = _new_data(world, model, settings, self.real, generator)
            if settings.data == "replace":
                train, synthetic = fresh_x, fresh_synthetic
            else:
                if settings.loop == "synthetic_augmentation":
                    # the fixed real set is already in the pool: add only the new samples
                    fresh_x, fresh_synthetic = (
                        store.take(fresh_x, fresh_synthetic),
                        fresh_synthetic[fresh_synthetic],
                    )
                self.pool.append((fresh_x, fresh_synthetic))
                train = store.concat([x for x, _ in self.pool])
                synthetic = torch.cat([s for _, s in self.pool])
                if settings.data == "accumulate_subsample":
                    size = _replace_size(settings)
                    keep = torch.randperm(len(train), generator=generator)[:size]
                    train, synthetic = store.take(train, keep), synthetic[keep]
        self.index += 1
        model.fit(train, generator=generator)
        return Generation(self.index, model, train, synthetic)


def self_consuming_loop(
    world: World,
    model: GenerativeModel,
    settings: LabSettings,
    generations: int,
    generator: torch.Generator,
) -> Iterator[Generation]:
    """Fit ``model`` generation after generation, feeding it its own samples.

    Per generation ``g > 1`` the new data are: ``n_synthetic`` samples of the
    previous model (drawn with ``settings.bias``), plus the fixed real set
    (``synthetic_augmentation``) or ``n_real`` fresh real samples
    (``fresh_data``). ``replace`` trains on the new data only, ``accumulate``
    on everything so far, ``accumulate_subsample`` on a random subset of
    everything so far as large as the new data.
    """
    loop = SelfConsumingLoop(world, model, settings, generations, generator)
    while (generation := loop.advance()) is not None:
        yield generation


def _new_data(
    world: World,
    model: GenerativeModel,
    settings: LabSettings,
    real: Any,
    generator: torch.Generator,
) -> tuple[Any, torch.Tensor]:
    synthetic = model.sample(settings.n_synthetic, bias=settings.bias, generator=generator)
    if settings.loop == "fully_synthetic":
        human = world.store.empty()
    elif settings.loop == "synthetic_augmentation":
        human = real
    else:
        human, _ = world.sample(settings.n_real, generator)
    x = world.store.concat([human, synthetic])
    mask = torch.cat(
        [torch.zeros(len(human), dtype=torch.bool), torch.ones(len(synthetic), dtype=torch.bool)]
    )
    return x, mask


def _replace_size(settings: LabSettings) -> int:
    """Training-set size of a generation under ``replace`` (the subsample size)."""
    real = 0 if settings.loop == "fully_synthetic" else settings.n_real
    return real + settings.n_synthetic


def _check_loop(settings: LabSettings, generations: int) -> None:
    if settings.n_real < 2:
        raise ValueError(
            f"lab.n_real must be >= 2 to fit the first generation, got {settings.n_real}"
        )
    if generations > 1 and settings.loop == "fully_synthetic" and settings.n_synthetic < 2:
        raise ValueError("lab.n_synthetic must be >= 2 for the fully synthetic loop")


class LabSimulation:
    """A lab scenario step by step (one step = one generation), with every metric as tidy rows.

    Scopes: ``model`` (a fixed-size sample of the model, drawn with the loop's bias: what
    it would publish) and ``training`` (its training set). Pickling it between steps is a
    checkpoint of the run.
    """

    def __init__(self, scenario: Scenario) -> None:
        streams = Streams(scenario.seed)
        self.scenario = scenario
        self.world = make_world(scenario, streams.torch("culture"))
        model = models.make(scenario.model.name, **scenario.model.params)
        self.loop = SelfConsumingLoop(
            self.world, model, scenario.lab, scenario.steps, streams.torch("lab")
        )
        self.metric_generator = streams.torch("metrics")
        metrics = scenario.metrics
        self.excerpts = Excerpts(  # a generation is worth keeping: every one is kept
            self.world,
            every=1,
            count=metrics.excerpts,
            last=scenario.steps,
            pictures=metrics.pictures,
        )

    def advance(self) -> tuple[int, StepRows] | None:
        """The next generation's rows (None after the last one)."""
        generation = self.loop.advance()
        if generation is None:
            return None
        settings, metric_settings = self.scenario.lab, self.scenario.metrics
        world, model, metric_generator = self.world, generation.model, self.metric_generator
        index = generation.index
        published = model.sample(
            metric_settings.samples, bias=settings.bias, generator=metric_generator
        )
        seen = subsample(world.store, generation.train, metric_settings.samples, metric_generator)
        rows: StepRows = []
        for scope, sample, source in (("model", published, model), ("training", seen, None)):
            self.excerpts.add(index, index, scope, sample)
            values = world.evaluate(sample, metric_settings, model=source)
            rows.extend((index, scope, metric, value) for metric, value in values.items())
        rows.append((index, "training", "synthetic_share", generation.synthetic_share))
        rows.append((index, "training", "size", float(len(generation.train))))
        return index, rows


def lab_steps(scenario: Scenario) -> Iterator[tuple[int, StepRows]]:
    """Run a lab scenario: per generation, the tidy rows of every metric
    (:class:`LabSimulation`)."""
    simulation = LabSimulation(scenario)
    while (item := simulation.advance()) is not None:
        yield item
