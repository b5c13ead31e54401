"""Tables of the registry (kind `table` and `dataset_stats`) as CSV and PNG: ours (mean ± std over
seeds, both epoch selections) beside the paper's numbers in columns named `paper <Metric>@K`.

CSV columns of a result table: dataset, model, variant, label (the paper's row label when it
has one, else the model's label for variant `full`, else the variant), status (`ok`; `smoke run:
not compared` at a smoke scale; `left out: <reason>`), note (how the row's setting differs from
the paper's), n_seeds, then per metric and protocol `<metric> mean [<protocol>]` and
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
from matplotlib.transforms import Bbox, offset_copy

from mmdiffbench.collect import PROTOCOLS, mean_pm_std, summarize, tidy_metrics
from mmdiffbench.experiments import Experiment, experiment
from mmdiffbench.plan_types import ExperimentPlan
from mmdiffbench.report.labels import (
    SMOKE_STATUS,
    count,
    metric_label,
    model_label,
    percent,
    title_color,
    titled,
)
from mmdiffbench.report.notes import row_note
from mmdiffbench.report.paper import MODALITY_NAMES, load_paper_table, paper_column, paper_results
from mmdiffbench.report.provenance import provenance_lines, row_sources
from mmdiffbench.tuning.grid import choice_line, display_grid, grid_table

STATS_HEADERS = {  # the data rule's stats.json key (a CSV column) -> PNG header
    "users": "Users",
    "items": "Items",
    "train_interactions": "Train",
    "val_interactions": "Validation",
    "test_interactions": "Test",
    "interactions": "All",
    "sparsity_percent": "Sparsity",
    "users_without_train": "Users without\ntraining items",
}
PAPER_STATS = ("users", "items", "interactions", "sparsity")  # quantities of the paper's statistics table
SHORT = {"val_selected": "val-sel.", "best_test_epoch": "best-test"}
SOURCE_COLUMN = "paper source"  # other published tables printing the paper's numbers (report/provenance.py)
LEFT_OUT = "left out: "  # the status of a cell not run, before its reason
FONT = 7  # table text, points
CHAR_IN, LINE_IN, PAD_IN = 0.068, 0.14, 0.12  # inches per character and per line at FONT, cell padding


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
    done = SMOKE_STATUS if plan.smoke else "ok"  # a smoke run stands beside the paper's value, never as "ok"
    entries = [(c, done, True) for c in plan.cells] + [(s, f"{LEFT_OUT}{s.reason}", False) for s in plan.skipped]
    for cell, status, ran in entries:
        dataset, model, variant = cell.dataset, cell.model, cell.variant
        row: dict[str, object] = {"dataset": dataset, "model": model, "variant": variant}
        mine = paper[(paper.dataset_key == dataset) & (paper.model_key == model) & (paper.variant == cell.paper_key)]
        printed = mine["label_as_printed"].iloc[0] if len(mine) else ""
        row["label"] = cell.label or printed or (model_label(model) if variant == "full" else variant)
        row["status"] = status  # the modality note (below) is for rows that ran
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


def display_frame(plan: ExperimentPlan, table: pd.DataFrame) -> pd.DataFrame:
    """Strings for the PNG, headed by the papers' names: `mean ± std` per metric and protocol,
    then the paper's values; a dataset statistics table rounded as the paper prints it."""
    entry = experiment(plan.name)
    if entry.kind == "dataset_stats":
        return stats_display(table)
    shown = pd.DataFrame(
        {
            "Dataset": [plan.datasets.get(d, {}).get("label", d) for d in table["dataset"]],
            "Model": table["model"].map(model_label),
            "Row": table["label"],
        }
    )
    ran = ~table["status"].str.startswith(LEFT_OUT)
    for metric in entry.metrics:
        for protocol in PROTOCOLS:
            shown[f"{metric_label(metric)}\n{SHORT[protocol]}"] = [
                mean_pm_std(m, s) if r else "left out"
                for m, s, r in zip(table[mean_col(metric, protocol)], table[std_col(metric, protocol)], ran)
            ]
    for metric in paper_metrics(entry):
        col = paper_column(metric)
        shown[col.replace(" ", "\n", 1)] = [f"{v:.4f}" if pd.notna(v) else "" for v in table[col]]
    shown["Note"] = ["*" if note else "" for note in table["note"]]
    return shown


def datasets_table(plan: ExperimentPlan) -> pd.DataFrame:
    """The paper's statistics layout from the data rule's stats.json, with the paper's numbers beside."""
    paper = load_paper_table(experiment(plan.name).paper_table)
    rows = []
    for dataset, info in plan.datasets.items():
        stats_path = Path(info["stats"])
        stats = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
        row: dict[str, object] = {"dataset": dataset, "label": info["label"]}
        row.update({key: stats.get(key) for key in STATS_HEADERS})
        row["modalities"] = features(stats.get("modalities") or {})
        mine = paper[paper.dataset_key == dataset]
        for quantity in PAPER_STATS:
            hit = mine[(mine.quantity == quantity)]
            row[f"paper {quantity}"] = hit["paper_value"].iloc[0] if len(hit) else float("nan")
        dims = mine[mine.quantity == "feature_dim"]
        row["paper modalities"] = features(
            {MODALITY_NAMES.get(m, m): v for m, v in zip(dims["modality"], dims["value"])}
        )
        rows.append(row)
    return pd.DataFrame(rows)


