"""`fused_adam`: the models that train raw feature tables step them with torch's fused Adam (no
parameter-sized temporaries); over 8 steps it stays within float32 rounding of the
per-tensor loop, so the switch changes memory, not what the model learns."""

from __future__ import annotations

import pytest
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.train.phases import PhaseRunner
from mmdiffbench.train.run import build_model
from mmdiffbench.train.seeding import seed_everything

FEATURE_TRAINING = ["freedom", "lattice", "bm3", "lightgcn_m", "mgcn"]


def _trained(dataset: InteractionDataset, model_name: str, fused: bool) -> tuple[PhaseRunner, dict[str, torch.Tensor]]:
    config = resolve(model_name, dataset.name, "full", [f"fused_adam={str(fused).lower()}", "batch_size=64"])
    seed_everything(0)
    model = build_model(dataset, config, torch.device("cpu"))
    runner = PhaseRunner(model, dataset, config.trainer, 0)
    for epoch in range(2):
        for phase in runner.phases:
            runner.run_phase(phase, epoch, max_steps=4)
    return runner, {k: v.detach().clone() for k, v in model.named_parameters()}


@pytest.mark.parametrize("model_name", FEATURE_TRAINING)
def test_fused_adam_is_the_default_of_the_models_that_train_feature_tables(model_name: str) -> None:
    assert resolve(model_name, "baby").trainer["fused_adam"] is True
    assert resolve("lightgcn", "baby").trainer["fused_adam"] is False


@pytest.mark.parametrize("model_name", FEATURE_TRAINING)
def test_fused_adam_stays_within_rounding_of_the_loop(synthetic: InteractionDataset, model_name: str) -> None:
    fused_runner, fused = _trained(synthetic, model_name, True)
    loop_runner, loop = _trained(synthetic, model_name, False)
    assert all(opt.defaults["fused"] for opt in fused_runner.optimizers.values())
    assert not any(opt.defaults["fused"] for opt in loop_runner.optimizers.values())
    for key, value in loop.items():  # 8 steps at lr 1e-3: a difference past rounding would show
        torch.testing.assert_close(fused[key], value, rtol=1e-4, atol=1e-6, msg=key)
