"""GRCN: the attention of each content graph, the refined edge weights (max over modalities of attention x
source confidence, pruned at 0), the ID GCN on them, the routing, and the losses against dense math;
learns on planted data."""

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
    config = resolve("grcn", dataset.name, "full", ["embedding_dim=8", "latent_dim=6", *overrides]).model
    return get_model_class("grcn")(dataset, config)


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Row softmax over the entries where mask is set (rows without any give zeros)."""
    weights = torch.where(mask, torch.exp(logits - logits.max()), torch.zeros_like(logits))
    return weights / weights.sum(1, keepdim=True).clamp(min=1e-300)


def expected_representation(model: torch.nn.Module, dataset: InteractionDataset) -> torch.Tensor:
    r = torch.tensor(dataset.train.toarray(), dtype=torch.float64) > 0
    n_users, n_items = r.shape
    a = torch.zeros(n_users + n_items, n_users + n_items, dtype=torch.bool)
    a[:n_users, n_users:], a[n_users:, :n_users] = r, r.T  # a[i, j]: an edge j -> i
    contents, alphas = [], []
    for m in sorted(dataset.features):
        mlp = model.mlp[m]
        f = torch.tensor(dataset.features[m], dtype=torch.float64)
        items = F.normalize(F.leaky_relu(f @ mlp.weight.double().T + mlp.bias.double(), 0.01), dim=1)
        pref = F.normalize(model.preference[m].double(), dim=1)
        for _ in range(model.n_routing):
            pref = F.normalize(pref + masked_softmax(pref @ items.T, r) @ items, dim=1)
        x = torch.cat([pref, items])
        alpha = masked_softmax(x @ x.T, a)  # alpha[i, j] = softmax over the j of i of <x_i, x_j>
        contents.append(x + alpha @ x)
        alphas.append(alpha)
    conf = model.confidence.double()
    weight = torch.stack([alphas[k] * conf[:, k][None, :] for k in range(len(alphas))]).max(0).values
    weight = torch.where(a, weight.clamp(min=0), torch.zeros_like(weight))
    x = F.normalize(model.id_embedding.double(), dim=1)
    x1 = weight @ x
    return torch.cat([x + x1 + weight @ x1, *contents], 1).detach()


def test_representation_follows_the_refined_graph(synthetic: InteractionDataset) -> None:
    for routing in (0, 2):
        model = build(synthetic, [f"n_routing={routing}"])
        with torch.no_grad():  # some negative confidences, so that the pruning matters
            model.confidence.sub_(0.1)
        users, items = model.final_embeddings()
        expected = expected_representation(model, synthetic)
        torch.testing.assert_close(torch.cat([users, items]).double().detach(), expected, rtol=1e-5, atol=1e-6)


def test_losses_follow_the_formulas(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["reg_weight=0.1"])
    batch = BPRBatch(torch.tensor([0, 1, 1]), torch.tensor([3, 4, 5]), torch.tensor([6, 7, 8]))
    terms = model.losses(batch)
    rep = expected_representation(model, synthetic)
    n_users = synthetic.n_users
    expected_bpr = batch_bpr(rep, batch.users, batch.pos, batch.neg, n_users)
    torch.testing.assert_close(terms["bpr"].double(), expected_bpr, rtol=1e-5, atol=1e-6)
    ids = model.id_embedding.double().detach()
    user_rows, item_rows = paired_rows(batch.users, batch.pos, batch.neg, n_users)
    id_term = (ids[user_rows] ** 2 + ids[item_rows] ** 2).mean()
    pref = sum(model.preference[m].double().detach()[user_rows].pow(2).mean() for m in ("image", "text"))
    torch.testing.assert_close(terms["reg"].double(), 0.1 * (id_term + pref), rtol=1e-5, atol=1e-9)


def test_grcn_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset(modalities={"image": 16, "text": 8})
    recall = trained_recall(dataset, "grcn", ["epochs=8", "batch_size=512", "lr=1e-2"], tmp_path)
    print(f"grcn recall@20 {recall:.3f} popularity {popularity_recall(dataset):.3f}")
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
