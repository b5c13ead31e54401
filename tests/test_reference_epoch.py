"""The pieces of benchmarks/reference_epoch.py and its children that shape what each reference is
given, testable without the references' sources: the data in each reference's format (read back as
that reference reads it), DualGNN's user-user file against a pairwise count, the choice of one value
from an MMRec grid, the command line and the child commands it builds, and the stand-ins the child
scripts install."""

from __future__ import annotations

import dataclasses
import importlib
import json
import pickle
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from mmdiffbench.data import make_synthetic

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
MODULES = ("reference_epoch", "reference_data", "mmrec_epoch", "selfrec_epoch", "clcrec_epoch", "elliot_epoch")


@pytest.fixture(scope="module")
def benchmarks() -> dict[str, ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return {name: importlib.import_module(name) for name in MODULES}
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic(n_users=40, n_items=30, modalities={"image": 6, "audio": 4}, seed=5, name="tiny")


def pair_set(matrix) -> set[tuple[int, int]]:
    coo = sp.coo_matrix(matrix)
    return set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))


def shared_items(train) -> dict[int, dict[int, int]]:
    """For every user, every other user with at least one shared training item and how many: by sets."""
    items = {u: set(train[u].indices.tolist()) for u in range(train.shape[0])}
    return {
        u: {v: len(items[u] & items[v]) for v in items if v != u and items[u] & items[v]} for u in range(len(items))
    }


def test_user_graph_is_the_pairwise_count(benchmarks, tmp_path):
    dataset = make_synthetic(n_users=60, n_items=40, seed=3)
    path = tmp_path / "user_graph_dict.npy"
    benchmarks["reference_data"].write_user_graph(dataset, path, keep=dataset.n_users)
    graph = np.load(path, allow_pickle=True).item()
    expected = shared_items(dataset.train.tocsr())
    assert sorted(graph) == list(range(dataset.n_users))
    for user, (neighbours, counts) in graph.items():
        assert dict(zip(neighbours, counts, strict=True)) == expected[user]
        assert counts == sorted(counts, reverse=True)


def test_user_graph_keeps_the_largest_counts(benchmarks, tmp_path):
    dataset = make_synthetic(n_users=60, n_items=40, seed=4)
    path = tmp_path / "user_graph_dict.npy"
    benchmarks["reference_data"].write_user_graph(dataset, path, keep=3)
    graph = np.load(path, allow_pickle=True).item()
    expected = shared_items(dataset.train.tocsr())
    for user, (neighbours, counts) in graph.items():
        assert counts == sorted(expected[user].values(), reverse=True)[:3]
        assert all(expected[user][v] == c for v, c in zip(neighbours, counts, strict=True))


def test_recbole_atomic_files_read_back_to_the_splits(benchmarks, dataset, tmp_path):
    benchmarks["reference_data"].write_recbole(dataset, tmp_path)
    for suffix, split in (("train", dataset.train), ("valid", dataset.val), ("test", dataset.test)):
        path = tmp_path / "tiny" / f"tiny.{suffix}.inter"
        table = pd.read_csv(path, sep="\t", dtype=str)  # RecBole: tab-separated, header `field:type`
        assert list(table.columns) == ["user_id:token", "item_id:token"]
        read = set(zip(table["user_id:token"].astype(int), table["item_id:token"].astype(int), strict=True))
        assert read == pair_set(split) and len(table) == split.nnz


def test_selfrec_files_read_back_to_the_splits(benchmarks, dataset, tmp_path):
    benchmarks["reference_data"].write_selfrec(dataset, tmp_path)
    for name, split in (("train", dataset.train), ("test", dataset.test)):
        lines = [line.split(" ") for line in (tmp_path / f"{name}.txt").read_text().splitlines()]
        assert {(int(u), int(i)) for u, i, _ in lines} == pair_set(split) and len(lines) == split.nnz
        assert {float(w) for _, _, w in lines} == {1.0}


def test_hccf_matrices_read_back_to_the_splits(benchmarks, dataset, tmp_path):
    benchmarks["reference_data"].write_hccf(dataset, tmp_path)
    for name, split in (("trnMat", dataset.train), ("tstMat", dataset.test)):
        with open(tmp_path / f"{name}.pkl", "rb") as handle:
            matrix = pickle.load(handle)
        assert isinstance(matrix, sp.coo_matrix) and matrix.shape == split.shape
        assert pair_set(matrix) == pair_set(split)


