"""NGCF: the bi-interaction propagation and the loss against a direct float64 computation, the
dropouts active only in training, and learning on planted data."""

from __future__ import annotations

from pathlib import Path

import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models.base import BPRBatch
from mmdiffbench.models.ngcf import NGCF
from tests._graph_direct import dense_bpr, dense_norm_adj
from tests._planted import planted_dataset, popularity_recall, trained_recall


def build(dataset: InteractionDataset, overrides: list[str]) -> NGCF:
    torch.manual_seed(0)
    return NGCF(dataset, resolve("ngcf", dataset.name, "full", overrides).model)


def direct_embeddings(model: NGCF, adj: torch.Tensor) -> torch.Tensor:
    """E^(k+1) = l2-rows(LeakyReLU_0.2((L + I) E W1^T + b1 + (L E * E) W2^T + b2)), concatenated."""
    x = torch.cat([model.user_embedding, model.item_embedding]).detach().double()
    eye = torch.eye(len(x), dtype=torch.float64)
    out = [x]
    for layer in model.layers:
        w1, b1 = layer.sum_transform.weight.detach().double(), layer.sum_transform.bias.detach().double()
        w2, b2 = layer.product_transform.weight.detach().double(), layer.product_transform.bias.detach().double()
        h = (adj + eye) @ x @ w1.T + b1 + ((adj @ x) * x) @ w2.T + b2
        h = torch.where(h > 0, h, 0.2 * h)
        x = h / h.norm(dim=1, keepdim=True)
        out.append(x)
    return torch.cat(out, dim=1)


def test_propagation_and_loss_match_the_direct_computation(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["hidden_dims=[16, 8]", "embedding_dim=12"])
    for layer in model.layers:  # non-zero biases, so that a dropped bias shows
        torch.nn.init.normal_(layer.sum_transform.bias)
        torch.nn.init.normal_(layer.product_transform.bias)
    model.eval()
    expected = direct_embeddings(model, dense_norm_adj(synthetic.train, model.n_users, model.n_items))
    users, items = model.final_embeddings()
    assert users.shape[1] == 12 + 16 + 8
    torch.testing.assert_close(torch.cat([users, items]).double(), expected, rtol=1e-5, atol=1e-6)
    batch = BPRBatch(torch.tensor([0, 3, 3, 7]), torch.tensor([1, 2, 9, 9]), torch.tensor([5, 6, 7, 8]))
    terms = model.losses(batch)
    nu = model.n_users
    u, p, n = expected[batch.users], expected[nu + batch.pos], expected[nu + batch.neg]
    wanted = {"bpr": dense_bpr(u, p, n), "reg": 1e-5 * (u.norm() + p.norm() + n.norm()) / 4}
    assert set(terms) == set(wanted)
    for key, value in wanted.items():
        torch.testing.assert_close(terms[key].double(), value, rtol=1e-5, atol=1e-10, msg=key)


def test_dropouts_act_in_training_only(synthetic: InteractionDataset) -> None:
    for setting in ("message_dropout=0.5", "node_dropout=0.5"):
        others = ["message_dropout=0.0", "node_dropout=0.0"]
        model = build(synthetic, [*others, setting])
        model.eval()
        evaluated = torch.cat(model.final_embeddings())
        torch.testing.assert_close(torch.cat(model.final_embeddings()), evaluated)
        model.train()
        assert not torch.allclose(torch.cat(model.final_embeddings()), evaluated), setting


def test_ngcf_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset()
    recall = trained_recall(dataset, "ngcf", ["epochs=10", "lr=2e-2", "batch_size=256", "eval_every=2"], tmp_path)
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
