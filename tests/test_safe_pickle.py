"""The restricted unpickler admits the release's classes and refuses everything else."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from mmdiffbench.data import DataError, load_release
from mmdiffbench.data.safe_pickle import UnsafePickleError, safe_load


class _Exploit:
    """Pickles to a call of os.system that would create a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_before_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Exploit(marker)))
    with pytest.raises(UnsafePickleError, match="refusing to load global"):
        safe_load(path)
    assert not marker.exists()


def test_malicious_split_file_is_a_data_error(release_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (release_dir / "trnMat.pkl").write_bytes(pickle.dumps(_Exploit(marker)))
    with pytest.raises(DataError, match=r"trnMat\.pkl: refusing to load global"):
        load_release(release_dir, verify=False)
    assert not marker.exists()


@pytest.mark.parametrize("fmt", ["coo", "csr", "csc"])
def test_sparse_matrices_round_trip(tmp_path: Path, fmt: str) -> None:
    matrix = sp.random(20, 30, density=0.1, format=fmt, random_state=0)
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(matrix))
    loaded = safe_load(path)
    assert loaded.format == fmt
    np.testing.assert_array_equal(loaded.toarray(), matrix.toarray())
