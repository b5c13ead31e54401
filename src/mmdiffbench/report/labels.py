"""What readers see instead of code names, shared by tables, figures and reproduction.md.

Models by their declared label (`declare.label` of the model YAML: `lightgcn` -> LightGCN),
metrics as the papers print them (`recall@20` -> Recall@20), sweep axes by the papers' symbols,
numbers of the dataset statistics rounded, and the SMOKE TEST line of a smoke-scale output.
"""

from __future__ import annotations

import math

from mmdiffbench.config import declaration
from mmdiffbench.models import MODELS
from mmdiffbench.plan_types import ExperimentPlan

METRIC_NAMES = {"recall": "Recall", "precision": "Precision", "ndcg": "NDCG"}
AXIS_NAMES = {  # sweep axes (library config keys) -> the papers' symbols
    "lambda0": "λ₀ (MSI weight)",
    "lambda1": "λ₁ (InfoNCE weight)",
    "omega": "ω (weight of Norm(H₀))",
    "tau": "τ (temperature)",
    "fusion_ratio": "fusion ratio",
}
#: the first line under a smoke-scale output's title
SMOKE_TITLE = "SMOKE TEST: runs cut short, not a reproduction"
#: the status of a cell that ran at a smoke scale, wherever it stands beside a paper value
SMOKE_STATUS = "smoke run: not compared"


def model_label(model: str) -> str:
    """The model's declared label; a model not implemented here keeps its key."""
    return str(declaration(model)["label"]) if model in MODELS else model


def metric_label(metric: str) -> str:
    """`recall@20` -> `Recall@20`; a name without `@K` is only capitalised as the papers do."""
    name, _, k = metric.partition("@")
    return f"{METRIC_NAMES.get(name, name)}@{k}" if k else METRIC_NAMES.get(name, name)


def axis_label(axis: str) -> str:
    return AXIS_NAMES.get(axis, axis.replace("_", " "))


def titled(title: str, plan: ExperimentPlan) -> str:
    """The output's title, with the SMOKE TEST line under it at a smoke scale."""
    return f"{title}\n{SMOKE_TITLE}" if plan.smoke else title


def title_color(plan: ExperimentPlan) -> str:
    return "#b00000" if plan.smoke else "black"


def count(value: float | None) -> str:
    """An integer statistic with thousands separators ('' when unknown)."""
    return "" if value is None or math.isnan(value) else f"{int(value):,}"


def percent(value: float | None, digits: int = 3) -> str:
    """A percentage as the papers print sparsity (99.904%): three decimals ('' when unknown)."""
    return "" if value is None or math.isnan(value) else f"{value:.{digits}f}%"
