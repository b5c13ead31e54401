"""Pieces the benchmark scripts share."""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from mmdiffbench.config import RunConfig, resolve
from mmdiffbench.data import load_dataset
from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.train.phases import PhaseRunner
from mmdiffbench.train.run import build_model
from mmdiffbench.train.seeding import seed_everything


def add_dataset_source(parser: argparse.ArgumentParser) -> None:
    """`--data DIR` or `--synthetic-sports`, exactly one: the dataset a benchmark measures on."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="a dataset folder (either layout)")
    source.add_argument("--synthetic-sports", action="store_true", help="Amazon-Sports' shapes, random features")


def dataset_from(args: argparse.Namespace) -> InteractionDataset:
    """The dataset `add_dataset_source`'s arguments name."""
    return synthetic_sports() if args.synthetic_sports else load_dataset(args.data)


def synthetic_sports(seed: int = 0) -> InteractionDataset:
    """Amazon-Sports' shapes (35,598 users, 18,357 items, 256,308 training interactions; image 4096-d
    and text 1024-d random features) for memory and speed checks at that size; the sports preset applies."""
    rng = np.random.default_rng(seed)
    n_users, n_items, n_edges = 35_598, 18_357, 256_308
    users = np.concatenate([np.arange(n_users), rng.integers(0, n_users, n_edges - n_users)])
    items = rng.integers(0, n_items, n_edges)
    train = sp.csr_matrix((np.ones(n_edges, np.float32), (users, items)), shape=(n_users, n_items))
    train.data[:] = 1.0
    held = sp.csr_matrix(
        (np.ones(n_users, np.float32), (np.arange(n_users), rng.integers(0, n_items, n_users))), shape=train.shape
    )
    features = {
        "image": rng.standard_normal((n_items, 4096), dtype=np.float32),
        "text": rng.standard_normal((n_items, 1024), dtype=np.float32),
    }
    return InteractionDataset("sports", train, held, held, features)


@contextmanager
def library_at(revision: str) -> Iterator[Path]:
    """The `src/` folder of this repository at git `revision`, in a temporary folder (put it first
    on a child process's PYTHONPATH to run that revision's library)."""
    repository = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(repository), "archive", revision, "src"], check=True, stdout=subprocess.PIPE
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        yield Path(tmp) / "src"


def phase_runner(
    model_name: str, dataset: InteractionDataset, seed: int = 0, overrides: list[str] | None = None
) -> tuple[RunConfig, PhaseRunner]:
    """The model with its YAML defaults, the dataset's preset and `overrides` (KEY=VALUE), built on
    CPU, and the runner that steps its phases as the trainer does: what the epoch benchmarks time."""
    config = resolve(model_name, dataset.name, "full", list(overrides or []))
    seed_everything(seed)
    model = build_model(dataset, config, torch.device("cpu"))
    return config, PhaseRunner(model, dataset, config.trainer, seed)
