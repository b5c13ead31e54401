"""`recompute` (GRCN, MMGCN, DiffCL): the passes rerun in backward instead of held give the same
losses and gradients bit for bit, and the random stream (DiffCL's dropout) goes on unchanged."""

from __future__ import annotations

import pytest
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models.phase import BPRBatch
from mmdiffbench.train.run import build_model


def _step(dataset: InteractionDataset, model_name: str, recompute: bool) -> tuple[dict[str, torch.Tensor], ...]:
    config = resolve(model_name, dataset.name, "full", [f"recompute={str(recompute).lower()}"])
    torch.manual_seed(0)
    model = build_model(dataset, config, torch.device("cpu"))
    batch = BPRBatch(torch.tensor([0, 5, 17, 3, 5]), torch.tensor([1, 2, 40, 7, 1]), torch.tensor([9, 11, 3, 60, 0]))
    torch.manual_seed(3)
    terms = model.losses(batch)
    sum(terms.values()).backward()
    grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach() for k, v in terms.items()}, grads, {"next_draw": torch.rand(4)}


@pytest.mark.parametrize(("model_name", "default"), [("grcn", False), ("mmgcn", False), ("diffcl", False)])
def test_recomputed_passes_give_the_same_losses_and_gradients(
    synthetic: InteractionDataset, model_name: str, default: bool
) -> None:
    assert resolve(model_name, "baby").model["recompute"] is default
    assert resolve(model_name, "sports").model["recompute"] is True  # Sports-sized: the memory switch on
    again, held = _step(synthetic, model_name, True), _step(synthetic, model_name, False)
    for a, b in zip(again, held, strict=True):
        assert a.keys() == b.keys() and a
        for key in a:
            assert torch.equal(a[key], b[key]), key
