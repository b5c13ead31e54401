"""DiffMM against a literal float64 transcription of the official code (tests/_diffmm_official.py).

Every test builds the model, copies its parameters into the reference (or reads the generator's
weights), gives both the same generated graphs (the model's `topk` and `keep`, turned into dense
matrices by the reference itself) and compares values, losses and gradients entry by entry.
Only DiffMM's public members are used: the constructor, `modalities`, the parameter tables,
`trans`, `modal_weight`, `adj`, `rebuild_graphs`, `topk`, `keep`, `graphs_*`, `generate_topk`,
`generators`, `training_views`, `final_embeddings`, `losses` and `config`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mmdiffbench.config import resolve
from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.data.synthetic import make_synthetic
from mmdiffbench.models.base import BPRBatch
from mmdiffbench.models.diffmm import DiffMM
from tests import _diffmm_official as official

DIM = 8  # differs from every feature width, so a Trans matrix's orientation is read from its shape
# non-default, pairwise different hyperparameters: exchanging any two of them changes the numbers
BASE = [
    f"embedding_dim={DIM}",
    "denoiser_dims=[16]",
    "diffusion_batch=7",  # several rebuild batches, the last one short
    "rebuild_k=2",
    "keep_rate=0.5",
    "gnn_layers=2",
    "lambda1=0.3",
    "lambda2=0.001",
    "tau=0.4",
    "omega=0.7",
    "ris_adj_lambda=0.3",
    "denoiser_bf16=never",
    "contrastive_bf16=never",
]
MODAL_WEIGHT = (0.6, -0.3, 0.1)  # kappa (official order image, text, audio), far from equal
TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module")
def dataset() -> InteractionDataset:
    """30 users, 24 items, three modalities given out of the official order."""
    return make_synthetic(
        n_users=30,
        n_items=24,
        n_clusters=3,
        interactions_per_user=8,
        modalities={"audio": 4, "text": 5, "image": 7},
        seed=11,
    )


def build(dataset: InteractionDataset, overrides: list[str], seed: int = 0) -> DiffMM:
    """DiffMM with unequal modality weights and this seed's generated graphs."""
    config = resolve("diffmm", dataset.name, "full", [*BASE, *overrides])
    torch.manual_seed(seed)
    model = DiffMM(dataset, config.model)
    with torch.no_grad():
        model.modal_weight.copy_(torch.tensor(MODAL_WEIGHT[: len(model.modalities)]))
    torch.manual_seed(seed + 1)
    model.rebuild_graphs()
    return model


def batch() -> BPRBatch:
    """Duplicate users and positives; every negative differs from its positive."""
    return BPRBatch(
        torch.tensor([0, 3, 3, 7, 12, 29, 5, 3]),
        torch.tensor([1, 4, 9, 4, 20, 23, 0, 4]),
        torch.tensor([2, 10, 11, 6, 21, 22, 17, 5]),
    )


def dense(graph: object) -> torch.Tensor:
    """A model graph (SparseOperator or torch sparse tensor) as a dense float64 matrix."""
    coo = graph.coo if hasattr(graph, "coo") else graph
    return coo.to_dense().double()


def trans_parts(module: nn.Module, in_dim: int) -> tuple[nn.Parameter, bool, nn.Parameter | None]:
    """(the Trans matrix, whether it is stored as d x d_m, the bias or None) of one modality."""
    matrices = [p for p in module.parameters() if p.dim() == 2]
    vectors = [p for p in module.parameters() if p.dim() == 1]
    assert len(matrices) == 1 and len(vectors) <= 1, "Trans is one matrix and at most one bias"
    weight = matrices[0]
    transposed = tuple(weight.shape) == (DIM, in_dim)
    assert transposed or tuple(weight.shape) == (in_dim, DIM)
    return weight, transposed, (vectors[0] if vectors else None)


