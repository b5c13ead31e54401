"""The model registry: an explicit name -> class table a newcomer can grep."""

from __future__ import annotations

from mmdiffbench.models.base import BPRBatch, EmbeddingRecommender, Recommender
from mmdiffbench.models.clcrec import CLCRec
from mmdiffbench.models.diffmm import DiffMM
from mmdiffbench.models.diffrec import DiffRec
from mmdiffbench.models.dualgnn import DualGNN
from mmdiffbench.models.grcn import GRCN
from mmdiffbench.models.lightgcn import LightGCN
from mmdiffbench.models.lightgcn_m import LightGCNM
from mmdiffbench.models.mf_bpr import MFBPR
from mmdiffbench.models.mmgcn import MMGCN
from mmdiffbench.models.vbpr import VBPR

MODELS: dict[str, type[Recommender]] = {
    "mf_bpr": MFBPR,
    "lightgcn": LightGCN,
    "diffmm": DiffMM,
    "diffrec": DiffRec,
    "vbpr": VBPR,
    "lightgcn_m": LightGCNM,
    "mmgcn": MMGCN,
    "grcn": GRCN,
    "dualgnn": DualGNN,
    "clcrec": CLCRec,
}


def get_model_class(name: str) -> type[Recommender]:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None


__all__ = ["MODELS", "BPRBatch", "EmbeddingRecommender", "Recommender", "get_model_class"]