def test_clcrec_files_number_items_after_users(benchmarks, dataset, tmp_path):
    benchmarks["reference_data"].write_clcrec(dataset, tmp_path)
    folder = tmp_path / "Data" / "tiny"
    n_users = dataset.n_users
    train = np.load(folder / "train.npy")
    assert {(u, i - n_users) for u, i in train.tolist()} == pair_set(dataset.train) and len(train) == dataset.train.nnz
    every = np.load(folder / "user_item_all_dict.npy", allow_pickle=True).item()
    expected = pair_set(dataset.train) | pair_set(dataset.val) | pair_set(dataset.test)
    assert {(u, i - n_users) for u, items in every.items() for i in items} == expected
    untrained = np.flatnonzero(np.asarray(dataset.train.sum(0)).ravel() == 0) + n_users
    assert np.load(folder / "cold_set.npy").tolist() == untrained.tolist()
    assert np.array_equal(np.load(folder / "feat_v.npy"), dataset.features["image"])
    assert np.array_equal(np.load(folder / "feat_a.npy"), dataset.features["audio"])
    assert not (folder / "feat_t.npy").exists()


def test_elliot_gets_the_training_pairs_in_its_private_ids(benchmarks, dataset, tmp_path):
    """LightGCN-M's reference sees users and items of the training set numbered densely in sorted
    order, their feature rows, and the symmetric 0/1 user-item adjacency with items after users."""
    train = dataset.train.tolil()
    train[:, 7] = 0  # an item and a user without training interactions: Elliot drops them
    train[11, :] = 0
    dataset = dataclasses.replace(dataset, train=sp.csr_matrix(train))
    dataset.train.eliminate_zeros()
    benchmarks["reference_data"].write_elliot(dataset, tmp_path)
    child = benchmarks["elliot_epoch"]
    pairs, items_kept = child.renumbered(np.load(tmp_path / "train.npy"))
    users_kept = [u for u in range(40) if u != 11]
    assert items_kept.tolist() == [i for i in range(30) if i != 7]
    expected = {(users_kept.index(u), items_kept.tolist().index(i)) for u, i in pair_set(dataset.train)}
    assert set(map(tuple, pairs.tolist())) == expected and len(pairs) == dataset.train.nnz
    assert json.loads((tmp_path / "meta.json").read_text())["modalities"] == list(dataset.features)
    assert np.array_equal(np.load(tmp_path / "feat_audio.npy"), dataset.features["audio"])
    given = child.training_dict(pairs)
    assert {(u, i) for u, items in given.items() for i, rating in items.items() if rating == 1} == expected
    n_users, n_items = 39, 29
    dense = child.adjacency(pairs, n_users, n_items).to_dense().numpy()
    block = np.zeros((n_users, n_items))
    for u, i in expected:
        block[u, i] = 1.0
    assert np.array_equal(dense[:n_users, n_users:], block) and np.array_equal(dense[n_users:, :n_users], block.T)
    assert not dense[:n_users, :n_users].any() and not dense[n_users:, n_users:].any()


def test_pick_takes_our_value_from_the_grid_else_its_first(benchmarks):
    pick = benchmarks["mmrec_epoch"].pick
    assert pick([0.1, 1e-2, 1e-3], 0.01) == 1e-2
    assert pick([0.1, 1e-2], 5e-4) == 0.1
    assert pick([1, 2], None) == 1
    assert pick(["add"], "mean") == "add"
    assert pick(0.9, 0.5) == 0.9  # a single setting is MMRec's, never replaced


def parse(benchmarks, argv: list[str]):
    module = benchmarks["reference_epoch"]
    parser = module.build_parser()
    return module.sources_from(parser.parse_args(["--data", "x", *argv]), parser)


def test_reference_flags_name_each_library(benchmarks):
    sources = parse(
        benchmarks,
        [
            *("--reference-src", "recbole=/s/recbole", "--reference-python", "recbole=/v/python"),
            *("--reference-commit", "recbole=7b02be5", "--reference-src", "hccf=/s/hccf"),
            *("--mmrec", "/s/mmrec", "--mmrec-commit", "e775373"),
        ],
    )
    assert sources["recbole"] == (Path("/s/recbole"), Path("/v/python"), "7b02be5")
    assert sources["hccf"] == (Path("/s/hccf"), Path(sys.executable), "unrecorded")
    assert sources["mmrec"] == (Path("/s/mmrec"), Path(sys.executable), "e775373")
    assert sources["selfrec"].src is None


