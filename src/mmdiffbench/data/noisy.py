"""LD4MRec's noisy-training setting (its Table 1 "(N)" counts and Table 3) as a seeded transform.

The paper adds noisy interactions to the training and validation splits and keeps the test
split; its noisy datasets hold 1.1 times the clean count of interactions (all three splits
counted: +16,078 / +29,633 / +168,918 on Baby / Sports / Electronics). It does not say how the
noise is drawn nor how "natural" noise (ratings below 4) and random noise mix.

Decisions:
- All noise is random: our splits are 0/1 matrices without ratings, so there is no natural
  noise to draw from.
- Count: floor(ratio x all clean interactions) added pairs; with ratio 0.1 this reproduces the
  paper's Sports and Electronics counts exactly and Baby's within one.
- Pairs: uniform over the (user, item) pairs absent from every split (a test pair added to
  training would leak it), drawn without replacement.
- Split: train and validation receive the added pairs in proportion to their clean sizes
  (largest remainder), so each split keeps its share of the data; which pair goes where is
  random.
The result is deterministic for a seed; users x items is never densified.

In the workflow a noisy dataset is a config.yaml dataset `derived_from` a clean one with
`transform: random_noise` (its `noise_ratio` and `seed`), written by `mmdiffbench data noisy`
(data/derived.py). Its noise seed is fixed per derived dataset: the training seeds vary the
training only, on one noisy copy, as the paper's one noisy dataset per source.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.data.errors import DataError

NOISE_RATIO = 0.1  # LD4MRec Table 1: noisy counts are 1.1 x the clean counts


def pair_codes(matrix: sp.csr_matrix) -> np.ndarray:
    """user * n_items + item of every stored pair."""
    coo = matrix.tocoo()
    return coo.row.astype(np.int64) * matrix.shape[1] + coo.col.astype(np.int64)


def absent_pairs(taken: np.ndarray, n_users: int, n_items: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` distinct codes drawn uniformly among those not in `taken` (sorted), by rejection."""
    if count > n_users * n_items - len(taken):
        raise DataError(f"cannot add {count} random pairs: only {n_users * n_items - len(taken)} are absent")
    chosen = np.empty(0, dtype=np.int64)
    while len(chosen) < count:
        draws = rng.integers(0, n_users * n_items, size=2 * (count - len(chosen)) + 16, dtype=np.int64)
        draws = draws[~np.isin(draws, taken) & ~np.isin(draws, chosen)]
        _, first = np.unique(draws, return_index=True)  # distinct, in draw order
        chosen = np.concatenate([chosen, draws[np.sort(first)]])
    return chosen[:count]


def split_counts(total: int, sizes: list[int]) -> list[int]:
    """`total` divided in proportion to `sizes`, by largest remainder (ties to the first)."""
    shares = np.asarray(sizes, dtype=np.float64) * total / max(sum(sizes), 1)
    counts = np.floor(shares).astype(np.int64)
    order = np.argsort(-(shares - counts), kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    return [int(c) for c in counts]


def with_pairs(matrix: sp.csr_matrix, codes: np.ndarray) -> sp.csr_matrix:
    """`matrix` with ones added at the coded pairs (none of them stored yet)."""
    n_items = matrix.shape[1]
    added = sp.csr_matrix(
        (np.ones(len(codes), dtype=np.float32), (codes // n_items, codes % n_items)), shape=matrix.shape
    )
    return sp.csr_matrix(matrix + added, dtype=np.float32)


def add_random_noise(dataset: InteractionDataset, seed: int, ratio: float = NOISE_RATIO) -> InteractionDataset:
    """The noisy version of `dataset`: floor(ratio x all interactions) random pairs added to
    train and validation, test untouched (see the module docstring for every choice)."""
    splits = [sp.csr_matrix(dataset.split(s)) for s in ("train", "val", "test")]
    taken = np.unique(np.concatenate([pair_codes(m) for m in splits]))
    total = int(np.floor(ratio * sum(m.nnz for m in splits)))
    rng = np.random.default_rng(seed)
    codes = absent_pairs(taken, dataset.n_users, dataset.n_items, total, rng)
    n_train, n_val = split_counts(total, [splits[0].nnz, splits[1].nnz])
    codes = rng.permutation(codes)
    train, val = with_pairs(splits[0], codes[:n_train]), with_pairs(splits[1], codes[n_train:])
    note = f"LD4MRec noisy protocol (not a file): seed {seed}, ratio {ratio}, +{n_train} train, +{n_val} val"
    verification = {**dataset.verification, "noisy_protocol": note}
    return InteractionDataset(dataset.name, train, val, splits[2], dataset.features, verification)
