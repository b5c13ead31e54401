"""Seconds per training epoch of our models against the reference implementations of the same
models (MMRec, RecBole, SELFRec, the HCCF, CLCRec and MMGCL authors' code, sisinflab's Elliot
LightGCN-M), on the same data and
machine (issue 13's speed goal). Not a test: run it by hand.

    python benchmarks/reference_epoch.py --data ../shared/datasets/tiktok --mmrec /tmp/mmrec_src \
        --mmrec-python /tmp/mmrec_venv/bin/python --mmrec-commit e775373 --rounds 3 \
        --models mf_bpr vbpr --out benchmarks/results/reference_epoch_tiktok.csv

Each model names its reference (REFERENCE: the library, the reference's name for the model, and
which of its settings take our YAML's value) and each library the child script that runs one of
its epochs (LIBRARIES). A library's source folder, Python (a venv with its dependencies) and
commit are given as `--reference-src LIB=DIR`, `--reference-python LIB=PYTHON` and
`--reference-commit LIB=COMMIT`, each repeatable, LIB one of mmrec, recbole, selfrec, hccf, clcrec,
mmgcl, elliot; `--mmrec`, `--mmrec-python` and `--mmrec-commit` are the same for mmrec. Only the libraries
of the `--models` chosen are needed. MMGCL runs in MMRec's framework (its repository ships its
model and configs, not all of the MMRec files they import), so it needs mmrec's source too.

The dataset is written in each needed reference's own format into a temporary folder
(`reference_data.py`). For each model, `--rounds` rounds each run one epoch of ours and one of the
reference's, alternating which goes first, each in a fresh child process with `--threads` threads:
ours through `PhaseRunner.run_epoch` (the trainer's epoch: every phase, its hooks, Adam), the
reference's through its child script (its own dataloader and negative sampling, loss, backward,
optimiser step; what each times is in its docstring). Evaluation is excluded on both sides; model
construction too. Both use the model's batch size and embedding size from our YAML (printed per
row); the settings in REFERENCE.choose take our YAML's value (for MMRec: when its grid has it, else
the grid's first value); the rest are the reference's defaults. Reported: the median epoch of each
side, the ratio theirs / ours, the peak RSS of each side's children (data loading and build
included), the 1-minute load average sampled after every child, and `reference`, the library and
commit. `--profile MODEL` prints where our epoch's time goes (torch.profiler, by operator) instead.
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

import pandas as pd
import torch
from common import phase_runner
from reference_data import WRITERS

from mmdiffbench.config import resolve
from mmdiffbench.data import load_dataset
from mmdiffbench.data.dataset import InteractionDataset

HERE = Path(__file__).resolve().parent
MMGCL_FOLDER = "MMGCL-main/mmgcl"  # in zxy-ml84/MMGCL: its src/ in MMRec's layout
MMGCL_TWO_MODALITIES = "amazon"  # the dataset name MMGCL's code runs its image + text branches for
MMGCL_MASK_P = [2 / 3, 1 / 3]  # our YAML's image and audio masking odds (0.4, 0.2) renormalised, as ours runs TikTok


class Library(NamedTuple):
    """A reference code base: the child script that times its epoch, the data layout it reads
    (`reference_data.WRITERS`), and a path its source folder holds."""

    script: str
    layout: str
    marker: str


LIBRARIES = {
    "mmrec": Library("mmrec_epoch.py", "mmrec", "src/models"),
    "recbole": Library("recbole_epoch.py", "recbole", "recbole/model/general_recommender"),
    "selfrec": Library("selfrec_epoch.py", "selfrec", "model/graph"),
    "hccf": Library("hccf_epoch.py", "hccf", "torchVersion/Model.py"),
    "clcrec": Library("clcrec_epoch.py", "clcrec", "model_CLCRec.py"),
    "mmgcl": Library("mmrec_epoch.py", "mmrec", f"{MMGCL_FOLDER}/models/mmgcl.py"),
    "elliot": Library("elliot_epoch.py", "elliot", "external/models/lightgcn_m/LightGCNMModel.py"),
}


class Reference(NamedTuple):
    """A model's reference: its library, the reference's name for it, and which reference settings take
    our YAML's value (setting -> our `model.<key>` or `trainer.<key>`)."""

    library: str
    name: str
    choose: dict[str, str]