@pytest.mark.parametrize("value", ["nosuchlib=/x", "recbole"])
def test_a_reference_flag_needs_a_known_library(benchmarks, value):
    with pytest.raises(SystemExit):
        parse(benchmarks, ["--reference-src", value])


def test_missing_sources_names_every_library_the_models_need(benchmarks, tmp_path):
    (tmp_path / "MMGCL-main" / "mmgcl" / "models").mkdir(parents=True)
    (tmp_path / "MMGCL-main" / "mmgcl" / "models" / "mmgcl.py").touch()
    sources = parse(benchmarks, ["--reference-src", f"mmgcl={tmp_path}"])
    problems = benchmarks["reference_epoch"].missing_sources(sources, ["mmgcl", "ngcf"])
    assert [p.split(":")[0] for p in problems] == ["mmrec", "recbole"]  # MMGCL's folder is there


def test_child_commands_carry_our_sizes_and_mmgcl_runs_in_mmrec(benchmarks, dataset, tmp_path):
    module = benchmarks["reference_epoch"]
    sources = parse(
        benchmarks, ["--reference-src", "recbole=/s/rb", "--mmrec", "/s/mm", "--reference-src", "mmgcl=/s/mg"]
    )
    ngcf = module.child_command(sources, "ngcf", tmp_path, dataset, 2)
    assert ngcf[1].endswith("recbole_epoch.py") and ngcf[ngcf.index("--src") + 1] == "/s/rb"
    assert json.loads(ngcf[ngcf.index("--choose") + 1]) == {"train_batch_size": 2048, "embedding_size": 64}
    mmgcl = module.child_command(sources, "mmgcl", tmp_path, dataset, 2)
    assert mmgcl[1].endswith("mmrec_epoch.py") and mmgcl[mmgcl.index("--src") + 1] == "/s/mm"
    assert mmgcl[mmgcl.index("--model-src") + 1] == "/s/mg/MMGCL-main/mmgcl"
    assert mmgcl[mmgcl.index("--dataset") + 1] == "amazon" and mmgcl[mmgcl.index("--inter-file") + 1] == "tiny.inter"
    assert mmgcl[mmgcl.index("--text-file") + 1] == "audio_feat.npy"
    assert sum(json.loads(mmgcl[mmgcl.index("--set") + 1])["mask_p"]) == pytest.approx(1.0, abs=1e-12)
    assert module.reference_label(sources, "mmgcl") == "mmgcl@unrecorded+mmrec@unrecorded"
    elliot = module.child_command(
        parse(benchmarks, ["--reference-src", "elliot=/s/el"]), "lightgcn_m", tmp_path, dataset, 2
    )
    assert elliot[1].endswith("elliot_epoch.py") and elliot[elliot.index("--data-root") + 1] == str(tmp_path / "elliot")
    chosen = json.loads(elliot[elliot.index("--choose") + 1])
    assert chosen["factors"] == 64 and chosen["batch_size"] == 1024 and chosen["aggregation"] == "mean"


def test_lenient_yaml_reads_a_stray_indented_key(benchmarks):
    configurator = ModuleType("configurator")
    benchmarks["mmrec_epoch"].lenient_yaml(configurator)
    text = "layer_num: 3\nweight: 1e-4\n mask_p: [0.4,0.4,0.2]\n"  # MMGCL.yaml's last line
    import yaml

    parsed = configurator.yaml.load(text, Loader=yaml.FullLoader)
    assert parsed == {"layer_num": 3, "weight": "1e-4", "mask_p": [0.4, 0.4, 0.2]}


def test_sample_takes_a_set_as_python_3_10_did(benchmarks):
    drawn = benchmarks["clcrec_epoch"].sample_as_python_3_10(set(range(20)) - {3, 4}, 5)
    assert len(set(drawn)) == 5 and not set(drawn) & {3, 4}


def test_counted_batches_count_and_time_the_last_one(benchmarks):
    counted = benchmarks["selfrec_epoch"].CountedBatches(lambda n: iter(range(n)))
    before = time.perf_counter()
    assert list(counted(4)) == [0, 1, 2, 3]
    assert counted.steps == 4 and counted.finished >= before
