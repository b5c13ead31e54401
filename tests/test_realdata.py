"""The loader on the real public release (skipped when ../shared/datasets is absent).

Expected shapes and interaction counts are the ones the data README documents, checked
here against what the loader actually reads.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmdiffbench.data import dataset_stats, load_release
from tests.conftest import real_dataset_dir

EXPECTED = {  # users, items, train / val / test interactions, modalities (shared/datasets/README.md)
    "tiktok": (9308, 6710, 59541, 3051, 6130, {"audio": 128, "image": 128}),
    "baby": (19445, 7050, 118551, 21682, 20559, {}),
    "sports": (35598, 18357, 218409, 40029, 37899, {}),
}

pytestmark = pytest.mark.realdata


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_release_loads_verified_with_documented_shapes(name: str) -> None:
    dataset = load_release(real_dataset_dir(name))
    users, items, n_train, n_val, n_test, modalities = EXPECTED[name]
    stats = dataset_stats(dataset)
    assert (stats["users"], stats["items"]) == (users, items)
    assert (stats["train_interactions"], stats["val_interactions"], stats["test_interactions"]) == (
        n_train,
        n_val,
        n_test,
    )
    assert stats["modalities"] == modalities
    assert set(dataset.verification.values()) == {"verified"}
    for split in ("train", "val", "test"):
        assert set(np.unique(dataset.split(split).data)) == {1.0}


def test_tiktok_splits_are_disjoint_and_features_finite() -> None:
    dataset = load_release(real_dataset_dir("tiktok"))
    assert dataset.train.multiply(dataset.test).nnz == 0
    assert dataset.train.multiply(dataset.val).nnz == 0
    for features in dataset.features.values():
        assert features.dtype == np.float32 and np.isfinite(features).all()
    # the data README: "a few users have no training interaction"; they are kept, not dropped
    counts = dataset.train_counts()
    assert 0 < dataset_stats(dataset)["users_without_train"] == int((counts == 0).sum()) < 20
