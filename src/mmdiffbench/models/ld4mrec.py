"""LD4MRec: a light diffusion model for multimedia recommendation.

Reference: P. Yu, Z. Tan, G. Lu, B.-K. Bao. "LD4MRec: Simplifying and Powering Diffusion Model
for Multimedia Recommendation", arXiv 2309.15363 v1 (shared/papers/ld4mrec.txt; facts and gaps in
shared/reference/ld4mrec.md). There is no official code; the one third-party re-implementation
(orangeai-research/GenRecv2 `src/models/ld4mrec.py`) departs from the paper and was not followed.
Read for the pieces the paper cites: YiyanXu/DiffRec (schedule, importance sampling: the shared
diffusion core), tobran/DF-GAN `code/models/GAN.py` (the BG block, see models/ld4mrec_cnet.py),
enoche/MMRec `src/configs/overall.yaml` (training defaults).

One phase, `cnet`, on user rows. Indices are 0-based (index k is the paper's step k + 1).
    schedule      1 - abar_t = s (a_min + (t-1)/(T-1) (1 - a_min))            (eq. 3, `ld4mrec`)
    soft target   f_s(x_in): each clicked entry with probability p -> 1 - gamma,
                  each unclicked entry with probability p -> gamma, the rest unchanged  (eq. 12)
    forward       x_t = sqrt(abar_t) f_s(x_in) + sqrt(1 - abar_t) eps              (eq. 2, 11)
    C-Net         x_hat = CNet(x_t, t_f = z_t + z_in[u], c_u, e_u,m)            (eq. 14-22)
    L_rec         |mu~(x_t, f_s(x_in), t) - mu_theta(x_t, t)|^2 = c_x0[t]^2 |f_s(x_in) - x_hat|^2 (eq. 7, 9, 11)
    L(r_u)        L_rec / (p_t T), t ~ p_t ∝ sqrt(E[L_rec^2])                       (eq. 13)
    inference     scores = CNet(x_in, t_f = z_in[u], c_u, e_u,m): one call, no noise   (Alg. 2, eq. 20)
with c_u the user factor of a rank-d_svd truncated SVD of the binary training matrix R and
e_u,m = sum_{i in N_u} e_i,m / sqrt(|N_u| |N_i|) (eq. 14), both fixed (not trained).

Deviations: |.|^2 is averaged over items rather than summed (DiffRec's `mean_flat`; a constant
factor). Eq. 13 divides by p_t; the shared sampler divides by p_t T, so that the weighted loss
has the uniform expectation (a constant factor), and it keeps DiffRec's history (the last 10
losses per step, uniform draws until full) and its 0.001 uniform floor, which the paper leaves
open. The step embedding is the shared sinusoid (cosines first, eq. 15 interleaves sines and
cosines: a fixed permutation of its dimensions, absorbed by W_3).

Decisions (gaps of the paper; the alternatives that matter are switches, see configs/ld4mrec.yaml):
- Modalities are data. The BG blocks run the "text" role first, then the other modalities in
  `dataset.modalities` order; `text_modality` names the modality in the text role (TikTok has
  no text: its preset gives the role to audio, a choice of ours).
- Block order BD -> BG(text) -> BG(image) with LeakyReLU(0.2) between blocks (Fig. 2 omits the
  activations; LeakyReLU is the one the paper names). `w/o BG` = BD -> BD; `w/o BD` =
  act(W [b_u; t_f]) -> BG blocks (DiffRec-style concatenation, as the ablation says).
- BG transform: DF-GAN's channel-wise scale (the cited text2image block, whose authors overlap);
  `bg_transform: matrix` makes W_t a full d x d matrix. BG MLPs and their identity start as DF-GAN.
- Eq. 16 maps b_u, not a concatenation with the time (the text mentions one, the equation does
  not): the time enters through the gate only; `time_in_behaviour: true` concatenates t_f to b_u
  before W_1.
- act in eq. 16-17: tanh (DiffRec's MLP activation), `bd_activation` switch.
- z_in: one learnable vector per user (footnote 1 omits a per-user subscript; "for each user"),
  started at the embedding of step 0 (t_in approximates t_0); `input_time: shared` keeps one
  vector for all users. The training time is t_f = z_t + z_in with z_t the sinusoid of the
  paper's step t = index + 1.
- Loss form: eq. 11 literally, the squared distance of the posterior means, which weighs the x0
  error by c_x0[t]^2 (1 at the first step, small at the last); `loss_form: x0` drops that weight
  (plain x0 regression, under which the importance sampler prefers the noisier steps, as the
  paper's motivation of eq. 13 describes).
- x_t is drawn from the smoothed input (eq. 11's q(x_t | f_s(x_in))); S+ and S- are independent
  Bernoulli(p) draws per entry, redrawn at every step.
- SVD: of the binary R, user factor U sqrt(S) (`svd_scaling`: sqrt | none = U | full = U S);
  rank 64 (not stated; MMRec's embedding size). Modality features enter the BG MLPs raw.
- Eq. 16 says the first layer maps x_0; in training it maps x_t (x_0 is never observed), at
  inference x_in. Alg. 2 draws a noise it never uses: inference draws none.
- No dropout, no weight decay (none is mentioned). T = 5 (DiffRec's Amazon setting, the diffusion
  reference of the schedule); d = 64 (MMRec's embedding size).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import svds
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.diffusion import GaussianSchedule, row_mean_squared_error, timestep_embedding
from mmdiffbench.diffusion.timesteps import ImportanceSampler, uniform_steps
from mmdiffbench.graph import bipartite_adjacency, symmetric_normalize
from mmdiffbench.models.base import Recommender
from mmdiffbench.models.ld4mrec_cnet import CNet
from mmdiffbench.models.phase import Batch, Phase, UserRowBatch

LOSS_FORMS = ("posterior_mean", "x0")
SVD_SCALINGS = {"none": 0.0, "sqrt": 0.5, "full": 1.0}


def soft_target(x: torch.Tensor, p: float, gamma: float) -> torch.Tensor:
    """f_s(x) of eq. 12: a Bernoulli(p) subset of the entries moved gamma towards the other label."""
    if p == 0.0 or gamma == 0.0:
        return x
    chosen = torch.rand_like(x) < p
    return torch.where(chosen, x + gamma * (1.0 - 2.0 * x), x)


def collaborative_signal(train: sp.csr_matrix, rank: int, scaling: str) -> np.ndarray:
    """Users x rank: U S^a of the rank-`rank` truncated SVD of the binary R (a: `svd_scaling`)."""
    if scaling not in SVD_SCALINGS:
        raise ValueError(f"svd_scaling must be one of {sorted(SVD_SCALINGS)}, got {scaling!r}")
    r = sp.csr_matrix(train, dtype=np.float64)
    r.data[:] = 1.0
    rank = min(rank, min(r.shape) - 1)
    start = np.random.default_rng(0).standard_normal(min(r.shape))  # deterministic ARPACK start
    u, s, _ = svds(r, k=rank, v0=start)
    order = np.argsort(-s)
    return (u[:, order] * s[order] ** SVD_SCALINGS[scaling]).astype(np.float32)


def modality_preferences(train: sp.csr_matrix, features: np.ndarray) -> np.ndarray:
    """Users x d_m: e_u = sum_{i in N_u} e_i / sqrt(|N_u| |N_i|) (eq. 14, one LightGCN hop)."""
    n_users = train.shape[0]
    weights = symmetric_normalize(bipartite_adjacency(train))[:n_users, n_users:]
    return np.asarray(weights @ features.astype(np.float32), dtype=np.float32)


def ordered_modalities(names: list[str], text_role: str) -> list[str]:
    """The BG order: the modality in the paper's text role first, then the others."""
    if text_role not in names:
        raise ValueError(f"text_modality {text_role!r} is not among the dataset's modalities {names}")
    return [text_role, *(m for m in names if m != text_role)]


