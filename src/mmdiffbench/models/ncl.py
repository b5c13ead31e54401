"""NCL: neighbourhood-enriched contrastive learning (structural and prototype neighbours).

Reference: Z. Lin, C. Tian, Y. Hou, W. X. Zhao. "Improving Graph Collaborative Filtering with
Neighborhood-enriched Contrastive Learning", WWW 2022.
Reference code read: RUCAIBox/NCL @0aaf7c8, ncl.py, trainer.py (E-step before every epoch,
prototype term off during warm-up), properties/NCL.yaml, properties/overall.yaml.

Equations as coded (LightGCN encoder on A = D^-1/2 [[0, R], [R^T, 0]] D^-1/2, E^(k) = A^k E^(0)):
    e = 1/(L+1) sum_{k=0..L} E^(k);  score = <e_u, e_i>
    structural (eq. 5-7): sum over the batch's users u of
        -log( exp(cos(E^(2h)_u, E^(0)_u)/tau) / sum_{v in users} exp(cos(E^(2h)_u, E^(0)_v)/tau) )
      plus alpha times the same over the batch's positive items (denominator: all items)
    prototype (eq. 9-11): sum over the batch's users u of
        -log( exp(cos(E^(0)_u, c_{k(u)})/tau) / sum_{j=1..K} exp(cos(E^(0)_u, c_j)/tau) )
      plus the same for the positive items; c = L2-normalised k-means centroids of the detached
      E^(0) rows (users and items clustered separately), k(u) = the nearest raw centroid
    loss = BPR(e) + reg * (||e0_u|| + ||e0_i+|| + ||e0_i-||) / B
         + ssl_reg * structural + proto_reg * prototype   (prototype only from epoch `warm_up` on)
Both InfoNCE forms come from models/contrastive.py (`info_nce`, `info_nce_at`); the sums over the
batch are the mean times B, as in the reference (which sums; hence its tiny weights).

The E-step (k-means) runs before every epoch, warm-up included (trainer.py, m_step = 1).
k-means here: K distinct rows drawn uniformly as initial centroids, then 25 Lloyd iterations
(assign to the nearest centroid in L2, move each centroid to its members' mean), then a final
assignment: faiss.Kmeans' defaults (niter 25, one run, random initial rows).

Known deviations: k-means in torch instead of faiss (faiss seeds its own generator, subsamples
above 256 points per centroid and splits large clusters into empty ones; here an empty cluster
keeps its centroid, and the draws come from torch's generator). BPR is -log sigmoid (RecBole
adds 1e-10 inside the log).

Decisions: the epoch counter that switches the prototype term on is a persistent buffer, so a
resumed run continues the warm-up where it stopped. `contrastive_bf16` (ours, `cpu` by default):
the structural InfoNCE's products in bfloat16 on CPU, a speed switch checked against float32
(benchmarks/README.md); the prototype term stays float32.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import normalized_adjacency
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.contrastive import info_nce, info_nce_at
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.losses import bpr_loss, embedding_norms
from mmdiffbench.models.phase import Phase
from mmdiffbench.precision import check_mode, compute_dtype

#: rows per block of distances (2,048 rows x 1,000 centroids: 8 MB, read back by argmin from cache)
ASSIGNMENT_ROWS = 2048


def nearest_centroid(x: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Index of the L2-nearest centroid of each row (||c||^2 - 2 x.c; ||x||^2 does not change the argmin),
    one fused product per block of rows: k-means is most of an NCL epoch on TikTok."""
    squared = (centroids * centroids).sum(1)[None, :]
    blocks = [torch.addmm(squared, part, centroids.T, alpha=-2.0).argmin(dim=1) for part in x.split(ASSIGNMENT_ROWS)]
    return torch.cat(blocks)


def kmeans(x: torch.Tensor, k: int, iterations: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(k x d centroids, assignment of each row) by Lloyd's algorithm from k random distinct rows."""
    if k > len(x):
        raise ValueError(f"k-means with {k} clusters needs at least {k} points, got {len(x)}")
    centroids = x[torch.randperm(len(x))[:k].to(x.device)].clone()
    for _ in range(iterations):
        assignment = nearest_centroid(x, centroids)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, x)
        counts = torch.bincount(assignment, minlength=k)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None].to(x.dtype)
    return centroids, nearest_centroid(x, centroids)


class NCL(GraphRecommender):
    #: per side (users, items): L2-normalised centroids and each row's cluster, from the last E-step
    prototypes: tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None
    epochs_started: torch.Tensor

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        check_mode("contrastive_bf16", config["contrastive_bf16"])
        if int(config["num_clusters"]) > min(self.n_users, self.n_items):
            raise ValueError(
                f"num_clusters {config['num_clusters']} exceeds the {min(self.n_users, self.n_items)} users or items "
                "of this dataset (k-means needs a point per cluster)"
            )
        dim = int(config["embedding_dim"])
        self.n_layers = int(config["n_layers"])
        self.context_layer = 2 * int(config["hyper_layers"])
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)
        self.register_buffer("epochs_started", torch.zeros((), dtype=torch.long))

    def phases(self) -> list[Phase]:
        """The default BPR phase, with the E-step (k-means) before each epoch's first step."""
        return [Phase("recommender", list(self.parameters()), "bpr", self._bpr_loss_parts, before=self.e_step)]

    def e_step(self) -> None:
        k, iterations = int(self.config["num_clusters"]), int(self.config["kmeans_iterations"])
        sides = []
        for table in (self.user_embedding, self.item_embedding):
            centroids, assignment = kmeans(table.detach(), k, iterations)
            sides.append((F.normalize(centroids, dim=1), assignment))
        self.prototypes = (sides[0], sides[1])
        self.epochs_started += 1

    def layers(self) -> list[torch.Tensor]:
        """E^(0), ..., E^(max(L, 2h)) over users and items."""
        out = [torch.cat([self.user_embedding, self.item_embedding])]
        for _ in range(max(self.n_layers, self.context_layer)):
            out.append(self.adj_op @ out[-1])
        return out

    def _readout(self, layers: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        out = torch.stack(layers[: self.n_layers + 1]).mean(0)
        return out[: self.n_users], out[self.n_users :]

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._readout(self.layers())

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        layers = self.layers()
        users, items = self._readout(layers)
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
        size, nu, tau = len(batch.users), self.n_users, float(self.config["tau"])
        center, context = layers[0], layers[self.context_layer]
        dtype = compute_dtype(self.config["contrastive_bf16"], center.device)
        structural = info_nce(context[:nu], center[:nu], batch.users, tau, dtype) + self.config["alpha"] * info_nce(
            context[nu:], center[nu:], batch.pos, tau, dtype
        )
        reg = embedding_norms(
            size, self.user_embedding[batch.users], self.item_embedding[batch.pos], self.item_embedding[batch.neg]
        )
        terms = {
            "bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)),
            "reg": self.config["reg_weight"] * reg,
            "structural": self.config["ssl_reg"] * structural * size,
        }
        terms["prototype"] = torch.zeros((), device=u.device)  # warm-up: logged as 0 so history keeps its columns
        if int(self.epochs_started) > int(self.config["warm_up"]):
            assert self.prototypes is not None
            (user_c, user_k), (item_c, item_k) = self.prototypes
            prototype = info_nce_at(center[:nu][batch.users], user_c, user_k[batch.users], tau) + info_nce_at(
                center[nu:][batch.pos], item_c, item_k[batch.pos], tau
            )
            terms["prototype"] = self.config["proto_reg"] * prototype * size
        return terms
