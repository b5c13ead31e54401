"""The model registry: an explicit name -> class table a newcomer can grep."""

from __future__ import annotations

from mmdiffbench.models.base import BPRBatch, EmbeddingRecommender, Recommender
from mmdiffbench.models.diffmm import DiffMM
from mmdiffbench.models.diffrec import DiffRec
from mmdiffbench.models.hccf import HCCF
from mmdiffbench.models.lightgcn import LightGCN
from mmdiffbench.models.mf_bpr import MFBPR
from mmdiffbench.models.ncl import NCL
from mmdiffbench.models.ngcf import NGCF
from mmdiffbench.models.sgl import SGL
from mmdiffbench.models.simgcl import SimGCL

MODELS: dict[str, type[Recommender]] = {
    "mf_bpr": MFBPR,
    "lightgcn": LightGCN,
    "diffmm": DiffMM,
    "diffrec": DiffRec,
    "simgcl": SimGCL,
    "sgl": SGL,
    "ngcf": NGCF,
    "ncl": NCL,
    "hccf": HCCF,
}


def get_model_class(name: str) -> type[Recommender]:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None


__all__ = ["MODELS", "BPRBatch", "EmbeddingRecommender", "Recommender", "get_model_class"]
