"""LD4MRec's noisy-training protocol: counts, additions only, the test split kept, seeded; and the
folder `mmdiffbench data noisy` writes for the workflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from mmdiffbench.cli import EXIT_BAD_INPUT, main
from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset, load_release, make_synthetic, write_mmrec
from mmdiffbench.data.derived import preset_name
from mmdiffbench.data.noisy import add_random_noise, split_counts
from mmdiffbench.experiments import CellSpec
from mmdiffbench.plan import settings_key
from mmdiffbench.workflow_datasets import source_of


@pytest.fixture
def clean() -> InteractionDataset:
    return make_synthetic(n_users=150, n_items=90, n_clusters=5, interactions_per_user=12, seed=7)


def pairs(matrix: sp.csr_matrix) -> set[tuple[int, int]]:
    coo = matrix.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))


def test_counts_are_one_point_one_times_the_clean_data(clean: InteractionDataset) -> None:
    noisy = add_random_noise(clean, seed=0)
    before = sum(clean.split(s).nnz for s in ("train", "val", "test"))
    after = sum(noisy.split(s).nnz for s in ("train", "val", "test"))
    assert after - before == int(0.1 * before)  # Table 1: (N) = 1.1 x (C), rounded down
    added_train, added_val = noisy.train.nnz - clean.train.nnz, noisy.val.nnz - clean.val.nnz
    share = clean.train.nnz / (clean.train.nnz + clean.val.nnz)  # each split keeps its share
    assert abs(added_train - share * (after - before)) <= 1 and added_val > 0


def test_only_additions_of_absent_pairs_and_test_untouched(clean: InteractionDataset) -> None:
    noisy = add_random_noise(clean, seed=1)
    present = pairs(clean.train) | pairs(clean.val) | pairs(clean.test)
    added = {}
    for split in ("train", "val"):
        assert pairs(clean.split(split)) <= pairs(noisy.split(split))  # nothing removed
        added[split] = pairs(noisy.split(split)) - pairs(clean.split(split))
        assert not added[split] & present  # no added pair was already an interaction anywhere
        assert set(noisy.split(split).data.tolist()) == {1.0}  # still binary
    assert not added["train"] & added["val"]
    assert (noisy.test != clean.test).nnz == 0 and noisy.test.nnz == clean.test.nnz
    assert all(np.array_equal(noisy.features[m], clean.features[m]) for m in clean.features)


def test_deterministic_for_a_seed(clean: InteractionDataset) -> None:
    first, again, other = (add_random_noise(clean, seed=s) for s in (3, 3, 4))
    for split in ("train", "val"):
        assert (first.split(split) != again.split(split)).nnz == 0
    assert pairs(first.train) != pairs(other.train)


def test_split_counts_by_largest_remainder() -> None:
    assert split_counts(10, [8, 1]) == [9, 1]  # shares 8.89 and 1.11
    assert split_counts(7, [1, 1]) == [4, 3]
    assert sum(split_counts(16078, [118551, 21682])) == 16078


# ---- the folder the workflow's noisy_data rule writes (`mmdiffbench data noisy`) ----------


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_cli_writes_a_noisy_folder_with_features_linked(clean: InteractionDataset, tmp_path: Path) -> None:
    write_mmrec(clean, tmp_path / "toy")  # either layout in; the release layout out
    out = tmp_path / "toy_noisy"
    assert main(["data", "noisy", str(tmp_path / "toy"), str(out), "--seed", "5"]) == 0
    noisy = load_release(out)
    total = sum(clean.split(s).nnz for s in ("train", "val", "test"))
    grown = (noisy.train.nnz - clean.train.nnz) + (noisy.val.nnz - clean.val.nnz)
    assert grown == int(0.1 * total) and noisy.train.nnz > clean.train.nnz and noisy.val.nnz > clean.val.nnz
    assert (noisy.test != clean.test).nnz == 0 and noisy.test.nnz == clean.test.nnz
    for split in ("train", "val"):  # only additions
        assert pairs(clean.split(split)) <= pairs(noisy.split(split))
    for modality in clean.modalities:  # linked, not copied
        link = out / f"{modality}_feat.npy"
        assert link.is_symlink() and link.resolve() == (tmp_path / "toy" / f"{modality}_feat.npy").resolve()
        np.testing.assert_array_equal(noisy.features[modality], clean.features[modality])
    record = json.loads((out / "derived.json").read_text())
    assert (record["seed"], record["ratio"], record["transform"]) == (5, 0.1, "random_noise")
    assert record["interactions"]["train"] == {"clean": clean.train.nnz, "noisy": noisy.train.nnz}

    first = file_bytes(out)
    assert main(["data", "noisy", str(tmp_path / "toy"), str(out), "--seed", "5"]) == 0  # rebuilt in place
    assert file_bytes(out) == first  # seeded: the same files again
    assert main(["data", "noisy", str(tmp_path / "toy"), str(out), "--seed", "6"]) == 0
    assert file_bytes(out)["trnMat.pkl"] != first["trnMat.pkl"]


def test_the_cli_refuses_bad_input(clean: InteractionDataset, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_mmrec(clean, tmp_path / "toy")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["data", "noisy", str(tmp_path / "toy"), str(foreign)]) == EXIT_BAD_INPUT
    assert "not a derived dataset folder (no derived.json); refusing to overwrite" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert main(["data", "noisy", str(tmp_path / "toy"), str(tmp_path / "toy")]) == EXIT_BAD_INPUT
    assert "the destination is the source folder" in capsys.readouterr().err
    assert main(["data", "noisy", str(tmp_path / "toy"), str(tmp_path / "n"), "--ratio", "500"]) == EXIT_BAD_INPUT
    assert "cannot add" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "noisy", str(tmp_path / "toy"), str(tmp_path / "n"), "--ratio", "0"])
    assert "must be > 0" in capsys.readouterr().err


def test_a_noisy_copy_trains_with_its_sources_presets(clean: InteractionDataset, tmp_path: Path) -> None:
    """LD4MRec's Table 3 trains one configuration on clean and noisy data: the folder `tiktok_noisy`
    gets the `tiktok` preset (tuned on the clean data), in `train` and in the workflow's plan."""
    write_mmrec(clean, tmp_path / "tiktok")
    out = tmp_path / "tiktok_noisy"
    assert main(["data", "noisy", str(tmp_path / "tiktok"), str(out)]) == 0
    assert preset_name(out, "tiktok_noisy") == "tiktok"
    assert preset_name(tmp_path / "tiktok", "tiktok") == "tiktok"  # a source folder: its own name
    noisy = resolve("ld4mrec", preset_name(out, "tiktok_noisy"))
    assert noisy.model == resolve("ld4mrec", "tiktok").model != resolve("ld4mrec", "tiktok_noisy").model
    assert noisy.model["text_modality"] == "audio"
    config = {"datasets": {"tiktok": {}, "tiktok_noisy": {"derived_from": "tiktok", "transform": "random_noise"}}}
    cell = CellSpec(model="ld4mrec", variant="full", library_variant="full")
    assert settings_key(source_of(config, "tiktok_noisy"), cell, []) == settings_key("tiktok", cell, [])