class Reference:
    """The official recommender holding float64 copies of the model's parameters as leaves.

    `pairs` maps each leaf to the model parameter it was copied from, for gradient checks.
    """

    def __init__(self, model: DiffMM, dataset: InteractionDataset) -> None:
        self.pairs: list[tuple[str, torch.Tensor, nn.Parameter]] = []
        trans = {"linear": 1, "matrix": 0}[model.config["trans"]]
        weights, biases, features = {}, {}, {}
        for m in official.OFFICIAL_ORDER:
            if m not in dataset.features:
                continue
            features[m] = torch.from_numpy(np.asarray(dataset.features[m], dtype=np.float32)).double()
            weight, transposed, bias = trans_parts(model.trans[m], features[m].shape[1])
            leaf = self._leaf(f"trans_weight_{m}", weight)
            weights[m] = leaf.T if transposed else leaf
            assert (bias is not None) == (trans == 1), "Linear has a bias, the bare matrix none"
            biases[m] = None if bias is None else self._leaf(f"trans_bias_{m}", bias)
        self.rec = official.Recommender(
            user=self._leaf("user", model.user_embedding),
            item=self._leaf("item", model.item_embedding),
            modal_weight=self._leaf("modal_weight", model.modal_weight),
            features=features,
            trans_weight=weights,
            trans_bias=biases,
            trans=trans,
        )
        c = model.config
        self.adj = official.normalized_bipartite(torch.from_numpy(dataset.train.toarray()))
        self.full = {
            m: official.normalized_bipartite(official.generated_interactions(model.topk[m], dataset.n_items))
            for m in self.rec.modalities
        }
        keep_rate = float(c["keep_rate"])
        self.train = {m: official.drop_entries(self.full[m], model.keep[m], keep_rate) for m in self.rec.modalities}
        self.config = c

    def _leaf(self, name: str, parameter: nn.Parameter) -> torch.Tensor:
        leaf = parameter.detach().double().clone().requires_grad_(True)
        self.pairs.append((name, leaf, parameter))
        return leaf

    def main(self, graphs: dict[str, torch.Tensor]) -> torch.Tensor:
        c = self.config
        users, items = official.forward_mm(self.rec, self.adj, graphs, c["ris_adj_lambda"], c["omega"], c["gnn_layers"])
        return torch.cat([users, items])

    def views(self, graphs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {
            m: torch.cat(v)
            for m, v in official.forward_cl_mm(self.rec, self.adj, graphs, self.config["gnn_layers"]).items()
        }

    def losses(self, cl_graphs: dict[str, torch.Tensor], b: BPRBatch) -> dict[str, torch.Tensor]:
        c, n = self.config, self.rec.n_users
        main = self.main(self.train)
        views = {m: (v[:n], v[n:]) for m, v in self.views(cl_graphs).items()}
        cl_method = {"modality": 0, "main": 1}[c["anchor"]]
        return official.step_losses(
            self.rec,
            (main[:n], main[n:]),
            views,
            b.users,
            b.pos,
            b.neg,
            c["lambda2"],
            c["lambda1"],
            c["tau"],
            cl_method,
        )


def close(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    """The model's float32 `actual` equals the float64 reference to 1e-5 (relative and absolute)."""
    torch.testing.assert_close(actual.detach().double(), expected.detach(), **TOL, msg=lambda m: f"{what}: {m}")


# ---- graphs ----------------------------------------------------------------------------------
def test_graphs_are_the_literal_official_graphs(dataset: InteractionDataset) -> None:
    """Abar, each generated graph from topk (k distinct items per user) and its edge-dropped copy."""
    model = build(dataset, [])
    ref = Reference(model, dataset)
    assert model.modalities == ["image", "text", "audio"]
    close(dense(model.adj), ref.adj, "original graph")
    for m in model.modalities:
        topk = model.topk[m]
        assert topk.shape == (dataset.n_users, 2) and all(len(set(row)) == 2 for row in topk.tolist())
        keep = model.keep[m]
        assert keep is not None and keep.dtype == torch.bool and 0 < int(keep.sum()) < len(keep)
        close(dense(model.graphs_full[m]), ref.full[m], f"generated graph {m}")
        close(dense(model.graphs_train[m]), ref.train[m], f"dropped generated graph {m}")
        close(dense(model.graphs_cl[m]), ref.train[m], f"contrastive graph {m} (fusion_ratio 0)")


# ---- recommender: views, final embeddings, loss terms, gradients -----------------------------
@pytest.mark.parametrize("trans", ["linear", "matrix"])
@pytest.mark.parametrize("anchor", ["modality", "main"])
def test_views_losses_and_gradients_equal_the_official_code(
    dataset: InteractionDataset, anchor: str, trans: str
) -> None:
    model = build(dataset, [f"anchor={anchor}", f"trans={trans}"])
    ref = Reference(model, dataset)
    b = batch()

    main, views = model.training_views()
    close(main, ref.main(ref.train), "main view Hbar (eq. 20-23) on the dropped graphs")
    expected_views = ref.views(ref.train)
    assert list(views) == list(expected_views)
    for m, view in views.items():
        close(view, expected_views[m], f"modality view {m} (eq. 16-17)")

    users, items = model.final_embeddings()
    expected = ref.main(ref.full)
    close(users, expected[: dataset.n_users], "final user embeddings (undropped graphs)")
    close(items, expected[dataset.n_users :], "final item embeddings (undropped graphs)")

    terms = model.losses(b)
    expected_terms = ref.losses(ref.train, b)
    assert set(terms) == set(expected_terms)
    for key, value in terms.items():
        close(value, expected_terms[key], f"loss term {key}")

    model.zero_grad(set_to_none=True)
    sum(terms.values()).backward()
    sum(expected_terms.values()).backward()
    for name, leaf, parameter in ref.pairs:
        assert parameter.grad is not None, name
        close(parameter.grad, leaf.grad, f"gradient of {name}")


def test_official_eval_scores_with_the_dropped_graphs(dataset: InteractionDataset) -> None:
    model = build(dataset, ["official_eval=true"])
    ref = Reference(model, dataset)
    users, items = model.final_embeddings()
    close(torch.cat([users, items]), ref.main(ref.train), "final embeddings on the dropped graphs")


# ---- fusion ratio (Fig. 4) -------------------------------------------------------------------
@pytest.mark.parametrize("ratio", [0.3, 0.8, 1.0])
def test_fusion_contrastive_graph_entry_by_entry(dataset: InteractionDataset, ratio: float) -> None:
    """graphs_cl[m] = (1 - r) G_m,dropped + r Abar_dropped, Abar_dropped = Abar masked / fusion_keep_rate.

    The random mask is read off the result: on Abar's support every entry of the random part is
    0 or Abar / q, off it the random part is 0; the expected matrix is then written from the masks.
    """
    q = 0.6
    model = build(dataset, [f"fusion_ratio={ratio}", f"fusion_keep_rate={q}"])
    ref = Reference(model, dataset)
    support = ref.adj != 0
    cl_graphs = {}
    for m in model.modalities:
        actual = dense(model.graphs_cl[m])
        close(dense(model.graphs_train[m]), ref.train[m], f"dropped generated graph {m}")
        random_part = (actual - (1.0 - ratio) * ref.train[m]) / ratio
        assert torch.all(random_part[~support].abs() < 1e-5), "the random graph only holds original-graph entries"
        kept = support & ((random_part - ref.adj / q).abs() < 1e-5)
        dropped = support & (random_part.abs() < 1e-5)
        assert torch.all(kept | dropped | ~support), "each original entry is dropped or kept and scaled by 1/q"
        share = int(kept.sum()) / int(support.sum())
        assert 0.4 < share < 0.8, f"kept share {share} far from fusion_keep_rate {q}"
        expected = torch.zeros_like(actual)
        for row, col in support.nonzero().tolist():
            random_entry = ref.adj[row, col] / q if kept[row, col] else 0.0
            expected[row, col] = ratio * random_entry
        expected = expected + (1.0 - ratio) * ref.train[m]
        close(actual, expected, f"fused contrastive graph {m}")
        cl_graphs[m] = expected
    main, views = model.training_views()
    close(main, ref.main(ref.train), "main view keeps the generated graphs")
    expected_views = ref.views(cl_graphs)
    for m in model.modalities:
        close(views[m], expected_views[m], f"modality view {m} on the fused graph")
    close(model.losses(batch())["cl"], ref.losses(cl_graphs, batch())["cl"], "cl term on the fused graphs")


# ---- generators: VGAE top-k, T' corruption steps ---------------------------------------------
def official_denoise(model: DiffMM, m: str) -> official.Denoise:
    """The reference denoiser holding float64 copies of modality m's generator weights."""
    weights = {name: p.detach().double() for name, p in model.generators[m].named_parameters()}
    return official.Denoise(
        weights["step_layer.weight"],
        weights["step_layer.bias"],
        weights["layers.0.weight"],
        weights["layers.0.bias"],
        weights["layers.1.weight"],
        weights["layers.1.bias"],
    )


def assert_ranked_by(ranking: torch.Tensor, scores: torch.Tensor, what: str) -> None:
    """Each row of `ranking` lists items in non-increasing order of `scores` (ties within 1e-5)."""
    ordered = scores.gather(1, ranking)
    assert torch.all(ordered[:, :-1] >= ordered[:, 1:] - 1e-5), what


def assert_top_k_of(chosen: torch.Tensor, scores: torch.Tensor, what: str) -> None:
    """The chosen items of each row carry the row's k highest scores (ties within 1e-5)."""
    k = chosen.shape[1]
    picked = torch.sort(scores.gather(1, chosen), dim=1, descending=True).values
    best = torch.sort(scores, dim=1, descending=True).values[:, :k]
    torch.testing.assert_close(picked, best, **TOL, msg=lambda message: f"{what}: {message}")


def test_vgae_generator_takes_the_top_k_of_mu_inner_products(dataset: InteractionDataset) -> None:
    """Kipf & Welling encoder on Abar: mu = Abar mu(relu(Abar hidden([E_u^g; proj(f_m)]))); top-k <mu_u, mu_i>."""
    k = 3
    model = build(dataset, ["generator=vgae", f"rebuild_k={k}"])
    adj = official.normalized_bipartite(torch.from_numpy(dataset.train.toarray()))
    n = dataset.n_users
    for m in model.modalities:
        g = model.generators[m]
        weights = {name: p.detach().double() for name, p in g.named_parameters()}
        f = torch.from_numpy(np.asarray(dataset.features[m], dtype=np.float32)).double()
        items = f @ weights["item_projection.weight"].T + weights["item_projection.bias"]
        x = torch.cat([weights["user_embedding"], items])
        h = torch.relu(adj @ (x @ weights["hidden.weight"].T + weights["hidden.bias"]))
        mu = adj @ (h @ weights["mu.weight"].T + weights["mu.bias"])
        scores = mu[:n] @ mu[n:].T
        assert model.topk[m].shape == (n, k)
        assert_top_k_of(model.topk[m], scores, f"rebuild top-{k} of {m}")
        some = np.array([4, 0, 17, 29])
        assert_top_k_of(model.generate_topk(m, some, k).cpu(), scores[some], f"generate_topk of {m}")


@pytest.mark.parametrize("t_prime", [0, 1, 2])
def test_sampling_steps_corrupt_exactly_t_prime_steps(dataset: InteractionDataset, t_prime: int) -> None:
    """generate_topk and the rebuild rank items as p_sample: x0 noised to index T'-1 (not at all for
    T' = 0), then all T reverse steps, no sampling noise, the generators' initial weights.

    A schedule with large noise (1 - gamma_bar = 0.1 .. 0.9) makes one corruption step more or less
    change the ranking. The q_sample noise is `randn_like(x0)` in both codes: the first draw after
    the seed for one generate_topk call; in the rebuild (one user batch per modality here) one
    users x items draw per modality, in the official modality order.
    """
    k = 5
    overrides = ["steps=3", "noise_scale=1.0", "noise_min=0.1", "noise_max=0.9", "first_beta=0.2"]
    extra = [f"sampling_steps={t_prime}", "sampling_noise=false", f"rebuild_k={k}", "diffusion_batch=64"]
    model = build(dataset, [*overrides, *extra])
    c = model.config
    schedule = official.Schedule.official(c["steps"], c["noise_scale"], c["noise_min"], c["noise_max"], 0.2)
    x0 = torch.from_numpy((dataset.train.toarray() != 0).astype(np.float64))
    n_users, n_items = x0.shape

    torch.manual_seed(7)
    model.rebuild_graphs()
    torch.manual_seed(7)
    noises = {m: torch.randn(n_users, n_items).double() for m in model.modalities}
    for m in model.modalities:
        scores = official.p_sample(official_denoise(model, m), schedule, x0, t_prime, noises[m])
        assert_top_k_of(model.topk[m], scores, f"rebuild top-{k} of {m} is not the T'={t_prime} chain's")

    users = np.arange(0, n_users, 2)
    for index, m in enumerate(model.modalities):
        torch.manual_seed(100 + index)
        ranking = model.generate_topk(m, users, n_items).cpu()
        torch.manual_seed(100 + index)
        noise = torch.randn(len(users), n_items).double()
        scores = official.p_sample(official_denoise(model, m), schedule, x0[users], t_prime, noise)
        assert ranking.shape == (len(users), n_items)
        assert_ranked_by(ranking, scores, f"generate_topk ranking of {m} is not the T'={t_prime} chain's")
