"""MMRec's layout: a synthetic round trip, the first rows of a real MMRec file, and every bad input
ending in a DataError that names the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmdiffbench.cli import EXIT_BAD_INPUT, main
from mmdiffbench.data import (
    DataError,
    DataWarning,
    InteractionDataset,
    detect_layout,
    load_dataset,
    load_mmrec,
    write_mmrec,
    write_release,
)

# The first 17 rows of MMRec's Baby interactions (data/baby/baby.inter as MMRec releases it;
# a public copy: sunflower82/5090_Professional_Original_paper_MMHCL_randoms): users 0-2.
REAL_ROWS = """userID\titemID\trating\ttimestamp\tx_label
0\t1587\t5.0\t1373932800\t0
0\t1879\t5.0\t1373932800\t0
0\t0\t5.0\t1373932800\t0
0\t1922\t5.0\t1363996800\t1
0\t3870\t4.0\t1357689600\t2
1\t2828\t5.0\t1372464000\t0
1\t5403\t5.0\t1367452800\t0
1\t1434\t5.0\t1372377600\t0
1\t0\t5.0\t1372464000\t0
1\t5176\t5.0\t1372464000\t1
1\t1177\t5.0\t1372464000\t2
2\t2846\t2.0\t1395187200\t0
2\t6578\t3.0\t1387497600\t0
2\t4011\t5.0\t1387497600\t0
2\t0\t5.0\t1395187200\t1
2\t6735\t5.0\t1395187200\t2
"""


def _same_splits(a: InteractionDataset, b: InteractionDataset) -> None:
    for split in ("train", "val", "test"):
        assert (a.split(split) != b.split(split)).nnz == 0, split


def test_round_trip_of_a_synthetic_dataset(synthetic: InteractionDataset, tmp_path: Path) -> None:
    write_mmrec(synthetic, tmp_path / "toy")
    loaded = load_mmrec(tmp_path / "toy")
    assert loaded.name == "toy" and (loaded.n_users, loaded.n_items) == (synthetic.n_users, synthetic.n_items)
    _same_splits(loaded, synthetic)
    assert loaded.modalities == synthetic.modalities
    np.testing.assert_array_equal(loaded.features["image"], synthetic.features["image"])
    assert loaded.verification == {
        "toy.inter": "unverified",
        "image_feat.npy": "unverified",
        "text_feat.npy": "unverified",
    }


def test_the_first_rows_of_a_real_mmrec_file(tmp_path: Path) -> None:
    folder = tmp_path / "baby"
    folder.mkdir()
    (folder / "baby.inter").write_text(REAL_ROWS)
    data = load_mmrec(folder)
    assert data.n_users == 3 and data.n_items == 6736  # max id + 1, as MMRec counts
    assert data.train[0].indices.tolist() == [0, 1587, 1879]  # MMRec's user 0: 3 train, 1 valid, 1 test
    assert data.val[0].indices.tolist() == [1922] and data.test[0].indices.tolist() == [3870]
    assert (data.train.nnz, data.val.nnz, data.test.nnz) == (10, 3, 3)


def test_either_layout_is_detected(synthetic: InteractionDataset, tmp_path: Path) -> None:
    write_mmrec(synthetic, tmp_path / "a")
    write_release(synthetic, tmp_path / "b")
    assert (detect_layout(tmp_path / "a"), detect_layout(tmp_path / "b")) == ("mmrec", "release")
    with pytest.warns(DataWarning):  # the synthetic release is not in the checksum registry
        _same_splits(load_dataset(tmp_path / "a"), load_dataset(tmp_path / "b"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="neither the DiffMM release layout .* nor MMRec's"):
        load_dataset(tmp_path / "empty")


def test_held_out_rows_of_users_without_training_rows_are_dropped_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "d.inter").write_text("userID\titemID\tx_label\n0\t0\t0\n0\t1\t2\n1\t1\t1\n1\t2\t2\n")
    with pytest.warns(DataWarning, match="2 held-out rows of users without training rows dropped"):
        data = load_mmrec(folder)
    assert data.n_users == 2 and data.val.nnz == 0 and data.test.nnz == 1


BAD = [
    ("userID\titemID\n0\t1\n", "header lacks x_label"),
    ("userID\titemID\tx_label\n0\tabc\t0\n", "line 2: itemID 'abc' is not an integer"),
    ("userID\titemID\tx_label\n0\t1.5\t0\n", "line 2: itemID '1.5' is not an integer"),
    ("userID\titemID\tx_label\n-1\t1\t0\n", "negative user or item ids"),
    ("userID\titemID\tx_label\n0\t1\t3\n", r"x_label values \[3\]"),
    ("userID\titemID\tx_label\n0\t1\t0\n0\t1\t2\n", "1 repeated \\(userID, itemID\\) pairs"),
    ("userID\titemID\tx_label\n", "no interactions"),
    ("", "unreadable as a tab-separated table"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_interaction_files_name_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "bad.inter").write_text(text)
    with pytest.raises(DataError, match=message) as err:
        load_mmrec(folder)
    assert "bad.inter" in str(err.value)


def test_bad_folders_and_feature_files(synthetic: InteractionDataset, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a directory"):
        load_mmrec(tmp_path / "nowhere")
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match=r"no \*.inter file"):
        load_mmrec(tmp_path / "none")
    write_mmrec(synthetic, tmp_path / "multi", name="a")
    write_mmrec(synthetic, tmp_path / "multi", name="b")
    with pytest.raises(DataError, match="several \\*.inter files \\(a.inter, b.inter\\) and none is multi.inter"):
        load_mmrec(tmp_path / "multi")
    write_mmrec(synthetic, tmp_path / "multi", name="multi")  # the folder's own name wins
    assert load_mmrec(tmp_path / "multi").n_users == synthetic.n_users
    np.save(tmp_path / "multi" / "image_feat.npy", np.zeros((3, 4), np.float32))
    with pytest.raises(DataError, match="image_feat.npy: 3 feature rows but the interaction matrices have 80 items"):
        load_mmrec(tmp_path / "multi")
    with pytest.raises(DataError, match="missing feature file for modality 'audio'"):
        load_mmrec(tmp_path / "multi", modalities=["audio"])


def test_the_cli_checks_and_describes_an_mmrec_folder(
    synthetic: InteractionDataset, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    write_mmrec(synthetic, tmp_path / "toy")
    assert main(["data", "check", str(tmp_path / "toy")]) == 0
    assert "toy.inter: unverified" in capsys.readouterr().out
    assert main(["data", "stats", str(tmp_path / "toy")]) == 0
    (tmp_path / "toy" / "toy.inter").write_text("userID\titemID\n0\t1\n")
    assert main(["data", "check", str(tmp_path / "toy")]) == EXIT_BAD_INPUT
    assert "header lacks x_label" in capsys.readouterr().err
