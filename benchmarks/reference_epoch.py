"""Seconds per training epoch of our models against MMRec's implementations of the same models, on
the same data and machine (issue 13's speed goal). Not a test: run it by hand.

    python benchmarks/reference_epoch.py --data ../shared/datasets/tiktok --mmrec /tmp/mmrec_src \
        --mmrec-python /tmp/mmrec_venv/bin/python --mmrec-commit e775373 --rounds 3 \
        --out benchmarks/results/reference_epoch_tiktok.csv

The dataset is written in MMRec's layout into a temporary folder (`write_mmrec`, plus DualGNN's
`user_graph_dict.npy`). For each model, `--rounds` rounds each run one epoch of ours and one of
MMRec's, alternating which goes first, each in a fresh child process with `--threads` threads:
ours through `PhaseRunner.run_epoch` (the trainer's epoch: every phase, its hooks, Adam), MMRec's
through `mmrec_epoch.py` (its dataloader, `calculate_loss`, backward, Adam). Evaluation is excluded
on both sides; model construction too. Both use the model's batch size and embedding size from
their YAMLs (printed per row); MMRec's grid-valued hyper-parameters take our YAML's value where we
map the key (REFERENCE), else the grid's first value. Reported: the median epoch of each side, the
ratio theirs / ours, the peak RSS of each side's children (data loading and build included) and
the 1-minute load average sampled after every child. `--profile MODEL` prints where our epoch's
time goes (torch.profiler, by operator) instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from common import phase_runner

from mmdiffbench.config import resolve
from mmdiffbench.data import load_dataset, write_mmrec
from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.models.dualgnn import cooccurrence_neighbours

HERE = Path(__file__).resolve().parent
USER_GRAPH_KEEP = 200  # neighbours per user in MMRec's dualgnn-gen-u-u-matrix.py


class Reference(NamedTuple):
    """MMRec's class name of a model, and which of its grid keys take our YAML's value (key -> our
    `model.<key>` or `trainer.<key>`)."""

    mmrec_name: str
    choose: dict[str, str]


REFERENCE = {
    "mf_bpr": Reference("BPR", {"reg_weight": "model.reg_weight"}),
    "vbpr": Reference("VBPR", {"reg_weight": "model.reg_weight"}),
    "lightgcn": Reference("LightGCN", {"n_layers": "model.n_layers", "reg_weight": "model.reg_weight"}),
    "bm3": Reference(
        "BM3", {"n_layers": "model.n_layers", "reg_weight": "model.reg_weight", "dropout": "model.dropout"}
    ),
    "freedom": Reference("FREEDOM", {"dropout": "model.dropout", "reg_weight": "model.reg_weight"}),
    "lattice": Reference("LATTICE", {"reg_weight": "model.reg_weight", "learning_rate": "trainer.lr"}),
    "mgcn": Reference("MGCN", {"cl_loss": "model.cl_weight"}),
    "slmrec": Reference(
        "SLMRec", {"learning_rate": "trainer.lr", "ssl_temp": "model.ssl_temp", "ssl_alpha": "model.ssl_alpha"}
    ),
    "mmgcn": Reference("MMGCN", {"reg_weight": "model.reg_weight", "learning_rate": "trainer.lr"}),
    "grcn": Reference("GRCN", {"reg_weight": "model.reg_weight", "learning_rate": "trainer.lr"}),
    "dualgnn": Reference("DualGNN", {"learning_rate": "trainer.lr", "reg_weight": "model.reg_weight"}),
}


def write_user_graph(dataset: InteractionDataset, path: Path, keep: int = USER_GRAPH_KEEP) -> None:
    """DualGNN's `user_graph_dict.npy` in the form MMRec's preprocessing script saves ({user: [neighbour
    ids, shared training items]}, the `keep` largest counts, largest first), by a sparse product: that
    script compares every pair of users in a Python loop, hours on TikTok."""
    neighbours, counts, lengths = cooccurrence_neighbours(dataset.train, keep)
    graph = {u: [neighbours[u, :n].tolist(), counts[u, :n].tolist()] for u, n in enumerate(lengths.tolist())}
    np.save(path, np.array(graph, dtype=object), allow_pickle=True)


def our_epoch(model_name: str, data: Path, threads: int) -> dict[str, object]:
    """One epoch of our trainer's phases, timed after the model is built."""
    import resource

    torch.set_num_threads(threads)
    dataset = load_dataset(data)
    config, runner = phase_runner(model_name, dataset)
    started = time.perf_counter()
    row: dict[str, object] = {}
    runner.run_epoch(0, row)
    steps = sum(
        runner.sampler.n_batches(p.batch_size or config.trainer["batch_size"])
        for p in runner.phases
        if p.batches == "bpr"
    )
    losses = [float(v) for k, v in row.items() if k.startswith("loss_")]  # type: ignore[arg-type]
    return {
        "epoch_s": time.perf_counter() - started,
        "steps": steps,
        "batch_size": config.trainer["batch_size"],
        "embedding_size": config.model["embedding_dim"],
        "loss": sum(losses),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def profile_epoch(model_name: str, data: Path, threads: int, rows: int = 15) -> str:
    """Our epoch under torch.profiler: the operators with the most self CPU time."""
    torch.set_num_threads(threads)
    _, runner = phase_runner(model_name, load_dataset(data))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        runner.run_epoch(0, {})
    return str(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def run_child(command: list[str]) -> dict[str, object]:
    """The child's last stdout line as JSON, or an `error` naming its last stderr line."""
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return {"error": tail[:300]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def mmrec_command(args: argparse.Namespace, model_name: str, root: Path, dataset: InteractionDataset) -> list[str]:
    """The `mmrec_epoch.py` call for one model: MMRec's vision slot takes `image`, its text slot the
    other modality (TikTok: audio, as the papers pair them)."""
    reference = REFERENCE[model_name]
    config = resolve(model_name, dataset.name, "full", [])
    sections = {"model": config.model, "trainer": config.trainer}
    choose = {}
    for key, path in reference.choose.items():
        section, name = path.split(".")
        choose[key] = sections[section][name]
    other = [m for m in dataset.features if m != "image"]
    return [
        str(args.mmrec_python),
        str(HERE / "mmrec_epoch.py"),
        *("--mmrec", str(args.mmrec), "--data-root", str(root), "--dataset", dataset.name),
        *("--model", reference.mmrec_name, "--choose", json.dumps(choose), "--threads", str(args.threads)),
        *("--vision-file", "image_feat.npy", "--text-file", f"{other[0] if other else 'text'}_feat.npy"),
    ]


def compare(args: argparse.Namespace, model_name: str, root: Path, dataset: InteractionDataset) -> dict[str, object]:
    """`args.rounds` alternating rounds of ours and MMRec's epoch for one model, summarised."""
    ours_command = [sys.executable, __file__, "--ours", model_name, "--data", str(args.data)]
    ours_command += ["--threads", str(args.threads)]
    sides = {"ours": ours_command, "theirs": mmrec_command(args, model_name, root, dataset)}
    runs: dict[str, list[dict[str, object]]] = {"ours": [], "theirs": []}
    loads = []
    for round_ in range(args.rounds):
        for side in ("ours", "theirs") if round_ % 2 == 0 else ("theirs", "ours"):
            if runs[side] and "error" in runs[side][-1]:
                continue
            runs[side].append(run_child(sides[side]))
            loads.append(os.getloadavg()[0])
            print(json.dumps({"model": model_name, "side": side, **runs[side][-1]}), file=sys.stderr, flush=True)
    row: dict[str, object] = {"model": model_name, "mmrec_model": REFERENCE[model_name].mmrec_name}
    for side, results in runs.items():
        good = [r for r in results if "error" not in r]
        if not good:
            row[f"{side}_error"] = results[-1]["error"] if results else "not run"
            continue
        row[f"{side}_s"] = median(float(r["epoch_s"]) for r in good)  # type: ignore[arg-type]
        row[f"{side}_rss_mib"] = max(float(r["peak_rss_mib"]) for r in good)  # type: ignore[arg-type]
        row[f"{side}_steps"] = good[0]["steps"]
        row[f"{side}_batch"] = good[0]["batch_size"]
        row[f"{side}_dim"] = good[0]["embedding_size"]
        row[f"{side}_rounds"] = len(good)
    if "ours_s" in row and "theirs_s" in row:
        row["ratio"] = float(row["theirs_s"]) / float(row["ours_s"])  # type: ignore[arg-type]
    if runs["theirs"] and "settings" in runs["theirs"][0]:
        row["mmrec_settings"] = json.dumps(runs["theirs"][0]["settings"], sort_keys=True)
    row["load_mean"] = sum(loads) / len(loads)
    row["load_max"] = max(loads)
    return row


def our_commit() -> str:
    """HEAD's short hash, `-dirty` when tracked files of src/ or benchmarks/ differ from it."""
    git = ["git", "-C", str(HERE.parent)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no", "src", "benchmarks"],
        check=True,
        capture_output=True,
        text=True,
    )
    return head + ("-dirty" if dirty.stdout.strip() else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (our loader)")
    parser.add_argument("--mmrec", type=Path, help="MMRec's source folder (holding src/)")
    parser.add_argument("--mmrec-python", type=Path, default=Path(sys.executable), help="a Python with MMRec's deps")
    parser.add_argument("--mmrec-commit", default="unrecorded", help="the MMRec commit the folder holds")
    parser.add_argument("--models", nargs="*", default=list(REFERENCE), choices=sorted(REFERENCE))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="CSV to write (default: print only)")
    parser.add_argument("--profile", default=None, help="print where our epoch of this model spends its time")
    parser.add_argument("--ours", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ours:
        print(json.dumps(our_epoch(args.ours, args.data, args.threads)))
        return 0
    if args.profile:
        print(profile_epoch(args.profile, args.data, args.threads))
        return 0
    if args.mmrec is None or not (args.mmrec / "src" / "models").is_dir():
        parser.error(f"--mmrec {args.mmrec}: not an MMRec source folder (no src/models/)")
    dataset = load_dataset(args.data)
    commit = our_commit()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / dataset.name
        write_mmrec(dataset, folder)
        write_user_graph(dataset, folder / "user_graph_dict.npy")
        for model_name in args.models:
            rows.append(compare(args, model_name, Path(tmp), dataset))
            rows[-1].update(threads=args.threads, our_commit=commit, mmrec_commit=args.mmrec_commit)
            if args.out:  # after every model: a long run stopped early keeps what it measured
                pd.DataFrame(rows).to_csv(args.out, index=False, float_format="%.4g")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