def features(dims: dict[str, object]) -> str:
    """`image 128-d, audio 128-d` (in our file names), or `none`."""
    return ", ".join(f"{m} {d}-d" for m, d in dims.items()) or "none"


def stats_display(table: pd.DataFrame) -> pd.DataFrame:
    """The statistics as the paper prints them: counts with separators, sparsity as 99.890%."""
    shown = pd.DataFrame({"Dataset": table["label"]})
    for key, header in STATS_HEADERS.items():
        shown[header] = [percent(v) if key == "sparsity_percent" else count(v) for v in table[key]]
    shown["Features"] = table["modalities"].str.replace(", ", "\n")
    for quantity in PAPER_STATS:
        values = table[f"paper {quantity}"]
        shown[f"paper\n{quantity.title()}"] = [percent(v) if quantity == "sparsity" else count(v) for v in values]
    shown["paper\nFeatures"] = table["paper modalities"].str.replace(", ", "\n")
    return shown


def _extent(text: str) -> tuple[int, int]:
    """(longest line in characters, lines) of a cell's text."""
    lines = text.split("\n")
    return max(len(line) for line in lines), len(lines)


def table_figure(frame: pd.DataFrame, title: str, footnote: str = "", color: str = "black") -> plt.Figure:
    """The frame as a table whose columns and rows are as wide and tall as their longest text
    (no clipped or overlapping cells), the title above and the footnote below."""
    sns.set_theme(style="white")
    header = [str(c) for c in frame.columns]
    body = frame.astype(str).values.tolist()
    extents = [[_extent(text) for text in row] for row in [header, *body]]
    widths = [CHAR_IN * max(row[c][0] for row in extents) + PAD_IN for c in range(len(header))]
    heights = [LINE_IN * max(lines for _, lines in row) + PAD_IN for row in extents]
    fig = plt.figure(figsize=(max(sum(widths), 4.0), sum(heights) if body else 0.5))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.axis("off")
    if body:
        cells = ax.table(
            cellText=body,
            colLabels=header,
            cellLoc="center",
            bbox=Bbox.from_bounds(0, 0, sum(widths) / fig.get_figwidth(), 1),
        )
        cells.auto_set_font_size(False)
        cells.set_fontsize(FONT)
        for (r, c), item in cells.get_celld().items():
            item.set_width(widths[c])
            item.set_height(heights[r])
            if r == 0:
                item.set_facecolor("#dde6f0")
    else:
        ax.text(0.0, 0.5, "no cells at this scale", transform=ax.transAxes)
    above = offset_copy(ax.transAxes, fig=fig, y=4, units="points")
    ax.text(0.0, 1.0, title, transform=above, va="bottom", fontsize=9, fontweight="bold", color=color)
    if footnote:
        below = offset_copy(ax.transAxes, fig=fig, y=-4, units="points")
        ax.text(0.0, 0.0, footnote, transform=below, va="top", fontsize=6)
    return fig


def save_png(frame: pd.DataFrame, title: str, notes: list[str], plan: ExperimentPlan, path: Path) -> None:
    """The table image: the plan's title line (SMOKE TEST at a smoke scale) and the footnotes."""
    fig = table_figure(frame, titled(title, plan), "\n".join(notes), title_color(plan))
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
        notes = [plan.scope_line(), choice_line(entry), entry.note, *plan.left_out_lines(8, model_label)]
        save_png(display_grid(entry, table), entry.title, notes, plan, png_path)
        return csv_path, png_path
    table = datasets_table(plan) if entry.kind == "dataset_stats" else result_table(plan)
    table.to_csv(csv_path, index=False, float_format="%.6g")
    stats = entry.kind == "dataset_stats"
    notes = [plan.scope_line("statistics of the release files (no training)" if stats else "mean ± std over seeds")]
    if not stats:
        notes.append(
            f"val-sel. = {PROTOCOLS['val_selected']}; best-test = epoch with the best test Recall@20 (the paper's "
            "epoch selection only: our masking, our undropped graphs; [official_eval] rows evaluate as the official code)"
        )
        notes += sorted({f"* {note}" for note in table["note"] if note})
        notes += [f"paper's numbers: {line}" for line in provenance_lines(paper_results(entry))]
    notes += [entry.note] if entry.note else []
    notes += plan.left_out_lines(8, model_label)
    title = f"{entry.title} (ours vs paper)" if entry.paper_csv else entry.title
    save_png(display_frame(plan, table), title, notes, plan, png_path)
    return csv_path, png_path
