"""The papers' published numbers, shipped as CSV (see paper_tables/README.md for conventions).

They are reference data: reports show them only in columns whose names start with `paper`.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

# experiment -> the DiffMM table it reproduces
PAPER_TABLES = {
    "overall": "diffmm_table1_overall.csv",
    "ablation": "diffmm_table2_ablation.csv",
    "tau_lambda1": "diffmm_table3_tau_lambda1.csv",
    "cl_variants": "diffmm_table4_cl_variants.csv",
    "datasets": "diffmm_table5_dataset_stats.csv",
}
METRIC_NAMES = {"recall": "Recall", "precision": "Precision", "ndcg": "NDCG"}


def load_paper_table(filename: str) -> pd.DataFrame:
    """One packaged CSV; `value` kept as printed, `paper_value` as a float (NaN for a dash)."""
    path = resources.files("mmdiffbench.report") / "paper_tables" / filename
    with path.open() as handle:
        frame = pd.read_csv(handle, dtype={"value": str})
    frame["paper_value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


def paper_results(experiment: str) -> pd.DataFrame:
    """The paper rows of a result experiment, with `metric_key` like `recall@20`; empty if none."""
    if experiment not in PAPER_TABLES or experiment == "datasets":
        return pd.DataFrame(columns=["dataset_key", "model_key", "variant", "metric_key", "paper_value"])
    frame = load_paper_table(PAPER_TABLES[experiment])
    frame["metric_key"] = frame["metric"] + "@" + frame["k"].astype(str)
    return frame


def paper_column(metric_key: str) -> str:
    """`recall@20` -> `paper Recall@20` (the paper's own metric name)."""
    metric, k = metric_key.split("@")
    return f"paper {METRIC_NAMES.get(metric, metric)}@{k}"
