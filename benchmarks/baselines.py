"""Train models with their package defaults on datasets x seeds; collect a per-seed CSV.

Each run is an ordinary `mmdiffbench train` run directory, so every number in the CSV can
be traced to its config.json / history.csv / metrics.json. Finished runs are skipped and
killed runs resumed, so the script can be re-run after an interruption. Rows of the
(dataset, model, seed) runs not asked for this time are kept from the existing CSV, so models
can be added one call at a time. `--run-dir` collects runs made elsewhere, such as the chosen cell
of a validation grid, so that a run is kept once and named where it was made.

    python benchmarks/baselines.py --data ../shared/datasets --runs benchmarks/train/baselines
    python benchmarks/baselines.py --datasets tiktok --models vbpr freedom --seeds 421
    python benchmarks/baselines.py --collect-only --runs /work/runs/grid --datasets baby --models ngcf \
        --run-dir "{dataset}/{model}/lr_1e-3_reg_weight_1e-5/seed{seed}"
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from mmdiffbench.report.paper import load_paper_table

METRICS = ("recall@20", "ndcg@20", "recall@10", "ndcg@10")
DEFAULT_RUN_DIR = "{dataset}/{model}/seed{seed}"


def run_one(
    data: Path, dataset: str, model: str, seed: int, out: Path, threads: int, overrides: tuple[str, ...] = ()
) -> dict:
    """Train (or resume, or reuse) one run and return its metrics.json."""
    if not (out / "metrics.json").is_file():
        command = [sys.executable, "-m", "mmdiffbench", "train", "--data", str(data / dataset), "--model", model]
        command += ["--seed", str(seed), "--out", str(out), "--device", "cpu", "--threads", str(threads), "--resume"]
        command += [arg for override in overrides for arg in ("--set", override)]
        print(" ".join(command), flush=True)
        subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    return json.loads((out / "metrics.json").read_text())


def provenance(metrics: dict) -> dict:
    """The code commit of a run and whether its `cpu` bfloat16 switches ran in bfloat16 (blank for runs
    before f660340, which did not record it)."""
    return {"code": metrics.get("git_commit"), "cpu_native_bf16": metrics.get("machine", {}).get("cpu_native_bf16")}


def rows_of(metrics: dict, run_dir: Path) -> list[dict]:
    base = {k: metrics[k] for k in ("dataset", "model", "seed")}
    base.update(run_dir=str(run_dir), epochs_run=metrics["epochs_run"], train_wall_time_s=metrics["train_wall_time_s"])
    base.update(provenance(metrics))
    selected = {"protocol": "validation-selected", "epoch": metrics["selected_epoch"], **metrics["test"]}
    paper = {
        "protocol": "best-test-epoch (paper)",
        "epoch": metrics["paper_protocol"]["epoch"],
        **metrics["paper_protocol"]["test"],
    }
    return [
        {**base, "protocol": r["protocol"], "epoch": r["epoch"], **{m: r[m] for m in METRICS}}
        for r in (selected, paper)
    ]


PAPER_TABLES = {  # published numbers of the same models on the same datasets, for comparison only
    "DiffMM": "diffmm_table1_overall.csv",
    "DiffCL": "diffcl_table2_overall.csv",
    "LD4MRec": "ld4mrec_table2_clean.csv",
}


def printed_cells(filename: str, metric: str) -> pd.Series:
    """A paper table's @20 values of `metric` (`recall`, `ndcg`) in its main setting (not LD4MRec's
    noisy training), indexed by (dataset_key, model_key); NaN where the paper prints a dash."""
    table = load_paper_table(filename)
    main = (table["k"] == 20) & table["setting"].isin(["paper_default", "clean_training"]) & (table["metric"] == metric)
    return table[main].set_index(["dataset_key", "model_key"])["paper_value"]


def with_paper_columns(summary: pd.DataFrame) -> pd.DataFrame:
    """Add `paper <Paper> Recall@20` / `NDCG@20` columns and our difference to DiffMM's Table 1."""
    for paper, filename in PAPER_TABLES.items():
        for metric, label in (("recall", "Recall@20"), ("ndcg", "NDCG@20")):
            values = printed_cells(filename, metric)
            keys = list(zip(summary["dataset"], summary["model"]))
            summary[f"paper {paper} {label}"] = [values.get(key, float("nan")) for key in keys]
    summary["recall@20 vs paper DiffMM (%)"] = 100 * (summary["recall@20_mean"] / summary["paper DiffMM Recall@20"] - 1)
    return summary


def merged(kept: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """The new rows plus the kept rows of runs not re-collected, ordered by dataset, model, seed."""
    if kept.empty or new.empty:
        return new if kept.empty else kept
    keys = ["dataset", "model", "seed"]
    fresh = set(map(tuple, new[keys].values.tolist()))
    old = kept[[tuple(k) not in fresh for k in kept[keys].values.tolist()]]
    return pd.concat([old, new], ignore_index=True).sort_values(keys, kind="stable", ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    parser.add_argument("--runs", type=Path, default=Path("benchmarks/train/baselines"))
    parser.add_argument("--datasets", nargs="+", default=["tiktok", "baby", "sports"])
    parser.add_argument("--models", nargs="+", default=["mf_bpr", "lightgcn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[421, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--collect-only", action="store_true", help="only collect finished runs; train nothing")
    parser.add_argument(
        "--run-dir",
        default=DEFAULT_RUN_DIR,
        help="run folder below --runs, a pattern of {dataset}, {model}, {seed}; another than the default "
        "needs --collect-only, since such a folder may hold a run of other settings than the preset's",
    )
    args = parser.parse_args()
    if args.run_dir != DEFAULT_RUN_DIR and not args.collect_only:
        parser.error("--run-dir other than the default collects runs made elsewhere: add --collect-only")

    per_seed_csv = args.out / "baselines_per_seed.csv"
    kept = pd.read_csv(per_seed_csv) if per_seed_csv.is_file() else pd.DataFrame()
    rows: list[dict] = []
    for model in args.models:
        for dataset in args.datasets:
            for seed in args.seeds:
                run_dir = args.runs / args.run_dir.format(dataset=dataset, model=model, seed=seed)
                if args.collect_only and not (run_dir / "metrics.json").is_file():
                    print(f"not finished, left out: {run_dir}")
                    continue
                rows += rows_of(run_one(args.data, dataset, model, seed, run_dir, args.threads), run_dir)
                per_seed = merged(kept, pd.DataFrame(rows))
                args.out.mkdir(parents=True, exist_ok=True)
                per_seed.to_csv(per_seed_csv, index=False)
    per_seed = merged(kept, pd.DataFrame(rows))
    if per_seed.empty:
        raise SystemExit("no finished run to collect")
    summary = per_seed.groupby(["dataset", "model", "protocol"])[list(METRICS)].agg(["mean", "std"])
    summary.columns = [f"{metric}_{stat}" for metric, stat in summary.columns]
    summary = summary.reset_index()
    summary["n_seeds"] = per_seed.groupby(["dataset", "model", "protocol"]).size().values
    summary = with_paper_columns(summary)
    summary.to_csv(args.out / "baselines_summary.csv", index=False, float_format="%.4f")
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()
