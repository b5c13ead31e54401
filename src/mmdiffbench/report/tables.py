"""Tables (paper Tables 1-5) as CSV and PNG: ours (mean ± std over seeds, both protocols)
beside the paper's numbers in columns named `paper <Metric>@K`.

CSV columns of a result table: dataset, model, variant, label (the paper's row label when it
has one), status (`ok` or `left out: <reason>`), n_seeds, then per metric and protocol
`<metric> mean [<protocol>]` and `<metric> std [<protocol>]`, then `paper <Metric>@K`.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from mmdiffbench.plan import ExperimentPlan
from mmdiffbench.report.collect import PROTOCOLS, mean_pm_std, summarize, tidy_metrics
from mmdiffbench.report.paper import PAPER_TABLES, load_paper_table, paper_column, paper_results

TABLE_METRICS = {
    "overall": ["recall@20", "precision@20", "ndcg@20"],
    "ablation": ["recall@20", "ndcg@20"],
    "tau_lambda1": ["recall@20", "ndcg@20"],
    "cl_variants": ["recall@20", "ndcg@20"],
}
TITLES = {
    "overall": "Table 1: overall performance",
    "ablation": "Table 2: ablation of DiffMM",
    "tau_lambda1": "Table 3: tau and lambda_1",
    "cl_variants": "Table 4: contrastive-learning variants",
    "datasets": "Table 5: dataset statistics",
}


def mean_col(metric: str, protocol: str) -> str:
    return f"{metric} mean [{protocol}]"


def std_col(metric: str, protocol: str) -> str:
    return f"{metric} std [{protocol}]"


def result_table(plan: ExperimentPlan, tidy: pd.DataFrame | None = None) -> pd.DataFrame:
    """The experiment's table: one row per cell (ran or left out), in the plan's order."""
    metrics = TABLE_METRICS[plan.name]
    if tidy is None:
        tidy = tidy_metrics(plan.metrics_paths())
    summary = summarize(tidy)
    paper = paper_results(plan.name)
    rows = []
    entries = [(c.dataset, c.model, c.variant, "ok") for c in plan.cells]
    entries += [(s.dataset, s.model, s.variant, f"left out: {s.reason}") for s in plan.skipped]
    for dataset, model, variant, status in entries:
        row: dict[str, object] = {"dataset": dataset, "model": model, "variant": variant}
        mine = paper[(paper.dataset_key == dataset) & (paper.model_key == model) & (paper.variant == variant)]
        row["label"] = mine["label_as_printed"].iloc[0] if len(mine) else variant
        row["status"] = status
        sel = summary[(summary.dataset == dataset) & (summary.model == model) & (summary.variant == variant)]
        row["n_seeds"] = int(sel["n_seeds"].max()) if len(sel) else 0
        for metric in metrics:
            for protocol in PROTOCOLS:
                hit = sel[(sel.metric == metric) & (sel.protocol == protocol)]
                row[mean_col(metric, protocol)] = float(hit["mean"].iloc[0]) if len(hit) else float("nan")
                row[std_col(metric, protocol)] = float(hit["std"].iloc[0]) if len(hit) else float("nan")
        for metric in metrics:
            hit = mine[mine.metric_key == metric]
            row[paper_column(metric)] = float(hit["paper_value"].iloc[0]) if len(hit) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def display_frame(plan: ExperimentPlan, table: pd.DataFrame) -> pd.DataFrame:
    """Strings for the PNG: `mean ± std` per metric and protocol, then the paper's values."""
    if plan.name == "datasets":
        return table.astype(str).replace({"nan": ""})
    metrics = TABLE_METRICS[plan.name]
    shown = pd.DataFrame({"dataset": table["dataset"], "model": table["model"], "variant": table["label"]})
    short = {"val_selected": "val-sel.", "best_test_epoch": "best-test"}
    for metric in metrics:
        for protocol in PROTOCOLS:
            shown[f"{metric}\n{short[protocol]}"] = [
                mean_pm_std(m, s) if status == "ok" else "left out"
                for m, s, status in zip(
                    table[mean_col(metric, protocol)], table[std_col(metric, protocol)], table["status"]
                )
            ]
    for metric in metrics:
        col = paper_column(metric)
        shown[col.replace(" ", "\n", 1)] = [f"{v:.4f}" if pd.notna(v) else "" for v in table[col]]
    return shown


def datasets_table(plan: ExperimentPlan) -> pd.DataFrame:
    """Paper Table 5 layout from the data rule's stats.json, with the paper's numbers beside."""
    paper = load_paper_table(PAPER_TABLES["datasets"])
    rows = []
    for dataset, info in plan.datasets.items():
        stats_path = Path(info["stats"])
        stats = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
        row: dict[str, object] = {"dataset": dataset, "label": info["label"]}
        for key in (
            "users",
            "items",
            "train_interactions",
            "val_interactions",
            "test_interactions",
            "interactions",
            "sparsity_percent",
            "users_without_train",
        ):
            row[key] = stats.get(key)
        row["modalities"] = ", ".join(f"{m} {d}-d" for m, d in (stats.get("modalities") or {}).items()) or "none"
        mine = paper[paper.dataset_key == dataset]
        for quantity, column in (
            ("users", "paper Users"),
            ("items", "paper Items"),
            ("interactions", "paper Interactions"),
            ("sparsity", "paper Sparsity"),
        ):
            hit = mine[(mine.quantity == quantity)]
            row[column] = hit["value_as_printed"].iloc[0] if len(hit) else ""
        dims = mine[mine.quantity == "feature_dim"]
        row["paper features"] = ", ".join(f"{m} {v}-d" for m, v in zip(dims["modality"], dims["value"]))
        rows.append(row)
    return pd.DataFrame(rows)


def render_png(frame: pd.DataFrame, title: str, path: Path, footnote: str = "") -> None:
    sns.set_theme(style="white", font_scale=0.8)
    n_rows, n_cols = frame.shape
    width = max(6.0, 1.25 * n_cols)
    height = 0.5 + 0.32 * (n_rows + 2)
    fig, ax = plt.subplots(figsize=(width, height))
    ax.axis("off")
    ax.set_title(title, loc="left", fontweight="bold")
    if n_rows:
        cell = ax.table(
            cellText=frame.values.tolist(), colLabels=list(frame.columns), bbox=[0, 0.08, 1, 0.92], cellLoc="center"
        )
        cell.auto_set_font_size(False)
        cell.set_fontsize(7)
        for (r, _c), item in cell.get_celld().items():
            if r == 0:
                item.set_facecolor("#dde6f0")
    else:
        ax.text(0.0, 0.5, "no cells at this scale", transform=ax.transAxes)
    if footnote:
        ax.text(0.0, 0.0, footnote, fontsize=6, va="top", transform=ax.transAxes)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def write_table(plan: ExperimentPlan, out_dir: Path | str) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = datasets_table(plan) if plan.name == "datasets" else result_table(plan)
    csv_path, png_path = out_dir / f"{plan.name}.csv", out_dir / f"{plan.name}.png"
    table.to_csv(csv_path, index=False, float_format="%.6g")
    notes = [plan.scope_line()]
    if plan.name != "datasets":
        notes.append(
            "val-sel. = validation-selected epoch; best-test = epoch with the best test Recall@20 (the paper's protocol)"
        )
    notes += plan.left_out_lines(8)
    shown = display_frame(plan, table)
    render_png(shown, f"{TITLES[plan.name]} (ours vs paper)", png_path, "\n".join(notes))
    return csv_path, png_path
