"""BPR sampling: every interaction once per epoch, negatives never positives, seeded."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mmdiffbench.train.sampling import BPRSampler


@pytest.fixture
def dense_train() -> sp.csr_matrix:
    rng = np.random.default_rng(0)
    matrix = (rng.random((50, 12)) < 0.6).astype(np.float32)  # dense rows make clashes frequent
    matrix[:, 0] = 0  # every user keeps at least one negative
    return sp.csr_matrix(matrix)


def _collect(sampler: BPRSampler, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = list(sampler.epoch(batch_size))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def test_epoch_covers_each_interaction_once(dense_train: sp.csr_matrix) -> None:
    users, pos, _ = _collect(BPRSampler(dense_train, seed=0), batch_size=17)
    seen = sorted(zip(users.tolist(), pos.tolist()))
    coo = dense_train.tocoo()
    assert seen == sorted(zip(coo.row.tolist(), coo.col.tolist()))


def test_negatives_are_never_training_items(dense_train: sp.csr_matrix) -> None:
    sampler = BPRSampler(dense_train, seed=1)
    for _ in range(5):
        users, _, neg = _collect(sampler, batch_size=64)
        assert not np.asarray(dense_train[users, neg]).ravel().any()


def test_negatives_are_uniform_over_non_interacted_items() -> None:
    train = sp.csr_matrix(np.array([[1, 0, 0, 0, 0]] * 2000, dtype=np.float32))
    _, _, neg = _collect(BPRSampler(train, seed=2), batch_size=4096)
    counts = np.bincount(neg, minlength=5)
    assert counts[0] == 0
    assert np.all(np.abs(counts[1:] / 2000 - 0.25) < 0.04)


def test_same_seed_same_batches_and_state_restores(dense_train: sp.csr_matrix) -> None:
    a, b = BPRSampler(dense_train, seed=5), BPRSampler(dense_train, seed=5)
    for x, y in zip(_collect(a, 32), _collect(b, 32)):
        np.testing.assert_array_equal(x, y)
    state = a.state
    first = _collect(a, 32)
    a.state = state
    for x, y in zip(first, _collect(a, 32)):
        np.testing.assert_array_equal(x, y)


def test_user_with_every_item_is_rejected() -> None:
    with pytest.raises(ValueError, match="every item"):
        BPRSampler(sp.csr_matrix(np.ones((2, 3), dtype=np.float32)), seed=0)
