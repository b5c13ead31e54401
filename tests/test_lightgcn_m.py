"""LightGCN-M: items are normalised feature projections, propagated as LightGCN; checked against dense
math; the features are fine-tuned; it learns on planted data."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models import get_model_class
from mmdiffbench.models.base import BPRBatch
from tests._planted import planted_dataset, popularity_recall, trained_recall


def build(dataset: InteractionDataset, overrides: list[str]) -> torch.nn.Module:
    torch.manual_seed(0)
    config = resolve("lightgcn_m", dataset.name, "full", ["embedding_dim=8", *overrides]).model
    return get_model_class("lightgcn_m")(dataset, config)


def dense_norm_adj(dataset: InteractionDataset) -> torch.Tensor:
    r = torch.tensor(dataset.train.toarray(), dtype=torch.float64)
    n_users, n_items = r.shape
    a = torch.zeros(n_users + n_items, n_users + n_items, dtype=torch.float64)
    a[:n_users, n_users:], a[n_users:, :n_users] = r, r.T
    inv = a.sum(1).clamp(min=1) ** -0.5
    return inv[:, None] * a * inv[None, :]


def expected_embeddings(model: torch.nn.Module, dataset: InteractionDataset, layers: int) -> torch.Tensor:
    names = sorted(dataset.features)
    feats = {m: torch.tensor(dataset.features[m], dtype=torch.float64) for m in names}
    if model.aggregation == "concat":
        lin = model.proj["concat"]
        f = torch.cat([feats[m] for m in names], 1)
        items = F.normalize(f @ lin.weight.double().T + lin.bias.double(), dim=1)
    else:
        items = torch.stack(
            [
                F.normalize(feats[m] @ model.proj[m].weight.double().T + model.proj[m].bias.double(), dim=1)
                for m in names
            ]
        ).mean(0)
    adj = dense_norm_adj(dataset)
    out = [torch.cat([model.user_embedding.double(), items])]
    for _ in range(layers):
        out.append(adj @ out[-1])
    return torch.stack(out).mean(0).detach()


def test_items_are_normalised_projections_propagated(synthetic: InteractionDataset) -> None:
    for overrides in (["n_layers=2"], ["n_layers=1", "aggregation=concat"]):
        model = build(synthetic, overrides)
        expected = expected_embeddings(model, synthetic, model.n_layers)
        users, items = model.final_embeddings()
        torch.testing.assert_close(torch.cat([users, items]).double().detach(), expected, rtol=1e-5, atol=1e-6)


def test_losses_and_feature_fine_tuning(synthetic: InteractionDataset) -> None:
    model = build(synthetic, [])
    batch = BPRBatch(torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5]), torch.tensor([6, 7, 8]))
    terms = model.losses(batch)
    expected = expected_embeddings(model, synthetic, model.n_layers)
    u, p, n = expected[batch.users], expected[synthetic.n_users + batch.pos], expected[synthetic.n_users + batch.neg]
    diff = (u * p).sum(1) - (u * n).sum(1)
    torch.testing.assert_close(terms["bpr"].double(), -torch.log(torch.sigmoid(diff)).mean(), rtol=1e-5, atol=1e-6)
    ego_u = model.user_embedding[batch.users].double().detach()
    reg = 0.5 * (ego_u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / 3
    torch.testing.assert_close(terms["reg"].double(), model.config["reg_weight"] * reg, rtol=1e-5, atol=1e-7)
    sum(terms.values()).backward()
    assert model.features["image"].grad is not None and model.features["image"].grad.abs().sum() > 0
    frozen = build(synthetic, ["train_features=false"])
    assert not any("feat" in name or "tables" in name for name, _ in frozen.named_parameters())


def test_lightgcn_m_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset(modalities={"image": 16, "text": 8})
    recall = trained_recall(dataset, "lightgcn_m", ["epochs=15", "batch_size=256", "lr=1e-2"], tmp_path)
    print(f"lightgcn_m recall@20 {recall:.3f} popularity {popularity_recall(dataset):.3f}")
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
