"""NCL: the E-step's k-means, the structural and prototype terms against a direct float64
computation, the warm-up, and learning on planted data."""

from __future__ import annotations

from pathlib import Path

import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models.base import BPRBatch
from mmdiffbench.models.ncl import ASSIGNMENT_ROWS, NCL, nearest_centroid
from tests._graph_direct import dense_bpr, dense_info_nce, dense_norm_adj
from tests._planted import planted_dataset, popularity_recall, trained_recall
from tests._resume import assert_resume_continues_exactly


def build(dataset: InteractionDataset, overrides: list[str]) -> NCL:
    torch.manual_seed(0)
    # float32 products unless a test asks otherwise: the direct computations are float64
    return NCL(dataset, resolve("ncl", dataset.name, "full", ["contrastive_bf16=never", *overrides]).model)


def direct_nearest(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Each row's nearest centroid by the full squared distance, one (rows x centroids x d) tensor."""
    return ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1).argmin(1)


def direct_kmeans(x: torch.Tensor, k: int, iterations: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's algorithm from the rows randperm picks; an empty cluster keeps its centroid."""
    c = x[torch.randperm(len(x))[:k]].clone()
    for _ in range(iterations):
        assign = direct_nearest(x, c)
        for j in range(k):
            if (assign == j).any():
                c[j] = x[assign == j].mean(0)
    return c, direct_nearest(x, c)


def test_nearest_centroid_over_several_row_blocks_is_the_direct_argmin() -> None:
    torch.manual_seed(0)
    x = torch.randn(2 * ASSIGNMENT_ROWS + 37, 8, dtype=torch.float64)
    centroids = torch.randn(50, 8, dtype=torch.float64)
    assert torch.equal(nearest_centroid(x, centroids), direct_nearest(x, centroids))


def test_e_step_and_losses_match_the_direct_computation(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["num_clusters=6", "kmeans_iterations=5", "warm_up=0", "alpha=0.7"])
    torch.manual_seed(3)
    model.e_step()
    torch.manual_seed(3)
    users_e0, items_e0 = model.user_embedding.detach().double(), model.item_embedding.detach().double()
    clusters = [direct_kmeans(t, 6, 5) for t in (users_e0, items_e0)]
    assert model.prototypes is not None
    for (centroids, assignment), (model_c, model_k) in zip(clusters, model.prototypes, strict=True):
        assert torch.equal(model_k, assignment)
        torch.testing.assert_close(model_c.double(), centroids / centroids.norm(dim=1, keepdim=True))

    batch = BPRBatch(torch.tensor([0, 3, 3, 7, 50]), torch.tensor([1, 2, 9, 9, 30]), torch.tensor([5, 6, 7, 8, 9]))
    terms = model.losses(batch)
    nu, size = model.n_users, 5
    adj = dense_norm_adj(synthetic.train, nu, model.n_items)
    e0 = torch.cat([users_e0, items_e0])
    layers = [e0, adj @ e0, adj @ adj @ e0, adj @ adj @ adj @ e0]
    final = sum(layers) / 4
    u, p, n = final[batch.users], final[nu + batch.pos], final[nu + batch.neg]
    context = layers[2]
    structural = dense_info_nce(context[batch.users], e0[:nu], batch.users, 0.1) + 0.7 * dense_info_nce(
        context[nu + batch.pos], e0[nu:], batch.pos, 0.1
    )
    (user_c, user_k), (item_c, item_k) = clusters
    prototype = dense_info_nce(e0[batch.users], user_c, user_k[batch.users], 0.1) + dense_info_nce(
        e0[nu + batch.pos], item_c, item_k[batch.pos], 0.1
    )
    reg = e0[batch.users].norm() + e0[nu + batch.pos].norm() + e0[nu + batch.neg].norm()
    expected = {
        "bpr": dense_bpr(u, p, n),
        "reg": 1e-4 * reg / size,
        "structural": 1e-7 * structural * size,
        "prototype": 8e-8 * prototype * size,
    }
    assert set(terms) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(terms[key].double(), value, rtol=1e-5, atol=1e-15, msg=key)


def test_prototype_term_starts_after_the_warm_up_and_the_e_step_runs_every_epoch(
    synthetic: InteractionDataset,
) -> None:
    model = build(synthetic, ["num_clusters=4", "warm_up=2"])
    (phase,) = model.phases()
    assert phase.before is not None
    batch = BPRBatch(torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([4, 5]))
    for epoch in range(4):
        phase.before()
        assert int(model.epochs_started) == epoch + 1
        assert (float(model.losses(batch)["prototype"].detach()) > 0) == (epoch >= 2)
    assert "epochs_started" in model.state_dict()


def test_ncl_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset()
    settings = ["epochs=10", "lr=2e-2", "batch_size=256", "eval_every=2", "num_clusters=8", "warm_up=2"]
    recall = trained_recall(dataset, "ncl", settings, tmp_path)
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))


def test_resume_continues_exactly(synthetic: InteractionDataset, tmp_path: Path) -> None:
    """A run stopped after epoch 2 and resumed ends as the straight run: the warm-up counter and the per-epoch E-step
    come from the restored generator and state."""
    settings = [
        "num_clusters=4",
        "warm_up=2",
        "proto_reg=0.05",
        "eval_every=1",
        "patience=0",
        "topks=[20]",
        "group_edges=[0]",
        "batch_size=256",
    ]
    assert_resume_continues_exactly(synthetic, "ncl", settings, tmp_path)
