"""HCCF: the local and hypergraph propagation and each loss term against a direct float64
computation, dropout in training only, and learning on planted data."""

from __future__ import annotations

from pathlib import Path

import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models.base import BPRBatch
from mmdiffbench.models.hccf import HCCF
from tests._graph_direct import dense_bpr, dense_info_nce, dense_norm_adj
from tests._planted import planted_dataset, popularity_recall, trained_recall


def build(dataset: InteractionDataset, overrides: list[str]) -> HCCF:
    torch.manual_seed(0)
    return HCCF(dataset, resolve("hccf", dataset.name, "full", overrides).model)


def direct_views(model: HCCF, adj: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """E^(l) = A E^(l-1) + blockdiag(H_u H_u^T, H_i H_i^T) E^(l-1), H = E W; e = sum_l E^(l)."""
    eu, ei = model.user_embedding.detach().double(), model.item_embedding.detach().double()
    hu, hi = eu @ model.user_hyper.detach().double(), ei @ model.item_hyper.detach().double()
    nu, ni = len(eu), len(ei)
    block = torch.zeros(nu + ni, nu + ni, dtype=torch.float64)
    block[:nu, :nu], block[nu:, nu:] = hu @ hu.T, hi @ hi.T
    x = torch.cat([eu, ei])
    total, local, hyper = x, [], []
    for _ in range(model.n_layers):
        local.append(adj @ x)
        hyper.append(block @ x)
        x = local[-1] + hyper[-1]
        total = total + x
    return total, local, hyper


def test_views_and_losses_match_the_direct_computation(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["keep_rate=1.0", "hyperedges=6", "tau=0.3"])
    out, local, hyper = direct_views(model, dense_norm_adj(synthetic.train, model.n_users, model.n_items))
    batch = BPRBatch(torch.tensor([0, 3, 3, 7, 50]), torch.tensor([1, 2, 9, 9, 30]), torch.tensor([5, 6, 7, 8, 9]))
    terms = model.losses(batch)
    nu = model.n_users
    users, items = torch.unique(batch.users), torch.unique(batch.pos)
    ssl = sum(
        dense_info_nce(g[users], z[users], torch.arange(len(users)), 0.3)
        + dense_info_nce(g[nu + items], z[nu + items], torch.arange(len(items)), 0.3)
        for g, z in zip(local, hyper, strict=True)
    )
    params = sum(float(w.detach().double().pow(2).sum()) for w in model.parameters())
    assert len(list(model.parameters())) == 4
    u, p, n = out[batch.users], out[nu + batch.pos], out[nu + batch.neg]
    expected = {"bpr": dense_bpr(u, p, n), "reg": 1e-6 * torch.tensor(params, dtype=torch.float64), "ssl": 0.2 * ssl}
    assert set(terms) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(terms[key].double(), value, rtol=1e-5, atol=1e-10, msg=key)
    model.eval()
    with torch.no_grad():
        scores = model.score(torch.tensor([4, 9]))
    torch.testing.assert_close(scores.double(), out[[4, 9]] @ out[nu:].T, rtol=1e-4, atol=1e-4)


def test_infonce_gradient_stops_at_the_local_view(synthetic: InteractionDataset) -> None:
    """d ssl / d E^(0) equals the direct float64 gradient with the local view G^(l) detached."""
    model = build(synthetic, ["keep_rate=1.0", "hyperedges=6", "n_layers=1"])
    batch = BPRBatch(torch.tensor([0, 3, 9]), torch.tensor([1, 2, 2]), torch.tensor([5, 6, 7]))
    model.losses(batch)["ssl"].backward()
    adj = dense_norm_adj(synthetic.train, model.n_users, model.n_items)
    eu = model.user_embedding.detach().double().requires_grad_()
    ei = model.item_embedding.detach().double().requires_grad_()
    hu, hi = eu @ model.user_hyper.detach().double(), ei @ model.item_hyper.detach().double()
    x = torch.cat([eu, ei])
    nu = model.n_users
    local, hyper = (adj @ x).detach(), torch.cat([hu @ (hu.T @ x[:nu]), hi @ (hi.T @ x[nu:])])
    users, items = torch.unique(batch.users), torch.unique(batch.pos)
    ssl = dense_info_nce(local[users], hyper[users], torch.arange(3), 0.1) + dense_info_nce(
        local[nu + items], hyper[nu + items], torch.arange(2), 0.1
    )
    (0.2 * ssl).backward()
    for table, direct in ((model.user_embedding, eu), (model.item_embedding, ei)):
        assert table.grad is not None and direct.grad is not None
        torch.testing.assert_close(table.grad.double(), direct.grad, rtol=1e-4, atol=1e-7)


def test_dropout_acts_in_training_only(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["keep_rate=0.5"])
    model.eval()
    evaluated = torch.cat(model.final_embeddings())
    reference = build(synthetic, ["keep_rate=1.0"])
    torch.testing.assert_close(torch.cat(reference.final_embeddings()), evaluated)
    model.train()
    assert not torch.allclose(torch.cat(model.final_embeddings()), evaluated)


def test_hccf_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset()
    recall = trained_recall(dataset, "hccf", ["epochs=10", "lr=2e-2", "batch_size=256", "eval_every=2"], tmp_path)
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
