"""Load the DiffMM release layout (`trnMat.pkl`, `valMat.pkl`, `tstMat.pkl`, `*_feat.npy`).

Every check fails early with a `DataError` that names the file and the problem, so a bad
download is caught before hours of training rather than as a shape error deep in a model.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from mmdiffbench.data.checksums import expected_sha256, file_digest
from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.data.errors import DataError
from mmdiffbench.data.safe_pickle import UnsafePickleError, safe_load
from mmdiffbench.data.structure import check_npy_header, check_sparse_structure

SPLIT_FILES = {"train": "trnMat.pkl", "val": "valMat.pkl", "test": "tstMat.pkl"}
FEATURE_SUFFIX = "_feat.npy"


class DataWarning(UserWarning):
    """Something in the data was repaired or could not be verified; loading continues."""


def available_modalities(directory: Path) -> list[str]:
    """Modalities whose `<name>_feat.npy` exists in `directory`."""
    return sorted(p.name[: -len(FEATURE_SUFFIX)] for p in Path(directory).glob(f"*{FEATURE_SUFFIX}"))


def verify_checksum(path: Path, dataset: str) -> str:
    """Return 'verified' or 'unverified'; raise on a digest that contradicts the registry."""
    expected = expected_sha256(dataset, path.name)
    if expected is None:
        warnings.warn(f"{path}: not in the release checksum registry; loaded unverified", DataWarning)
        return "unverified"
    actual = file_digest(path)
    if actual != expected:
        raise DataError(
            f"{path}: sha256 mismatch (expected {expected}, got {actual}); "
            "the file differs from the public release (corrupted or partial download?)"
        )
    return "verified"


def write_splits(dataset: InteractionDataset, directory: Path) -> None:
    """The three splits as the release stores them: pickled float64 COO matrices."""
    for split, filename in SPLIT_FILES.items():
        with open(directory / filename, "wb") as handle:
            pickle.dump(sp.coo_matrix(dataset.split(split), dtype=np.float64), handle)


def _load_split(path: Path) -> sp.csr_matrix:
    if not path.is_file():
        raise DataError(f"{path}: missing file (the release layout needs {', '.join(SPLIT_FILES.values())})")
    try:
        matrix = safe_load(path)
    except UnsafePickleError as err:
        raise DataError(f"{path}: {err}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise DataError(f"{path}: unreadable or truncated pickle ({type(err).__name__}: {err})") from None
    if not sp.issparse(matrix):
        raise DataError(f"{path}: expected a scipy sparse users x items matrix, found {type(matrix).__name__}")
    check_sparse_structure(path, matrix)
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    matrix.eliminate_zeros()
    if not np.isfinite(matrix.data).all():
        raise DataError(f"{path}: contains NaN or infinite interaction values")
    negative = int(np.count_nonzero(matrix.data < 0))
    if negative:
        raise DataError(f"{path}: {negative} negative interaction values (an interaction is 1, its absence 0)")
    non_binary = int(np.count_nonzero(matrix.data != 1.0))
    if non_binary:
        warnings.warn(
            f"{path}: {non_binary} non-zero entries are not 1; binarized (any non-zero is an interaction)",
            DataWarning,
        )
    matrix.data = np.ones_like(matrix.data, dtype=np.float32)
    matrix = matrix.astype(np.float32)
    matrix.sort_indices()
    return matrix


def load_features(path: Path, n_items: int) -> np.ndarray:
    """An items x dim `.npy` feature matrix as float32, checked (shape and size from the header
    before loading, then finiteness)."""
    check_npy_header(path, n_items)
    try:
        features = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DataError(f"{path}: unreadable or truncated .npy ({err})") from None
    features = np.asarray(features, dtype=np.float32)
    bad = int(np.count_nonzero(~np.isfinite(features)))
    if bad:
        raise DataError(f"{path}: {bad} NaN or infinite values in the features")
    return features


def load_release(
    directory: str | Path,
    modalities: list[str] | None = None,
    verify: bool = True,
    name: str | None = None,
) -> InteractionDataset:
    """Load and check one dataset folder of the DiffMM release.

    `modalities=None` loads every `*_feat.npy` present; a list loads exactly those and
    fails naming the missing file. `name` defaults to the folder name (used for presets
    and for the checksum registry).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory")
    name = name or directory.name.lower()
    verification: dict[str, str] = {}
    splits: dict[str, sp.csr_matrix] = {}
    for split, filename in SPLIT_FILES.items():
        path = directory / filename
        if verify and path.is_file():  # a known file's digest is compared before it is parsed
            verification[filename] = verify_checksum(path, name)
        splits[split] = _load_split(path)
    shape = splits["train"].shape
    for split, matrix in splits.items():
        if matrix.shape != shape:
            raise DataError(
                f"{directory / SPLIT_FILES[split]}: shape {matrix.shape} differs from {SPLIT_FILES['train']} {shape}"
            )
    for split in ("val", "test"):
        overlap = splits["train"].multiply(splits[split]).nnz
        if overlap:
            warnings.warn(f"{directory}: {overlap} {split} interactions also appear in training", DataWarning)

    wanted = available_modalities(directory) if modalities is None else list(modalities)
    features: dict[str, np.ndarray] = {}
    for modality in wanted:
        path = directory / f"{modality}{FEATURE_SUFFIX}"
        if not path.is_file():
            raise DataError(f"{path}: missing feature file for modality {modality!r}")
        if verify:
            verification[path.name] = verify_checksum(path, name)
        features[modality] = load_features(path, shape[1])
    return InteractionDataset(name, splits["train"], splits["val"], splits["test"], features, verification)
