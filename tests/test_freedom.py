"""FREEDOM: the frozen kNN item graph, degree-sensitive pruning, propagation and losses against
dense computations written here; learning on planted data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models.freedom import Freedom
from mmdiffbench.models.item_graphs import image_weighted
from mmdiffbench.models.phase import BPRBatch
from tests._graph_direct import dense_sym
from tests._planted import planted_dataset, popularity_recall, trained_recall


def build(dataset: InteractionDataset, overrides: list[str] | None = None) -> Freedom:
    config = resolve("freedom", dataset.name, "full", overrides or [])
    torch.manual_seed(0)
    return Freedom(dataset, config.model)


def dense_knn(features: np.ndarray, k: int) -> torch.Tensor:
    """Binary kNN by cosine (no self), then D^-1/2 S D^-1/2 with row-sum degrees."""
    f = torch.from_numpy(features).double()
    f = f / f.norm(dim=1, keepdim=True)
    sim = f @ f.T
    sim.fill_diagonal_(-np.inf)
    s = torch.zeros_like(sim).scatter_(1, sim.topk(k, dim=1).indices, 1.0)
    d = s.sum(1).rsqrt()
    return d[:, None] * s * d[None, :]


def test_item_graph_is_the_image_weighted_mix_of_knn_graphs(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["image_weight=0.3"])
    expected = 0.3 * dense_knn(synthetic.features["image"], 10) + 0.7 * dense_knn(synthetic.features["text"], 10)
    torch.testing.assert_close(model.item_graph.to_dense().double(), expected, atol=1e-6, rtol=1e-5)


def test_image_weight_with_the_modalities_a_dataset_has() -> None:
    """TikTok's release has image + audio: audio takes the textual share."""
    assert image_weighted(["audio", "image"], 0.1) == {"audio": 0.9, "image": 0.1}
    assert image_weighted(["audio", "image", "text"], 0.1) == {"audio": 0.45, "image": 0.1, "text": 0.45}
    assert image_weighted(["audio", "text"], 0.1) == {"audio": 0.5, "text": 0.5}


def test_pruning_draws_edges_by_inverse_sqrt_degree_and_renormalises_the_kept(
    synthetic: InteractionDataset,
) -> None:
    model = build(synthetic, ["dropout=0.7"])
    torch.manual_seed(5)
    model.prune_edges()
    assert model._pruned_op is not None
    r = torch.from_numpy(synthetic.train.toarray()).double().clamp(max=1)
    users, items = r.nonzero(as_tuple=True)  # row-major, as the training edges
    weights = (r.sum(1)[users] * r.sum(0)[items]).rsqrt()
    torch.manual_seed(5)
    chosen = torch.multinomial(weights.float(), int(len(users) * 0.3))
    kept = torch.zeros_like(r)
    kept[users[chosen], items[chosen]] = 1.0
    torch.testing.assert_close(model._pruned_op.coo.to_dense().double(), dense_sym(kept), atol=1e-6, rtol=1e-5)
    assert int(kept.sum()) == int(len(users) * 0.3)


def mean_propagation(adj: torch.Tensor, ego: torch.Tensor, layers: int) -> torch.Tensor:
    out, cur = ego, ego
    for _ in range(layers):
        cur = adj @ cur
        out = out + cur
    return out / (layers + 1)


def test_embeddings_and_losses_are_the_equations(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["reg_weight=0.5", "n_mm_layers=2"])
    n_u = synthetic.n_users
    e_u, e_i = model.user_embedding.double(), model.item_embedding.double()
    s = model.item_graph.to_dense().double()
    h = s @ (s @ e_i)
    r = torch.from_numpy(synthetic.train.toarray()).double().clamp(max=1)
    full = mean_propagation(dense_sym(r), torch.cat([e_u, e_i]), 2)
    users, items = model.final_embeddings()
    torch.testing.assert_close(users.double(), full[:n_u], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(items.double(), full[n_u:] + h, atol=1e-5, rtol=1e-4)

    model.prune_edges()
    assert model._pruned_op is not None
    pruned = mean_propagation(model._pruned_op.coo.to_dense().double(), torch.cat([e_u, e_i]), 2)
    u_all, i_all = pruned[:n_u], pruned[n_u:] + h
    batch = BPRBatch(torch.tensor([0, 3, 7, 3]), torch.tensor([1, 2, 5, 9]), torch.tensor([4, 6, 8, 0]))
    u = u_all[batch.users]

    def bpr(items: torch.Tensor) -> torch.Tensor:
        diff = (u * items[batch.pos]).sum(1) - (u * items[batch.neg]).sum(1)
        return -torch.log(torch.sigmoid(diff)).mean()

    modal = 0.0
    for m in ("image", "text"):
        f = model.projections.tables[m].double()
        lin = model.projections.linears[m]
        modal = modal + bpr(f @ lin.weight.double().T + lin.bias.double())
    terms = model.losses(batch)
    assert set(terms) == {"bpr", "modal_bpr"}
    torch.testing.assert_close(terms["bpr"].double(), bpr(i_all), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(terms["modal_bpr"].double(), 0.5 * modal, atol=1e-5, rtol=1e-4)


def test_freedom_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset(modalities={"image": 16, "text": 8})
    recall = trained_recall(dataset, "freedom", ["epochs=8", "lr=1e-2", "batch_size=512"], tmp_path)
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
