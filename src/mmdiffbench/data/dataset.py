"""The canonical in-memory dataset every model and metric works on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class InteractionDataset:
    """Binary users x items splits (CSR, float32) plus named item feature matrices.

    `features` maps a modality name (`image`, `text`, `audio`, ...) to an items x dim
    float32 array; it may be empty (ID-only datasets such as Baby/Sports here).
    `verification` records, per file, whether its checksum was verified.
    """

    name: str
    train: sp.csr_matrix
    val: sp.csr_matrix
    test: sp.csr_matrix
    features: dict[str, np.ndarray] = field(default_factory=dict)
    verification: dict[str, str] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return self.train.shape[0]

    @property
    def n_items(self) -> int:
        return self.train.shape[1]

    @property
    def modalities(self) -> list[str]:
        return sorted(self.features)

    def split(self, name: str) -> sp.csr_matrix:
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown split {name!r}; expected train, val or test")
        return getattr(self, name)

    def fingerprint(self) -> str:
        """sha256 of the splits and features as loaded, whatever the layout or file format they came
        from: what a resumed run must find again (recorded in config.json)."""
        digest = hashlib.sha256()
        for split in (self.train, self.val, self.test):
            digest.update(repr(split.shape).encode())
            for array in (split.indptr, split.indices):
                digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
        for name in sorted(self.features):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(self.features[name]).tobytes())
        return digest.hexdigest()

    def release_features(self) -> None:
        """Drop the feature arrays (`features` and `modalities` read empty after it). A training
        process calls it once the model is built: every model keeps what it uses of them (a view, or
        a copy where it trains the tables), so the arrays would otherwise be held twice, 359 MiB for
        Sports' 4096-d + 1024-d tables. Only for the dataset's sole user; never before a model is built."""
        self.features.clear()

    def train_counts(self) -> np.ndarray:
        """Training interactions per user (the user-sparsity grouping key)."""
        return np.diff(self.train.indptr)
