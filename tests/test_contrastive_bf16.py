"""`contrastive_bf16` in SGL and NCL: the setting is checked, and it reaches the InfoNCE products
(bfloat16 inputs: near the float32 term, never equal to it); the other terms do not move."""

from __future__ import annotations

import pytest
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models import get_model_class
from mmdiffbench.models.base import BPRBatch

CONTRASTIVE_TERM = {"sgl": "ssl", "ncl": "structural"}
SMALL = {"sgl": [], "ncl": ["num_clusters=4"]}  # NCL's k-means needs a point per cluster


def _terms(dataset: InteractionDataset, model_name: str, mode: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    config = resolve(
        model_name, dataset.name, "full", [f"contrastive_bf16={mode}", "embedding_dim=16", *SMALL[model_name]]
    ).model
    model = get_model_class(model_name)(dataset, config)
    batch = BPRBatch(torch.tensor([0, 3, 5, 7, 3]), torch.tensor([1, 2, 4, 6, 9]), torch.tensor([8, 10, 11, 12, 13]))
    torch.manual_seed(1)
    return {k: v.detach() for k, v in model.losses(batch).items()}


@pytest.mark.parametrize("model_name", sorted(CONTRASTIVE_TERM))
def test_the_switch_reaches_the_contrastive_term_only(synthetic: InteractionDataset, model_name: str) -> None:
    exact, rounded = _terms(synthetic, model_name, "never"), _terms(synthetic, model_name, "always")
    key = CONTRASTIVE_TERM[model_name]
    assert not torch.equal(rounded[key], exact[key])  # the products really ran in bfloat16
    torch.testing.assert_close(rounded[key], exact[key], rtol=2e-2, atol=0.0)
    for other in set(exact) - {key}:
        assert torch.equal(rounded[other], exact[other]), other


@pytest.mark.parametrize("model_name", sorted(CONTRASTIVE_TERM))
def test_an_unknown_mode_is_refused(synthetic: InteractionDataset, model_name: str) -> None:
    config = resolve(model_name, synthetic.name, "full", ["contrastive_bf16=half", *SMALL[model_name]]).model
    with pytest.raises(ValueError, match="contrastive_bf16 must be one of never, always, cpu"):
        get_model_class(model_name)(synthetic, config)
