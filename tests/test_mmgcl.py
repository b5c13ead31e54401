"""MMGCL: the two augmented graphs (seeded draws), the masked view's choice, the BPR + hard-negative
InfoNCE loss against dense computations written here; learning on planted data."""

from __future__ import annotations

from pathlib import Path

import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models.mmgcl import MMGCL, mask_probabilities
from mmdiffbench.models.phase import BPRBatch
from tests._graph_direct import dense_sym
from tests._planted import planted_dataset, popularity_recall, trained_recall

BATCH = BPRBatch(torch.tensor([0, 3, 7, 3, 11]), torch.tensor([1, 2, 5, 9, 2]), torch.tensor([4, 6, 8, 0, 1]))


def build(dataset: InteractionDataset, overrides: list[str]) -> MMGCL:
    config = resolve("mmgcl", dataset.name, "full", overrides)
    torch.manual_seed(0)
    return MMGCL(dataset, config.model)


def test_augmented_graphs_are_the_seeded_edge_and_node_dropouts(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["dropout_rate=0.3"])
    r = torch.from_numpy(synthetic.train.toarray()).double().clamp(max=1)
    users, items = r.nonzero(as_tuple=True)
    torch.manual_seed(2)
    edge = model.edge_dropped()
    torch.manual_seed(2)
    keep = torch.randperm(len(users))[: int(len(users) * 0.7)]
    kept = torch.zeros_like(r)
    kept[users[keep], items[keep]] = 1.0
    torch.testing.assert_close(edge.coo.to_dense().double(), dense_sym(kept), atol=1e-6, rtol=1e-5)

    torch.manual_seed(4)
    node = model.node_dropped()
    torch.manual_seed(4)
    dropped_users = torch.randperm(r.shape[0])[: int(r.shape[0] * 0.3)]
    dropped_items = torch.randperm(r.shape[1])[: int(r.shape[1] * 0.3)]
    masked = r.clone()
    masked[dropped_users] = 0.0
    masked[:, dropped_items] = 0.0
    torch.testing.assert_close(node.coo.to_dense().double(), dense_sym(masked), atol=1e-6, rtol=1e-5)


def test_masking_view_perturbs_only_the_drawn_modality(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["mask_p=[0.0, 1.0, 0.0]"])  # always text
    dropped, masked = model.view_graphs()
    assert len({id(g) for g in dropped}) == 1 and dropped[0] is not model.adj_op
    assert masked[0] is model.adj_op and masked[1] is model.adj_op and masked[2] is not model.adj_op
    assert model.modalities == ["image", "text"]


def test_mask_probabilities_keep_the_present_modalities_renormalised() -> None:
    torch.testing.assert_close(
        mask_probabilities(["image", "text"], [0.4, 0.4, 0.2]), torch.tensor([0.5, 0.5], dtype=torch.float64)
    )
    torch.testing.assert_close(
        mask_probabilities(["image", "text", "audio"], [0.4, 0.4, 0.2]),
        torch.tensor([0.4, 0.4, 0.2], dtype=torch.float64),
    )


def lin(layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return x @ layer.weight.double().T + layer.bias.double()


def test_loss_is_bpr_plus_hard_negative_info_nce_of_both_views(synthetic: InteractionDataset) -> None:
    """With dropout 0 both views are the full graph, so each view's term is the same dense InfoNCE."""
    model = build(synthetic, ["dropout_rate=0.0", "n_layers=2", "ssl_temp=0.5", "ssl_alpha=0.3"])
    n_u, n_i = synthetic.n_users, synthetic.n_items
    a = dense_sym(torch.from_numpy(synthetic.train.toarray()).double().clamp(max=1))
    e_u = model.user_embedding.double()
    tables = {"id": model.item_embedding.double()}
    for m in ("image", "text"):
        x = torch.from_numpy(synthetic.features[m]).double()
        tables[m] = lin(model.encoder.projections.linears[m], x / x.norm(dim=1, keepdim=True))
    props = {}
    for b, items in tables.items():
        ego = torch.cat([e_u, items])
        props[b] = (ego + a @ ego + a @ (a @ ego)) / 3
    order = ("id", "image", "text")
    users = lin(model.encoder.user_fusion, torch.cat([props[b][:n_u] for b in order], 1))
    items = lin(model.encoder.item_fusion, torch.cat([props[b][n_u:] for b in order], 1))
    u, p, n = users[BATCH.users], items[BATCH.pos], items[BATCH.neg]
    bpr = -torch.log(torch.sigmoid((u * p).sum(1) - (u * n).sum(1))).mean()
    hard_rows = [props["id"][n_u:][BATCH.pos], props["image"][n_u:][BATCH.pos], props["text"][n_u:][BATCH.neg]]
    h = lin(model.encoder.item_fusion, torch.cat(hard_rows, 1))
    un, pn, hn = (x / x.norm(dim=1, keepdim=True) for x in (u, p, h))
    logits = torch.cat([un @ pn.T, (un * hn).sum(1, keepdim=True)], 1) / 0.5
    info = (torch.logsumexp(logits, 1) - logits.diagonal()).mean()
    terms = model.losses(BATCH)
    assert set(terms) == {"bpr", "ssl"}
    torch.testing.assert_close(terms["bpr"].double(), bpr, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(terms["ssl"].double(), 0.3 * 2 * info, atol=1e-5, rtol=1e-4)
    assert n_i == len(items)


def test_each_view_has_its_own_term(synthetic: InteractionDataset) -> None:
    """With dropout the views differ; the loss holds one term per view (the reference's second term
    repeats the first view). The term itself is checked densely above."""
    model = build(synthetic, ["dropout_rate=0.4", "ssl_alpha=0.3"])
    torch.manual_seed(6)
    ssl = model.losses(BATCH)["ssl"]
    torch.manual_seed(6)
    dropped, masked = model.view_graphs()
    first, second = (model.view_loss(model.propagate(g), BATCH) for g in (dropped, masked))
    assert abs(float(first.detach()) - float(second.detach())) > 1e-4
    torch.testing.assert_close(ssl, 0.3 * (first + second))


def test_mmgcl_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset(modalities={"image": 16, "text": 8})
    recall = trained_recall(dataset, "mmgcl", ["epochs=4", "lr=1e-2", "batch_size=1024"], tmp_path)
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
