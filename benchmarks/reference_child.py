"""What the child scripts of `reference_epoch.py` share (`mmrec_epoch.py`, `recbole_epoch.py`,
`selfrec_epoch.py`, `hccf_epoch.py`, `clcrec_epoch.py`): their common arguments, the move into a
reference's source folder, the CPU stand-in for `.cuda()`, and the one JSON line they print.

It imports only the standard library and torch: the children run in each reference's own venv and
import nothing of mmdiffbench (benchmarks/README.md, "reference_epoch.py").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import scipy.sparse as sp
import torch

HERE = Path(__file__).resolve().parent


def child_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every child takes; `--src` is the reference's source folder."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--src", type=Path, required=True, help="the reference's source folder")
    parser.add_argument("--data-root", type=Path, required=True, help="the dataset written in the reference's format")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", required=True, help="the reference's name for the model")
    parser.add_argument("--choose", default="{}", help="JSON: reference setting -> value (ours, or a stand-in)")
    parser.add_argument("--threads", type=int, default=2)
    return parser


def enter(folders: list[Path], workdir: Path, threads: int) -> None:
    """Make `folders` the first places imports look (in that order) and `workdir` the working
    directory, with `threads` torch threads. This folder leaves sys.path: its common.py would shadow
    MMRec's namespace package `common/`, and its scripts' names any module of a reference."""
    torch.set_num_threads(threads)
    os.chdir(workdir)
    rest = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    sys.path[:] = [str(folder.resolve()) for folder in folders] + rest


def cuda_as_cpu() -> None:
    """`Tensor.cuda` and `Module.cuda` return their object when no GPU is present: the references call
    `.cuda()` whatever their device setting says."""
    if torch.cuda.is_available():
        return
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # type: ignore[method-assign]
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self  # type: ignore[method-assign]


def dok_update() -> None:
    """`scipy.sparse.dok_matrix._update`, gone from scipy 1.12 on, put back as the plain dict update it
    was: the adjacency builders of MMRec (BM3, FREEDOM, LightGCN) and RecBole (NGCF) call it."""
    if not hasattr(sp.dok_matrix, "_update"):
        sp.dok_matrix._update = lambda self, entries: self._dict.update(entries)


def result(
    epoch_s: float, steps: int, batch_size: int, embedding_size: int, settings: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """The JSON object `reference_epoch.py` reads: these keys, anything in `extra` (loss, build_s), and
    this process's peak RSS (data loading and model build included)."""
    return {
        "epoch_s": epoch_s,
        "steps": steps,
        "batch_size": batch_size,
        "embedding_size": embedding_size,
        "settings": settings,
        **extra,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run(parser: argparse.ArgumentParser, measure: Callable[[argparse.Namespace], dict[str, Any]]) -> int:
    """Parse, measure with the reference's own prints sent to stderr, and print the result as the one
    line of stdout (the parent reads the last one)."""
    args = parser.parse_args()
    with contextlib.redirect_stdout(sys.stderr):
        row = measure(args)
    print(json.dumps(row))
    return 0
