"""CLCRec: the U-I (hybrid) and R-E contrastive terms and the norm reg against dense math, negatives
outside the training items, cold items scored by content; learns on planted data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models import get_model_class
from mmdiffbench.models.base import BPRBatch
from tests._planted import planted_dataset, popularity_recall, trained_recall


def build(dataset: InteractionDataset, overrides: list[str]) -> torch.nn.Module:
    torch.manual_seed(0)
    config = resolve("clcrec", dataset.name, "full", ["embedding_dim=8", "encoder_hidden=12", *overrides]).model
    return get_model_class("clcrec")(dataset, config)


def encoded(model: torch.nn.Module, dataset: InteractionDataset) -> torch.Tensor:
    g = torch.cat(
        [F.normalize(torch.tensor(dataset.features[m], dtype=torch.float64), dim=1) for m in ("image", "text")], 1
    )
    first, _, second = model.encoder
    h = F.leaky_relu(g @ first.weight.double().T + first.bias.double(), 0.01)
    return h @ second.weight.double().T + second.bias.double()


def test_contrastive_terms_follow_the_formulas(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["num_neg=3", "temperature=2.0", "lambda=0.3", "reg_weight=0.1"])
    users = torch.tensor([0, 4, 4])
    candidates = torch.tensor([[1, 5, 6, 7], [2, 9, 3, 3], [11, 0, 1, 2]])
    replaced = torch.tensor([1, 4, 4, 10])  # flat rows of candidates: (0, 1), (1, 0), (2, 2)
    terms = model.contrastive_terms(users, candidates, replaced)
    ids = model.id_embedding.double().detach()
    content = encoded(model, synthetic).detach()
    e_u, e_c = ids[users], ids[synthetic.n_users + candidates]
    tau = 2.0
    hybrid = e_c.clone()
    for flat in replaced.tolist():
        row, col = divmod(flat, 4)
        hybrid[row, col] = content[candidates[row, col]]
    scores = torch.exp(torch.einsum("bd,bnd->bn", e_u, hybrid) / tau)
    user_item = (-torch.log(scores[:, 0] / scores.sum(1))).mean()
    cos = torch.einsum("bd,bnd->bn", F.normalize(e_c[:, 0], dim=1), F.normalize(content[candidates], dim=2))
    ri = torch.exp(cos / tau)
    id_content = (-torch.log(ri[:, 0] / ri.sum(1))).mean()
    reg = (e_u.norm(dim=1).mean() + e_c.norm(dim=2).mean()) / 2
    torch.testing.assert_close(terms["user_item"].double(), 0.7 * user_item, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(terms["id_content"].double(), 0.3 * id_content, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(terms["reg"].double(), 0.1 * reg, rtol=1e-5, atol=1e-7)


def test_losses_draw_negatives_outside_the_training_items(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["num_neg=40", "num_sample=0.0"])
    users = torch.arange(synthetic.n_users)
    negatives = model.sample_negatives(users)
    train = synthetic.train.toarray() > 0
    assert negatives.shape == (synthetic.n_users, 40)
    assert not train[users.numpy()[:, None], negatives.numpy()].any()
    batch = BPRBatch(torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5]), torch.tensor([6, 7, 8]))
    torch.manual_seed(5)
    terms = model.losses(batch)
    torch.manual_seed(5)
    candidates = torch.cat([batch.pos[:, None], model.sample_negatives(batch.users)], 1)
    expected = model.contrastive_terms(batch.users, candidates, torch.zeros(0, dtype=torch.long))
    for key in ("user_item", "id_content", "reg"):
        torch.testing.assert_close(terms[key], expected[key])


def test_cold_items_are_scored_by_their_content(synthetic: InteractionDataset) -> None:
    train = synthetic.train.tolil()
    train[:, 7] = 0
    train = sp.csr_matrix(train)
    train.eliminate_zeros()
    dataset = InteractionDataset("cold", train, synthetic.val, synthetic.test, synthetic.features)
    model = build(dataset, [])
    _, items = model.final_embeddings()
    content = encoded(model, dataset)
    ids = model.id_embedding.double()[dataset.n_users :]
    expected = torch.where(torch.from_numpy(np.arange(dataset.n_items) == 7)[:, None], content, ids)
    torch.testing.assert_close(items.double().detach(), expected.detach(), rtol=1e-5, atol=1e-6)


def test_clcrec_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset(modalities={"image": 16, "text": 8})
    recall = trained_recall(dataset, "clcrec", ["epochs=8", "batch_size=256", "lr=1e-2", "num_neg=32"], tmp_path)
    print(f"clcrec recall@20 {recall:.3f} popularity {popularity_recall(dataset):.3f}")
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