RECBOLE_SIZES = {"train_batch_size": "trainer.batch_size", "embedding_size": "model.embedding_dim"}
REFERENCE = {
    "mf_bpr": Reference("mmrec", "BPR", {"reg_weight": "model.reg_weight"}),
    "vbpr": Reference("mmrec", "VBPR", {"reg_weight": "model.reg_weight"}),
    "lightgcn": Reference("mmrec", "LightGCN", {"n_layers": "model.n_layers", "reg_weight": "model.reg_weight"}),
    "bm3": Reference(
        "mmrec", "BM3", {"n_layers": "model.n_layers", "reg_weight": "model.reg_weight", "dropout": "model.dropout"}
    ),
    "freedom": Reference("mmrec", "FREEDOM", {"dropout": "model.dropout", "reg_weight": "model.reg_weight"}),
    "lattice": Reference("mmrec", "LATTICE", {"reg_weight": "model.reg_weight", "learning_rate": "trainer.lr"}),
    "mgcn": Reference("mmrec", "MGCN", {"cl_loss": "model.cl_weight"}),
    "slmrec": Reference(
        "mmrec",
        "SLMRec",
        {"learning_rate": "trainer.lr", "ssl_temp": "model.ssl_temp", "ssl_alpha": "model.ssl_alpha"},
    ),
    "mmgcn": Reference("mmrec", "MMGCN", {"reg_weight": "model.reg_weight", "learning_rate": "trainer.lr"}),
    "grcn": Reference("mmrec", "GRCN", {"reg_weight": "model.reg_weight", "learning_rate": "trainer.lr"}),
    "dualgnn": Reference("mmrec", "DualGNN", {"learning_rate": "trainer.lr", "reg_weight": "model.reg_weight"}),
    "ngcf": Reference("recbole", "NGCF", RECBOLE_SIZES),
    "sgl": Reference("recbole", "SGL", RECBOLE_SIZES),
    "ncl": Reference("recbole", "NCL", RECBOLE_SIZES),
    "simgcl": Reference(
        "selfrec", "SimGCL", {"batch.size": "trainer.batch_size", "embedding.size": "model.embedding_dim"}
    ),
    "hccf": Reference(  # our YAML takes the README's Amazon command line over Params.py's defaults
        "hccf",
        "HCCF",
        {
            "batch": "trainer.batch_size",
            "latdim": "model.embedding_dim",
            "reg": "model.reg_weight",
            "ssl_reg": "model.ssl_weight",
            "temp": "model.tau",
        },
    ),
    "clcrec": Reference(  # our YAML takes the README's Movielens command line over main.py's defaults
        "clcrec",
        "CLCRec",
        {
            "batch_size": "trainer.batch_size",
            "dim_E": "model.embedding_dim",
            "l_r": "trainer.lr",
            "num_neg": "model.num_neg",
            "lr_lambda": "model.lambda",
            "temp_value": "model.temperature",
            "num_sample": "model.num_sample",
            "reg_weight": "model.reg_weight",
        },
    ),
    "lightgcn_m": Reference(  # sisinflab's Elliot model: no authors' code exists
        "elliot",
        "LightGCNM",
        {
            "batch_size": "trainer.batch_size",
            "factors": "model.embedding_dim",
            "lr": "trainer.lr",
            "l_w": "model.reg_weight",
            "n_layers": "model.n_layers",
            "aggregation": "model.aggregation",
        },
    ),
    "mmgcl": Reference(
        "mmgcl", "MMGCL", {"learning_rate": "trainer.lr", "ssl_temp": "model.ssl_temp", "ssl_alpha": "model.ssl_alpha"}
    ),
}


class Source(NamedTuple):
    """Where a library is on this machine: its source folder, a Python with its dependencies, its commit."""

    src: Path | None
    python: Path
    commit: str


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


