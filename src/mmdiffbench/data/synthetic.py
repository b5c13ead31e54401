"""A small dataset with planted structure, for fast tests that must see a model learn.

Items fall into clusters; each user likes one or two clusters and interacts mostly inside
them; every modality's features are a noisy cluster centroid. A model that uses either the
graph or the features can beat random ranking by a wide margin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.data.release import write_splits


def make_synthetic(
    n_users: int = 300,
    n_items: int = 200,
    n_clusters: int = 8,
    interactions_per_user: int = 12,
    modalities: dict[str, int] | None = None,
    noise: float = 0.1,
    seed: int = 0,
    name: str = "synthetic",
) -> InteractionDataset:
    """Users x items splits (about 80/10/10 per user) plus features revealing item clusters."""
    rng = np.random.default_rng(seed)
    modalities = {"image": 16, "text": 24} if modalities is None else modalities
    item_cluster = rng.integers(0, n_clusters, size=n_items)
    members = [np.flatnonzero(item_cluster == c) for c in range(n_clusters)]
    rows: dict[str, list[tuple[int, int]]] = {"train": [], "val": [], "test": []}
    for user in range(n_users):
        liked = rng.choice(n_clusters, size=2, replace=False)
        pool = np.concatenate([members[c] for c in liked])
        n = min(interactions_per_user, len(pool))
        items = rng.choice(pool, size=n, replace=False)
        n_held = max(1, n // 10)
        for item in items[:n_held]:
            rows["test"].append((user, item))
        for item in items[n_held : 2 * n_held]:
            rows["val"].append((user, item))
        for item in items[2 * n_held :]:
            rows["train"].append((user, item))

    def to_csr(pairs: list[tuple[int, int]]) -> sp.csr_matrix:
        users, items = np.array(pairs).T
        values = np.ones(len(pairs), dtype=np.float32)
        return sp.csr_matrix((values, (users, items)), shape=(n_users, n_items), dtype=np.float32)

    features = {}
    for modality, dim in modalities.items():
        centroids = rng.normal(size=(n_clusters, dim))
        features[modality] = (centroids[item_cluster] + noise * rng.normal(size=(n_items, dim))).astype(np.float32)
    return InteractionDataset(name, to_csr(rows["train"]), to_csr(rows["val"]), to_csr(rows["test"]), features)


def write_release(dataset: InteractionDataset, directory: str | Path) -> None:
    """Write `dataset` in the release layout (coo pickles + *_feat.npy), as the release does."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_splits(dataset, directory)
    for modality, features in dataset.features.items():
        np.save(directory / f"{modality}_feat.npy", features.astype(np.float16))


def write_mmrec(dataset: InteractionDataset, directory: str | Path, name: str | None = None) -> Path:
    """Write `dataset` in MMRec's layout (`<name>.inter` with x_label, `*_feat.npy`); returns the .inter path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["userID\titemID\trating\ttimestamp\tx_label"]
    for label, split in enumerate(("train", "val", "test")):
        coo = dataset.split(split).tocoo()
        lines += [f"{u}\t{i}\t5.0\t0\t{label}" for u, i in zip(coo.row, coo.col, strict=True)]
    path = directory / f"{name or directory.name}.inter"
    path.write_text("\n".join(lines) + "\n")
    for modality, features in dataset.features.items():
        np.save(directory / f"{modality}_feat.npy", features)
    return path
