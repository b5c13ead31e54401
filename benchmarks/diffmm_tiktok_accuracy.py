"""DiffMM on TikTok with the official preset: test Recall@20 / NDCG@20 under both protocols.

One training run per seed serves both protocols: every epoch the model is evaluated
(a) as the official code does (`official_eval`: training items masked only, so validation
items compete, and scores from the epoch's edge-dropped generated graphs), and
(b) with our standard protocol (validation items masked when testing, undropped graphs).
Evaluation never touches the RNG, so (b) does not change what (a) sees. For each protocol
the CSV gives the best-test epoch (the paper's protocol) and the validation-selected epoch.

    PYTHONPATH=src nice -n 10 python benchmarks/diffmm_tiktok_accuracy.py \\
        --data ../shared/datasets/tiktok --runs /work/runs_diffmm --seeds 421 1 2 --threads 2 \\
        --tag code_<sha>
    PYTHONPATH=src python benchmarks/diffmm_tiktok_accuracy.py --runs /work/runs_diffmm --seeds 421 1 2 \\
        --collect-only --tag code_<sha>

A killed run resumes from its checkpoint; `--collect-only` writes the CSV from whatever
epochs the run directories hold (the `epochs_run` column says how many).

`--tag` names the run directories (`tiktok_<tag>_seed<S>`; the tag `default` leaves it out)
and fills the CSV's `tag` column. The committed results name the code that produced them,
`code_<sha>`, with a suffix for a setting (`code_<sha>_fp32`); their histories are copied as
`results/diffmm_tiktok_<tag>_seed<S>_history.csv`.

The bfloat16 check is a twin run with both precision switches off, under its own tag:
    PYTHONPATH=src python benchmarks/diffmm_tiktok_accuracy.py --runs /work/runs_diffmm --seeds 421 \
        --tag code_<sha>_fp32 --set denoiser_bf16=never --set contrastive_bf16=never --csv /tmp/fp32.csv
`--collect-only --tags code_<sha> code_<sha>_fp32` then writes one CSV with a `tag` column.
Writing keeps the CSV's rows of other runs (tag and seed; folders this machine may no longer hold).

The ablation runs of DiffMM Table 2 are tagged `<tag>_<variant>` with the variant's settings
(configs/diffmm.yaml `variants`), e.g. `--tag code_<sha>_fp32_wo_cl --set lambda1=0.0`;
benchmarks/claims.py reads them beside `<tag>` for the ablation claim.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import load_release
from mmdiffbench.eval import evaluate_model
from mmdiffbench.train import Trainer, build_model
from mmdiffbench.train.run import run_logger
from mmdiffbench.train.seeding import seed_everything

RESULTS = Path(__file__).resolve().parent / "results" / "diffmm_tiktok.csv"
METRICS = ("recall@20", "ndcg@20")


class TwoProtocolTrainer(Trainer):
    """The trainer (official evaluation) plus the standard protocol's numbers in history.csv."""

    def _evaluate(self, epoch: int, row: dict[str, Any]) -> bool:
        stop = super()._evaluate(epoch, row)
        self.model.config["official_eval"] = False
        try:
            results = evaluate_model(self.model, self.dataset, self.ks, self.cfg["eval_batch_size"], test_mask_val=True)
        finally:
            self.model.config["official_eval"] = True
        for split in ("val", "test"):
            row.update({f"std_{split}_{k}": v for k, v in results[split].mean().items()})
        return stop


def run_dir(runs: Path, tag: str, seed: int) -> Path:
    return runs / (f"tiktok_seed{seed}" if tag == "default" else f"tiktok_{tag}_seed{seed}")


def train_seed(data: Path, runs: Path, seed: int, epochs: int | None, tag: str, overrides: list[str]) -> None:
    dataset = load_release(data)
    overrides = [*overrides, f"epochs={epochs}"] if epochs else overrides
    config = resolve("diffmm", dataset.name, "official_eval", overrides)
    out = run_dir(runs, tag, seed)
    out.mkdir(parents=True, exist_ok=True)
    logger = run_logger(out)
    seed_everything(seed)
    model = build_model(dataset, config, torch.device("cpu"))
    trainer = TwoProtocolTrainer(model, dataset, config.trainer, seed, out, logger)
    trainer.load_checkpoint()
    trainer.fit()
    logging.getLogger(logger.name).handlers.clear()


def summarize(runs: Path, seeds: list[int], tags: list[str]) -> pd.DataFrame:
    rows = []
    for tag, seed in ((tag, seed) for tag in tags for seed in seeds):
        path = run_dir(runs, tag, seed) / "history.csv"
        if not path.is_file():
            continue
        history = pd.read_csv(path)
        for protocol, prefix in (("official", ""), ("standard", "std_")):
            val, test = history[f"{prefix}val_recall@20"], history[f"{prefix}test_recall@20"]
            for mode, index in (("best_test_epoch", test.idxmax()), ("val_selected", val.idxmax())):
                record = history.loc[index]  # idxmax keeps the first maximum, as the strict '>' of the trainer
                rows.append(
                    {
                        "tag": tag,
                        "seed": seed,
                        "protocol": protocol,
                        "eval_mode": mode,
                        **{m: round(float(record[f"{prefix}test_{m}"]), 5) for m in METRICS},
                        "epoch": int(record["epoch"]),
                        "epochs_run": len(history),
                    }
                )
    return pd.DataFrame(rows)


def write_csv(table: pd.DataFrame, path: Path) -> None:
    """`table` replaces the rows of its runs (tag, seed) in `path`; rows of other runs stay."""
    if path.is_file():
        kept = pd.read_csv(path)
        if not table.empty:
            runs = pd.MultiIndex.from_frame(table[["tag", "seed"]])
            kept = kept[~pd.MultiIndex.from_frame(kept[["tag", "seed"]]).isin(runs)]
        table = pd.concat([kept, table])
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tiktok"
    )
    parser.add_argument("--runs", type=Path, required=True, help="run directories go here (outside the repo)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[421, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's 50 (smoke runs only)")
    parser.add_argument(
        "--tag",
        default="default",
        help="names the run directories and the CSV rows of a run, e.g. code_<sha> or code_<sha>_fp32",
    )
    parser.add_argument("--tags", nargs="+", default=None, help="tags to collect (default: --tag)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--collect-only", action="store_true")
    parser.add_argument("--csv", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tags = args.tags or [args.tag]
    if not args.collect_only:
        for seed in args.seeds:
            train_seed(args.data, args.runs, seed, args.epochs, args.tag, args.overrides)
            write_csv(summarize(args.runs, args.seeds, tags), args.csv)
    table = summarize(args.runs, args.seeds, tags)
    write_csv(table, args.csv)
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
