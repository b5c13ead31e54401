"""Tables of the registry (kind `table` and `dataset_stats`) as CSV and PNG: ours (mean ± std over
seeds, both epoch selections) beside the paper's numbers in columns named `paper <Metric>@K`.

CSV columns of a result table: dataset, model, variant, label (the paper's row label when it
has one), status (`ok` or `left out: <reason>`), note (how the row's setting differs from the
paper's), n_seeds, then per metric and protocol `<metric> mean [<protocol>]` and
`<metric> std [<protocol>]`, then `paper <Metric>@K`, then `paper source` (the published tables
that print the same numbers as the paper's row, report/provenance.py). A validation grid (kind
`tuning`) is laid out by mmdiffbench.tuning.grid: validation scores per cell, the chosen cell, test apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.transforms import Bbox

from mmdiffbench.config import declaration
from mmdiffbench.experiments import Experiment, experiment
from mmdiffbench.models import MODELS
from mmdiffbench.plan_types import ExperimentPlan
from mmdiffbench.report.collect import PROTOCOLS, mean_pm_std, summarize, tidy_metrics
from mmdiffbench.report.notes import row_note
from mmdiffbench.report.paper import load_paper_table, paper_column, paper_results
from mmdiffbench.report.provenance import provenance_lines, row_sources
from mmdiffbench.tuning.grid import choice_line, display_grid, grid_table

STATS_KEYS = (
    "users",
    "items",
    "train_interactions",
    "val_interactions",
    "test_interactions",
    "interactions",
    "sparsity_percent",
    "users_without_train",
)
SHORT = {"val_selected": "val-sel.", "best_test_epoch": "best-test"}
SOURCE_COLUMN = "paper source"  # other published tables printing the paper's numbers (report/provenance.py)


def mean_col(metric: str, protocol: str) -> str:
    return f"{metric} mean [{protocol}]"


def std_col(metric: str, protocol: str) -> str:
    return f"{metric} std [{protocol}]"


def result_table(plan: ExperimentPlan, tidy: pd.DataFrame | None = None) -> pd.DataFrame:
    """The experiment's table: one row per cell (ran or left out), in the plan's order."""
    entry = experiment(plan.name)
    if tidy is None:
        tidy = tidy_metrics(plan.cell_metrics())
    summary = summarize(tidy)
    paper = paper_results(entry, plan.datasets)
    sources = row_sources(paper)
    rows = []
    entries = [(c, "ok") for c in plan.cells] + [(s, f"left out: {s.reason}") for s in plan.skipped]
    for cell, status in entries:
        dataset, model, variant = cell.dataset, cell.model, cell.variant
        row: dict[str, object] = {"dataset": dataset, "model": model, "variant": variant}
        mine = paper[(paper.dataset_key == dataset) & (paper.model_key == model) & (paper.variant == cell.paper_key)]
        row["label"] = cell.label or (mine["label_as_printed"].iloc[0] if len(mine) else variant)
        row["status"] = status
        ran = status == "ok"  # the modality note is for rows compared with the paper's numbers
        stats = plan.datasets[dataset]["stats"]
        row["note"] = row_note(cell.note, entry.paper, plan.paper_dataset(dataset), stats) if ran else cell.note
        sel = summary[(summary.dataset == dataset) & (summary.model == model) & (summary.variant == variant)]
        row["n_seeds"] = int(sel["n_seeds"].max()) if len(sel) else 0
        for metric in entry.metrics:
            for protocol in PROTOCOLS:
                hit = sel[(sel.metric == metric) & (sel.protocol == protocol)]
                row[mean_col(metric, protocol)] = float(hit["mean"].iloc[0]) if len(hit) else float("nan")
                row[std_col(metric, protocol)] = float(hit["std"].iloc[0]) if len(hit) else float("nan")
        for metric in paper_metrics(entry):
            hit = mine[mine.metric_key == metric]
            row[paper_column(metric)] = float(hit["paper_value"].iloc[0]) if len(hit) else float("nan")
        row[SOURCE_COLUMN] = sources.get((dataset, model, cell.paper_key), "")
        rows.append(row)
    columns = ["dataset", "model", "variant", "label", "status", "note", "n_seeds"]
    columns += [col(m, p) for m in entry.metrics for p in PROTOCOLS for col in (mean_col, std_col)]
    return pd.DataFrame(rows, columns=columns + [paper_column(m) for m in paper_metrics(entry)] + [SOURCE_COLUMN])


def paper_metrics(entry: Experiment) -> tuple[str, ...]:
    """The metrics with a paper column: none for a table no paper prints."""
    return entry.metrics if entry.paper_csv else ()


def display_frame(entry: Experiment, table: pd.DataFrame, datasets: dict[str, dict]) -> pd.DataFrame:
    """Strings for the PNG: datasets under their labels (the plan's), `mean ± std` per metric and
    protocol, then the paper's values."""
    if entry.kind == "dataset_stats":
        return table.astype(str).replace({"nan": "", "None": ""})
    labels = {m: declaration(m)["label"] if m in MODELS else m for m in set(table["model"])}  # names as printed
    shown = pd.DataFrame(
        {
            "dataset": table["dataset"].map(lambda d: datasets[d]["label"]),
            "model": table["model"].map(labels),
            "variant": table["label"],
        }
    )
    for metric in entry.metrics:
        for protocol in PROTOCOLS:
            shown[f"{metric}\n{SHORT[protocol]}"] = [
                mean_pm_std(m, s) if status == "ok" else "left out"
                for m, s, status in zip(
                    table[mean_col(metric, protocol)], table[std_col(metric, protocol)], table["status"]
                )
            ]
    for metric in paper_metrics(entry):
        col = paper_column(metric)
        shown[col.replace(" ", "\n", 1)] = [f"{v:.4f}" if pd.notna(v) else "" for v in table[col]]
    shown["note"] = ["*" if note else "" for note in table["note"]]
    return shown


def datasets_table(plan: ExperimentPlan) -> pd.DataFrame:
    """The paper's statistics layout from the data rule's stats.json, with the paper's numbers beside."""
    paper = load_paper_table(experiment(plan.name).paper_table)
    rows = []
    for dataset, info in plan.datasets.items():
        stats_path = Path(info["stats"])
        stats = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
        row: dict[str, object] = {"dataset": dataset, "label": info["label"]}
        row.update({key: stats.get(key) for key in STATS_KEYS})
        row["modalities"] = ", ".join(f"{m} {d}-d" for m, d in (stats.get("modalities") or {}).items()) or "none"
        mine = paper[paper.dataset_key == dataset]
        for quantity in ("users", "items", "interactions", "sparsity"):
            hit = mine[(mine.quantity == quantity)]
            row[f"paper {quantity.title()}"] = hit["value_as_printed"].iloc[0] if len(hit) else ""
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
            cellText=frame.values.tolist(),
            colLabels=list(frame.columns),
            bbox=Bbox.from_bounds(0, 0.08, 1, 0.92),
            cellLoc="center",
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
    entry = experiment(plan.name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / f"{plan.name}.csv", out_dir / f"{plan.name}.png"
    if entry.kind == "tuning":
        table = grid_table(plan)
        table.to_csv(csv_path, index=False, float_format="%.6g")
        notes = [plan.scope_line(), choice_line(entry), entry.note, *plan.left_out_lines(8)]
        render_png(display_grid(entry, table), entry.title, png_path, "\n".join(notes))
        return csv_path, png_path
    table = datasets_table(plan) if entry.kind == "dataset_stats" else result_table(plan)
    table.to_csv(csv_path, index=False, float_format="%.6g")
    notes = [plan.scope_line()]
    if entry.kind != "dataset_stats":
        notes.append(
            f"val-sel. = {PROTOCOLS['val_selected']}; best-test = epoch with the best test Recall@20 (the paper's "
            "epoch selection only: our masking, our undropped graphs; [official_eval] rows evaluate as the official code)"
        )
        notes += sorted({f"* {note}" for note in table["note"] if note})
        notes += [f"paper's numbers: {line}" for line in provenance_lines(paper_results(entry))]
    notes += [entry.note] if entry.note else []
    notes += plan.left_out_lines(8)
    title = f"{entry.title} (ours vs paper)" if entry.paper_csv else entry.title
    render_png(display_frame(entry, table, plan.datasets), title, png_path, "\n".join(notes))
    return csv_path, png_path
