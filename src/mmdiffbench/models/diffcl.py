"""DiffCL: diffusion-generated contrastive views, item-item enhancement and ID-guided alignment.

Reference: Q. Song, J. Hu, L. Xiao, B. Sun, X. Gao, S. Li. "DiffCL: A Diffusion-Based Contrastive
Learning Framework with Semantic Alignment for Multimodal Recommendations", arXiv 2501.01066
(TNNLS'25). Reference implementation: none exists (shared/reference/diffcl.md, section 6); the
unstated values come from the closest sources named in configs/diffcl.yaml: MMRec's defaults
(enoche/MMRec @e775373 `src/configs/overall.yaml`, via the fact sheet), MMRec's MGCN (read:
enoche/MMRec @a5b713d `src/models/mgcn.py`: feature encoders, in-batch InfoNCE, 1/2 |.|^2 / batch
regulariser), FREEDOM / MMGCN facts from shared/reference/baselines.md, and DiffMM's official
schedule (HKUDS/DiffMM @fae20e6 `Params.py`) for eq. 11, which is DiffMM's eq. 3.

Equations as coded (v, t = the two modalities in the order of `modalities`; R = train matrix):
    E_m = sum_{l=0..L} Abar^l [U_m; Enc_m(f_m)],  E_id = sum_l Abar^l [E_u; E_i]          (eq. 3-5)
        Abar = D^-1/2 [[0, R], [R^T, 0]] D^-1/2 (no self loops)
    views E_m^k = reverse chain (T posterior-mean steps of a denoiser predicting x0) from
        x_T' = sqrt(gbar) E_m + sqrt(1 - gbar) eps_k, k = 1, 2, differentiable      (eq. 6-12)
    L_cl = lambda_cl sum_m [InfoNCE_users(E_m^1, E_m^2) + InfoNCE_items(E_m^1, E_m^2)]     (eq. 13-17)
        InfoNCE: mean over anchors n of -log exp(cos(a_n, b_n)/tau) / sum_{n' of that node type}
        exp(cos(a_n, b_n')/tau) (`models/contrastive.info_nce`)
    S_m = D^-1/2 topK_binary(cos(f_m)) D^-1/2 (k = 10),  A_m = S_m^l Enc_m(f_m)           (eq. 18-22)
    E_m <- [E_m users; E_m items + A_m]                                                 (eq. 23)
    E_vt = mu E_v + (1 - mu) E_t, mu a learnable scalar, 0.5 at start                   (eq. 24)
    L_align = lambda_align sum_{m in v, t} |mean(E_id) - mean(E_m)| + |std(E_id) - std(E_m)|  (eq. 25-28)
    y_ui = <e_vt^u, e_vt^i> + <e_id^u, e_id^i>  (the inner product of [E_vt, E_id])       (eq. 30-31)
    L = L_BPR + L_cl + L_align + L_E + L_denoise,
        L_E = lambda_E 1/2 (|E_v rows|^2 + |E_t rows|^2) / batch over the batch's u, p, n  (eq. 29, 32-33)

Decisions (every gap of the fact sheet; the YAML repeats them next to each key):
- Modalities are data: `modalities` lists the two dataset modalities that play the paper's visual
  and textual roles, in that order; empty = the dataset's in the order image, text, audio (DiffMM's
  order). TikTok therefore runs image as v and audio as t. Exactly two are required (the fusion
  and alignment equations are written for two).
- Encoders (l.83, "different encoders"): one nn.Linear(feature_dim, d) per modality, MMRec's
  `image_trs` / `text_trs` (MGCN, FREEDOM). Users' layer-0 modality embeddings: a learnable
  table per modality (`user_modal_init: table`, MMGCN's per-modality user preferences); `items`
  takes the mean of the user's training items' encoded features (ours; MGCN also derives its
  modality users from items, with the sym-normalised R block).
- Diffusion training: eq. 32 has no denoising term, so the denoisers get one:
  L_denoise = lambda_denoise sum_m diffusion_loss(E_m detached) (x0 target, DiffMM's SNR weights,
  input dropout 0.5 = the paper's "dropout rate 0.5", the only 0.5 dropout of the closest code,
  DiffMM's denoiser). E_m is detached there so the denoising term trains the denoisers only and
  does not pull the encoders towards easily denoised embeddings. `lambda_denoise: 0` is the
  literal eq. 32: the denoisers then learn only through L_cl.
- Views: gradients flow through both views into E_m and the denoisers (otherwise L_cl trains
  nothing). The chain starts from x0 corrupted `view_corrupt_steps` (= T) steps and runs all T
  reverse steps on the posterior mean without sampling noise (DiffMM's inference); the two views
  differ by their forward noise. Sigma_theta of eq. 12 is not learned (DiffMM, DiffRec).
- Diffusion input: E_m straight after the graph encoder, before eq. 23 (Sec. IV-C places it
  there); `diffusion_input: enhanced` takes E_m after the item-item enhancement.
- Eq. 13-14: the standard reading (cos/tau inside exp, denominator over the other node's second
  view). Anchors: the batch's users and positive items (`cl_nodes: batch`, as MMRec's MGCN
  `calculate_loss`), the denominator over ALL users (items) as eq. 13 sums over U
  (`cl_denominator: all`; `batch` = over the batch's rows only, MGCN's `InfoNCE`); the sum over
  anchors is a mean so the weight does not scale with the batch. `cl_nodes: all` anchors every node.
- lambda_cl is applied once (eq. 17); `lambda_cl_twice: true` is the literal eq. 32 (lambda_cl^2).
- Item-item graph: A_m^(0) = the items' encoded features (layer 0 of branch m), `item_layers`
  products with S_m (1: MGCN, FREEDOM), the last layer added (eq. 23 adds A_m^(l)).
- Alignment statistics: the mean and (population) standard deviation of the whole stacked
  user + item matrix of each final branch (eq. 25-26 write scalar Gaussians; `align_axis: matrix`);
  `align_axis: dimension` takes them per dimension and averages the absolute gaps over dimensions.
  One E_id (the equations), not Fig. 2's E_id^v / E_id^t. E_v, E_t: after the enhancement.
- L_E: the batch's rows of the final E_v and E_t (users, positives, negatives) with the library's
  1/2 |.|^2 / batch convention (LightGCN; MMRec's MGCN `bpr_loss`), not whole matrices (on a whole
  matrix lambda_E = 0.7 would outweigh BPR by orders of magnitude). Features enter raw, as in
  MMRec; on TikTok L_E starts near 800 against a BPR of 3 and first shrinks the encoders.
- BPR negatives: sampled non-interacted items (the trainer), not l.228's interacted item.

Table III's components are switches: `use_diff` (views, L_cl, L_denoise), `use_align` (L_align),
`use_h` (item-item enhancement); the variants in the YAML turn exactly those on and off.
Compute (the numbers stay those of the equations): a view's chain is row-wise, so the first view
(the InfoNCE anchor table) is computed at the anchors' rows only and the second at the rows its
denominator reads (all of the node type under `cl_denominator: all`); `recompute` trades one more
forward pass of the views for their activations; `denoiser_bf16` and `contrastive_bf16` are
speed switches that change the rounding (bfloat16 products on CPU by default, after 210 TikTok
steps gave the float32 losses within 1e-4 and the same validation Recall@20; benchmarks/README.md).
Known deviations: none from the paper's equations beyond the decisions above; no paper number
can be compared with (the features of Baby / Sports are not held, shared/reference/diffcl.md 7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.diffusion import Denoiser, GaussianSchedule, diffusion_loss
from mmdiffbench.graph import SparseOperator, knn_item_graph, normalized_adjacency, propagate_sum, to_torch_sparse
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.contrastive import info_nce
from mmdiffbench.models.diffmm import ordered_modalities
from mmdiffbench.models.diffusion_parts import denoiser_from_config, schedule_from_config
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.losses import bpr_loss, embedding_l2
from mmdiffbench.models.modal import recomputed
from mmdiffbench.precision import check_mode, compute_dtype
from mmdiffbench.tensors import tensor_sum

CHOICES = {
    "user_modal_init": ("table", "items"),
    "diffusion_input": ("encoder", "enhanced"),
    "cl_nodes": ("batch", "all"),
    "cl_denominator": ("all", "batch"),
    "align_axis": ("matrix", "dimension"),
}


def modality_roles(available: Sequence[str], asked: Sequence[str]) -> list[str]:
    """The two modalities in the roles (visual, textual): `asked`, or the dataset's first two."""
    roles = list(asked) if asked else ordered_modalities(list(available))[:2]
    if len(roles) != 2 or len(set(roles)) != 2 or not set(roles) <= set(available):
        raise ValueError(f"DiffCL needs two distinct modalities of {sorted(available)}, got {roles}")
    return roles


