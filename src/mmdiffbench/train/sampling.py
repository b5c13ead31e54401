"""The trainer's batches: BPR triples (every training interaction once per epoch, uniform
negatives) and shuffled user rows.

Negatives are drawn uniformly from all items and redrawn (in whole vectors) while they hit
one of the user's training items, so no Python loop runs per interaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch


class BPRSampler:
    def __init__(self, train: sp.csr_matrix, seed: int) -> None:
        coo = train.tocoo()
        order = np.lexsort((coo.col, coo.row))
        self.users = coo.row[order].astype(np.int64)
        self.items = coo.col[order].astype(np.int64)
        self.n_items = train.shape[1]
        self._keys = self.users * self.n_items + self.items  # sorted
        if len(self._keys) == 0:
            raise ValueError("the training split has no interactions")
        if np.any(np.diff(train.indptr) >= self.n_items):
            raise ValueError("a user has interacted with every item; no negative can be sampled")
        self.rng = np.random.default_rng(seed)

    def _is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users * self.n_items + items
        pos = np.searchsorted(self._keys, keys)
        pos = np.minimum(pos, len(self._keys) - 1)
        return self._keys[pos] == keys

    def sample_negatives(self, users: np.ndarray) -> np.ndarray:
        negatives = self.rng.integers(0, self.n_items, size=len(users))
        clash = self._is_positive(users, negatives)
        while clash.any():
            negatives[clash] = self.rng.integers(0, self.n_items, size=int(clash.sum()))
            clash[clash] = self._is_positive(users[clash], negatives[clash])
        return negatives

    def epoch(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Shuffled (users, positives, negatives) batches covering every interaction once."""
        order = self.rng.permutation(len(self.users))
        users, pos = self.users[order], self.items[order]
        neg = self.sample_negatives(users)
        for start in range(0, len(order), batch_size):
            stop = start + batch_size
            yield users[start:stop], pos[start:stop], neg[start:stop]

    def n_batches(self, batch_size: int) -> int:
        return -(-len(self.users) // batch_size)

    @property
    def state(self) -> dict[str, Any]:
        return dict(self.rng.bit_generator.state)

    @state.setter
    def state(self, value: dict[str, Any]) -> None:
        self.rng.bit_generator.state = value


class UserRowSampler:
    """Shuffled batches of users (every user once per epoch) with their binary training rows.

    The order is drawn with `torch.randperm` from torch's global generator, the draw DiffMM's
    generator phase has always made (so its random stream, and its numbers, are unchanged); that
    generator is in every checkpoint (`capture_rng`), so a resumed run draws the same orders.
    """

    def __init__(self, train: sp.csr_matrix, shuffle: bool = True) -> None:
        self.rows = sp.csr_matrix(train, dtype=np.float32)
        self.rows.data[:] = 1.0
        self.n_users = train.shape[0]
        self.shuffle = shuffle

    def epoch(self, batch_size: int) -> Iterator[tuple[np.ndarray, sp.csr_matrix]]:
        order = torch.randperm(self.n_users).numpy() if self.shuffle else np.arange(self.n_users)
        for start in range(0, self.n_users, batch_size):
            users = order[start : start + batch_size]
            yield users, self.rows[users]

    def n_batches(self, batch_size: int) -> int:
        return -(-self.n_users // batch_size)
