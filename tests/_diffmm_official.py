"""A literal, dense float64 transcription of the official DiffMM recommender, for tests only.

Written from HKUDS/DiffMM @fae20e6 (facts in shared/reference/diffmm-official.md):
`DataHandler.makeTorchAdj` / `Coach.buildUIMatrix` (graphs), `SpAdjDropEdge` (edge dropout),
`Model.getImageFeats` & co. (Trans), `Model.forward_MM` (main view, eq. 20-23 as coded),
`Model.forward_cl_MM` (modality views, eq. 16-17), `Utils.contrastLoss` (InfoNCE),
`Coach.trainEpoch` (BPR, the CL pairs of `cl_method` 0 and 1, `reg_loss`), `Denoise.forward`
and `GaussianDiffusion.p_sample` (the rebuild's reverse chain with T' corruption steps).

Deliberately imports nothing from mmdiffbench: every quantity is written out the way the
official code computes it, one modality at a time, with dense matrices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

OFFICIAL_ORDER = ("image", "text", "audio")  # modal_weight[0] is image, [1] text, [2] audio


# ---- graphs ----------------------------------------------------------------------------------
def normalized_bipartite(interactions: torch.Tensor) -> torch.Tensor:
    """D^-1/2 (A + I) D^-1/2 of A = [[0, R], [R^T, 0]] with R binarised (makeTorchAdj, buildUIMatrix)."""
    r = (interactions != 0).double()
    n_users, n_items = r.shape
    n = n_users + n_items
    a = torch.zeros(n, n, dtype=torch.float64)
    a[:n_users, n_users:] = r
    a[n_users:, :n_users] = r.T
    a = ((a + torch.eye(n, dtype=torch.float64)) != 0).double()
    degree = a.sum(1)
    inv_sqrt = torch.where(degree > 0, degree.pow(-0.5), torch.zeros_like(degree))
    return inv_sqrt[:, None] * a * inv_sqrt[None, :]


def generated_interactions(topk: torch.Tensor, n_items: int) -> torch.Tensor:
    """The U x I 0/1 matrix with an edge (u, i) for every item i in row u of `topk` (Coach.trainEpoch)."""
    r = torch.zeros(topk.shape[0], n_items, dtype=torch.float64)
    for u, items in enumerate(topk.tolist()):
        for i in items:
            r[u, i] = 1.0
    return r


def drop_entries(adj: torch.Tensor, keep: torch.Tensor | None, keep_rate: float) -> torch.Tensor:
    """SpAdjDropEdge with a given mask: the j-th stored entry in row-major order is kept (value /
    keep_rate) where keep[j], removed elsewhere; `keep` None keeps everything unchanged."""
    if keep is None:
        return adj.clone()
    positions = adj.nonzero()  # row-major, as a coalesced COO stores them
    assert len(positions) == len(keep), "one keep flag per stored entry"
    out = torch.zeros_like(adj)
    for (row, col), kept in zip(positions.tolist(), keep.tolist()):
        if kept:
            out[row, col] = adj[row, col] / keep_rate
    return out


# ---- recommender -----------------------------------------------------------------------------
@dataclass
class Recommender:
    """The official `Model`'s parameters (float64 tensors; leaves may require grad).

    trans_weight[m] is the d_m x d matrix W with Trans(f) = f W (+ b): `trans` 1 is nn.Linear
    (with bias), `trans` 0 the bare matrix followed by LeakyReLU(0.2).
    """

    user: torch.Tensor
    item: torch.Tensor
    modal_weight: torch.Tensor
    features: dict[str, torch.Tensor]
    trans_weight: dict[str, torch.Tensor]
    trans_bias: dict[str, torch.Tensor | None]
    trans: int

    @property
    def modalities(self) -> list[str]:
        return [m for m in OFFICIAL_ORDER if m in self.features]

    @property
    def n_users(self) -> int:
        return self.user.shape[0]


def modality_feats(rec: Recommender, m: str) -> torch.Tensor:
    """getImageFeats / getTextFeats / getAudioFeats: Trans_m(f_m), not normalised."""
    product = rec.features[m] @ rec.trans_weight[m]
    if rec.trans == 0:
        return F.leaky_relu(product, 0.2)
    bias = rec.trans_bias[m]
    assert bias is not None, "trans 1 is nn.Linear, with a bias"
    return product + bias


def row_normalize(x: torch.Tensor) -> torch.Tensor:
    """F.normalize(x) of the official code: rows divided by max(|row|, 1e-12)."""
    return x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)


def gcn_sum(adj: torch.Tensor, x: torch.Tensor, gnn_layers: int) -> torch.Tensor:
    """embedsLst = [x]; for gcn in gcnLayers: append(adj @ last); sum(embedsLst)."""
    layers = [x]
    for _ in range(gnn_layers):
        layers.append(adj @ layers[-1])
    return sum(layers)


def forward_mm(
    rec: Recommender,
    adj: torch.Tensor,
    graphs: dict[str, torch.Tensor],
    ris_adj_lambda: float,
    ris_lambda: float,
    gnn_layers: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Model.forward_MM: (user rows, item rows) of the main view."""
    weight = torch.softmax(rec.modal_weight, dim=0)
    n = rec.n_users
    embeds_modal = torch.zeros(n + rec.item.shape[0], rec.user.shape[1], dtype=torch.float64)
    for k, m in enumerate(rec.modalities):
        embeds_adj = graphs[m] @ torch.cat([rec.user, rec.item])
        embeds = adj @ torch.cat([rec.user, row_normalize(modality_feats(rec, m))])
        embeds_ = adj @ torch.cat([embeds[:n], rec.item])
        embeds = embeds + embeds_
        embeds = embeds + ris_adj_lambda * embeds_adj
        embeds_modal = embeds_modal + weight[k] * embeds
    embeds = gcn_sum(adj, embeds_modal, gnn_layers)
    embeds = embeds + ris_lambda * row_normalize(embeds_modal)
    return embeds[:n], embeds[n:]


