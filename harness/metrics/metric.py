"""What a metric is, and the one table of them (`METRICS`): adding a metric is adding one file.

A metric is a class registered with its properties, next to its pure functions:

    @register_metric("fid", higher_is_better=False, features="inception")
    class FID(Metric):
        def score(self, real, fake, options, repeat): ...

and follows three steps. Features: a feature network maps images to [N, D] (the reals once per
network and count, shared by every metric that uses that network; the generated images once per
network and repeat). Statistics: what the metric keeps of the reals (`real_kind`: all features,
FID's mean and covariance, or KID's sample), cached on disk. Scalar: `score` turns the real
statistics and the generated features of one repeat into the value. A perceptual metric (PPL)
measures the generator with a perceptual distance instead and overrides `repeat`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from common.registry import Registry


class Metric:
    """One metric's steps. Properties (set by `register_metric`): `registered_name`,
    `higher_is_better`, `features` (the network its published numbers came from), `perceptual`
    (measured with a perceptual distance, no reals), `max_real` (a cap on the reals it reads),
    `reports` (the quantities its row reports, read by harness.rundir.reported_fields; empty: one,
    named as the metric, in `value`)."""

    registered_name: ClassVar[str]
    higher_is_better: ClassVar[bool]
    features: ClassVar[str]
    perceptual: ClassVar[bool] = False
    max_real: ClassVar[int | None] = None
    reports: ClassVar[tuple[str, ...]] = ()
    parts: ClassVar[tuple[str, ...]] = ()  # values recorded beside `value`, each with its std

    def real_kind(self, count: int, options) -> str:
        """What the metric keeps of `count` reals: 'features-all' unless it says otherwise."""
        return "features-all"

    def protocol(self, options, count: int | None) -> dict:
        """The row fields, beyond the shared ones, that decide this metric's number (part of its key)."""
        return {}

    def score(self, real: dict[str, np.ndarray], fake: np.ndarray, options, repeat: int) -> dict:
        """{'value': float, ...} of one repeat from the real statistics and generated features [N, D]."""
        raise NotImplementedError

    def repeat(self, evaluator, net, repeat: int, count: int | None) -> dict:
        """One repeat: the real statistics of `count` reals and this repeat's generated features."""
        real = evaluator.real.get(net, count, self.real_kind(count, evaluator.options))
        return self.score(real, evaluator.fake_features(net, repeat), evaluator.options, repeat)

    def finish(self, row: dict, runs: list[dict]) -> None:
        """Add what the repeats carry beyond `value` to the row (each of `parts` with its std)."""
        for part in self.parts:
            stats = summary([run[part] for run in runs])
            row.update({part: stats["value"], f"{part}_std": stats["std"], f"{part}_values": stats["values"]})


METRICS: Registry[type[Metric]] = Registry("metric", Metric)


def register_metric(name: str, *, higher_is_better: bool, features: str, perceptual: bool = False,
                    max_real: int | None = None, reports: tuple[str, ...] = ()):
    """Class decorator: register a Metric subclass as `name` with its properties."""
    def decorate(cls: type[Metric]) -> type[Metric]:
        cls.higher_is_better, cls.features = higher_is_better, features
        cls.perceptual, cls.max_real, cls.reports = perceptual, max_real, tuple(reports)
        return METRICS.register(name)(cls)

    return decorate


def get_metric(name: str) -> Metric:
    """The registered metric `name`; an unknown name lists the known ones."""
    return METRICS.get(name)()


def check_metrics(metrics) -> list[str]:
    """`metrics` as a list, or a ValueError naming the first unknown one and the known ones."""
    for name in metrics:
        METRICS.get(name)
    return list(metrics)


def summary(values: list[float]) -> dict:
    """Mean, sample standard deviation (None for one value) and the values."""
    values = [float(v) for v in values]
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return {"value": float(np.mean(values)), "std": std, "values": values}