def our_values(model_name: str, dataset_name: str, choose: dict[str, str]) -> dict[str, object]:
    """The reference settings that take our YAML's value, with those values."""
    config = resolve(model_name, dataset_name, "full", [])
    sections = {"model": config.model, "trainer": config.trainer}
    values: dict[str, object] = {}
    for key, path in choose.items():
        section, name = path.split(".")
        values[key] = sections[section][name]
    return values


def child_command(
    sources: dict[str, Source], model_name: str, root: Path, dataset: InteractionDataset, threads: int
) -> list[str]:
    """The child call that times one epoch of the model's reference. MMRec's vision slot takes `image`,
    its text slot the other modality (TikTok: audio, as the papers pair them). MMGCL runs through
    MMRec's child with its own folder first, the dataset under the name of its two-modality branch
    and two masking odds (benchmarks/README.md says why)."""
    reference = REFERENCE[model_name]
    library = LIBRARIES[reference.library]
    source = sources[reference.library]
    src, name, extra = source.src, dataset.name, []
    assert src is not None, "missing_sources checks every source folder first"
    if library.layout == "mmrec":
        other = [m for m in dataset.features if m != "image"]
        extra += ["--vision-file", "image_feat.npy", "--text-file", f"{other[0] if other else 'text'}_feat.npy"]
    if reference.library == "mmgcl":
        extra += ["--model-src", str(src / MMGCL_FOLDER), "--inter-file", f"{name}.inter"]
        extra += ["--set", json.dumps({"mask_p": MMGCL_MASK_P})]
        src, name = sources["mmrec"].src, MMGCL_TWO_MODALITIES
    choose = json.dumps(our_values(model_name, dataset.name, reference.choose))
    return [
        *(str(source.python), str(HERE / library.script), "--src", str(src)),
        *("--data-root", str(root / library.layout), "--dataset", name),
        *("--model", reference.name, "--choose", choose, "--threads", str(threads), *extra),
    ]


def needed_libraries(models: list[str]) -> set[str]:
    """The libraries the models' references run in (MMGCL's needs MMRec's too)."""
    libraries = {REFERENCE[m].library for m in models}
    return libraries | {"mmrec"} if "mmgcl" in libraries else libraries


def reference_label(sources: dict[str, Source], library: str) -> str:
    """`library@commit` of the code a reference runs (MMGCL's: its own and MMRec's)."""
    label = f"{library}@{sources[library].commit}"
    return f"{label}+mmrec@{sources['mmrec'].commit}" if library == "mmgcl" else label


def write_layouts(dataset: InteractionDataset, root: Path, models: list[str]) -> None:
    """The dataset in each format the models' references read, once each, under `root/<layout>/`; for
    MMGCL, MMRec's folder also under the name of MMGCL's two-modality branch (a link)."""
    libraries = needed_libraries(models)
    for layout in sorted({LIBRARIES[library].layout for library in libraries}):
        WRITERS[layout](dataset, root / layout)
    if "mmgcl" in libraries and dataset.name != MMGCL_TWO_MODALITIES:
        (root / "mmrec" / MMGCL_TWO_MODALITIES).symlink_to(dataset.name)


def compare(
    args: argparse.Namespace, sources: dict[str, Source], model_name: str, root: Path, dataset: InteractionDataset
) -> dict[str, object]:
    """`args.rounds` alternating rounds of our and the reference's epoch for one model, summarised."""
    ours_command = [sys.executable, __file__, "--ours", model_name, "--data", str(args.data)]
    ours_command += ["--threads", str(args.threads)]
    sides = {"ours": ours_command, "theirs": child_command(sources, model_name, root, dataset, args.threads)}
    runs: dict[str, list[dict[str, object]]] = {"ours": [], "theirs": []}
    loads = []
    for round_ in range(args.rounds):
        for side in ("ours", "theirs") if round_ % 2 == 0 else ("theirs", "ours"):
            if runs[side] and "error" in runs[side][-1]:
                continue
            runs[side].append(run_child(sides[side]))
            loads.append(os.getloadavg()[0])
            print(json.dumps({"model": model_name, "side": side, **runs[side][-1]}), file=sys.stderr, flush=True)
    reference = REFERENCE[model_name]
    row: dict[str, object] = {
        "model": model_name,
        "reference": reference_label(sources, reference.library),
        "reference_model": reference.name,
    }
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
        row["reference_settings"] = json.dumps(runs["theirs"][0]["settings"], sort_keys=True)
    row["load_mean"] = sum(loads) / len(loads)
    row["load_max"] = max(loads)
    return row