def forward_cl_mm(
    rec: Recommender, adj: torch.Tensor, graphs: dict[str, torch.Tensor], gnn_layers: int
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Model.forward_cl_MM: per modality (user rows, item rows) of gcn_sum(G_m [E_u; Norm(Trans_m f_m)])."""
    n = rec.n_users
    views = {}
    for m in rec.modalities:
        embeds = graphs[m] @ torch.cat([rec.user, row_normalize(modality_feats(rec, m))])
        embeds = gcn_sum(adj, embeds, gnn_layers)
        views[m] = (embeds[:n], embeds[n:])
    return views


def contrast_loss(embeds1: torch.Tensor, embeds2: torch.Tensor, nodes: torch.Tensor, temp: float) -> torch.Tensor:
    """Utils.contrastLoss, line for line."""
    embeds1 = row_normalize(embeds1)
    embeds2 = row_normalize(embeds2)
    pck_embeds1 = embeds1[nodes]
    pck_embeds2 = embeds2[nodes]
    nume = torch.exp(torch.sum(pck_embeds1 * pck_embeds2, dim=-1) / temp)
    deno = torch.exp(pck_embeds1 @ embeds2.T / temp).sum(-1)
    return -torch.log(nume / deno).mean()


def step_losses(
    rec: Recommender,
    main: tuple[torch.Tensor, torch.Tensor],
    views: dict[str, tuple[torch.Tensor, torch.Tensor]],
    ancs: torch.Tensor,
    poss: torch.Tensor,
    negs: torch.Tensor,
    reg: float,
    ssl_reg: float,
    temp: float,
    cl_method: int,
) -> dict[str, torch.Tensor]:
    """The loss terms of one Coach.trainEpoch step.

    BPR: the official code divides the sum by the nominal batch (1024); with a full batch that
    is the batch mean, which is what this returns (len(ancs) stands for args.batch).
    """
    usr_embeds, itm_embeds = main
    score_diff = (usr_embeds[ancs] * itm_embeds[poss]).sum(-1) - (usr_embeds[ancs] * itm_embeds[negs]).sum(-1)
    bpr = -(score_diff.sigmoid().log()).sum() / len(ancs)
    reg_loss = (rec.user.norm(2).square() + rec.item.norm(2).square()) * reg
    modalities = rec.modalities
    cl = torch.zeros((), dtype=torch.float64)
    if cl_method == 0:  # every unordered pair m1 < m2 in the official order, one direction
        for i, m1 in enumerate(modalities):
            for m2 in modalities[i + 1 :]:
                (u1, i1), (u2, i2) = views[m1], views[m2]
                cl = cl + (contrast_loss(u1, u2, ancs, temp) + contrast_loss(i1, i2, poss, temp)) * ssl_reg
    else:  # the main view as anchor against every modality view
        for m in modalities:
            u_m, i_m = views[m]
            cl = (
                cl + (contrast_loss(usr_embeds, u_m, ancs, temp) + contrast_loss(itm_embeds, i_m, poss, temp)) * ssl_reg
            )
    return {"bpr": bpr, "reg": reg_loss, "cl": cl}


# ---- the rebuild's generator: schedule, denoiser, reverse chain --------------------------------
@dataclass
class Schedule:
    """GaussianDiffusion(noise_scale, noise_min, noise_max, steps, beta_fixed) quantities, float64."""

    alphas_cumprod: np.ndarray
    coef_x0: np.ndarray  # posterior_mean_coef1
    coef_xt: np.ndarray  # posterior_mean_coef2

    @classmethod
    def official(
        cls, steps: int, noise_scale: float, noise_min: float, noise_max: float, first_beta: float | None
    ) -> Schedule:
        """get_betas, then betas[0] = first_beta when given (the official beta_fixed uses 1e-4)."""
        variance = np.linspace(noise_scale * noise_min, noise_scale * noise_max, steps, dtype=np.float64)
        alpha_bar = 1 - variance
        betas = [1 - alpha_bar[0]]
        for i in range(1, steps):
            betas.append(min(1 - alpha_bar[i] / alpha_bar[i - 1], 0.999))
        betas_arr = np.array(betas)
        if first_beta is not None:
            betas_arr[0] = first_beta
        alphas = 1.0 - betas_arr
        cumprod = np.cumprod(alphas)
        cumprod_prev = np.concatenate([[1.0], cumprod[:-1]])
        return cls(
            alphas_cumprod=cumprod,
            coef_x0=betas_arr * np.sqrt(cumprod_prev) / (1.0 - cumprod),
            coef_xt=(1.0 - cumprod_prev) * np.sqrt(alphas) / (1.0 - cumprod),
        )


@dataclass
class Denoise:
    """Denoise with one hidden layer (dims [h]): emb_layer, in_layers[0], out_layers[0] (W as (out, in))."""

    emb_weight: torch.Tensor
    emb_bias: torch.Tensor
    in_weight: torch.Tensor
    in_bias: torch.Tensor
    out_weight: torch.Tensor
    out_bias: torch.Tensor

    def __call__(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """Denoise.forward(x, t, mess_dropout=False) for one step index t shared by all rows."""
        emb_size = self.emb_weight.shape[0]
        half = emb_size // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
        temp = float(step) * freqs
        time_emb = torch.cat([torch.cos(temp), torch.sin(temp)])
        if emb_size % 2:
            time_emb = torch.cat([time_emb, torch.zeros(1, dtype=torch.float64)])
        emb = self.emb_weight @ time_emb + self.emb_bias
        h = torch.cat([x, emb.expand(x.shape[0], -1)], dim=-1)
        h = torch.tanh(h @ self.in_weight.T + self.in_bias)
        return h @ self.out_weight.T + self.out_bias


def p_sample(
    denoise: Denoise, schedule: Schedule, x_start: torch.Tensor, steps: int, noise: torch.Tensor
) -> torch.Tensor:
    """GaussianDiffusion.p_sample(model, x_start, steps, sampling_noise=False), `noise` the q_sample draw."""
    if steps == 0:
        x_t = x_start
    else:
        t = steps - 1
        bar = schedule.alphas_cumprod[t]
        x_t = math.sqrt(bar) * x_start + math.sqrt(1.0 - bar) * noise
    for i in reversed(range(len(schedule.alphas_cumprod))):
        model_output = denoise(x_t, i)
        x_t = schedule.coef_x0[i] * model_output + schedule.coef_xt[i] * x_t
    return x_t
