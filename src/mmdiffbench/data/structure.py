"""Checks of an unpickled sparse matrix's own arrays, before anything is built from them.

Unpickling a scipy matrix restores its arrays as they were written: nothing checks that an index
lies inside the shape, or that the shape is one memory can hold. A column index past the item
count would pass a data check and crash training; a shape claiming 10^12 rows would end in a
MemoryError at the first conversion. Both are refused here, naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from mmdiffbench.data.errors import DataError

MAX_DIMENSION = 100_000_000  # users or items: 10^8 is far above any recommendation dataset in use
MAX_FEATURE_BYTES = 16 * 2**30  # one feature matrix, as stored: 16 GiB


def check_sparse_structure(path: Path, matrix: sp.spmatrix) -> None:
    """DataError unless `matrix`'s shape is plausible and every stored index lies inside it."""
    rows, cols = matrix.shape
    if not (0 < rows <= MAX_DIMENSION and 0 < cols <= MAX_DIMENSION):
        raise DataError(f"{path}: implausible shape {matrix.shape} (each side must be 1..{MAX_DIMENSION:,})")
    if isinstance(matrix, sp.coo_matrix):
        _in_range(path, "row", np.asarray(matrix.row), rows)
        _in_range(path, "column", np.asarray(matrix.col), cols)
        if not len(matrix.row) == len(matrix.col) == len(matrix.data):
            raise DataError(f"{path}: row, column and value arrays of different lengths")
        return
    csr = isinstance(matrix, sp.csr_matrix)
    compressed, other = (rows, cols) if csr else (cols, rows)
    indptr, indices = np.asarray(matrix.indptr), np.asarray(matrix.indices)
    if len(indptr) != compressed + 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] > len(indices):
        raise DataError(f"{path}: a broken index pointer (not the matrix's own layout)")
    _in_range(path, "column" if csr else "row", indices[: indptr[-1]], other)


def _in_range(path: Path, what: str, index: np.ndarray, bound: int) -> None:
    if index.size and (index.min() < 0 or index.max() >= bound):
        raise DataError(f"{path}: a {what} index outside 0..{bound - 1} (found {index.min()}..{index.max()})")


def check_npy_header(path: Path, n_items: int) -> None:
    """Read only the `.npy` header: items x dim, of a size a machine can load, before loading it."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    except (ValueError, OSError, EOFError) as err:
        raise DataError(f"{path}: unreadable or truncated .npy header ({err})") from None
    if len(shape) != 2:
        raise DataError(f"{path}: expected an items x dim matrix, found shape {shape}")
    if shape[0] != n_items:
        raise DataError(f"{path}: {shape[0]} feature rows but the interaction matrices have {n_items} items")
    size = int(np.prod(shape, dtype=np.float64) * np.dtype(dtype).itemsize)
    if size > MAX_FEATURE_BYTES:
        raise DataError(
            f"{path}: {size / 2**30:.1f} GiB of features, above the {MAX_FEATURE_BYTES / 2**30:.0f} GiB limit"
        )
