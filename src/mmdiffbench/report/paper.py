"""The papers' published numbers, shipped as CSV (see paper_tables/README.md for conventions).

They are reference data: reports show them only in columns whose names start with `paper`.
Which CSV an experiment is compared with is the registry's `paper_csv`.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from mmdiffbench.experiments import RESULT_KINDS, Experiment, paper_info
from mmdiffbench.report.labels import metric_label

MODALITY_NAMES = {"visual": "image", "acoustic": "audio", "textual": "text"}  # paper -> our file names
RESULT_COLUMNS = ["dataset_key", "model_key", "variant", "metric_key", "paper_value", "label_as_printed"]


def load_paper_table(filename: str) -> pd.DataFrame:
    """One packaged CSV; `value` kept as printed, `paper_value` as a float (NaN for a dash)."""
    path = resources.files("mmdiffbench.report") / "paper_tables" / filename
    with path.open() as handle:
        frame = pd.read_csv(handle, dtype={"value": str})
    frame["paper_value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


def paper_results(entry: Experiment) -> pd.DataFrame:
    """The paper rows of a result experiment, with `metric_key` like `recall@20`; empty if none."""
    if entry.kind not in RESULT_KINDS or not entry.paper_csv:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    frame = load_paper_table(entry.paper_csv)
    frame["metric_key"] = frame["metric"] + "@" + frame["k"].astype(str)
    return frame


def paper_modalities(paper: str, dataset: str) -> list[str]:
    """The modalities the paper's dataset statistics give for `dataset`, in our file names."""
    filename = paper_info(paper).get("dataset_stats")
    if not filename:
        return []
    stats = load_paper_table(filename)
    dims = stats[(stats.dataset_key == dataset) & (stats.quantity == "feature_dim")]
    return [MODALITY_NAMES.get(m, m) for m in dims["modality"]]


def paper_column(metric_key: str) -> str:
    """`recall@20` -> `paper Recall@20` (the paper's own metric name)."""
    return f"paper {metric_label(metric_key)}"
