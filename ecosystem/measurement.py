"""What is measured every month, as tidy rows per scope.

Core object: :class:`Measurement`. Scopes:

- ``web``: the live pages (quality and diversity of a fixed-size sample, the
  synthetic share, pages alive, mean in-degree);
- ``web_new``: the pages published this month;
- ``company:<name>``: a fixed-size sample of the company's current model,
  drawn with its sampling bias (what it publishes);
- ``training:<name>``: the company's last training set, with its synthetic share;
- ``creators``: creators active and pages they published.

Every sample has the fixed size ``metrics.samples``, so the cost per month
does not grow with the web. A company's rows are recomputed only when it has
a new model generation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ecosystem.agents import AICompany, HumanCreator
from ecosystem.culture import Culture
from ecosystem.metrics import evaluate
from ecosystem.results import StepRows
from ecosystem.scenario import MetricSettings
from ecosystem.web import AI, AI_ASSISTED, HUMAN, Web

__all__ = ["Measurement"]


class Measurement:
    """Measures the web, the companies and the creators at the end of each month."""

    def __init__(
        self,
        culture: Culture,
        settings: MetricSettings,
        rng: np.random.Generator,
        generator: torch.Generator,
    ) -> None:
        self.culture = culture
        self.settings = settings
        self.rng = rng
        self.generator = generator
        self._company_rows: dict[str, tuple[int, StepRows]] = {}

    def rows(
        self,
        web: Web,
        companies: Sequence[AICompany],
        creators: Sequence[HumanCreator],
        step: int,
        published: np.ndarray,
    ) -> StepRows:
        """Every scope's metrics at the end of month ``step``; ``published`` are the
        pages written this month (including any that died before the month ended)."""
        live = web.live()
        rows: StepRows = []
        rows += self._pages(web, live, "web")
        rows += self._pages(web, published, "web_new")
        rows.append((0, "web", "pages_alive", float(len(live))))
        rows.append((0, "web", "mean_in_degree", _mean(web.in_degree[live])))
        rows.append((0, "web_new", "pages_new", float(len(published))))
        for index, company in enumerate(companies):
            rows += self._company(company)
            mine = (web.company[published] == index) & (web.origin[published] == AI)
            rows.append(
                (
                    company.generation,
                    f"company:{company.name}",
                    "pages_published",
                    float(mine.sum()),
                )
            )
        active = sum(c.active for c in creators)
        rows.append((0, "creators", "active", float(active)))
        human = np.count_nonzero(web.author[published] >= 0)
        rows.append((0, "creators", "pages_published", float(human)))
        return rows

    def _evaluate(self, x: torch.Tensor) -> dict[str, float]:
        return evaluate(
            self.culture, x, k=self.settings.k, min_topic_fraction=self.settings.min_topic_fraction
        )

    def _pages(self, web: Web, pages: np.ndarray, scope: str) -> StepRows:
        origin = web.origin[pages]
        shares = {
            "synthetic_share": _mean(origin != HUMAN),
            "ai_share": _mean(origin == AI),
            "ai_assisted_share": _mean(origin == AI_ASSISTED),
        }
        if len(pages) > self.settings.samples:
            pages = np.sort(self.rng.choice(pages, self.settings.samples, replace=False))
        values = self._evaluate(torch.from_numpy(web.content[pages])) | shares
        return [(0, scope, metric, value) for metric, value in values.items()]

    def _company(self, company: AICompany) -> StepRows:
        cached = self._company_rows.get(company.name)
        if cached is not None and cached[0] == company.generation:
            return cached[1]
        generation, name = company.generation, company.name
        sample = company.generative.sample(
            self.settings.samples, bias=company.settings.bias, generator=self.generator
        )
        rows = [(generation, f"company:{name}", m, v) for m, v in self._evaluate(sample).items()]
        rows.append((generation, f"company:{name}", "generation", float(generation)))
        train, synthetic = company.training_x, company.training_synthetic
        if train is not None and len(train):
            if len(train) > self.settings.samples:
                keep = torch.from_numpy(
                    np.sort(self.rng.choice(len(train), self.settings.samples, replace=False))
                )
                seen = train[keep]
            else:
                seen = train
            values = self._evaluate(seen) | {
                "synthetic_share": float(synthetic.double().mean()),
                "size": float(len(train)),
            }
            rows += [(generation, f"training:{name}", m, v) for m, v in values.items()]
        self._company_rows[name] = (generation, rows)
        return rows


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")