class LD4MRec(Recommender):
    requires_features = True
    collab: torch.Tensor | None  # c_u of every user (a buffer), None without a BD block

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        c = self.config
        if c["loss_form"] not in LOSS_FORMS:
            raise ValueError(f"loss_form must be one of {LOSS_FORMS}, got {c['loss_form']!r}")
        if c["timestep_sampling"] not in ("importance", "uniform"):
            raise ValueError(f"timestep_sampling must be 'importance' or 'uniform', got {c['timestep_sampling']!r}")
        if c["input_time"] not in ("per_user", "shared"):
            raise ValueError(f"input_time must be 'per_user' or 'shared', got {c['input_time']!r}")
        self.rows = sp.csr_matrix(dataset.train, dtype=np.float32)
        self.rows.data[:] = 1.0
        dim = c["hidden_dim"]
        self.modalities = ordered_modalities(dataset.modalities, c["text_modality"]) if c["bg_block"] else []
        for m in self.modalities:  # derived from the data: not saved in checkpoints
            prefs = torch.from_numpy(modality_preferences(self.rows, dataset.features[m]))
            self.register_buffer(f"preference_{m}", prefs, persistent=False)
        uses_bd = c["bd_block"] or not c["bg_block"]  # w/o BG has two BD blocks
        collab = collaborative_signal(self.rows, c["svd_rank"], c["svd_scaling"]) if uses_bd else None
        self.register_buffer("collab", None if collab is None else torch.from_numpy(collab), persistent=False)
        collab_dim = 0 if self.collab is None else self.collab.shape[1]
        self.cnet = CNet(
            self.n_items,
            dim,
            collab_dim,
            [dataset.features[m].shape[1] for m in self.modalities],
            c["bd_activation"],
            c["bg_transform"],
            c["bd_block"],
            c["bg_block"],
            c["time_in_behaviour"],
        )
        z0 = timestep_embedding(torch.zeros(1), dim)
        self.input_time = nn.Parameter(z0.repeat(self.n_users if c["input_time"] == "per_user" else 1, 1))  # z_in
        self.schedule = GaussianSchedule(c["steps"], c["noise_scale"], c["noise_min"], 1.0, None, "ld4mrec")
        self.sampler = (
            ImportanceSampler(c["steps"], c["history"], c["uniform_floor"])
            if c["timestep_sampling"] == "importance"
            else None
        )

    def phases(self) -> list[Phase]:
        return [Phase("cnet", list(self.parameters()), "user_rows", self.loss_parts)]

    def z_in(self, users: torch.Tensor) -> torch.Tensor:
        """The learnable input time t_in of each user (one shared row under `input_time: shared`)."""
        return self.input_time[users] if self.input_time.shape[0] > 1 else self.input_time.expand(len(users), -1)

    def step_time(self, t: torch.Tensor) -> torch.Tensor:
        """z_t of eq. 15 for 0-based indices t (the paper's step t + 1)."""
        return timestep_embedding(t + 1, self.config["hidden_dim"])

    def conditions(self, users: torch.Tensor) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        """(c_u, [e_u,m in BG order]) of a batch of users."""
        collab = None if self.collab is None else self.collab[users]
        return collab, [getattr(self, f"preference_{m}")[users] for m in self.modalities]

    def predict(self, x: torch.Tensor, users: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        """x_hat = CNet(x, t_f, c_u, e_u,m)."""
        collab, preferences = self.conditions(users)
        return self.cnet(x, time, collab, preferences)

    def loss_parts(self, batch: Batch) -> list[dict[str, torch.Tensor]]:
        assert isinstance(batch, UserRowBatch)
        c = self.config
        x_in = batch.dense()
        if self.sampler is None:
            t = uniform_steps(c["steps"], len(x_in), x_in.device)
            divisor = torch.ones(len(x_in), device=x_in.device)
        else:
            t, divisor = self.sampler.sample(len(x_in), x_in.device)
        target = soft_target(x_in, c["soft_p"], c["soft_gamma"])
        x_t = self.schedule.q_sample(target, t)
        x_hat = self.predict(x_t, batch.users, self.step_time(t) + self.z_in(batch.users))
        per_row = row_mean_squared_error(x_hat, target)
        if c["loss_form"] == "posterior_mean":
            per_row = self.schedule.posterior_coef_x0[t].square() * per_row
        if self.sampler is not None:
            self.sampler.record(t, per_row)
        return [{"rec": (per_row / divisor).mean()}]

    @torch.no_grad()
    def score(self, users: torch.Tensor) -> torch.Tensor:
        """Alg. 2: one C-Net call on the un-noised training row at the input time z_in."""
        rows = self.rows[users.cpu().numpy()].toarray()
        x_in = torch.from_numpy(rows).to(users.device, self.input_time.dtype)
        return self.predict(x_in, users, self.z_in(users))
