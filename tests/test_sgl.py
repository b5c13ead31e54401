"""SGL: the dropout views and each loss term against a direct float64 computation, views redrawn
before every epoch, and learning on planted data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models.base import BPRBatch
from mmdiffbench.models.sgl import SGL
from tests._graph_direct import dense_bpr, dense_info_nce, dense_norm_adj
from tests._planted import planted_dataset, popularity_recall, trained_recall
from tests._resume import assert_resume_continues_exactly


def build(dataset: InteractionDataset, overrides: list[str]) -> SGL:
    torch.manual_seed(0)
    # float32 products unless a test asks otherwise: the direct computations are float64
    return SGL(dataset, resolve("sgl", dataset.name, "full", ["contrastive_bf16=never", *overrides]).model)


def direct_subgraph(dataset: InteractionDataset, augmentation: str, rho: float) -> torch.Tensor:
    """One draw of the view, with the same generator calls as the model, as a dense adjacency."""
    coo = sp.coo_matrix(dataset.train)
    users, items = coo.row, coo.col
    if augmentation == "ND":
        gone_users = set(torch.randperm(dataset.n_users)[: int(dataset.n_users * rho)].tolist())
        gone_items = set(torch.randperm(dataset.n_items)[: int(dataset.n_items * rho)].tolist())
        keep = [k for k in range(len(users)) if users[k] not in gone_users and items[k] not in gone_items]
    else:
        keep = torch.randperm(len(users))[: int(len(users) * (1 - rho))].tolist()
    r = sp.csr_matrix((np.ones(len(keep)), (users[keep], items[keep])), shape=dataset.train.shape)
    return dense_norm_adj(r, dataset.n_users, dataset.n_items)


def layer_mean(model: SGL, adjs: list[torch.Tensor]) -> torch.Tensor:
    x = torch.cat([model.user_embedding, model.item_embedding]).detach().double()
    layers = [x]
    for adj in adjs:
        layers.append(adj @ layers[-1])
    return sum(layers) / len(layers)


@pytest.mark.parametrize("augmentation", ["ED", "ND", "RW"])
def test_views_and_losses_match_the_direct_computation(synthetic: InteractionDataset, augmentation: str) -> None:
    model = build(synthetic, [f"augmentation={augmentation}", "drop_ratio=0.3"])
    torch.manual_seed(5)
    model.draw_views()
    torch.manual_seed(5)
    per_view = model.n_layers if augmentation == "RW" else 1
    views = []
    for _ in range(2):
        adjs = [direct_subgraph(synthetic, augmentation, 0.3) for _ in range(per_view)]
        views.append(adjs * model.n_layers if per_view == 1 else adjs)
    batch = BPRBatch(torch.tensor([0, 3, 3, 7, 50]), torch.tensor([1, 2, 9, 9, 30]), torch.tensor([5, 6, 7, 8, 9]))
    terms = model.losses(batch)
    nu, size = model.n_users, len(batch.users)
    main = layer_mean(model, [dense_norm_adj(synthetic.train, nu, model.n_items)] * model.n_layers)
    view1, view2 = layer_mean(model, views[0]), layer_mean(model, views[1])
    u, p, n = main[batch.users], main[nu + batch.pos], main[nu + batch.neg]
    ego = torch.cat([model.user_embedding, model.item_embedding]).detach().double()
    ego_norms = ego[batch.users].norm() + ego[nu + batch.pos].norm() + ego[nu + batch.neg].norm()
    ssl = dense_info_nce(view1[batch.users], view2[:nu], batch.users, 0.5) + dense_info_nce(
        view1[nu + batch.pos], view2[nu:], batch.pos, 0.5
    )
    expected = {"bpr": dense_bpr(u, p, n), "reg": 1e-5 * ego_norms / size**2, "ssl": 0.05 * ssl}
    assert set(terms) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(terms[key].double(), value, rtol=1e-5, atol=1e-10, msg=key)


def test_views_are_redrawn_before_every_epoch(synthetic: InteractionDataset) -> None:
    model = build(synthetic, [])
    (phase,) = model.phases()
    assert phase.before is not None and phase.batches == "bpr"
    phase.before()
    assert model.views is not None
    first = model.views[0][0].coo
    phase.before()
    assert model.views[0][0].coo._nnz() == first._nnz()
    assert not torch.equal(model.views[0][0].coo.indices(), first.indices())


def test_sgl_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset()
    recall = trained_recall(dataset, "sgl", ["epochs=10", "lr=2e-2", "batch_size=256", "eval_every=2"], tmp_path)
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))


def test_resume_continues_exactly(synthetic: InteractionDataset, tmp_path: Path) -> None:
    """A run stopped after epoch 2 and resumed ends as the straight run: the views redrawn each epoch
    come from the restored generator and state."""
    settings = ["drop_ratio=0.2", "eval_every=1", "patience=0", "topks=[20]", "group_edges=[0]", "batch_size=256"]
    assert_resume_continues_exactly(synthetic, "sgl", settings, tmp_path)
