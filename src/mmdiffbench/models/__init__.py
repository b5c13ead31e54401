"""The model registry: an explicit name -> "module:Class" table a newcomer can grep.

Lazy on purpose: planning the workflow and writing reports need the names (and each model's
YAML declaration, mmdiffbench.config.declaration) but must not import torch or a model module;
`get_model_class` imports the one model asked for.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmdiffbench.models.base import Recommender

MODELS: dict[str, str] = {
    "mf_bpr": "mmdiffbench.models.mf_bpr:MFBPR",
    "lightgcn": "mmdiffbench.models.lightgcn:LightGCN",
    "diffmm": "mmdiffbench.models.diffmm:DiffMM",
    "diffrec": "mmdiffbench.models.diffrec:DiffRec",
    "ld4mrec": "mmdiffbench.models.ld4mrec:LD4MRec",
    "diffcl": "mmdiffbench.models.diffcl:DiffCL",
    "vbpr": "mmdiffbench.models.vbpr:VBPR",
    "lightgcn_m": "mmdiffbench.models.lightgcn_m:LightGCNM",
    "mmgcn": "mmdiffbench.models.mmgcn:MMGCN",
    "grcn": "mmdiffbench.models.grcn:GRCN",
    "dualgnn": "mmdiffbench.models.dualgnn:DualGNN",
    "clcrec": "mmdiffbench.models.clcrec:CLCRec",
    "freedom": "mmdiffbench.models.freedom:Freedom",
    "lattice": "mmdiffbench.models.lattice:Lattice",
    "bm3": "mmdiffbench.models.bm3:BM3",
    "mgcn": "mmdiffbench.models.mgcn:MGCN",
    "slmrec": "mmdiffbench.models.slmrec:SLMRec",
    "mmgcl": "mmdiffbench.models.mmgcl:MMGCL",
    "simgcl": "mmdiffbench.models.simgcl:SimGCL",
    "sgl": "mmdiffbench.models.sgl:SGL",
    "ngcf": "mmdiffbench.models.ngcf:NGCF",
    "ncl": "mmdiffbench.models.ncl:NCL",
    "hccf": "mmdiffbench.models.hccf:HCCF",
}


def get_model_class(name: str) -> type[Recommender]:
    try:
        module, _, attribute = MODELS[name].partition(":")
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None
    return getattr(import_module(module), attribute)


__all__ = ["MODELS", "get_model_class"]
