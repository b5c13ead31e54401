"""One picture of the benchmark's TikTok runs: test Recall@20 of every model (validation-selected
epoch, mean and each seed), DiffMM Table 1's printed cell beside it where the paper has one.
Read from the per-seed CSVs, never typed in. Not a test.

    python benchmarks/tiktok_figure.py --out benchmarks/results/tiktok_recall20.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from run_csvs import RESULTS, add_run_csv_args, diffmm_rows

from mmdiffbench.report.labels import model_label
from mmdiffbench.report.paper import load_paper_table

METRIC = "recall@20"


def per_seed_values(per_seed: pd.DataFrame, diffmm: pd.DataFrame, tag: str) -> pd.DataFrame:
    """model, seed, value: TikTok test Recall@20 at the validation-selected epoch, DiffMM from one code tag."""
    ours = per_seed[(per_seed["dataset"] == "tiktok") & (per_seed["protocol"] == "validation-selected")]
    own = diffmm_rows(diffmm, tag)
    own = own[own["eval_mode"] == "val_selected"]
    frames = [ours[["model", "seed", METRIC]], own.assign(model="diffmm")[["model", "seed", METRIC]]]
    return pd.concat(frames).rename(columns={METRIC: "value"})


def paper_cells() -> dict[str, float]:
    """DiffMM Table 1's TikTok Recall@20 per model key (copied there from MMSSL's table but for BM3)."""
    table = load_paper_table("diffmm_table1_overall.csv")
    rows = table[(table["dataset_key"] == "tiktok") & (table["metric"] == "recall") & (table["k"] == 20)]
    rows = rows.dropna(subset=["paper_value"])
    return dict(zip(rows["model_key"], rows["paper_value"]))


def draw(values: pd.DataFrame, paper: dict[str, float], out: Path) -> None:
    order = values.groupby("model")["value"].mean().sort_values().index.tolist()
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(order) + 1.4))
    for row, model in enumerate(order):
        seeds = values.loc[values["model"] == model, "value"]
        ax.barh(row, seeds.mean(), color="tab:blue" if model != "diffmm" else "tab:red", alpha=0.55)
        ax.plot(seeds, [row] * len(seeds), "o", color="black", markersize=3)
        if model in paper:
            ax.plot(paper[model], row, "x", color="tab:orange", markersize=8, markeredgewidth=2)
    ax.plot([], [], "o", color="black", markersize=3, label="our seeds (421, 1, 2)")
    ax.plot([], [], "x", color="tab:orange", markersize=8, markeredgewidth=2, label="DiffMM paper, Table 1")
    counts = values.groupby("model")["seed"].nunique()
    ax.set_yticks(range(len(order)), [f"{model_label(m)} ({counts[m]})" for m in order])
    ax.set_xlabel("test Recall@20, validation-selected epoch (bar: mean over seeds)")
    ax.set_title("TikTok: every model under one protocol (seeds in brackets)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=130)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_csv_args(parser)
    parser.add_argument("--out", type=Path, default=RESULTS / "tiktok_recall20.png")
    args = parser.parse_args()
    values = per_seed_values(pd.read_csv(args.per_seed), pd.read_csv(args.diffmm), args.diffmm_tag)
    draw(values, paper_cells(), args.out)
    print(f"wrote {args.out} ({values['model'].nunique()} models)")


if __name__ == "__main__":
    main()
