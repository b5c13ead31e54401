"""The command line: data check/stats, train + evaluate round trip, errors as exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmdiffbench.cli import EXIT_BAD_INPUT, main


def test_data_check_and_stats(release_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "check", str(release_dir)]) == 0
    out = capsys.readouterr()
    assert "trnMat.pkl: unverified" in out.out and "OK (120 users, 80 items" in out.out
    assert main(["data", "stats", str(release_dir), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["users"] == 120 and stats["modalities"] == {"image": 16, "text": 24}


def test_evaluate_reproduces_the_selected_epoch(
    release_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    args = ["train", "--data", str(release_dir), "--model", "lightgcn", "--out", str(out), "--device", "cpu"]
    args += ["--set", "epochs=6", "--set", "eval_every=1", "--set", "embedding_dim=8", "--set", "lr=1e-2"]
    args += ["--workflow-variant", "lr_1e-2"]  # what the workflow's train rule passes
    assert main(args) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--device", "cpu"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    recorded = json.loads((out / "metrics.json").read_text())
    assert (recorded["variant"], recorded["workflow_variant"]) == ("full", "lr_1e-2")
    assert json.loads((out / "config.json").read_text())["workflow_variant"] == "lr_1e-2"
    for split in ("val", "test"):
        for key, value in recorded[split].items():
            assert evaluated[split][key] == pytest.approx(value, abs=1e-9), (split, key)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--model", "mf_bpr", "--set", "lrr=1"], "unknown key 'lrr'"),
        (["--model", "mf_bpr", "--variant", "wo_cl"], "unknown variant 'wo_cl'"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    release_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str], message: str
) -> None:
    code = main(["train", "--data", str(release_dir), "--out", str(tmp_path / "run"), *extra])
    assert code == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


def test_missing_data_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "check", str(tmp_path / "absent")]) == EXIT_BAD_INPUT
    assert "not a directory" in capsys.readouterr().err


def test_models_lists_every_registered_model_with_its_declaration(capsys: pytest.CaptureFixture) -> None:
    from mmdiffbench.models import MODELS

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == sorted(MODELS)
    diffmm = next(line for line in lines if line.startswith("diffmm "))
    assert "DiffMM" in diffmm and "needs features" in diffmm and "wo_msi" in diffmm


def test_version(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("mmdiffbench 0.")
