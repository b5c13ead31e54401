"""The release loader on good and deliberately broken folders written by the tests."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from mmdiffbench.data import DataError, DataWarning, InteractionDataset, load_release


def test_round_trip(release_dir: Path, synthetic: InteractionDataset) -> None:
    with pytest.warns(DataWarning, match="unverified"):
        loaded = load_release(release_dir)
    assert loaded.name == "synthetic"
    assert loaded.modalities == ["image", "text"]
    for split in ("train", "val", "test"):
        assert (loaded.split(split) != synthetic.split(split)).nnz == 0
        assert loaded.split(split).dtype == np.float32
    np.testing.assert_allclose(loaded.features["image"], synthetic.features["image"], atol=1e-2)  # float16 on disk
    assert loaded.verification["trnMat.pkl"] == "unverified"


def test_modality_subset_and_missing_modality(release_dir: Path) -> None:
    loaded = load_release(release_dir, modalities=["text"], verify=False)
    assert loaded.modalities == ["text"]
    with pytest.raises(DataError, match=r"audio_feat\.npy.*missing"):
        load_release(release_dir, modalities=["audio"], verify=False)


def test_missing_split_file(release_dir: Path) -> None:
    (release_dir / "valMat.pkl").unlink()
    with pytest.raises(DataError, match=r"valMat\.pkl: missing file"):
        load_release(release_dir, verify=False)


@pytest.mark.parametrize(("filename", "kept_bytes"), [("trnMat.pkl", 100), ("image_feat.npy", 200)])
def test_truncated_file(release_dir: Path, filename: str, kept_bytes: int) -> None:
    path = release_dir / filename
    path.write_bytes(path.read_bytes()[:kept_bytes])
    with pytest.raises(DataError, match=rf"{filename.replace('.', '[.]')}: unreadable or truncated"):
        load_release(release_dir, verify=False)


def test_garbage_file(release_dir: Path) -> None:
    (release_dir / "tstMat.pkl").write_bytes(b"this is not a pickle")
    with pytest.raises(DataError, match=r"tstMat\.pkl: unreadable or truncated"):
        load_release(release_dir, verify=False)


def test_wrong_object_type(release_dir: Path) -> None:
    with open(release_dir / "tstMat.pkl", "wb") as handle:
        pickle.dump(np.zeros((3, 3)), handle)
    with pytest.raises(DataError, match=r"tstMat\.pkl: expected a scipy sparse"):
        load_release(release_dir, verify=False)


def test_shape_mismatch_between_splits(release_dir: Path, synthetic: InteractionDataset) -> None:
    wider = sp.coo_matrix((synthetic.n_users, synthetic.n_items + 1), dtype=np.float64)
    with open(release_dir / "valMat.pkl", "wb") as handle:
        pickle.dump(wider, handle)
    with pytest.raises(DataError, match=r"valMat\.pkl: shape .* differs from trnMat\.pkl"):
        load_release(release_dir, verify=False)


def test_feature_rows_must_match_items(release_dir: Path, synthetic: InteractionDataset) -> None:
    np.save(release_dir / "image_feat.npy", np.zeros((synthetic.n_items - 1, 4), dtype=np.float16))
    with pytest.raises(DataError, match=r"image_feat\.npy: .*feature rows"):
        load_release(release_dir, verify=False)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features(release_dir: Path, synthetic: InteractionDataset, bad: float) -> None:
    features = synthetic.features["text"].copy()
    features[5, 2] = bad
    np.save(release_dir / "text_feat.npy", features)
    with pytest.raises(DataError, match=r"text_feat\.npy: 1 NaN or infinite"):
        load_release(release_dir, verify=False)


def test_non_binary_values_are_binarized_with_a_count(release_dir: Path, synthetic: InteractionDataset) -> None:
    train = sp.coo_matrix(synthetic.train, dtype=np.float64)
    train.data[:7] = 3.0
    with open(release_dir / "trnMat.pkl", "wb") as handle:
        pickle.dump(train, handle)
    with pytest.warns(DataWarning, match="7 non-zero entries are not 1; binarized"):
        loaded = load_release(release_dir, verify=False)
    assert set(np.unique(loaded.train.data)) == {1.0}
    assert loaded.train.nnz == synthetic.train.nnz


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a directory"):
        load_release(tmp_path / "nowhere")


def test_checksum_mismatch_names_the_file(tmp_path: Path, release_dir: Path) -> None:
    # a folder named like a registered dataset whose file differs from the release
    fake = tmp_path / "tiktok"
    shutil.copytree(release_dir, fake)
    with pytest.raises(DataError, match=r"tiktok/trnMat\.pkl: sha256 mismatch"):
        load_release(fake)


def _pickle(path: Path, matrix: object) -> None:
    with open(path, "wb") as handle:
        pickle.dump(matrix, handle)


def test_an_index_past_the_item_count_is_refused(release_dir: Path, synthetic: InteractionDataset) -> None:
    coo = sp.coo_matrix(synthetic.train)
    coo.col[0] = synthetic.n_items + 5  # written after construction: unpickling checks nothing
    _pickle(release_dir / "trnMat.pkl", coo)
    with pytest.raises(DataError, match=r"trnMat\.pkl: a column index outside 0\.\.79"):
        load_release(release_dir, verify=False)
    csr = sp.csr_matrix(synthetic.test)
    csr.indices[0] = -1
    shutil.copy(release_dir / "valMat.pkl", release_dir / "trnMat.pkl")
    _pickle(release_dir / "tstMat.pkl", csr)
    with pytest.raises(DataError, match=r"tstMat\.pkl: a column index outside 0\.\.79 \(found -1\."):
        load_release(release_dir, verify=False)


def test_a_shape_too_large_to_hold_is_refused_before_it_is_built(release_dir: Path) -> None:
    huge = sp.coo_matrix((np.ones(1), (np.zeros(1, int), np.zeros(1, int))), shape=(10**12, 80))
    _pickle(release_dir / "trnMat.pkl", huge)
    with pytest.raises(DataError, match=r"trnMat\.pkl: implausible shape \(1000000000000, 80\)"):
        load_release(release_dir, verify=False)


def test_a_feature_header_is_checked_before_the_array_is_read(release_dir: Path) -> None:
    path = release_dir / "image_feat.npy"
    with open(path, "wb") as handle:  # a header claiming 80 x 10^10 floats, and no data
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False, "shape": (80, 10**10)})
    with pytest.raises(DataError, match=r"image_feat\.npy: 2980\.2 GiB of features, above the 16 GiB limit"):
        load_release(release_dir, verify=False)
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 4)})
    with pytest.raises(DataError, match=r"image_feat\.npy: 1000000000000 feature rows"):
        load_release(release_dir, verify=False)


def test_negative_values_are_refused_by_count(release_dir: Path, synthetic: InteractionDataset) -> None:
    coo = sp.coo_matrix(synthetic.val, dtype=np.float64)
    coo.data[:3] = -1.0
    _pickle(release_dir / "valMat.pkl", coo)
    with pytest.raises(DataError, match=r"valMat\.pkl: 3 negative interaction values"):
        load_release(release_dir, verify=False)


def test_validation_items_inside_training_are_counted(release_dir: Path, synthetic: InteractionDataset) -> None:
    train = synthetic.train.tolil()
    for user, item in zip(*synthetic.val.nonzero(), strict=True):
        train[user, item] = 1.0
    _pickle(release_dir / "trnMat.pkl", sp.coo_matrix(train.tocsr(), dtype=np.float64))
    with pytest.warns(DataWarning, match=rf"{synthetic.val.nnz} val interactions also appear in training"):
        load_release(release_dir, verify=False)


def test_a_known_file_is_checked_against_its_digest_before_it_is_parsed(release_dir: Path, tmp_path: Path) -> None:
    """A file named as a release file is compared with the release's sha256 first: garbage in a
    `tiktok` folder is a checksum mismatch, never handed to the unpickler."""
    folder = tmp_path / "tiktok"
    shutil.copytree(release_dir, folder)
    (folder / "trnMat.pkl").write_bytes(b"\x80\x04 garbage that the unpickler would choke on")
    with pytest.raises(DataError, match=r"trnMat\.pkl: sha256 mismatch"):
        load_release(folder)
