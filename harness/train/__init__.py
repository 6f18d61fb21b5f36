"""Training: `train(TrainOptions) -> run directory`, the one loop with its losses and schedules."""

from harness.train.loop import NonFiniteError, train
from harness.train.options import TrainOptions

__all__ = ["NonFiniteError", "TrainOptions", "train"]
