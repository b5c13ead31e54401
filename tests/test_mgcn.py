"""MGCN: purifier, item-item views, attentive fuser and the loss terms against dense computations
written here; learning on planted data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models.mgcn import MGCN
from mmdiffbench.models.phase import BPRBatch
from tests._planted import planted_dataset, popularity_recall, trained_recall

BATCH = BPRBatch(torch.tensor([0, 3, 7, 3]), torch.tensor([1, 2, 5, 9]), torch.tensor([4, 6, 8, 0]))


def build(dataset: InteractionDataset, overrides: list[str]) -> MGCN:
    config = resolve("mgcn", dataset.name, "full", overrides)
    torch.manual_seed(0)
    return MGCN(dataset, config.model)


def linear(layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = x @ layer.weight.double().T
    return out + layer.bias.double() if layer.bias is not None else out


def dense_views(model: MGCN, dataset: InteractionDataset) -> tuple[torch.Tensor, torch.Tensor]:
    n_u, n_i = dataset.n_users, dataset.n_items
    r = torch.from_numpy(dataset.train.toarray()).double().clamp(max=1)
    a = torch.zeros(n_u + n_i, n_u + n_i, dtype=torch.float64)
    a[:n_u, n_u:], a[n_u:, :n_u] = r, r.T
    d = a.sum(1).rsqrt()
    a = d[:, None] * a * d[None, :]
    e_u, e_i = model.user_embedding.double(), model.item_embedding.double()
    ego = torch.cat([e_u, e_i])
    content = (ego + a @ ego + a @ (a @ ego)) / 3
    views = []
    for m in ("image", "text"):
        raw = torch.from_numpy(dataset.features[m]).double()
        unit = raw / raw.norm(dim=1, keepdim=True)
        sim = unit @ unit.T
        masked = sim.clone().fill_diagonal_(-np.inf)
        s = sim * torch.zeros_like(sim).scatter_(1, masked.topk(10, dim=1).indices, 1.0)
        ds = s.sum(1).rsqrt()
        s = ds[:, None] * s * ds[None, :]
        p = linear(model.projections.linears[m], model.projections.tables[m].double())
        x = e_i * torch.sigmoid(linear(model.purifiers[m][0], p))
        x = s @ x
        views.append(torch.cat([a[:n_u, n_u:] @ x, x]))
    q = model.query
    scores = torch.cat([linear(q[2], torch.tanh(linear(q[0], v))) for v in views], dim=1)
    beta = torch.exp(scores) / torch.exp(scores).sum(1, keepdim=True)
    common = beta[:, :1] * views[0] + beta[:, 1:] * views[1]
    side = common
    for m, v in zip(("image", "text"), views, strict=True):
        side = side + torch.sigmoid(linear(model.preferences[m][0], content)) * (v - common)
    return content, side / 3


def info_nce(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    logits = torch.exp(a @ b.T / 0.2)
    return -torch.log(logits.diagonal() / logits.sum(1)).mean()


def test_views_and_losses_are_the_equations(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["reg_weight=0.3", "cl_weight=0.7"])
    content, side = dense_views(model, synthetic)
    got_content, got_side = model.views()
    torch.testing.assert_close(got_content.double(), content, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got_side.double(), side, atol=1e-5, rtol=1e-4)

    n_u = synthetic.n_users
    out = content + side
    u, p, n = out[BATCH.users], out[n_u + BATCH.pos], out[n_u + BATCH.neg]
    expected = {
        "bpr": -torch.log(torch.sigmoid((u * p).sum(1) - (u * n).sum(1))).mean(),
        "reg": 0.3 * 0.5 * (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / 4,
        "cl": 0.7
        * (
            info_nce(side[n_u + BATCH.pos], content[n_u + BATCH.pos])
            + info_nce(side[BATCH.users], content[BATCH.users])
        ),
    }
    terms = model.losses(BATCH)
    assert set(terms) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(terms[key].double(), value, atol=1e-5, rtol=1e-4, msg=key)


def test_mgcn_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset(modalities={"image": 16, "text": 8})
    recall = trained_recall(dataset, "mgcn", ["epochs=5", "lr=1e-2", "batch_size=512"], tmp_path)
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
