"""LATTICE: the learned + initial item graph and the propagation against dense computations written
here, the once-per-epoch gradient through the graph, the loss; learning on planted data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models.lattice import Lattice
from mmdiffbench.models.phase import BPRBatch
from tests._planted import planted_dataset, popularity_recall, trained_recall

BATCH = BPRBatch(torch.tensor([0, 3, 7, 3]), torch.tensor([1, 2, 5, 9]), torch.tensor([4, 6, 8, 0]))


def build(dataset: InteractionDataset, overrides: list[str] | None = None) -> Lattice:
    config = resolve("lattice", dataset.name, "full", overrides or [])
    torch.manual_seed(0)
    return Lattice(dataset, config.model)


def dense_knn_similarity(x: torch.Tensor, k: int) -> torch.Tensor:
    """Cosine kNN (no self) keeping the similarities, zeros elsewhere: items x items."""
    unit = x / x.norm(dim=1, keepdim=True)
    sim = unit @ unit.T
    masked = sim.detach().clone().fill_diagonal_(-np.inf)
    keep = torch.zeros_like(sim).scatter_(1, masked.topk(k, dim=1).indices, 1.0)
    return sim * keep


def dense_sym(s: torch.Tensor) -> torch.Tensor:
    d = s.sum(1).rsqrt()
    return d[:, None] * s * d[None, :]


def dense_item_graph(model: Lattice, dataset: InteractionDataset, lam: float) -> torch.Tensor:
    w = torch.softmax(model.modal_weight.double(), 0)
    learned, initial = 0.0, 0.0
    for j, m in enumerate(("image", "text")):
        lin = model.projections.linears[m]
        p = model.projections.tables[m].double() @ lin.weight.double().T + lin.bias.double()
        learned = learned + w[j] * dense_knn_similarity(p, 10)
        raw = torch.from_numpy(dataset.features[m]).double()
        initial = initial + w[j] * dense_sym(dense_knn_similarity(raw, 10))
    return (1 - lam) * dense_sym(learned) + lam * initial


def test_final_embeddings_are_the_equations(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["lambda_coeff=0.6"])
    with torch.no_grad():
        model.modal_weight.copy_(torch.tensor([0.2, 0.9]))
    n_u = synthetic.n_users
    s = dense_item_graph(model, synthetic, 0.6)
    e_u, e_i = model.user_embedding.double(), model.item_embedding.double()
    h = s @ e_i
    r = torch.from_numpy(synthetic.train.toarray()).double().clamp(max=1)
    a = torch.zeros(n_u + synthetic.n_items, n_u + synthetic.n_items, dtype=torch.float64)
    a[:n_u, n_u:], a[n_u:, :n_u] = r, r.T
    a = a + torch.eye(len(a), dtype=torch.float64)
    a = a / a.sum(1, keepdim=True)
    ego = torch.cat([e_u, e_i])
    out = (ego + a @ ego + a @ (a @ ego)) / 3
    users, items = model.final_embeddings()
    torch.testing.assert_close(users.double(), out[:n_u], atol=1e-5, rtol=1e-4)
    expected_items = out[n_u:] + h / h.norm(dim=1, keepdim=True)
    torch.testing.assert_close(items.double(), expected_items, atol=1e-5, rtol=1e-4)


def test_loss_is_bpr_plus_l2_of_the_final_embeddings(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["reg_weight=0.3"])
    users, items = (x.double().detach() for x in model.final_embeddings())
    u, p, n = users[BATCH.users], items[BATCH.pos], items[BATCH.neg]
    bpr = -torch.log(torch.sigmoid((u * p).sum(1) - (u * n).sum(1))).mean()
    reg = 0.3 * 0.5 * (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / 4
    terms = model.losses(BATCH)
    assert set(terms) == {"bpr", "reg"}
    torch.testing.assert_close(terms["bpr"].double(), bpr, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(terms["reg"].double(), reg, atol=1e-6, rtol=1e-4)


def test_graph_gradient_flows_on_the_first_step_of_an_epoch_only(synthetic: InteractionDataset) -> None:
    model = build(synthetic)
    (phase,) = model.phases()
    assert phase.before is not None
    for step in range(2):
        if step == 0:
            phase.before()
        model.zero_grad(set_to_none=True)
        sum(model.losses(BATCH).values()).backward()
        graph_grads = [model.modal_weight.grad, model.projections.linears["image"].weight.grad]
        if step == 0:
            assert all(g is not None and g.abs().sum() > 0 for g in graph_grads)
        else:
            assert all(g is None for g in graph_grads)


def test_lattice_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset(modalities={"image": 16, "text": 8})
    recall = trained_recall(dataset, "lattice", ["epochs=8", "lr=1e-2", "batch_size=512"], tmp_path)
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
