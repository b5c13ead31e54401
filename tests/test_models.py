"""MF-BPR and LightGCN forward passes against direct dense computations."""

from __future__ import annotations

import torch

from mmdiffbench.data import InteractionDataset
from mmdiffbench.models import get_model_class
from mmdiffbench.models.base import BPRBatch

CONFIG = {"embedding_dim": 8, "n_layers": 3, "reg_weight": 1e-3}


def _dense_norm_adj(dataset: InteractionDataset) -> torch.Tensor:
    r = torch.tensor(dataset.train.toarray())
    n_users, n_items = r.shape
    a = torch.zeros(n_users + n_items, n_users + n_items)
    a[:n_users, n_users:], a[n_users:, :n_users] = r, r.T
    degree = a.sum(1)
    inv = torch.where(degree > 0, degree.clamp(min=1e-12) ** -0.5, torch.zeros_like(degree))
    return inv[:, None] * a * inv[None, :]


def test_lightgcn_is_the_layer_mean_of_propagations(synthetic: InteractionDataset) -> None:
    model = get_model_class("lightgcn")(synthetic, CONFIG)
    adj = _dense_norm_adj(synthetic)
    ego = torch.cat([model.user_embedding, model.item_embedding]).detach()
    layers = [ego]
    for _ in range(3):
        layers.append(adj @ layers[-1])
    expected = torch.stack(layers).mean(0)
    users, items = model.final_embeddings()
    torch.testing.assert_close(torch.cat([users, items]).detach(), expected, rtol=1e-5, atol=1e-6)
    batch = torch.tensor([0, 5, 7])
    with model.scoring():
        torch.testing.assert_close(model.score(batch), expected[batch] @ expected[synthetic.n_users :].T)


def test_mf_bpr_losses_follow_the_formulas(synthetic: InteractionDataset) -> None:
    torch.manual_seed(0)
    model = get_model_class("mf_bpr")(synthetic, CONFIG)
    batch = BPRBatch(torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5]), torch.tensor([6, 7, 8]))
    terms = model.losses(batch)
    users, items = model.final_embeddings()
    u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
    diff = (u * p).sum(1) - (u * n).sum(1)
    expected_bpr = -torch.log(torch.sigmoid(diff)).mean()
    expected_reg = CONFIG["reg_weight"] * 0.5 * (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / 3
    torch.testing.assert_close(terms["bpr"], expected_bpr)
    torch.testing.assert_close(terms["reg"], expected_reg)
