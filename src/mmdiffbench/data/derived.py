"""Write a derived dataset folder (LD4MRec's noisy training, data/noisy.py) for the workflow.

The folder is in the release layout whatever the source's layout: the transformed splits as
pickles, the source's feature files linked (to the files they resolve to, never copied: the
transform does not touch features), and `derived.json` saying how it was made. The folder is
rebuilt from scratch each time; one that holds other files and no `derived.json` is refused, so
a mistyped destination never deletes a user's data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmdiffbench.data.errors import DataError
from mmdiffbench.data.layout import load_dataset
from mmdiffbench.data.noisy import add_random_noise
from mmdiffbench.data.release import FEATURE_SUFFIX, write_splits

MARKER = "derived.json"
SPLITS = ("train", "val", "test")


def _fresh(dest: Path) -> None:
    """`dest` empty: created, or emptied when it holds an earlier derived folder."""
    dest.mkdir(parents=True, exist_ok=True)
    entries = list(dest.iterdir())
    if entries and not (dest / MARKER).is_file():
        raise DataError(f"{dest}: not empty and not a derived dataset folder (no {MARKER}); refusing to overwrite")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            raise DataError(f"{entry}: a folder inside a derived dataset folder; remove it by hand")
        entry.unlink()


def preset_name(directory: Path, name: str) -> str:
    """The dataset name a run's presets are looked up by: for a derived folder its source
    folder's name (a noisy copy trains with the settings tuned on its clean data, as LD4MRec's
    Table 3 compares one configuration clean and noisy), else `name`."""
    marker = Path(directory) / MARKER
    if not marker.is_file():
        return name
    return Path(json.loads(marker.read_text())["source"]).name.lower()


def write_noisy(source: Path, dest: Path, ratio: float, seed: int) -> dict[str, Any]:
    """`source` (either layout) with LD4MRec's random noise in train and validation, written to
    `dest`; returns what `derived.json` records (the split sizes before and after)."""
    if source.resolve() == dest.resolve():
        raise DataError(f"{dest}: the destination is the source folder")
    clean = load_dataset(source)
    noisy = add_random_noise(clean, seed, ratio)
    _fresh(dest)
    record: dict[str, Any] = {"source": str(source), "transform": "random_noise", "ratio": ratio, "seed": seed}
    (dest / MARKER).write_text(json.dumps(record) + "\n")  # first: a folder cut short is still ours to rebuild
    write_splits(noisy, dest)
    for modality in clean.modalities:
        name = f"{modality}{FEATURE_SUFFIX}"
        (dest / name).symlink_to((source / name).resolve())
    record["interactions"] = {s: {"clean": clean.split(s).nnz, "noisy": noisy.split(s).nnz} for s in SPLITS}
    (dest / MARKER).write_text(json.dumps(record, indent=2) + "\n")
    return record
