"""Figures (paper Figs. 2-5) as PNG and PDF, plus the plotted numbers as CSV.

Both protocols are drawn in separate panels (validation-selected, best test epoch); points
are means over seeds with one-std error bars. An experiment with no runnable cell still gets
its files: a figure that says which cells were left out and why.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from mmdiffbench.plan import ExperimentPlan  # noqa: E402
from mmdiffbench.report.collect import PROTOCOLS, summarize, tidy_groups, tidy_metrics  # noqa: E402

FIGURE_METRICS = ["recall@20", "ndcg@20"]
TITLES = {
    "sparsity": "Fig. 2: performance per user group (#training interactions)",
    "lambda0": "Fig. 3(a): MSI weight lambda_0",
    "omega": "Fig. 3(b): weight omega of Norm(H_0)",
    "fusion": "Fig. 4: fusion ratio (0 = generated graph, 1 = random augmentation)",
    "case_study": "Fig. 5: case study of the generated modality-aware graph",
}
SWEEP_PARAM = {"lambda0": "lambda_0", "omega": "omega", "fusion": "fusion ratio"}


def sweep_value(variant: str) -> float:
    """`lambda0_0.01` -> 0.01, `fusion_0.2` -> 0.2 (the number after the last underscore)."""
    match = re.search(r"_([0-9.eE+-]+)$", variant)
    if not match:
        raise ValueError(f"variant {variant!r} does not end in _<number>")
    return float(match.group(1))


def _save(fig: plt.Figure, out_dir: Path, name: str) -> None:
    fig.savefig(out_dir / f"{name}.png", dpi=150, bbox_inches="tight")
    fig.savefig(out_dir / f"{name}.pdf", bbox_inches="tight")
    plt.close(fig)


def _finish(fig: plt.Figure, plan: ExperimentPlan, out_dir: Path, footnote: bool) -> None:
    """Title (and the scale / seeds / left-out footnote), layout, PNG + PDF."""
    fig.suptitle(TITLES[plan.name], x=0.01, ha="left", fontweight="bold")
    if footnote:
        fig.text(0.01, -0.02, _footnote(plan), fontsize=7, va="top")
    fig.tight_layout()
    _save(fig, out_dir, plan.name)


def _footnote(plan: ExperimentPlan) -> str:
    lines = [f"scale {plan.scale}; seeds {', '.join(map(str, plan.seeds))}; mean ± std over seeds"]
    lines += [f"left out: {s.dataset}/{s.model}/{s.variant}: {s.reason}" for s in plan.skipped[:6]]
    if len(plan.skipped) > 6:
        lines.append(f"... and {len(plan.skipped) - 6} more (results/reproduction.md)")
    return "\n".join(lines)


def _empty(plan: ExperimentPlan, out_dir: Path, message: str = "No runnable cell at this scale.") -> pd.DataFrame:
    fig, ax = plt.subplots(figsize=(8, 2.5))
    ax.axis("off")
    ax.set_title(TITLES[plan.name], loc="left", fontweight="bold")
    ax.text(0, 0.8, message, transform=ax.transAxes, wrap=True)
    ax.text(0, 0.0, _footnote(plan), transform=ax.transAxes, fontsize=7, va="bottom", wrap=True)
    _save(fig, out_dir, plan.name)
    return pd.DataFrame(columns=["dataset", "model", "variant", "protocol", "metric", "mean", "std", "n_seeds"])


def sparsity_figure(plan: ExperimentPlan, out_dir: Path) -> pd.DataFrame:
    tidy = tidy_groups(plan.metrics_paths())
    tidy = tidy[tidy.metric.isin(FIGURE_METRICS)]
    summary = summarize(tidy, ["dataset", "model", "variant", "protocol", "group", "metric"])
    datasets = list(dict.fromkeys(c.dataset for c in plan.cells))
    panels = [(d, m) for d in datasets for m in FIGURE_METRICS]
    fig, axes = plt.subplots(len(PROTOCOLS), len(panels), figsize=(3.6 * len(panels), 6.0), squeeze=False)
    for row, protocol in enumerate(PROTOCOLS):
        for col, (dataset, metric) in enumerate(panels):
            ax = axes[row][col]
            data = summary[(summary.protocol == protocol) & (summary.dataset == dataset) & (summary.metric == metric)]
            groups = list(dict.fromkeys(data["group"]))
            models = list(dict.fromkeys(data["model"]))
            width = 0.8 / max(1, len(models))
            for i, model in enumerate(models):
                part = data[data.model == model].set_index("group").reindex(groups)
                x = np.arange(len(groups)) + (i - (len(models) - 1) / 2) * width
                ax.bar(x, part["mean"], width, yerr=part["std"].fillna(0), label=model, capsize=2)
            ax.set_xticks(np.arange(len(groups)), groups)
            ax.set_title(f"{plan.datasets[dataset]['label']}: {metric}\n{PROTOCOLS[protocol]}", fontsize=8)
            ax.set_xlabel("training interactions per user")
            if col == 0:
                ax.set_ylabel(metric)
            if row == 0 and col == 0:
                ax.legend(fontsize=7)
    _finish(fig, plan, out_dir, footnote=True)
    return summary


def sweep_figure(plan: ExperimentPlan, out_dir: Path) -> pd.DataFrame:
    tidy = tidy_metrics(plan.metrics_paths())
    tidy = tidy[tidy.metric.isin(FIGURE_METRICS)]
    summary = summarize(tidy)
    summary["value_of"] = SWEEP_PARAM[plan.name]
    summary["x"] = [sweep_value(v) for v in summary["variant"]]
    fig, axes = plt.subplots(len(FIGURE_METRICS), len(PROTOCOLS), figsize=(10, 7), squeeze=False)
    for row, metric in enumerate(FIGURE_METRICS):
        for col, protocol in enumerate(PROTOCOLS):
            ax = axes[row][col]
            for dataset in dict.fromkeys(summary["dataset"]):
                part = summary[(summary.dataset == dataset) & (summary.metric == metric) & (summary.protocol == protocol)].sort_values("x")
                ax.errorbar(part["x"], part["mean"], yerr=part["std"].fillna(0), marker="o", capsize=3, label=plan.datasets[dataset]["label"])
            if plan.name == "lambda0":
                ax.set_xscale("log")
            ax.set_xlabel(SWEEP_PARAM[plan.name])
            ax.set_ylabel(metric)
            ax.set_title(PROTOCOLS[protocol], fontsize=9)
            ax.legend(fontsize=7)
    _finish(fig, plan, out_dir, footnote=True)
    return summary


def case_study_figure(plan: ExperimentPlan, out_dir: Path, case_root: Path = Path("results/case_study")) -> pd.DataFrame:
    """Heat maps of the square numeric CSVs `mmdiffbench case-study` wrote, one per dataset."""
    found: list[tuple[str, Path, pd.DataFrame]] = []
    for cell in plan.cells:
        folder = case_root / cell.dataset
        for csv in sorted(folder.glob("*.csv")):
            frame = pd.read_csv(csv, index_col=0)
            numeric = frame.select_dtypes("number")
            if numeric.shape[0] > 1 and numeric.shape[0] == numeric.shape[1]:
                found.append((cell.dataset, csv, numeric))
                break
    if not found:
        listed = ", ".join(str(p) for c in plan.cells for p in sorted((case_root / c.dataset).glob("*"))) or "none"
        print(f"case study: no square numeric CSV (item-item similarity) among: {listed}")
        return _empty(plan, out_dir, f"The case-study output has no item-item similarity matrix to draw.\nFiles: {listed}"[:600])
    fig, axes = plt.subplots(1, len(found), figsize=(6 * len(found), 5), squeeze=False)
    rows = []
    for ax, (dataset, csv, matrix) in zip(axes[0], found):
        sns.heatmap(matrix, ax=ax, cmap="viridis", square=True, cbar_kws={"label": "similarity"})
        ax.set_title(f"{plan.datasets[dataset]['label']}: {csv.name}", fontsize=9)
        long = matrix.stack().reset_index()
        long.columns = ["row", "column", "value"]
        long.insert(0, "dataset", dataset)
        rows.append(long)
    _finish(fig, plan, out_dir, footnote=False)
    return pd.concat(rows, ignore_index=True)


def write_figure(plan: ExperimentPlan, out_dir: Path | str) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sns.set_theme(style="whitegrid", context="paper")
    if not plan.cells:
        data = _empty(plan, out_dir)
    elif plan.name == "sparsity":
        data = sparsity_figure(plan, out_dir)
    elif plan.name == "case_study":
        data = case_study_figure(plan, out_dir)
    else:
        data = sweep_figure(plan, out_dir)
    data.to_csv(out_dir / f"{plan.name}.csv", index=False, float_format="%.6g")
    return out_dir / f"{plan.name}.png"