def our_commit() -> str:
    """HEAD's short hash, `-dirty` when tracked files of src/ or benchmarks/ (results aside) differ from it."""
    git = ["git", "-C", str(HERE.parent)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no", "src", "benchmarks", ":!benchmarks/results"],
        check=True,
        capture_output=True,
        text=True,
    )
    return head + ("-dirty" if dirty.stdout.strip() else "")


def build_parser() -> argparse.ArgumentParser:
    """The command line of the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (our loader)")
    for flag, what in (("src", "source folder"), ("python", "Python with its dependencies"), ("commit", "commit")):
        parser.add_argument(
            f"--reference-{flag}", action="append", default=[], metavar="LIB=VALUE", help=f"a library's {what}"
        )
    parser.add_argument("--mmrec", type=Path, help="MMRec's source folder (holding src/): --reference-src mmrec=")
    parser.add_argument("--mmrec-python", type=Path, help="a Python with MMRec's deps: --reference-python mmrec=")
    parser.add_argument("--mmrec-commit", help="the MMRec commit the folder holds: --reference-commit mmrec=")
    parser.add_argument("--models", nargs="*", default=list(REFERENCE), choices=sorted(REFERENCE))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="CSV to write (default: print only)")
    parser.add_argument("--profile", default=None, help="print where our epoch of this model spends its time")
    parser.add_argument("--ours", default=None, help=argparse.SUPPRESS)
    return parser


def assignments(values: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    """`LIB=VALUE` arguments as a dict; an unknown LIB or a missing `=` is a usage error."""
    found = {}
    for value in values:
        library, equals, rest = value.partition("=")
        if not equals or library not in LIBRARIES:
            parser.error(f"{value!r}: expected LIB=VALUE, LIB one of {', '.join(LIBRARIES)}")
        found[library] = rest
    return found


def sources_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Source]:
    """Every library's source folder, Python and commit from the arguments (`--mmrec*` for mmrec);
    unnamed: no folder, this Python, commit `unrecorded`."""
    given = {flag: assignments(getattr(args, f"reference_{flag}"), parser) for flag in ("src", "python", "commit")}
    for flag, value in (("src", args.mmrec), ("python", args.mmrec_python), ("commit", args.mmrec_commit)):
        if value is not None:
            given[flag]["mmrec"] = str(value)
    return {
        library: Source(
            Path(given["src"][library]) if library in given["src"] else None,
            Path(given["python"].get(library, sys.executable)),
            given["commit"].get(library, "unrecorded"),
        )
        for library in LIBRARIES
    }


def missing_sources(sources: dict[str, Source], models: list[str]) -> list[str]:
    """One line for each library the models need whose source folder is not given or not one."""
    problems = []
    for library in sorted(needed_libraries(models)):
        src, marker = sources[library].src, LIBRARIES[library].marker
        if src is None or not (src / marker).exists():
            problems.append(f"{library}: {src} is not its source folder (no {marker}; --reference-src {library}=DIR)")
    return problems


def main() -> int:
    parser = build_parser()
    args = parser.parse_args()
    if args.ours:
        print(json.dumps(our_epoch(args.ours, args.data, args.threads)))
        return 0
    if args.profile:
        print(profile_epoch(args.profile, args.data, args.threads))
        return 0
    sources = sources_from(args, parser)
    problems = missing_sources(sources, args.models)
    if problems:
        parser.error("; ".join(problems))
    dataset = load_dataset(args.data)
    commit = our_commit()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        write_layouts(dataset, Path(tmp), args.models)
        for model_name in args.models:
            rows.append(compare(args, sources, model_name, Path(tmp), dataset))
            rows[-1].update(threads=args.threads, our_commit=commit)
            if args.out:  # after every model: a long run stopped early keeps what it measured
                pd.DataFrame(rows).to_csv(args.out, index=False, float_format="%.4g")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
