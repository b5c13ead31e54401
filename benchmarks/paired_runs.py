"""Two sets of finished runs of the same seeds, side by side: does a setting change the result?
(A precision switch before it becomes a default; one model against another.) Not a test.

    python benchmarks/paired_runs.py --a float32=runs/tiktok/diffrec \\
        --b bfloat16=grid/tiktok/diffrec/denoiser_bf16_cpu --out benchmarks/results/diffrec_bf16_tiktok.csv

Each side is LABEL=FOLDER, the folder holding `seed<N>/metrics.json` run folders. Per seed both
sides finished: test Recall@20 and NDCG@20 at the validation-selected epoch, the selected epoch,
the epochs run and the training seconds; then per metric the mean of a - b and the paired t-test
over the seeds (`mmdiffbench.report.significance`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from mmdiffbench.report.significance import paired_t_test

METRICS = ("recall@20", "ndcg@20")


def side(text: str) -> tuple[str, Path]:
    label, _, folder = text.partition("=")
    if not label or not folder:
        raise argparse.ArgumentTypeError(f"expected LABEL=FOLDER, got {text!r}")
    return label, Path(folder)


def finished_runs(folder: Path) -> pd.DataFrame:
    """One row per `seed<N>` run folder with a metrics.json, indexed by seed."""
    rows = []
    for metrics_file in sorted(folder.glob("seed*/metrics.json")):
        metrics = json.loads(metrics_file.read_text())
        rows.append(
            {
                "seed": metrics["seed"],
                **{m: metrics["test"][m] for m in METRICS},
                "selected_epoch": metrics["selected_epoch"],
                "epochs_run": metrics["epochs_run"],
                "train_s": metrics["train_wall_time_s"],
            }
        )
    if not rows:
        raise SystemExit(f"{folder}: no seed*/metrics.json (no finished run)")
    return pd.DataFrame(rows).set_index("seed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=side, required=True, help="LABEL=FOLDER")
    parser.add_argument("--b", type=side, required=True, help="LABEL=FOLDER")
    parser.add_argument("--out", type=Path, default=None, help="CSV of the per-seed rows")
    args = parser.parse_args()
    (label_a, folder_a), (label_b, folder_b) = args.a, args.b
    a, b = finished_runs(folder_a), finished_runs(folder_b)
    seeds = a.index.intersection(b.index).sort_values()
    if seeds.empty:
        raise SystemExit(f"no seed finished on both sides ({label_a}: {list(a.index)}, {label_b}: {list(b.index)})")
    table = pd.concat({label_a: a.loc[seeds], label_b: b.loc[seeds]}, axis=1)
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    for metric in METRICS:
        test = paired_t_test(a[metric], b[metric])
        print(f"{metric}: {label_a} - {label_b} = {test.mean:+.4f} on average ({test.text()})")
    if args.out:
        table.columns = [f"{label} {column}" for label, column in table.columns]
        table.to_csv(args.out, float_format="%.5f")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
