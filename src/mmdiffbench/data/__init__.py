"""Data: the DiffMM release format, integrity checks, statistics and synthetic data."""

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.data.errors import DataError
from mmdiffbench.data.release import DataWarning, available_modalities, load_release
from mmdiffbench.data.stats import dataset_stats
from mmdiffbench.data.synthetic import make_synthetic, write_release

__all__ = [
    "DataError",
    "DataWarning",
    "InteractionDataset",
    "available_modalities",
    "dataset_stats",
    "load_release",
    "make_synthetic",
    "write_release",
]
