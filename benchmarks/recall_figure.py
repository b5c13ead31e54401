"""One picture per dataset of the benchmark's runs: test Recall@20 of every model run there
(validation-selected epoch, mean and each seed), the papers' printed cells of the same model and
dataset beside it (DiffMM Table 1; on Baby and Sports also LD4MRec's and DiffCL's Table 2).
Read from the per-seed CSVs and the packaged paper tables, never typed in. Not a test.

    python benchmarks/recall_figure.py --dataset tiktok   # -> results/tiktok_recall20.png
    python benchmarks/recall_figure.py --dataset sports   # the ID-only models on Sports
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from baselines import PAPER_TABLES, printed_cells
from grid import tuned_here
from run_csvs import RESULTS, add_run_csv_args, diffmm_rows

from mmdiffbench.report.labels import model_label

METRIC = "recall@20"
DATASET_LABELS = {"tiktok": "TikTok", "baby": "Baby", "sports": "Sports"}
PAPER_MARKERS = {  # paper -> (marker, colour, legend) of its printed cells
    "DiffMM": ("x", "tab:orange", "DiffMM paper's cell (this release's split)"),
    "LD4MRec": ("+", "tab:green", "LD4MRec paper's cell (MMRec's data, another split)"),
    "DiffCL": ("^", "tab:purple", "DiffCL paper's cell (MMRec's data, another split)"),
}


def per_seed_values(per_seed: pd.DataFrame, diffmm: pd.DataFrame, tag: str, dataset: str = "tiktok") -> pd.DataFrame:
    """model, seed, value: test Recall@20 at the validation-selected epoch on `dataset`; DiffMM's own
    runs (TikTok only: the other datasets lack its features here) from one code tag."""
    ours = per_seed[(per_seed["dataset"] == dataset) & (per_seed["protocol"] == "validation-selected")]
    frames = [ours[["model", "seed", METRIC]]]
    if dataset == "tiktok":
        own = diffmm_rows(diffmm, tag)
        own = own[own["eval_mode"] == "val_selected"]
        frames.append(own.assign(model="diffmm")[["model", "seed", METRIC]])
    values = pd.concat(frames).rename(columns={METRIC: "value"})
    if values.empty:
        raise SystemExit(f"no validation-selected runs on {dataset!r} in the per-seed CSV")
    return values


def paper_cells(dataset: str = "tiktok") -> dict[str, dict[str, float]]:
    """paper -> {model key: Recall@20 printed for `dataset`} (DiffMM Table 1's baselines: copied there
    from MMSSL's table but for BM3)."""
    cells = {}
    for paper, filename in PAPER_TABLES.items():
        printed = printed_cells(filename, "recall").dropna()
        if dataset in printed.index.get_level_values("dataset_key"):
            cells[paper] = printed.xs(dataset, level="dataset_key").to_dict()
    return cells


def draw(values: pd.DataFrame, paper: dict[str, dict[str, float]], out: Path, dataset: str = "tiktok") -> None:
    order = values.groupby("model")["value"].mean().sort_values().index.tolist()
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(order) + 2.2))
    for row, model in enumerate(order):
        seeds = values.loc[values["model"] == model, "value"]
        ax.barh(row, seeds.mean(), color="tab:blue" if model != "diffmm" else "tab:red", alpha=0.55)
        ax.plot(seeds, [row] * len(seeds), "o", color="black", markersize=3)
        for name, cells in paper.items():
            if model in cells:
                marker, colour, _ = PAPER_MARKERS[name]
                ax.plot(cells[model], row, marker, color=colour, markersize=8, markeredgewidth=2)
    ax.plot([], [], "o", color="black", markersize=3, label="our seeds (421, 1, 2)")
    for name in paper:
        marker, colour, label = PAPER_MARKERS[name]
        ax.plot([], [], marker, color=colour, markersize=8, markeredgewidth=2, label=label)
    counts = values.groupby("model")["seed"].nunique()
    tuned = {m: " †" if tuned_here(m, dataset) else "" for m in order}
    ax.set_yticks(range(len(order)), [f"{model_label(m)} ({counts[m]}){tuned[m]}" for m in order])
    ax.plot([], [], " ", label="† setting chosen on this dataset's validation grid")
    ax.set_xlabel("test Recall@20, validation-selected epoch (bar: mean over seeds)")
    name = DATASET_LABELS.get(dataset, dataset)
    ax.set_title(f"{name}: every model run there, under one protocol (seeds in brackets)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8)  # below: never over a bar
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=130)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_csv_args(parser)
    parser.add_argument("--dataset", default="tiktok")
    parser.add_argument("--out", type=Path, help="default: results/<dataset>_recall20.png")
    args = parser.parse_args()
    out = args.out or RESULTS / f"{args.dataset}_recall20.png"
    values = per_seed_values(pd.read_csv(args.per_seed), pd.read_csv(args.diffmm), args.diffmm_tag, args.dataset)
    draw(values, paper_cells(args.dataset), out, args.dataset)
    print(f"wrote {out} ({values['model'].nunique()} models)")


if __name__ == "__main__":
    main()