def draw_noise(x: torch.Tensor) -> torch.Tensor:
    """The forward noise of one view (a function, so a test can replay it)."""
    return torch.randn_like(x)


def diffusion_view(
    denoiser: Denoiser, schedule: GaussianSchedule, x0: torch.Tensor, corrupt_steps: int, noise: torch.Tensor
) -> torch.Tensor:
    """x0 corrupted `corrupt_steps` steps, then the T posterior-mean reverse steps, differentiable.

    The shared `reverse_chain` runs under no_grad (inference); a contrastive view must carry
    gradients to the embeddings and the denoiser, so the same chain is written here with grad.
    """
    x = x0
    if corrupt_steps > 0:
        x = schedule.q_sample(x0, torch.full((len(x0),), corrupt_steps - 1, device=x0.device), noise)
    for step in reversed(range(schedule.steps)):
        t = torch.full((len(x),), step, dtype=torch.long, device=x.device)
        x = schedule.posterior_mean(denoiser(x, t), x, t)
    return x


def gaussian_gap(reference: torch.Tensor, other: torch.Tensor, axis: str) -> torch.Tensor:
    """|mu_ref - mu_other| + |sigma_ref - sigma_other| (eq. 27), statistics over `axis`."""
    if axis == "matrix":
        return (reference.mean() - other.mean()).abs() + (reference.std(correction=0) - other.std(correction=0)).abs()
    mean_gap = (reference.mean(0) - other.mean(0)).abs().mean()
    return mean_gap + (reference.std(0, correction=0) - other.std(0, correction=0)).abs().mean()


