"""DiffMM: multi-modal graph diffusion for recommendation.

Reference: Y. Jiang, L. Xia, W. Wei, D. Luo, K. Lin, C. Huang. "DiffMM: Multi-Modal Diffusion
Model for Recommendation", ACM MM 2024 (arXiv 2406.11781).
Reference code: github.com/HKUDS/DiffMM @fae20e6 (facts in shared/reference/diffmm-official.md).
Where paper and code disagree the code's form is the default and the paper's an option.

Two training phases per epoch (`phases`, the official order): `generator`, one shuffled pass over
users' rows in which every modality's generator takes a step on its diffusion loss (eq. 11-13)
+ lambda0 * MSI (eq. 14), after which each modality graph is rebuilt from the top-k items of each
user's denoised row (section 2.2.3), normalised with self-loops and edge-dropped with `keep_rate`
(official `SpAdjDropEdge`); then `recommender`, BPR steps on these graphs unchanged:
    A_m = Abar [E_u; P_m],  B_m = Abar [A_m users; E_i],  Z_m = A_m + B_m + ris_adj_lambda G_m [E_u; E_i]   (eq. 20 as coded)
    H0 = sum_m softmax(kappa)_m Z_m                                                                       (eq. 21)
    Hbar = sum_{l<=L} Abar^l H0 + omega Norm(H0)                                                         (eq. 22-23)
    modality views Zbar_m = sum_{l<=L} Abar^l G_m [E_u; P_m]                                             (eq. 16-17)
    loss = BPR + lambda1 * InfoNCE(anchor modality: eq. 18 | main: eq. 19) + lambda2 (|E_u|^2 + |E_i|^2) (eq. 26)
with P_m = Norm(Trans_m(f_m)) (eq. 15), Trans `linear` (nn.Linear) or `matrix` (W then LeakyReLU 0.2).

Known deviations from the official code: BPR is a plain batch mean (official: sum / 1024, the
same except on the short last batch); the rebuild does not shuffle users (the result does not
depend on the order); the reverse chain uses `reverse_chain_fast` (the same chain, fewer FLOPs).
Options beyond the official code: `generator: vgae` (w/o DM; no MSI term, which is defined on the
diffusion model's denoised rows), `fusion_ratio` (Fig. 4; the mix and its random edge drop, drawn
per modality, are our construction), `official_eval` (score with the epoch's edge-dropped graphs
instead of the undropped ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.data.errors import DataError
from mmdiffbench.diffusion import (
    Denoiser,
    FastReverseChain,
    diffusion_loss,
    fast_chain_applies,
    reverse_chain,
)
from mmdiffbench.graph import keep_entries, normalized_adjacency, propagate_sum, to_torch_sparse
from mmdiffbench.graph.operator import SparseOperator
from mmdiffbench.memory import release_free_memory
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.contrastive import info_nce
from mmdiffbench.models.diffusion_parts import denoiser_from_config, schedule_from_config
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.losses import bpr_loss
from mmdiffbench.models.phase import Batch, OptimizerSettings, Phase, UserRowBatch
from mmdiffbench.models.vgae_generator import VGAEGenerator
from mmdiffbench.precision import check_mode, compute_dtype
from mmdiffbench.progress import progress
from mmdiffbench.tensors import tensor_sum

MODALITY_ORDER = ("image", "text", "audio")  # the official code's order (matters for cl pairs)


def ordered_modalities(names: list[str]) -> list[str]:
    known = [m for m in MODALITY_ORDER if m in names]
    return known + sorted(set(names) - set(known))


def dense_rows(rows: sp.csr_matrix, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(rows.toarray()).to(device)


def masked_graph(graph: torch.Tensor, keep: torch.Tensor | None, keep_rate: float) -> torch.Tensor:
    """`graph` with the stored entries where `keep` is False removed and the rest / keep_rate."""
    return graph if keep is None else keep_entries(graph, keep, keep_rate)


class DiffMM(GraphRecommender):
    requires_features = True

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        c = self.config
        check_mode("contrastive_bf16", c["contrastive_bf16"])
        for key in ("anchor", "trans"):
            allowed = {"anchor": ("modality", "main"), "trans": ("linear", "matrix")}[key]
            if c[key] not in allowed:
                raise ValueError(f"{key} must be one of {allowed}, got {c[key]!r}")
        if not 0.0 <= c["fusion_ratio"] <= 1.0:
            raise ValueError(f"fusion_ratio must be in [0, 1], got {c['fusion_ratio']}")
        dim = int(c["embedding_dim"])
        self.modalities = ordered_modalities(dataset.modalities)
        self.train_matrix = sp.csr_matrix(dataset.train, dtype=np.float32)
        self.train_matrix.data[:] = 1.0
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        self.trans = nn.ModuleDict()
        for m in self.modalities:
            feat = torch.from_numpy(np.asarray(dataset.features[m], dtype=np.float32))
            self.register_buffer(f"feat_{m}", feat, persistent=False)
            self.trans[m] = self._make_trans(feat.shape[1], dim)
        self.modal_weight = nn.Parameter(torch.full((len(self.modalities),), 1.0 / len(self.modalities)))
        self.register_buffer("adj", normalized_adjacency(dataset.train, self_loops=True), persistent=False)

        self.generator_kind = c["generator"]
        self.generators = nn.ModuleDict()
        for m in self.modalities:
            if self.generator_kind == "diffusion":
                self.generators[m] = denoiser_from_config(self.n_items, c)
            elif self.generator_kind == "vgae":
                self.generators[m] = VGAEGenerator(self.n_users, self.feature(m).shape[1], dim)
            else:
                raise ValueError(f"generator must be 'diffusion' or 'vgae', got {self.generator_kind!r}")
        self.schedule = schedule_from_config(c)
        # detached per-epoch targets of the MSI term (eq. 14), set before each generator phase
        self._msi_targets: dict[str, torch.Tensor] = {}
        self._msi_id_table: torch.Tensor | None = None
        # current generated graphs: top-k items per user and the epoch's edge-keep masks
        self.topk: dict[str, torch.Tensor] = {}
        self.keep: dict[str, torch.Tensor | None] = {}
        # the first `ranked_kept` generated items per user of the last rebuild, best first (int32)
        self.ranked: dict[str, torch.Tensor] = {}
        self.generators_loaded = True  # False once a model.pt without generator weights is loaded
        self.graphs_full: dict[str, SparseOperator] = {}
        self.graphs_train: dict[str, SparseOperator] = {}
        self.graphs_cl: dict[str, SparseOperator] = {}

    # ---- parameters ------------------------------------------------------------------------
    def _make_trans(self, in_dim: int, dim: int) -> nn.Module:
        if self.config["trans"] == "linear":
            return nn.Linear(in_dim, dim)  # official trans=1, PyTorch default init
        matrix = nn.Linear(in_dim, dim, bias=False)  # official trans=0: bare matrix + LeakyReLU(0.2)
        nn.init.xavier_uniform_(matrix.weight)
        return nn.Sequential(matrix, nn.LeakyReLU(0.2))

    def feature(self, m: str) -> torch.Tensor:
        return getattr(self, f"feat_{m}")

    def projected(self, m: str) -> torch.Tensor:
        """Trans_m(f_m) without the Norm of eq. 15 (what the official MSI term uses)."""
        return self.trans[m](self.feature(m))

    # ---- training phases -------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        """`generator` on user rows (then the graph rebuild), `recommender` on BPR triples."""
        c = self.config
        generator_params = list(self.generators.parameters())
        owned = {id(p) for p in generator_params}
        generator = Phase(
            "generator",
            generator_params,
            "user_rows",
            self.generator_loss_parts,
            # each generator's own Adam in the official code (no weight decay); fused: one pass per
            # tensor with no temporaries (the multi-tensor Adam allocates copies as large as the
            # denoiser, tens of millions of weights on Sports), 5.5x faster than the per-tensor loop
            # on the TikTok denoiser (8.5 vs 47 ms, one thread)
            OptimizerSettings(lr=c["generator_lr"], weight_decay=0.0, fused=True),
            batch_size=int(c["diffusion_batch"]),
            before=self.prepare_generator_phase,
            after=self.rebuild_after_generators,
            after_name="rebuild",
        )
        # torch.compile fuses the step's elementwise passes between its sparse and InfoNCE products;
        # the same losses up to float rounding (see `compile_step` in diffmm.yaml for its cost)
        losses = torch.compile(self.losses) if c["compile_step"] else self.losses

        def recommender_parts(batch: Batch) -> list[dict[str, torch.Tensor]]:
            assert isinstance(batch, BPRBatch)
            return [losses(batch)]

        recommender = Phase(
            "recommender", [p for p in self.parameters() if id(p) not in owned], "bpr", recommender_parts
        )
        return [generator, recommender]

    # ---- generators: training and rebuild --------------------------------------------------
    def denoiser(self, m: str) -> Denoiser:
        generator = self.generators[m]
        assert isinstance(generator, Denoiser), "a diffusion generator (generator: diffusion)"
        return generator

    def vgae(self, m: str) -> VGAEGenerator:
        generator = self.generators[m]
        assert isinstance(generator, VGAEGenerator), "a VGAE generator (generator: vgae)"
        return generator

    def user_chunks(self) -> list[np.ndarray]:
        """All users in order, in chunks of `diffusion_batch` (the rebuild's batches)."""
        size = int(self.config["diffusion_batch"])
        return [np.arange(i, min(i + size, self.n_users)) for i in range(0, self.n_users, size)]

    def prepare_generator_phase(self) -> None:
        """The MSI targets of the epoch, detached as in the official code, before the first step."""
        release_free_memory()  # the last recommender pass's freed buffers, before the denoisers' working set
        with torch.no_grad():
            self._msi_targets = {m: self.projected(m) for m in self.modalities}
            self._msi_id_table = self.item_embedding.detach()

    def generator_loss_parts(self, batch: Batch) -> Iterator[dict[str, torch.Tensor]]:
        """One part per modality: its generator's diffusion loss and lambda0 * MSI.

        Each part reaches only its own generator, so backpropagating part by part gives the
        gradients of the official single backward of the sum, with one modality's activations alive.
        """
        assert isinstance(batch, UserRowBatch)
        c, device = self.config, self.device
        x0 = batch.dense()
        # alpha_0 . e^i of eq. 14, from the sparse rows: the dense product costs as much as the MSI term
        id_target = None
        if c["lambda0"] > 0 and self.generator_kind == "diffusion":
            id_target = torch.sparse.mm(to_torch_sparse(batch.rows, device), self._msi_id_table)
        for m in self.modalities:
            if self.generator_kind == "vgae":
                yield {f"gen_{m}": self.vgae(m).loss(self.adj_op, self.feature(m), batch.users, x0)}
                continue
            result = diffusion_loss(self.denoiser(m), self.schedule, x0, c["loss_weighting"])
            terms = {f"gen_{m}": result.loss}
            if id_target is not None:
                predicted = (result.x0_hat @ self._msi_targets[m].to(result.x0_hat.dtype)).float()
                terms[f"msi_{m}"] = c["lambda0"] * (predicted - id_target).pow(2).mean(-1).mean()  # eq. 14 as coded
            yield terms

    def rebuild_after_generators(self) -> dict[str, float]:
        self._msi_targets, self._msi_id_table = {}, None
        self.rebuild_graphs()
        return {}

    @torch.no_grad()
    def generate_topk(self, m: str, users: np.ndarray, k: int, chain: FastReverseChain | None = None) -> torch.Tensor:
        """The k items with the highest generated score for each user (len(users) x k).

        `chain`: a `FastReverseChain` of modality m shared by all batches of one rebuild.
        """
        c, device = self.config, self.device
        if self.generator_kind == "vgae":
            user_mu, item_mu = self.vgae(m).item_user_latents(self.adj_op, self.feature(m))  # cheap: 3 sparse products
            return torch.topk(user_mu[torch.from_numpy(users).to(device)] @ item_mu.T, k, dim=-1).indices
        if not self.generators_loaded:
            raise DataError(
                f"this model.pt keeps no generator weights (keep_generators: false), only the first "
                f"{self.config['ranked_kept']} generated items per user: ask for k <= that, or retrain "
                f"with keep_generators=true"
            )
        generator = self.denoiser(m)
        if chain is None and fast_chain_applies(generator, c["sampling_noise"]):
            chain = FastReverseChain(generator, self.schedule, c["sampling_steps"])
        rows = self.train_matrix[users]
        if chain is not None:
            sparse_ok = c["sampling_steps"] == 0
            denoised = chain(to_torch_sparse(rows, device) if sparse_ok else dense_rows(rows, device))
        else:
            x0 = dense_rows(rows, device)
            denoised = reverse_chain(generator, self.schedule, x0, c["sampling_steps"], c["sampling_noise"])
        return torch.topk(denoised, k, dim=-1).indices

    @torch.no_grad()
    def rebuild_graphs(self) -> None:
        release_free_memory()
        c = self.config
        k, kept = int(c["rebuild_k"]), int(c["ranked_kept"])
        ranked = max(k, min(kept, self.n_items))
        for m in self.modalities:
            chain = None
            if self.generator_kind == "diffusion" and fast_chain_applies(self.denoiser(m), c["sampling_noise"]):
                chain = FastReverseChain(self.denoiser(m), self.schedule, c["sampling_steps"])
            chunks = self.user_chunks()
            parts = [self.generate_topk(m, u, ranked, chain) for u in progress(chunks, len(chunks), f"rebuild {m}")]
            items = torch.cat(parts).cpu()  # best first: torch.topk sorts
            self.topk[m] = items[:, :k].contiguous()
            if kept:
                self.ranked[m] = items[:, :kept].to(torch.int32)
        keep_rate = float(c["keep_rate"])
        self.keep = {}
        for m in self.modalities:
            n_entries = self.topk[m].numel() * 2 + self.n_users + self.n_items  # both directions + self-loops
            self.keep[m] = None if keep_rate == 1.0 else torch.rand(n_entries, device=self.device) < keep_rate
        self._refresh_graphs()
        self._draw_contrastive_graphs()

    def _graph_from_topk(self, topk: torch.Tensor) -> torch.Tensor:
        users = np.repeat(np.arange(self.n_users), topk.shape[1])
        items = topk.reshape(-1).numpy()
        edges = sp.csr_matrix(
            (np.ones(len(items), dtype=np.float32), (users, items)), shape=(self.n_users, self.n_items)
        )
        return normalized_adjacency(edges, self_loops=True, device=self.device)

    def _refresh_graphs(self) -> None:
        """Normalised generated graphs, full and with this epoch's edge dropout, from topk and keep."""
        keep_rate = float(self.config["keep_rate"])
        for m in self.modalities:
            full = self._graph_from_topk(self.topk[m])
            if full._nnz() != self.topk[m].numel() * 2 + self.n_users + self.n_items:
                raise AssertionError("a generated graph must hold k distinct edges per user plus self-loops")
            self.graphs_full[m] = SparseOperator(full, symmetric=True)
            self.graphs_train[m] = SparseOperator(masked_graph(full, self.keep[m], keep_rate))
        self.graphs_cl = dict(self.graphs_train)

    def _draw_contrastive_graphs(self) -> None:
        """Fig. 4: mix each generated graph with a random edge-dropped original graph at `fusion_ratio`.

        The construction is ours (the paper gives no formula or keep rate): a convex mix of the
        normalised, edge-dropped graphs, with the original graph's random edge drop drawn anew for
        each modality, so that the modality views never share one random augmentation.
        """
        ratio, keep_rate = float(self.config["fusion_ratio"]), float(self.config["fusion_keep_rate"])
        if ratio == 0.0:
            return
        for m in self.modalities:
            keep = torch.rand(self.adj._nnz(), device=self.device) < keep_rate
            random_graph = masked_graph(self.adj, keep, keep_rate)
            mixed = random_graph if ratio == 1.0 else (1.0 - ratio) * self.graphs_train[m].coo + ratio * random_graph
            self.graphs_cl[m] = SparseOperator(mixed)

    # ---- recommender -----------------------------------------------------------------------
    def normalized_features(self) -> dict[str, torch.Tensor]:
        """P_m = Norm(Trans_m(f_m)) of eq. 15, once per step for the main view and every modality view."""
        return {m: F.normalize(self.projected(m)) for m in self.modalities}

    def first_view(self, graphs: dict[str, SparseOperator], features: dict[str, torch.Tensor]) -> torch.Tensor:
        """H0 of eq. 21 (users stacked on items).

        sum_m w_m Z_m is computed with the original-graph products shared by all modalities:
        Abar is linear and the softmax weights sum to 1, so sum_m w_m Abar [E_u; P_m] =
        Abar [E_u; sum_m w_m P_m], and likewise for the second hop. Two products with Abar per
        step instead of two per modality; the same H0 up to float rounding.
        """
        ids = torch.cat([self.user_embedding, self.item_embedding])
        weights = torch.softmax(self.modal_weight, dim=0)
        items = tensor_sum(weights[k] * features[m] for k, m in enumerate(self.modalities))
        first = self.adj_op @ torch.cat([self.user_embedding, items])
        second = self.adj_op @ torch.cat([first[: self.n_users], self.item_embedding])
        generated = sum(weights[k] * (graphs[m] @ ids) for k, m in enumerate(self.modalities))
        return first + second + self.config["ris_adj_lambda"] * generated

    def pooled_view(self, h0: torch.Tensor) -> torch.Tensor:
        """Hbar of eq. 22-23 from H0: the layer sum over Abar plus omega Norm(H0)."""
        return propagate_sum(self.adj_op, h0, self.config["gnn_layers"]) + self.config["omega"] * F.normalize(h0)

    def main_view(self, graphs: dict[str, SparseOperator]) -> torch.Tensor:
        """Hbar of eq. 22-23 (users stacked on items)."""
        return self.pooled_view(self.first_view(graphs, self.normalized_features()))

    def training_views(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Hbar on this epoch's generated graphs and, when the CL term is on, every modality view
        Zbar_m of eq. 16-17 on its contrastive graph, all from one set of projected features."""
        c = self.config
        features = self.normalized_features()
        main = self.pooled_view(self.first_view(self.graphs_train, features))
        if c["lambda1"] == 0:
            return main, {}
        views = {
            m: propagate_sum(
                self.adj_op, self.graphs_cl[m] @ torch.cat([self.user_embedding, features[m]]), c["gnn_layers"]
            )
            for m in self.modalities
        }
        return main, views

    def _require_graphs(self) -> None:
        if not self.graphs_full:
            raise RuntimeError("DiffMM has no generated graphs yet: run the generator phase (or load a state) first")

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        self._require_graphs()
        graphs = self.graphs_train if self.config["official_eval"] else self.graphs_full
        h = self.main_view(graphs)
        return h[: self.n_users], h[self.n_users :]

    def contrastive_loss(
        self, main: torch.Tensor, views: dict[str, torch.Tensor], users: torch.Tensor, items: torch.Tensor
    ) -> torch.Tensor:
        tau, n = self.config["tau"], self.n_users
        dtype = compute_dtype(self.config["contrastive_bf16"], main.device)
        pairs = (
            [(main, view) for view in views.values()]  # eq. 19
            if self.config["anchor"] == "main"
            else [  # eq. 18, one direction per unordered pair as the official code
                (views[m1], views[m2]) for i, m1 in enumerate(self.modalities) for m2 in self.modalities[i + 1 :]
            ]
        )
        total = torch.zeros((), device=main.device)
        for a, b in pairs:
            total = total + info_nce(a[:n], b[:n], users, tau, dtype) + info_nce(a[n:], b[n:], items, tau, dtype)
        return total

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        self._require_graphs()
        c = self.config
        h, views = self.training_views()
        users, items = h[: self.n_users], h[self.n_users :]
        u = users[batch.users]
        terms = {
            "bpr": bpr_loss((u * items[batch.pos]).sum(-1), (u * items[batch.neg]).sum(-1)),
            "reg": c["lambda2"] * (self.user_embedding.pow(2).sum() + self.item_embedding.pow(2).sum()),
        }
        if c["lambda1"] > 0:
            terms["cl"] = c["lambda1"] * self.contrastive_loss(h, views, batch.users, batch.pos)
        return terms

    # ---- state beyond parameters: the current generated graphs ---------------------------
    def get_extra_state(self) -> dict[str, dict[str, torch.Tensor | None]]:
        """The top-k items, ranked items and edge-keep masks of the current graphs: tensors only,
        so that model.pt loads with `weights_only=True` (no pickled objects, no code)."""
        return {
            "topk": dict(self.topk),
            "keep": {m: (None if v is None else v.cpu()) for m, v in self.keep.items()},
            "ranked": dict(self.ranked),
        }

    def set_extra_state(self, state: dict[str, dict[str, torch.Tensor | None]]) -> None:
        # runs of code before ranked_kept hold no "ranked" entry
        if not isinstance(state, dict) or not {"topk", "keep"} <= set(state) <= {"topk", "keep", "ranked"}:
            raise ValueError(f"DiffMM extra state must be {{'topk', 'keep', 'ranked'}} of tensors, got {state!r:.80}")
        self.topk = {m: t.cpu() for m, t in state["topk"].items() if t is not None}
        self.keep = {m: (None if v is None else v.to(self.device)) for m, v in state["keep"].items()}
        self.ranked = {m: t.cpu() for m, t in state.get("ranked", {}).items() if t is not None}
        if self.topk:
            self._refresh_graphs()

    # ---- what model.pt keeps -----------------------------------------------------------
    def kept_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The selected state without the generators (keep_generators: false): evaluation uses
        the graphs they generated (extra state), the case study the ranked items."""
        if self.config["keep_generators"]:
            return state
        return {key: value for key, value in state.items() if not key.startswith("generators.")}

    def load_selected_state(self, state: dict[str, torch.Tensor]) -> None:
        super().load_selected_state(state)
        self.generators_loaded = any(key.startswith("generators.") for key in state)
