"""DualGNN: the user co-occurrence graph against dense R R^T, the reference's padding, the per-modality
GCN + user fusion + user-user aggregation and the losses against dense math; learns on planted data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models import get_model_class
from mmdiffbench.models.base import BPRBatch
from mmdiffbench.models.dualgnn import pad_by_resampling
from tests._planted import planted_dataset, popularity_recall, trained_recall


def build(dataset: InteractionDataset, overrides: list[str]) -> torch.nn.Module:
    torch.manual_seed(0)
    config = resolve("dualgnn", dataset.name, "full", ["embedding_dim=8", "hidden_dim=12", *overrides]).model
    return get_model_class("dualgnn")(dataset, config)


def small_dataset(synthetic: InteractionDataset) -> InteractionDataset:
    """Users 0-3 share items (3, 2, 3 and 2 neighbours), user 4 shares nothing."""
    rows = [[1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]]
    train = sp.csr_matrix(np.array(rows, dtype=np.float32))
    features = {m: f[:6] for m, f in synthetic.features.items()}
    return InteractionDataset("small", train, train, train, features)


def test_user_graph_is_the_top_k_of_co_interaction_counts(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["user_neighbours=5"])
    r = torch.tensor(synthetic.train.toarray(), dtype=torch.float64)
    counts = r @ r.T
    counts.fill_diagonal_(0)
    for user in range(synthetic.n_users):
        ranked = sorted(
            (v for v in range(synthetic.n_users) if counts[user, v] > 0), key=lambda v: (-counts[user, v], v)
        )
        expected = ranked[:5]
        n = int(model.neighbour_lengths[user])
        assert model.top_neighbours[user, :n].tolist() == expected
        assert model.top_counts[user, :n].tolist() == [float(counts[user, v]) for v in expected]


def test_short_lists_are_padded_with_their_own_entries(synthetic: InteractionDataset) -> None:
    dataset = small_dataset(synthetic)
    model = build(dataset, ["user_neighbours=4"])
    assert model.neighbour_lengths.tolist() == [3, 2, 3, 2, 0]
    for _ in range(3):
        model.sample_user_graph()
        for user, n in enumerate(model.neighbour_lengths.tolist()):
            row, weights = model.user_neighbours[user], model.user_weights[user]
            if n == 0:
                assert weights.abs().sum() == 0
                continue
            assert row[:n].tolist() == model.top_neighbours[user, :n].tolist()
            assert set(row.tolist()) == set(row[:n].tolist())
            counts = torch.tensor(
                [float((dataset.train[user].toarray() * dataset.train[v].toarray()).sum()) for v in row.tolist()]
            )
            torch.testing.assert_close(weights, torch.softmax(counts, 0))


def test_padding_draws_from_the_list_as_it_grows() -> None:
    """The reference appends a copy of a uniform entry of the list grown so far (a Polya urn): with two
    entries padded to 40, the first one's share spreads over (0, 1) (std ~0.28), where copies of the
    two original entries alone would keep it near 1/2 (std ~0.08)."""
    torch.manual_seed(0)
    neighbours = torch.zeros(400, 40, dtype=torch.long)
    neighbours[:, 1] = 1
    padded, _ = pad_by_resampling(neighbours, torch.zeros(400, 40), torch.full((400,), 2))
    assert float(padded.float().mean(1).std()) > 0.18


def test_representation_fuses_modalities_and_smooths_over_users(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["user_neighbours=6"])
    r = torch.tensor(synthetic.train.toarray(), dtype=torch.float64)
    n_users, n_items = r.shape
    a = torch.zeros(n_users + n_items, n_users + n_items, dtype=torch.float64)
    a[:n_users, n_users:], a[n_users:, :n_users] = r, r.T
    inv = a.sum(1).clamp(min=1) ** -0.5
    a_hat = inv[:, None] * a * inv[None, :]
    reps = []
    for m in sorted(synthetic.features):
        first, _, second = model.mlp[m]
        f = torch.tensor(synthetic.features[m], dtype=torch.float64)
        h = F.leaky_relu(f @ first.weight.double().T + first.bias.double(), 0.01)
        x = F.normalize(torch.cat([model.preference[m].double(), h @ second.weight.double().T + second.bias.double()]))
        reps.append(x + a_hat @ x + a_hat @ (a_hat @ x))
    weights = model.user_modal_weight.double()
    z = sum(weights[:, k : k + 1] * reps[k][:n_users] for k in range(len(reps)))
    s = torch.zeros(n_users, n_users, dtype=torch.float64)
    for user in range(n_users):
        for v, w in zip(model.user_neighbours[user].tolist(), model.user_weights[user].tolist(), strict=True):
            s[user, v] += w
    expected_users, expected_items = z + s @ z, sum(rep[n_users:] for rep in reps)
    users, items = model.final_embeddings()
    torch.testing.assert_close(users.double().detach(), expected_users.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(items.double().detach(), expected_items.detach(), rtol=1e-5, atol=1e-6)

    batch = BPRBatch(torch.tensor([0, 1, 1]), torch.tensor([3, 4, 5]), torch.tensor([6, 7, 8]))
    terms = model.losses(batch)
    u, p, n = expected_users[batch.users], expected_items[batch.pos], expected_items[batch.neg]
    diff = (u * p).sum(1) - (u * n).sum(1)
    torch.testing.assert_close(
        terms["bpr"].double(), -torch.log2(torch.sigmoid(diff)).mean().detach(), rtol=1e-5, atol=1e-6
    )
    pref = sum(model.preference[m].double()[batch.users].pow(2).mean() for m in ("image", "text"))
    reg = pref + weights.pow(2).mean() + model.item_modal_weight.double().pow(2).mean()
    torch.testing.assert_close(terms["reg"].double(), model.config["reg_weight"] * reg.detach(), rtol=1e-5, atol=1e-9)
    assert math.isclose(float(model.user_modal_weight.detach().sum(1).mean()), 1.0, rel_tol=1e-5)  # softmax init


def test_the_user_graph_follows_each_new_draw_and_a_loaded_state(synthetic: InteractionDataset) -> None:
    """The sparse user graph is a cache of the sampled buffers: a new epoch's draw, or a checkpoint
    loaded into them, must change the smoothing (a twin built on the same state is the truth)."""
    small = small_dataset(synthetic)  # lists shorter than k: every draw pads them differently
    model = build(small, ["user_neighbours=6"])

    def fresh(state: dict[str, torch.Tensor]) -> torch.Tensor:
        twin = build(small, ["user_neighbours=6"])
        twin.load_state_dict(state)
        return twin.final_embeddings()[0]

    before = model.final_embeddings()[0]  # the cache now holds the first draw
    torch.manual_seed(5)
    model.sample_user_graph()
    after = model.final_embeddings()[0]
    assert not torch.allclose(after, before)  # the draw changed the graph
    torch.testing.assert_close(after, fresh(model.state_dict()))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["user_weights"] = torch.rand_like(state["user_weights"])
    model.load_state_dict(state)
    torch.testing.assert_close(model.final_embeddings()[0], fresh(state))


def test_dualgnn_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset(modalities={"image": 16, "text": 8})
    recall = trained_recall(dataset, "dualgnn", ["epochs=8", "batch_size=512", "lr=1e-2"], tmp_path)
    print(f"dualgnn recall@20 {recall:.3f} popularity {popularity_recall(dataset):.3f}")
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
