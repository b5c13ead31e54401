"""SLMRec: branches, concat fusion, the main InfoNCE and the FAC chain against dense computations
written here; learning on planted data."""

from __future__ import annotations

from pathlib import Path

import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models.phase import BPRBatch
from mmdiffbench.models.slmrec import SLMRec
from tests._planted import planted_dataset, popularity_recall, trained_recall

BATCH = BPRBatch(torch.tensor([0, 3, 7, 3, 11]), torch.tensor([1, 2, 5, 9, 2]), torch.tensor([4, 6, 8, 0, 1]))


def build(dataset: InteractionDataset, overrides: list[str]) -> SLMRec:
    config = resolve("slmrec", dataset.name, "full", overrides)
    torch.manual_seed(0)
    return SLMRec(dataset, config.model)


def lin(layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return x @ layer.weight.double().T + layer.bias.double()


def ce(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with row n's label n."""
    return (torch.logsumexp(logits, 1) - logits.diagonal()).mean()


def test_embeddings_and_losses_are_the_equations(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["n_layers=2", "temp=0.3", "ssl_temp=0.7", "ssl_alpha=0.4"])
    n_u, n_i = synthetic.n_users, synthetic.n_items
    r = torch.from_numpy(synthetic.train.toarray()).double().clamp(max=1)
    a = torch.zeros(n_u + n_i, n_u + n_i, dtype=torch.float64)
    a[:n_u, n_u:], a[n_u:, :n_u] = r, r.T
    d = a.sum(1).rsqrt()
    a = d[:, None] * a * d[None, :]
    e_u = model.user_embedding.double()
    branch_items = {"id": model.item_embedding.double()}
    for m in ("image", "text"):
        x = torch.from_numpy(synthetic.features[m]).double()
        branch_items[m] = lin(model.encoder.projections.linears[m], x / x.norm(dim=1, keepdim=True))
    props = {}
    for b, items in branch_items.items():
        ego = torch.cat([e_u, items])
        props[b] = (ego + a @ ego + a @ (a @ ego)) / 3
    order = ("id", "image", "text")
    users = lin(model.encoder.user_fusion, torch.cat([props[b][:n_u] for b in order], 1))
    items = lin(model.encoder.item_fusion, torch.cat([props[b][n_u:] for b in order], 1))
    got_users, got_items = model.final_embeddings()
    torch.testing.assert_close(got_users.double(), users, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got_items.double(), items, atol=1e-5, rtol=1e-4)

    u = users[BATCH.users] / users[BATCH.users].norm(dim=1, keepdim=True)
    i = items[BATCH.pos] / items[BATCH.pos].norm(dim=1, keepdim=True)
    main = ce(u @ i.T / 0.3)
    c1 = lin(model.chain[0], props["id"][n_u:][BATCH.pos])
    v_loss = ce(c1 @ lin(model.heads["image"], props["image"][n_u:][BATCH.pos]).T / 0.7)
    c2 = lin(model.chain[1], c1)
    t_loss = ce(c2 @ lin(model.heads["text"], props["text"][n_u:][BATCH.pos]).T / 0.7)
    assert c2.shape[1] == 32  # the last stage halves the dimension
    terms = model.losses(BATCH)
    assert set(terms) == {"main", "ssl"}
    torch.testing.assert_close(terms["main"].double(), main, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(terms["ssl"].double(), 0.4 * (v_loss + t_loss), atol=1e-5, rtol=1e-4)


def test_slmrec_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset(modalities={"image": 16, "text": 8})
    recall = trained_recall(dataset, "slmrec", ["epochs=6", "batch_size=512"], tmp_path)
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