@dataclass
class Branches:
    """The (users + items) x d outputs of the three branches."""

    id: torch.Tensor
    encoded: dict[str, torch.Tensor]  # E_m after the graph encoder (eq. 4)
    enhanced: dict[str, torch.Tensor]  # E_m after eq. 23 (= encoded without `use_h`)


class DiffCL(GraphRecommender):
    requires_features = True

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        c = self.config
        for key, allowed in CHOICES.items():
            if c[key] not in allowed:
                raise ValueError(f"{key} must be one of {allowed}, got {c[key]!r}")
        check_mode("contrastive_bf16", c["contrastive_bf16"])
        dim = int(c["embedding_dim"])
        self.n_layers = int(c["n_layers"])
        self.modalities = modality_roles(dataset.modalities, c["modalities"])
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)
        self.encoders = nn.ModuleDict()
        self.user_modal = nn.ParameterDict()
        for m in self.modalities:
            feat = torch.from_numpy(np.asarray(dataset.features[m], dtype=np.float32))
            self.register_buffer(f"feat_{m}", feat, persistent=False)
            self.encoders[m] = nn.Linear(feat.shape[1], dim)
            if c["user_modal_init"] == "table":
                self.user_modal[m] = id_embedding(self.n_users, dim)
            if c["use_h"]:
                graph = knn_item_graph(feat, int(c["knn_k"]), "binary", "sym")
                self.register_buffer(f"item_graph_{m}", graph, persistent=False)
        if c["user_modal_init"] == "items":
            rows = sp.csr_matrix(dataset.train, dtype=np.float32)
            rows.data[:] = 1.0
            degree = np.maximum(np.asarray(rows.sum(1)).ravel(), 1.0)
            self.register_buffer("user_mean", to_torch_sparse(sp.diags(1.0 / degree) @ rows), persistent=False)
        self.mu = nn.Parameter(torch.tensor(0.5))
        self.denoisers = nn.ModuleDict()
        if c["use_diff"]:
            for m in self.modalities:
                self.denoisers[m] = denoiser_from_config(dim, c)
            self.schedule = schedule_from_config(c)
        self._operators: dict[str, SparseOperator] = {}

    # ---- graph encoder and enhancement -----------------------------------------------------
    def operator(self, name: str) -> SparseOperator:
        """A buffer's sparse operator, built once per device."""
        buffer = getattr(self, name)
        op = self._operators.get(name)
        if op is None or op.csr.device != buffer.device:
            op = self._operators[name] = SparseOperator(buffer)
        return op

    def denoiser(self, m: str) -> Denoiser:
        denoiser = self.denoisers[m]
        assert isinstance(denoiser, Denoiser)
        return denoiser

    def feature(self, m: str) -> torch.Tensor:
        return getattr(self, f"feat_{m}")

    def branches(self) -> Branches:
        """E_id, and E_m before and after the item-item enhancement, for every modality."""
        ego = torch.cat([self.user_embedding, self.item_embedding])
        encoded, enhanced = {}, {}
        for m in self.modalities:
            items0 = self.encoders[m](self.feature(m))
            if self.config["user_modal_init"] == "table":
                users0 = self.user_modal[m]
            else:
                users0 = self.operator("user_mean") @ items0
            encoded[m] = propagate_sum(self.adj_op, torch.cat([users0, items0]), self.n_layers)
            enhanced[m] = encoded[m]
            if self.config["use_h"]:
                extra = self.item_enhancement(m, items0)
                pad = torch.zeros(self.n_users, extra.shape[1], dtype=extra.dtype, device=extra.device)
                enhanced[m] = encoded[m] + torch.cat([pad, extra])
        return Branches(propagate_sum(self.adj_op, ego, self.n_layers), encoded, enhanced)

    def item_enhancement(self, m: str, items0: torch.Tensor) -> torch.Tensor:
        """A_m = S_m^l Enc_m(f_m) (eq. 22): the items' layer 0 through `item_layers` kNN products."""
        extra = items0
        for _ in range(int(self.config["item_layers"])):
            extra = self.operator(f"item_graph_{m}") @ extra
        return extra

    def fused(self, branches: Branches) -> torch.Tensor:
        """E_vt = mu E_v + (1 - mu) E_t (eq. 24)."""
        v, t = self.modalities
        return self.mu * branches.enhanced[v] + (1.0 - self.mu) * branches.enhanced[t]

    def embeddings_from(self, branches: Branches) -> tuple[torch.Tensor, torch.Tensor]:
        """Users and items as [E_vt, E_id], whose inner product is eq. 30."""
        out = torch.cat([self.fused(branches), branches.id], dim=1)
        return out[: self.n_users], out[self.n_users :]

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.embeddings_from(self.branches())

    # ---- losses ----------------------------------------------------------------------------
    def alignment_loss(self, branches: Branches) -> torch.Tensor:
        axis = self.config["align_axis"]
        gaps = tensor_sum(gaussian_gap(branches.id, branches.enhanced[m], axis) for m in self.modalities)
        return self.config["lambda_align"] * gaps

    def node_type_info_nce(self, first: torch.Tensor, second: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        """Eq. 13 (or 14) between the two views of one node type; the denominator over all its
        nodes, or over the batch's rows (`cl_denominator: batch`, MGCN's in-batch InfoNCE)."""
        if self.config["cl_denominator"] == "batch":
            first, second = first[anchors], second[anchors]
            anchors = torch.arange(len(anchors), device=anchors.device)
        dtype = compute_dtype(self.config["contrastive_bf16"], first.device)
        return info_nce(first, second, anchors, self.config["tau"], dtype)

    def view(self, m: str, x0: torch.Tensor, noise: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        """One diffusion view of branch m at `rows` (None: every row), zero elsewhere.

        The chain is row-wise (the denoiser, q_sample and the posterior mean treat each row alone),
        so a row's view does not depend on which other rows are computed: rows that no loss reads
        are skipped. With `recompute` the T denoiser passes run again in backward instead of being
        held (the second views over all users + items: 0.3-0.5 GB of Sports' peak).
        """
        steps, denoiser = int(self.config["view_corrupt_steps"]), self.denoiser(m)

        def run(x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
            return diffusion_view(denoiser, self.schedule, x, steps, eps)

        if rows is None:
            return recomputed(bool(self.config["recompute"]), run, x0, noise)
        out = recomputed(bool(self.config["recompute"]), run, x0[rows], noise[rows])
        return torch.zeros_like(x0).index_copy(0, rows, out)

    def view_rows(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The rows of (users + items) that the InfoNCE terms read of the first and second view.

        The first view is the anchor table: only its anchors' rows enter (`info_nce` indexes them);
        the second is the denominator's table, every row of it under `cl_denominator: all`. With
        `cl_nodes: all` every row is an anchor (None: all rows, no gather).
        """
        if self.config["cl_nodes"] == "all":
            return None, None
        anchors = torch.cat([torch.unique(users), self.n_users + torch.unique(items)])
        return anchors, anchors if self.config["cl_denominator"] == "batch" else None

    def contrastive_terms(self, branches: Branches, batch: BPRBatch) -> dict[str, torch.Tensor]:
        """L_cl (eq. 13-17) on two diffusion views per modality, and the denoisers' own term."""
        c = self.config
        source = branches.encoded if c["diffusion_input"] == "encoder" else branches.enhanced
        if c["cl_nodes"] == "batch":
            users, items = batch.users, batch.pos
        else:
            users = torch.arange(self.n_users, device=batch.users.device)
            items = torch.arange(self.n_items, device=batch.users.device)
        first_rows, second_rows = self.view_rows(users, items)
        cl, denoise = [], []
        for m in self.modalities:
            x0 = source[m]
            noise = [draw_noise(x0) for _ in range(2)]  # drawn in the views' order; the views draw nothing
            first, second = self.view(m, x0, noise[0], first_rows), self.view(m, x0, noise[1], second_rows)
            u, i = self.n_users, slice(self.n_users, None)
            cl.append(self.node_type_info_nce(first[:u], second[:u], users))
            cl.append(self.node_type_info_nce(first[i], second[i], items))
            if c["lambda_denoise"] > 0:
                denoise.append(diffusion_loss(self.denoiser(m), self.schedule, x0.detach(), c["loss_weighting"]).loss)
        weight = c["lambda_cl"] ** 2 if c["lambda_cl_twice"] else c["lambda_cl"]
        terms = {"cl": weight * tensor_sum(cl)}
        if denoise:
            terms["denoise"] = c["lambda_denoise"] * tensor_sum(denoise)
        return terms

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        c = self.config
        branches = self.branches()
        users, items = self.embeddings_from(branches)
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
        out = {"bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1))}
        node_rows = (batch.users, batch.pos + self.n_users, batch.neg + self.n_users)
        out["reg"] = c["lambda_E"] * embedding_l2(
            len(batch.users), *(branches.enhanced[m][rows] for m in self.modalities for rows in node_rows)
        )
        if c["use_align"]:
            out["align"] = self.alignment_loss(branches)
        if c["use_diff"]:
            out.update(self.contrastive_terms(branches, batch))
        return out
