"""Training phases owned by the trainer: a model that eats only user rows trains, checkpoints and
resumes exactly; phases are checked; loss parts backpropagated one by one equal one sum."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models.base import Recommender
from mmdiffbench.models.phase import Batch, OptimizerSettings, Phase, UserRowBatch
from mmdiffbench.train.phases import PhaseRunner, check_phases
from mmdiffbench.train.trainer import CHECKPOINT, Trainer


class RowAutoencoder(Recommender):
    """A test model whose only phase eats user rows: a dropout-denoising linear autoencoder of the
    interaction rows (the shape of DiffRec's training), scored from the user's own row."""

    def __init__(self, dataset: InteractionDataset, hidden: int = 16) -> None:
        super().__init__(dataset, {})
        self.register_buffer("rows", torch.from_numpy(dataset.train.toarray()).float().clamp(max=1), persistent=False)
        self.encoder = nn.Linear(self.n_items, hidden)
        self.decoder = nn.Linear(hidden, self.n_items)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.tanh(self.encoder(rows)))

    def phases(self) -> list[Phase]:
        return [Phase("rows", list(self.parameters()), "user_rows", self.row_loss, OptimizerSettings(lr=1e-2), 32)]

    def row_loss(self, batch: Batch) -> list[dict[str, torch.Tensor]]:
        assert isinstance(batch, UserRowBatch)
        x = batch.dense()
        noisy = F.dropout(x, 0.3)  # a random draw per step: resume must restore torch's generator
        return [{"recon": F.binary_cross_entropy_with_logits(self(noisy), x)}]

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self(self.rows[users])


def _trainer(dataset: InteractionDataset, out: Path, epochs: int = 5, extra: tuple[str, ...] = ()) -> Trainer:
    settings = [f"epochs={epochs}", "eval_every=1", "patience=0", "keep_checkpoint=true", *extra]  # the tests read it
    config = resolve("mf_bpr", dataset.name, overrides=settings)
    torch.manual_seed(7)
    model = RowAutoencoder(dataset)
    out.mkdir(parents=True, exist_ok=True)
    return Trainer(model, dataset, config.trainer, seed=7, out_dir=out, logger=logging.getLogger("test"))


def _history(out: Path) -> pd.DataFrame:
    frame = pd.read_csv(out / "history.csv")
    return frame[[c for c in frame.columns if not c.startswith("time_")]]


def test_a_user_row_model_learns_the_planted_structure(synthetic: InteractionDataset, tmp_path: Path) -> None:
    trainer = _trainer(synthetic, tmp_path, epochs=15)
    trainer.fit()
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["loss_recon"].iloc[-1] < 0.8 * history["loss_recon"].iloc[0]
    assert "time_rows" in history.columns and "loss_bpr" not in history.columns
    # 80 items, ~1 held-out item per user: a random ranking has recall@20 of about 0.25
    assert trainer.selected.record["test"]["recall@20"] > 0.35


@pytest.mark.parametrize("decay", [(), ("lr_decay=0.5", "lr_decay_step=2")], ids=["constant_lr", "decayed_lr"])
def test_a_user_row_model_resumes_to_bit_identical_results(
    synthetic: InteractionDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decay: tuple[str, ...]
) -> None:
    straight = _trainer(synthetic, tmp_path / "straight", extra=decay)
    straight.fit()

    original = PhaseRunner.run_epoch

    def killed_at_epoch_3(self: PhaseRunner, epoch: int, row: dict[str, Any]) -> None:
        if epoch == 3:
            raise KeyboardInterrupt("simulated kill")
        original(self, epoch, row)

    monkeypatch.setattr(PhaseRunner, "run_epoch", killed_at_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        _trainer(synthetic, tmp_path / "resumed", extra=decay).fit()
    monkeypatch.setattr(PhaseRunner, "run_epoch", original)
    assert (tmp_path / "resumed" / CHECKPOINT).is_file()

    torch.manual_seed(12345)  # scrambled: the checkpoint must bring back torch's generator
    resumed = _trainer(synthetic, tmp_path / "resumed", extra=decay)
    assert resumed.load_checkpoint() and resumed.start_epoch == 3
    resumed.fit()
    assert (
        resumed.phases.optimizers["rows"].param_groups[0]["lr"]
        == straight.phases.optimizers["rows"].param_groups[0]["lr"]
    )
    pd.testing.assert_frame_equal(_history(tmp_path / "resumed"), _history(tmp_path / "straight"))
    assert resumed.selected.record == straight.selected.record and resumed.paper.record == straight.paper.record
    assert resumed.best_state is not None and straight.best_state is not None
    for key, value in straight.best_state.items():
        assert torch.equal(resumed.best_state[key], value), key


def test_the_learning_rate_decays_as_mmrecs_lambdalr(synthetic: InteractionDataset, tmp_path: Path) -> None:
    """Epoch e trains at lr * decay^(e / step), the rate MMRec's LambdaLR (stepped after each epoch) sets."""
    trainer = _trainer(synthetic, tmp_path, extra=("lr_decay=0.96", "lr_decay_step=3"))
    runner = trainer.phases
    reference = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=1e-2)  # the phase's own lr
    schedule = torch.optim.lr_scheduler.LambdaLR(reference, lambda epoch: 0.96 ** (epoch / 3))
    for epoch in range(7):
        runner.run_phase(runner.by_name["rows"], epoch, max_steps=1)
        assert runner.optimizers["rows"].param_groups[0]["lr"] == pytest.approx(
            reference.param_groups[0]["lr"], rel=1e-12
        )
        assert reference.param_groups[0]["lr"] == pytest.approx(1e-2 * 0.96 ** (epoch / 3), rel=1e-12)
        reference.step()
        schedule.step()


