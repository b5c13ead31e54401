"""The papers' published numbers, shipped as CSV (see paper_tables/README.md for conventions).

They are reference data: reports show them only in columns whose names start with `paper`.
Which CSV an experiment is compared with is the registry's `paper_csv`.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import pandas as pd

from mmdiffbench.experiments import RESULT_KINDS, Experiment, paper_info
from mmdiffbench.report.labels import metric_label
from mmdiffbench.workflow_datasets import TRANSFORMS

MODALITY_NAMES = {"visual": "image", "acoustic": "audio", "textual": "text"}  # paper -> our file names
RESULT_COLUMNS = [  # a result CSV's columns (paper_tables/README.md), then the two paper_results adds
    *("paper", "table", "dataset", "dataset_key", "setting", "model", "model_key", "variant", "params"),
    *("label_as_printed", "metric", "k", "value", "emphasis", "note", "paper_value", "metric_key"),
]


def read_packaged_csv(filename: str) -> pd.DataFrame:
    """One CSV of paper_tables/, a `value` column kept as printed (a string)."""
    path = resources.files("mmdiffbench.report") / "paper_tables" / filename
    with path.open() as handle:
        return pd.read_csv(handle, dtype={"value": str})


def load_paper_table(filename: str) -> pd.DataFrame:
    """One packaged CSV of numbers; `value` kept as printed, `paper_value` as a float (NaN for a dash)."""
    frame = read_packaged_csv(filename)
    frame["paper_value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


def paper_results(entry: Experiment, datasets: dict[str, dict[str, Any]] | None = None) -> pd.DataFrame:
    """The paper rows of a result experiment, with `metric_key` like `recall@20`; empty if none.

    With a plan's `datasets`, `dataset_key` names our dataset: a row of a setting one of our
    transforms reproduces (LD4MRec's `noisy_training`) belongs to the plan's datasets derived
    from the paper's dataset by that transform (one row each; `<key>+<transform>` when there is
    none), never to the clean source; every other row keeps the paper's key.
    """
    if entry.kind not in RESULT_KINDS or not entry.paper_csv:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    frame = load_paper_table(entry.paper_csv)
    frame["metric_key"] = frame["metric"] + "@" + frame["k"].astype(str)
    if datasets is None:
        return frame
    transform = frame["setting"].map({setting: name for name, setting in TRANSFORMS.items()})
    parts = [frame[transform.isna()]]
    for (key, name), rows in frame[transform.notna()].groupby([frame["dataset_key"], transform], sort=False):
        ours = [d for d, info in datasets.items() if (info.get("derived_from"), info.get("transform")) == (key, name)]
        parts += [rows.assign(dataset_key=d) for d in ours or [f"{key}+{name}"]]
    return pd.concat(parts, ignore_index=True)


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
