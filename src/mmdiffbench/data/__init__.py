"""Data: the DiffMM release and MMRec layouts, integrity checks, statistics and synthetic data."""

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.data.errors import DataError
from mmdiffbench.data.layout import detect_layout, load_dataset
from mmdiffbench.data.mmrec import load_mmrec
from mmdiffbench.data.release import DataWarning, available_modalities, load_release
from mmdiffbench.data.stats import dataset_stats
from mmdiffbench.data.synthetic import make_synthetic, write_mmrec, write_release

__all__ = [
    "DataError",
    "DataWarning",
    "InteractionDataset",
    "available_modalities",
    "dataset_stats",
    "detect_layout",
    "load_dataset",
    "load_mmrec",
    "load_release",
    "make_synthetic",
    "write_mmrec",
    "write_release",
]