@pytest.mark.parametrize("model", ["lattice", "mgcn"])
def test_lattice_and_mgcn_decay_as_their_mmrec_configs(model: str) -> None:
    trainer = resolve(model, "baby").trainer
    assert (trainer["lr_decay"], trainer["lr_decay_step"]) == (0.96, 50)


def test_the_checkpoint_holds_every_optimizer_and_the_model_none(synthetic: InteractionDataset, tmp_path: Path) -> None:
    trainer = _trainer(synthetic, tmp_path, epochs=1)
    trainer.fit()
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)  # tensors and plain values only
    assert set(state["phases"]["optimizers"]) == {"rows"}
    assert state["phases"]["optimizers"]["rows"]["state"]  # Adam moments after one epoch
    assert all(isinstance(v, torch.Tensor) for v in state["model"].values())


class _TwoPhases(Recommender):
    def __init__(self, dataset: InteractionDataset, layout: str) -> None:
        super().__init__(dataset, {})
        self.a = nn.Parameter(torch.ones(3))
        self.b = nn.Parameter(torch.ones(3))
        self.layout = layout

    def phases(self) -> list[Phase]:
        def parts_a(batch: Batch) -> list[dict[str, torch.Tensor]]:
            return [{"a": self.a.sum() + self.b.sum()}]

        def parts_b(batch: Batch) -> list[dict[str, torch.Tensor]]:
            return [{"b": self.a.sum() + self.b.sum()}]

        a_only, both = [self.a], [self.a, self.b]
        return {
            "ok": [Phase("one", a_only, "none", parts_a), Phase("two", [self.b], "none", parts_b)],
            "clash": [Phase("one", a_only, "none", parts_a), Phase("two", [self.b], "none", parts_a)],
            "twice": [Phase("one", both, "none", parts_a), Phase("two", [self.b], "none", parts_b)],
            "missing": [Phase("one", a_only, "none", parts_a)],
            "same_name": [Phase("one", a_only, "none", parts_a), Phase("one", [self.b], "none", parts_b)],
        }[self.layout]


@pytest.mark.parametrize(
    ("layout", "message"),
    [("twice", "is in phases 'one' and 'two'"), ("missing", "parameters in no phase: b"), ("same_name", "must differ")],
)
def test_phases_that_step_a_parameter_twice_or_never_are_refused(
    synthetic: InteractionDataset, layout: str, message: str
) -> None:
    fine = _TwoPhases(synthetic, "ok")
    check_phases(fine, fine.phases())
    model = _TwoPhases(synthetic, layout)
    with pytest.raises(ValueError, match=message):
        check_phases(model, model.phases())


def test_a_phase_without_batches_steps_once_per_epoch(synthetic: InteractionDataset) -> None:
    model = _TwoPhases(synthetic, "ok")
    runner = PhaseRunner(model, synthetic, {"lr": 0.1, "weight_decay": 0.0, "batch_size": 8}, seed=0)
    row: dict[str, Any] = {}
    runner.run_epoch(0, row)
    # one Adam step moves every weight by lr (the first step's update is lr * sign(grad))
    torch.testing.assert_close(model.a.detach(), torch.full((3,), 0.9))
    torch.testing.assert_close(model.b.detach(), torch.full((3,), 0.9))
    # phase two sees the weights phase one has stepped: a.sum() = 2.7
    assert row["loss_a"] == pytest.approx(6.0) and row["loss_b"] == pytest.approx(5.7)
    assert {"time_one", "time_two"} <= set(row)


def test_two_phases_logging_the_same_term_are_refused(synthetic: InteractionDataset) -> None:
    runner = PhaseRunner(
        _TwoPhases(synthetic, "clash"), synthetic, {"lr": 0.1, "weight_decay": 0.0, "batch_size": 8}, 0
    )
    with pytest.raises(ValueError, match=r"logs loss terms another phase logs: \['loss_a'\]"):
        runner.run_epoch(0, {})


class _Parts(Recommender):
    """Two independent losses on two weights, given as one part or as two parts."""

    def __init__(self, dataset: InteractionDataset, split: bool) -> None:
        super().__init__(dataset, {})
        torch.manual_seed(0)
        self.w1 = nn.Parameter(torch.randn(4))
        self.w2 = nn.Parameter(torch.randn(4))
        self.split = split

    def phases(self) -> list[Phase]:
        return [Phase("p", [self.w1, self.w2], "user_rows", self.parts, batch_size=50)]

    def parts(self, batch: Batch) -> list[dict[str, torch.Tensor]]:
        assert isinstance(batch, UserRowBatch)
        x = batch.dense().sum(1).mean()
        first, second = (self.w1 * x).pow(2).sum(), (self.w2 - x).abs().sum()
        return [{"first": first}, {"second": second}] if self.split else [{"first": first, "second": second}]


def test_loss_parts_backpropagated_one_by_one_equal_one_backward_of_the_sum(synthetic: InteractionDataset) -> None:
    runs = []
    for split in (False, True):
        model = _Parts(synthetic, split)
        runner = PhaseRunner(model, synthetic, {"lr": 0.01, "weight_decay": 0.0, "batch_size": 8}, seed=0)
        torch.manual_seed(3)
        row = runner.run_phase(runner.by_name["p"], 0)
        runs.append((row, model.w1.detach().clone(), model.w2.detach().clone()))
    assert runs[0][0] == runs[1][0]
    assert torch.equal(runs[0][1], runs[1][1]) and torch.equal(runs[0][2], runs[1][2])
