"""The papers' headline claims rechecked on the benchmark's own runs: the workflow's "Claims"
section (`mmdiffbench.report.claims`, the same verdicts and paired t-tests) fed with the
per-seed test values that `baselines.py --collect-only` and `diffmm_tiktok_accuracy.py` wrote,
so a claim's verdict traces to run folders, not to numbers typed into a note. Not a test.

    python benchmarks/claims.py --out benchmarks/results/claims.md

The plan is the paper scale's, restricted to the datasets the per-seed CSV holds, so every
cell this benchmark did not run reads "not run here" with the plan's reason (features absent,
...). DiffMM's rows come from one code tag of `diffmm_tiktok.csv` (standard protocol); its
ablation variants (DiffMM Table 2) from the same code's runs tagged `<tag>_<variant>`, so the
ablation claim never compares runs of different code or precision.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from run_csvs import RESULTS, add_run_csv_args, diffmm_rows

from mmdiffbench.experiments import experiment
from mmdiffbench.plan import build_plan
from mmdiffbench.report.claims import INTRO, claims_table
from mmdiffbench.report.reproduction import md_table

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("recall@20", "ndcg@20")
# baselines.py's protocol labels -> the report's protocol keys (mmdiffbench.collect.PROTOCOLS)
PROTOCOL_KEYS = {"validation-selected": "val_selected", "best-test-epoch (paper)": "best_test_epoch"}


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run and metric, as `mmdiffbench.collect` shapes them."""
    return frame.melt(
        id_vars=["dataset", "model", "variant", "seed", "protocol"], value_vars=list(METRICS), var_name="metric"
    )


def tidy_from_per_seed(per_seed: pd.DataFrame) -> pd.DataFrame:
    """baselines_per_seed.csv -> the report's tidy rows (dataset, model, variant, seed, protocol, metric, value)."""
    unknown = set(per_seed["protocol"]) - set(PROTOCOL_KEYS)
    if unknown:
        raise SystemExit(f"per-seed CSV: unknown protocol label(s) {sorted(unknown)}")
    return _tidy(per_seed.assign(protocol=per_seed["protocol"].map(PROTOCOL_KEYS), variant="full"))


def ablation_tags(tag: str) -> dict[str, str]:
    """Workflow variant -> diffmm_tiktok.csv tag: `full` is `tag`, each DiffMM Table 2 variant `<tag>_<variant>`."""
    cells = experiment("diffmm.table2").cells
    return {"full": tag} | {cell.variant: f"{tag}_{cell.variant}" for cell in cells if cell.variant != "full"}


def tidy_from_diffmm(diffmm: pd.DataFrame, tag: str, dataset: str = "tiktok") -> pd.DataFrame:
    """diffmm_tiktok.csv's rows of one code tag (variant `full`) and of its ablation variants that ran, standard
    protocol, as tidy DiffMM rows."""
    ran = set(diffmm["tag"])
    frames = [
        diffmm_rows(diffmm, variant_tag).assign(variant=variant)
        for variant, variant_tag in ablation_tags(tag).items()
        if variant == "full" or variant_tag in ran
    ]
    rows = pd.concat(frames)
    return _tidy(rows.assign(dataset=dataset, model="diffmm", protocol=rows["eval_mode"]))


def paper_scale_config(config_file: Path, data_dir: Path, datasets: list[str]) -> dict[str, Any]:
    """config.yaml at the paper scale, its datasets cut to those with runs (derived ones come with their source)."""
    config = yaml.safe_load(config_file.read_text())
    config["scale"], config["data_dir"] = "paper", os.path.relpath(data_dir, ROOT)  # reasons name it from the repo
    sources = [d for d in datasets if not config["datasets"].get(d, {}).get("derived_from")]
    config["scales"]["paper"]["datasets"] = sources
    return config


def markdown(lines: list[str], table: pd.DataFrame, sources: list[str]) -> str:
    claims = "".join(f"- {line}\n" for line in lines)
    return f"# Claims rechecked on this benchmark's runs\n\nFrom: {', '.join(sources)}.\n\n{INTRO}\n\n{claims}\n{md_table(table)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_csv_args(parser)
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=RESULTS / "claims.md")
    args = parser.parse_args()

    tidy = pd.concat(
        [tidy_from_per_seed(pd.read_csv(args.per_seed)), tidy_from_diffmm(pd.read_csv(args.diffmm), args.diffmm_tag)]
    )
    config = paper_scale_config(args.config, args.data, sorted(tidy["dataset"].unique()))
    lines, table = claims_table(list(build_plan(config, base=ROOT).experiments.values()), tidy)
    sources = [args.per_seed.name, f"{args.diffmm.name} (tag {args.diffmm_tag})"]
    args.out.write_text(markdown(lines, table, sources))
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
