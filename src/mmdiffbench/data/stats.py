"""Dataset statistics in the layout of the DiffMM paper's dataset table (Table 5)."""

from __future__ import annotations

from mmdiffbench.data.dataset import InteractionDataset


def dataset_stats(dataset: InteractionDataset) -> dict[str, object]:
    """Users, items, interactions per split, sparsity (train+val+test), modalities and dims."""
    n_train, n_val, n_test = dataset.train.nnz, dataset.val.nnz, dataset.test.nnz
    total = n_train + n_val + n_test
    cells = dataset.n_users * dataset.n_items
    return {
        "dataset": dataset.name,
        "users": dataset.n_users,
        "items": dataset.n_items,
        "train_interactions": n_train,
        "val_interactions": n_val,
        "test_interactions": n_test,
        "interactions": total,
        "sparsity_percent": 100.0 * (1.0 - total / cells),
        "users_without_train": int((dataset.train_counts() == 0).sum()),
        "modalities": {m: int(f.shape[1]) for m, f in sorted(dataset.features.items())},
    }
