"""VBPR: theta_u^T E f_i content term and MMRec's EmbLoss against dense math; learns on planted data."""

from __future__ import annotations

from pathlib import Path

import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models import get_model_class
from mmdiffbench.models.base import BPRBatch
from tests._planted import planted_dataset, popularity_recall, trained_recall


def build(dataset: InteractionDataset) -> torch.nn.Module:
    torch.manual_seed(0)
    model = get_model_class("vbpr")(dataset, resolve("vbpr", dataset.name, "full", ["embedding_dim=8"]).model)
    with torch.no_grad():  # a non-zero bias, so that the test sees it
        model.content.bias.normal_()
    return model


def test_score_is_id_term_plus_visual_term(synthetic: InteractionDataset) -> None:
    model = build(synthetic)
    gamma_u, theta_u = model.user_embedding[:, :8].double(), model.user_embedding[:, 8:].double()
    f = torch.cat([torch.tensor(synthetic.features[m]) for m in sorted(synthetic.features)], 1).double()
    e, b = model.content.weight.double(), model.content.bias.double()
    expected = gamma_u @ model.item_embedding.double().T + theta_u @ (f @ e.T + b).T
    users = torch.tensor([0, 3, 11])
    with torch.no_grad():
        torch.testing.assert_close(model.score(users).double(), expected[users], rtol=1e-5, atol=1e-5)
        with model.scoring():
            torch.testing.assert_close(model.score(users).double(), expected[users], rtol=1e-5, atol=1e-5)


def test_losses_are_bpr_and_unsquared_norms(synthetic: InteractionDataset) -> None:
    model = build(synthetic)
    batch = BPRBatch(torch.tensor([0, 1, 2, 2]), torch.tensor([3, 4, 5, 6]), torch.tensor([7, 8, 9, 10]))
    terms = model.losses(batch)
    users, items = (t.detach().double() for t in model.final_embeddings())
    u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
    diff = (u * p).sum(1) - (u * n).sum(1)
    torch.testing.assert_close(terms["bpr"].double(), -torch.log(torch.sigmoid(diff)).mean(), rtol=1e-5, atol=1e-6)
    norms = u.pow(2).sum().sqrt() + p.pow(2).sum().sqrt() + n.pow(2).sum().sqrt()
    torch.testing.assert_close(terms["reg"].double(), model.config["reg_weight"] * norms / 4, rtol=1e-5, atol=1e-7)


def test_vbpr_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset(modalities={"image": 16, "text": 8})
    recall = trained_recall(dataset, "vbpr", ["epochs=15", "batch_size=256", "lr=1e-2"], tmp_path)
    print(f"vbpr recall@20 {recall:.3f} popularity {popularity_recall(dataset):.3f}")
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
