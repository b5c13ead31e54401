"""SLMRec: per-modality graph branches fused by concatenation, an in-batch InfoNCE main loss and
the fine-and-coarse (FAC) self-supervised task.

Reference: Z. Tao, X. Liu, Y. Xia, X. Wang, L. Yang, X. Huang, T.-S. Chua. "Self-supervised
Learning for Multimedia Recommendation", IEEE TMM 2022. Reference implementations read:
enoche/MMRec @a75d89a src/models/slmrec.py + src/configs/model/SLMRec.yaml (image + text), and
the authors' zltao/SLMRec conf/SLMRec.properties (the defaults) and run.sh.

As coded (modalities in FAC order m_1..m_M: image, audio, text, then any other; x_m the
L2-normalised fixed features; E the ID tables; A = D^-1/2 A D^-1/2, no self-loops):
    branch b in {id, m_1..m_M}: items_b = E_i (id) or W_m x_m + c_m;
        [U_b; I_b] = mean_{l=0..L} A^l [E_u; items_b]     (every branch starts from the same E_u)
    U = F_u [U_id, U_m1, ..., U_mM],  I = F_i [I_id, I_m1, ..., I_mM]   (concat, then Linear)
    main = InfoNCE_batch(U_u, I_i; cosine, temperature temp)    (the batch's users, positives)
    FAC over the batch's positives i:  c_1 = g_1(I_id,i),  c_k = g_k(c_{k-1});
        ssl = sum_k InfoNCE_batch(c_k, h_k(I_mk,i); inner product, temperature ssl_temp)
        g_k, h_k map to d, except the last stage to d / 2 (the reference's 64 -> 32)
    loss = main + ssl_alpha * ssl;  L2 through the optimiser's weight decay (reference: Adam
    weight_decay 1e-4, no loss term);  score = <U_u, I_i> (the reference's sigmoid of it ranks
    the same)

Known deviations: the reference keeps the paper's visual -> acoustic -> textual hierarchy with
its acoustic loss commented out (MMRec has no audio), so its text stage is two Linear maps in a
row; here each stage is one Linear map (the same family of affine maps) and every modality the
data has gets its own stage and loss. Its negatives are ignored, as the reference's.

Decisions: the hierarchy order is image, audio, text (the paper's v, a, t), other modalities
after them in name order.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import normalized_adjacency
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.contrastive import paired_info_nce
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.item_graphs import feature_tables
from mmdiffbench.models.modal_branches import Branch, ConcatBranches, xavier_linear
from mmdiffbench.tensors import tensor_sum

FAC_ORDER = ("image", "audio", "text")


def fac_ordered(names: list[str]) -> list[str]:
    known = [m for m in FAC_ORDER if m in names]
    return known + sorted(set(names) - set(known))


class SLMRec(GraphRecommender):
    requires_features = True

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        dim = int(self.config["embedding_dim"])
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        tables = feature_tables(dataset)
        self.modalities = fac_ordered(list(tables))
        features = {m: tables[m] for m in self.modalities}
        self.encoder = ConcatBranches(features, dim, int(self.config["n_layers"]))
        sizes = [dim] * (len(self.modalities) - 1) + [dim // 2]
        self.chain = nn.ModuleList(xavier_linear(n_in, n_out) for n_in, n_out in zip([dim, *sizes], sizes))
        self.heads = nn.ModuleDict({m: xavier_linear(dim, n) for m, n in zip(self.modalities, sizes, strict=True)})
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)

    def branches(self) -> list[Branch]:
        """(U_b, I_b) of the id branch, then of each modality in FAC order, all on A."""
        graphs = [self.adj_op] * (len(self.modalities) + 1)
        return self.encoder.propagate(graphs, self.user_embedding, self.item_embedding)

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder.fuse(self.branches())

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        branches = self.branches()
        users, items = self.encoder.fuse(branches)
        main = paired_info_nce(users[batch.users], items[batch.pos], float(self.config["temp"]))
        chained = branches[0][1][batch.pos]
        fac = []
        for k, m in enumerate(self.modalities):
            chained = self.chain[k](chained)
            target = self.heads[m](branches[k + 1][1][batch.pos])
            fac.append(paired_info_nce(chained, target, float(self.config["ssl_temp"]), normalize=False))
        return {"main": main, "ssl": self.config["ssl_alpha"] * tensor_sum(fac)}
