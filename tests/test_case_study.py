"""`mmdiffbench case-study` on a tiny DiffMM run: files, summary = a plain numpy recount, errors."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from mmdiffbench.cli import EXIT_BAD_INPUT, main
from mmdiffbench.data import load_release, make_synthetic, write_release
from mmdiffbench.models import get_model_class

K = 3  # generated edges per user: >= 2, so that generated_pairs is defined
TINY = [
    "denoiser_dims=[32]",
    "keep_checkpoint=true",  # the unfinished-run test copies it
    "embedding_dim=16",
    "diffusion_batch=64",
    f"rebuild_k={K}",
    "epochs=1",
    "eval_every=1",
    "batch_size=256",
]


def _train(release: Path, out: Path, model: str, overrides: list[str]) -> Path:
    args = ["train", "--data", str(release), "--model", model, "--out", str(out), "--device", "cpu"]
    assert main(args + [a for o in overrides for a in ("--set", o)]) == 0
    return out


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("case") / "synthetic"
    write_release(make_synthetic(n_users=60, n_items=80, n_clusters=4, interactions_per_user=6, seed=5), directory)
    return directory


@pytest.fixture(scope="module")
def diffmm_run(release: Path) -> Path:
    return _train(release, release.parent / "diffmm", "diffmm", TINY)


def _cosine(features: np.ndarray, a: int, b: int) -> float:
    return float(features[a] @ features[b] / (np.linalg.norm(features[a]) * np.linalg.norm(features[b])))


def _rows(matrix: sp.csr_matrix, user: int) -> list[int]:
    return list(matrix.indices[matrix.indptr[user] : matrix.indptr[user + 1]])


def test_case_study_numbers_match_a_numpy_recount(
    release: Path, diffmm_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "case"
    assert main(["case-study", str(diffmm_run), "--out", str(out), "--users", "5"]) == 0  # data folder from config.json
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((out / "summary.json").read_text())
    assert printed == summary
    dataset = load_release(release)
    train = sp.csr_matrix(dataset.train)
    model = get_model_class("diffmm")(dataset, json.loads((diffmm_run / "config.json").read_text())["model"])
    model.load_selected_state(torch.load(diffmm_run / "model.pt", weights_only=True))
    original = pd.read_csv(out / "original_edges.csv")
    generated = pd.read_csv(out / "generated_edges.csv")
    similarity = pd.read_csv(out / "item_similarity.csv")
    assert dataset.modalities == ["image", "text"]
    sampled = sorted(set(original.user))
    assert len(sampled) == 5
    for user in sampled:
        assert sorted(original[original.user == user].item) == sorted(_rows(train, user))
    for m in dataset.modalities:
        features = np.asarray(dataset.features[m], dtype=np.float64)
        topk = model.topk[m].numpy()
        history = [
            _cosine(features, g, o) for u in range(dataset.n_users) for g in topk[u] for o in _rows(train, u) if g != o
        ]
        pairs = [_cosine(features, a, b) for u in range(dataset.n_users) for a, b in itertools.combinations(topk[u], 2)]
        originals = [
            _cosine(features, a, b)
            for u in range(dataset.n_users)
            for a, b in itertools.combinations(_rows(train, u), 2)
        ]
        assert summary[m]["generated_history"] == pytest.approx(np.mean(history), abs=1e-9)
        assert summary[m]["generated_pairs"] == pytest.approx(np.mean(pairs), abs=1e-9)
        assert summary[m]["original_pairs"] == pytest.approx(np.mean(originals), abs=1e-9)
        assert summary[m]["edges_per_user"] == K
        # random_pairs is a sample: within 5 standard errors of the mean over all distinct pairs
        everything = [_cosine(features, a, b) for a, b in itertools.combinations(range(dataset.n_items), 2)]
        assert abs(summary[m]["random_pairs"] - np.mean(everything)) < 5 * np.std(everything) / np.sqrt(len(originals))
        mine = generated[generated.modality == m]
        for user in sampled:
            rows = mine[mine.user == user]
            assert sorted(rows.item) == sorted(topk[user])
            assert list(rows.in_train) == [item in _rows(train, user) for item in rows.item]
        within_users = set()
        for user in sampled:
            own = set(topk[user]) | set(_rows(train, user))
            within_users.update((min(g, o), max(g, o)) for g in topk[user] for o in own if g != o)
        listed = similarity[similarity.modality == m]
        assert set(zip(listed.item_a, listed.item_b)) == within_users and len(listed) == len(within_users)
        for row in listed.itertuples():
            assert row.cosine == pytest.approx(_cosine(features, int(row.item_a), int(row.item_b)), abs=1e-9)


def test_model_pt_keeps_ranked_items_instead_of_the_generators(
    release: Path, diffmm_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """keep_generators false (default): no generator weights in model.pt, yet `case-study --k`
    gives what re-generating from the kept generators of the same training gives."""
    lean = torch.load(diffmm_run / "model.pt", weights_only=True)
    assert lean and not [key for key in lean if key.startswith("generators.")]
    full_run = _train(release, tmp_path / "full", "diffmm", TINY + ["keep_generators=true", "ranked_kept=0"])
    full = torch.load(full_run / "model.pt", weights_only=True)
    assert {key for key in full if key.startswith("generators.")}
    for key, value in lean.items():  # the same training: the setting changes only what is saved
        if key != "_extra_state":
            assert torch.equal(value, full[key]), key
    assert full["_extra_state"]["ranked"] == {} and lean["_extra_state"]["ranked"]["image"].shape == (60, 20)
    for run, out in ((diffmm_run, "lean"), (full_run, "full")):
        assert main(["case-study", str(run), "--out", str(tmp_path / out), "--k", "4", "--users", "5"]) == 0
    for name in ("generated_edges.csv", "summary.json", "item_similarity.csv"):
        assert (tmp_path / "lean" / name).read_text() == (tmp_path / "full" / name).read_text(), name
    assert main(["evaluate", str(diffmm_run)]) == 0
    capsys.readouterr()
    assert main(["case-study", str(diffmm_run), "--out", str(tmp_path / "more"), "--k", "21"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "keeps no generator weights" in err and len(err.strip().splitlines()) == 1


def test_unfinished_run_uses_its_checkpoint(diffmm_run: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("config.json", "checkpoint.pt"):
        shutil.copy(diffmm_run / name, partial / name)
    assert main(["case-study", str(diffmm_run), "--out", str(tmp_path / "done")]) == 0
    assert main(["case-study", str(partial), "--out", str(tmp_path / "partial-out")]) == 0
    assert (tmp_path / "partial-out" / "summary.json").read_text() == (tmp_path / "done" / "summary.json").read_text()


def _lightgcn_run(release: Path, tmp_path: Path, _: Path) -> Path:
    return _train(release, tmp_path / "lightgcn", "lightgcn", ["epochs=1", "embedding_dim=8"])


def _no_state(release: Path, tmp_path: Path, diffmm: Path) -> Path:
    (tmp_path / "fresh").mkdir()
    shutil.copy(diffmm / "config.json", tmp_path / "fresh")
    return tmp_path / "fresh"


def _not_a_run(release: Path, tmp_path: Path, diffmm: Path) -> Path:
    return tmp_path


def _no_data_dir(release: Path, tmp_path: Path, diffmm: Path) -> Path:
    run = shutil.copytree(diffmm, tmp_path / "moved")
    saved = json.loads((run / "config.json").read_text())
    del saved["data_dir"]
    (run / "config.json").write_text(json.dumps(saved))
    return run


@pytest.mark.parametrize(
    ("make_run", "message"),
    [
        (_lightgcn_run, "a lightgcn run, not diffmm"),
        (_no_state, "neither model.pt nor checkpoint.pt"),
        (_not_a_run, "is not a run directory"),
        (_no_data_dir, "records no data folder; pass --data"),
    ],
)
def test_bad_run_dir_exits_2_with_one_line(
    release: Path, diffmm_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture, make_run, message: str
) -> None:
    run = make_run(release, tmp_path, diffmm_run)
    capsys.readouterr()
    assert main(["case-study", str(run), "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
