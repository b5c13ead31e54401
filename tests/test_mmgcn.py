"""MMGCN: per-modality mean aggregation, the gated combination with the ID embedding and the modality
average against dense math; the reference's frozen ID table; learns on planted data."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models import get_model_class
from mmdiffbench.models.base import BPRBatch
from tests._graph_direct import batch_bpr, paired_rows
from tests._planted import planted_dataset, popularity_recall, trained_recall


def build(dataset: InteractionDataset, overrides: list[str]) -> torch.nn.Module:
    torch.manual_seed(0)
    config = resolve("mmgcn", dataset.name, "full", ["embedding_dim=8", "latent_dim=12", *overrides]).model
    return get_model_class("mmgcn")(dataset, config)


def dense_mean_adjacency(dataset: InteractionDataset) -> torch.Tensor:
    r = torch.tensor(dataset.train.toarray(), dtype=torch.float64)
    n_users, n_items = r.shape
    a = torch.zeros(n_users + n_items, n_users + n_items, dtype=torch.float64)
    a[:n_users, n_users:], a[n_users:, :n_users] = r, r.T
    return a / a.sum(1, keepdim=True).clamp(min=1)


def lin(layer: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    return x @ layer.weight.double().T + layer.bias.double()


def expected_representation(model: torch.nn.Module, dataset: InteractionDataset) -> torch.Tensor:
    adj = dense_mean_adjacency(dataset)
    ids = model.id_embedding.double().detach()
    reps = []
    for m in sorted(dataset.features):
        f = torch.tensor(dataset.features[m], dtype=torch.float64)
        if m == "image":
            f = lin(model.mlp[m], f)
        x = F.normalize(torch.cat([model.preference(m).double(), f]), dim=1)
        gcn = model.gcn[m]
        for layer in range(len(gcn.conv)):
            h = F.leaky_relu(adj @ (x @ gcn.conv[layer].double()), 0.01)
            x_hat = F.leaky_relu(lin(gcn.linear[layer], x), 0.01) + ids
            if model.config["combine"] == "concat":
                x = F.leaky_relu(lin(gcn.gate[layer], torch.cat([h, x_hat], 1)), 0.01)
            else:
                x = F.leaky_relu(lin(gcn.gate[layer], h) + x_hat, 0.01)
        reps.append(x)
    return (sum(reps) / len(reps)).detach()


def test_representation_is_the_modality_average_of_the_gcns(synthetic: InteractionDataset) -> None:
    for overrides in ([], ["combine=add", "n_layers=2"]):
        model = build(synthetic, overrides)
        users, items = model.final_embeddings()
        expected = expected_representation(model, synthetic)
        torch.testing.assert_close(torch.cat([users, items]).double().detach(), expected, rtol=1e-5, atol=1e-6)


def test_losses_and_the_frozen_id_table(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["reg_weight=0.1"])
    batch = BPRBatch(torch.tensor([0, 1, 1]), torch.tensor([3, 4, 5]), torch.tensor([6, 7, 8]))
    terms = model.losses(batch)
    rep = expected_representation(model, synthetic)
    n_users = synthetic.n_users
    expected_bpr = batch_bpr(rep, batch.users, batch.pos, batch.neg, n_users)
    torch.testing.assert_close(terms["bpr"].double(), expected_bpr, rtol=1e-5, atol=1e-6)
    ids = model.id_embedding.double()
    user_rows, item_rows = paired_rows(batch.users, batch.pos, batch.neg, n_users)
    id_term = (ids[user_rows] ** 2 + ids[item_rows] ** 2).mean()
    pref = sum(model.preference(m).double().pow(2).mean() for m in ("image", "text"))
    torch.testing.assert_close(terms["reg"].double(), 0.1 * (id_term + pref), rtol=1e-5, atol=1e-9)
    assert "id_embedding" in model.state_dict() and not any("id_embedding" in k for k, _ in model.named_parameters())
    trained = build(synthetic, ["train_embeddings=true"])
    names = {k for k, _ in trained.named_parameters()}
    assert {"id_embedding", "preference_image", "preference_text"} <= names


def test_mmgcn_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset(modalities={"image": 16, "text": 8})
    recall = trained_recall(
        dataset, "mmgcn", ["epochs=8", "batch_size=512", "lr=1e-2", "latent_dim=32", "embedding_dim=32"], tmp_path
    )
    print(f"mmgcn recall@20 {recall:.3f} popularity {popularity_recall(dataset):.3f}")
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
