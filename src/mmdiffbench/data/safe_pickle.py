"""A restricted unpickler for the DiffMM release's scipy sparse pickles.

`pickle.load` runs whatever callable a file names. The release needs only a handful of
numpy/scipy constructors, so everything else is refused before it can execute.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

# (module, name) as written in the pickle -> the object to build. Old scipy/numpy module
# paths are mapped to their current homes so pickles from 2023 load on today's libraries.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(1))[0],
    ("numpy._core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(1))[0],
}
for _module in ("scipy.sparse.coo", "scipy.sparse._coo", "scipy.sparse"):
    _ALLOWED[(_module, "coo_matrix")] = sp.coo_matrix
for _module in ("scipy.sparse.csr", "scipy.sparse._csr", "scipy.sparse"):
    _ALLOWED[(_module, "csr_matrix")] = sp.csr_matrix
for _module in ("scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse"):
    _ALLOWED[(_module, "csc_matrix")] = sp.csc_matrix


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load global {module}.{name}: only numpy arrays and scipy "
                "sparse matrices are allowed in a release pickle"
            ) from None


def safe_load(path: Path) -> Any:
    """Unpickle `path` admitting only the numpy/scipy classes the release uses."""
    data = Path(path).read_bytes()
    return _RestrictedUnpickler(io.BytesIO(data)).load()
