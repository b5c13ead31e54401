"""Training: BPR sampling, the trainer loop, checkpoints, seeding and device choice."""

from mmdiffbench.train.device import resolve_device
from mmdiffbench.train.phases import TrainingDiverged
from mmdiffbench.train.run import build_model, train_run
from mmdiffbench.train.trainer import Trainer

__all__ = ["Trainer", "TrainingDiverged", "build_model", "resolve_device", "train_run"]
