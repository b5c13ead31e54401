"""BM3: the bootstrapped losses (dropout targets, predictor, cosine gaps, EmbLoss) and the scores
against dense computations written here, gradients stopped at the targets; learning on planted data."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models.bm3 import BM3
from mmdiffbench.models.phase import BPRBatch
from tests._planted import planted_dataset, popularity_recall, trained_recall

BATCH = BPRBatch(torch.tensor([0, 3, 7, 3]), torch.tensor([1, 2, 5, 9]), torch.tensor([4, 6, 8, 0]))


def build(dataset: InteractionDataset, overrides: list[str]) -> BM3:
    config = resolve("bm3", dataset.name, "full", overrides)
    torch.manual_seed(0)
    return BM3(dataset, config.model)


def dense_terms(model: BM3, dataset: InteractionDataset, p: float, seed: int) -> dict[str, torch.Tensor]:
    """The reference's calculate_loss in float64, with the dropout masks drawn as it draws them."""
    n_u = dataset.n_users
    r = torch.from_numpy(dataset.train.toarray()).double().clamp(max=1)
    a = torch.zeros(n_u + dataset.n_items, n_u + dataset.n_items, dtype=torch.float64)
    a[:n_u, n_u:], a[n_u:, :n_u] = r, r.T
    d = a.sum(1).rsqrt()
    a = d[:, None] * a * d[None, :]
    e_u, e_i = model.user_embedding.double(), model.item_embedding.double()
    ego = torch.cat([e_u, e_i])
    out = (ego + a @ ego + a @ (a @ ego)) / 3
    users, items = out[:n_u], out[n_u:] + e_i
    modal = {}
    for m in ("image", "text"):
        lin = model.projections.linears[m]
        modal[m] = model.projections.tables[m].double() @ lin.weight.double().T + lin.bias.double()
    torch.manual_seed(seed)
    with torch.no_grad():
        users_t = F.dropout(users.float(), p).double()
        items_t = F.dropout(items.float(), p).double()
        modal_t = {m: F.dropout(t.float(), p).double() for m, t in modal.items()}
    w, b = model.predictor.weight.double(), model.predictor.bias.double()

    def g(x: torch.Tensor) -> torch.Tensor:
        return x @ w.T + b

    def gap(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 1 - ((x * y).sum(1) / (x.norm(dim=1) * y.norm(dim=1))).mean()

    u, i = BATCH.users, BATCH.pos
    rec = gap(g(users)[u], items_t[i]) + gap(g(items)[i], users_t[u])
    cl = sum(gap(g(t)[i], items_t[i]) + gap(g(t)[i], modal_t[m][i]) for m, t in modal.items())
    reg = (users.pow(2).sum().sqrt() + items.pow(2).sum().sqrt()) / dataset.n_items
    return {"rec": rec, "reg": 0.2 * reg, "cl": 1.5 * cl}


def test_losses_are_the_equations_with_fixed_targets(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["n_layers=2", "dropout=0.4", "reg_weight=0.2", "cl_weight=1.5"])
    expected = dense_terms(model, synthetic, 0.4, seed=3)
    torch.manual_seed(3)
    terms = model.losses(BATCH)
    assert set(terms) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(terms[key].double(), value, atol=1e-5, rtol=1e-4, msg=key)
    # gradients stop at the targets: the same gradients as the dense terms with detached targets
    sum(terms.values()).backward()
    model_grads = [model.user_embedding.grad.clone(), model.item_embedding.grad.clone()]  # type: ignore[union-attr]
    model.zero_grad(set_to_none=True)
    sum(dense_terms(model, synthetic, 0.4, seed=3).values()).backward()
    for got, want in zip(model_grads, [model.user_embedding.grad, model.item_embedding.grad], strict=True):
        torch.testing.assert_close(got, want.float(), atol=1e-6, rtol=1e-4)  # type: ignore[union-attr]


def test_scores_pass_both_sides_through_the_predictor(synthetic: InteractionDataset) -> None:
    model = build(synthetic, [])
    users, items = model.encode()
    w, b = model.predictor.weight, model.predictor.bias
    expected = (users[[0, 5]] @ w.T + b) @ (items @ w.T + b).T
    torch.testing.assert_close(model.score(torch.tensor([0, 5])), expected, atol=1e-5, rtol=1e-4)


def test_bm3_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset(modalities={"image": 16, "text": 8})
    recall = trained_recall(dataset, "bm3", ["epochs=8", "lr=1e-2", "batch_size=512"], tmp_path)
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
