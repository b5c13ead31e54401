"""Progress reports: plain lines with an ETA where the output is not a terminal, a bar where it is."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import torch

from mmdiffbench import progress as progress_module
from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.data.synthetic import make_synthetic
from mmdiffbench.progress import clock, progress
from mmdiffbench.train import train_run


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_clock() -> None:
    assert [clock(s) for s in (0, 59.4, 61, 3599, 3600, 7384)] == [
        "0:00",
        "0:59",
        "1:01",
        "59:59",
        "1:00:00",
        "2:03:04",
    ]


def test_not_a_terminal_prints_lines_with_an_eta() -> None:
    stream = io.StringIO()
    assert list(progress(range(4), 4, "epoch 0 generator", interval=0.0, stream=stream)) == [0, 1, 2, 3]
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # none after the last step: the loop is done
    assert re.fullmatch(r"epoch 0 generator: 1/4 \(25%\), 0:00 spent, ETA 0:00", lines[0])
    assert lines[2].startswith("epoch 0 generator: 3/4 (75%)")
    assert "\r" not in stream.getvalue()


def test_a_short_loop_prints_nothing() -> None:
    stream = io.StringIO()
    list(progress(range(100), 100, "ranking", stream=stream))  # far under the default 30 s
    assert stream.getvalue() == ""


def test_a_terminal_gets_a_bar() -> None:
    stream = Terminal()
    list(progress(range(3), 3, "ranking", interval=0.0, stream=stream))
    assert "\r" in stream.getvalue() and "ETA" not in stream.getvalue()


def test_epoch_lines_give_the_time_left(synthetic: InteractionDataset, tmp_path: Path) -> None:
    config = resolve("mf_bpr", synthetic.name, overrides=["epochs=3", "patience=0", "embedding_dim=8"])
    train_run(synthetic, config, seed=1, out_dir=tmp_path, device=torch.device("cpu"))
    epochs = [line for line in (tmp_path / "train.log").read_text().splitlines() if re.search(r" epoch \d+ loss", line)]
    assert len(epochs) == 3
    assert re.search(r"ETA \d+:\d\d \(2 epochs left\)$", epochs[0])
    assert re.search(r"ETA \d+:\d\d \(1 epoch left\)$", epochs[1])
    assert "ETA" not in epochs[2]


def test_a_diffmm_run_reports_every_long_phase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Captured stderr is not a terminal: the generator and recommender phases, the rebuild and the
    evaluation (both splits in one pass) print lines with an ETA (every step here: the interval set to 0)."""
    monkeypatch.setattr(progress_module, "INTERVAL_S", 0.0)
    data = make_synthetic(n_users=120, n_items=80, modalities={"image": 12, "audio": 6}, seed=3)
    small = ["denoiser_dims=[32]", "embedding_dim=16", "diffusion_batch=32", "batch_size=64", "eval_batch_size=50"]
    config = resolve("diffmm", data.name, "full", [*small, "epochs=1"])
    train_run(data, config, seed=1, out_dir=tmp_path, device=torch.device("cpu"))
    err = capsys.readouterr().err
    for desc in ("epoch 0 generator", "rebuild image", "rebuild audio", "epoch 0 recommender", "evaluation"):
        assert re.search(rf"^{desc}: 1/\d+ \(\d+%\), \d+:\d\d spent, ETA \d+:\d\d$", err, re.MULTILINE), desc
    assert "\r" not in err
