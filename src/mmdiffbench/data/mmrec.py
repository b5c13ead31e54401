"""Load MMRec's layout (enoche/MMRec): `<name>.inter` plus `<modality>_feat.npy` (facts:
shared/reference/baselines.md, "The data lineages").

`<name>.inter` is tab-separated with a header; only `userID`, `itemID` and `x_label` (0 train,
1 validation, 2 test) are read. Users and items number max id + 1, as in MMRec, and validation or
test rows of users without a training row are dropped, as MMRec drops them (a warning counts
them). Feature row i is item i. This is NOT the DiffMM release: the release's Baby split and ids
are LATTICE's, so MMRec features cannot be attached to release splits (or the converse).
Every check fails with a `DataError` naming the file, as the release loader's do.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.data.errors import DataError
from mmdiffbench.data.release import FEATURE_SUFFIX, DataWarning, available_modalities, load_features

COLUMNS = ("userID", "itemID", "x_label")
SPLIT_LABELS = {"train": 0, "val": 1, "test": 2}


def inter_file(directory: Path) -> Path:
    """The folder's one `*.inter` file (`<folder name>.inter` when there are several)."""
    candidates = sorted(directory.glob("*.inter"))
    named = directory / f"{directory.name}.inter"
    if named in candidates:
        return named
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DataError(f"{directory}: no *.inter file (MMRec's layout needs <name>.inter)")
    raise DataError(
        f"{directory}: several *.inter files ({', '.join(p.name for p in candidates)}) and none is {named.name}"
    )


def read_interactions(path: Path) -> pd.DataFrame:
    """The (userID, itemID, x_label) rows as int64, checked."""
    try:
        header = pd.read_csv(path, sep="\t", nrows=0).columns
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: unreadable as a tab-separated table ({err})") from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DataError(f"{path}: header lacks {', '.join(missing)} (found {', '.join(map(str, header))})")
    try:
        rows = pd.read_csv(path, sep="\t", usecols=list(COLUMNS), dtype=str)
    except (pd.errors.ParserError, ValueError) as err:
        raise DataError(f"{path}: unreadable as a tab-separated table ({err})") from None
    values = {}
    for column in COLUMNS:
        parsed = pd.to_numeric(rows[column], errors="coerce")
        bad = parsed.isna() | (parsed != parsed.round())
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2  # 1-based, after the header
            raise DataError(f"{path}: line {line}: {column} {rows[column].iloc[line - 2]!r} is not an integer")
        values[column] = parsed.astype(np.int64)
    table = pd.DataFrame(values)
    if (table[["userID", "itemID"]] < 0).to_numpy().any():
        raise DataError(f"{path}: negative user or item ids")
    labels = set(np.unique(table["x_label"]).tolist())
    if not labels <= set(SPLIT_LABELS.values()):
        raise DataError(f"{path}: x_label values {sorted(labels - {0, 1, 2})} (allowed: 0 train, 1 valid, 2 test)")
    duplicated = int(table.duplicated(["userID", "itemID"]).sum())
    if duplicated:
        raise DataError(f"{path}: {duplicated} repeated (userID, itemID) pairs")
    return table


def load_mmrec(
    directory: str | Path, modalities: list[str] | None = None, name: str | None = None
) -> InteractionDataset:
    """Load and check one dataset folder in MMRec's layout (features optional, as in the release loader)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory")
    path = inter_file(directory)
    table = read_interactions(path)
    if table.empty:
        raise DataError(f"{path}: no interactions")
    shape = (int(table["userID"].max()) + 1, int(table["itemID"].max()) + 1)
    trained = np.zeros(shape[0], dtype=bool)
    trained[table.loc[table["x_label"] == 0, "userID"].to_numpy()] = True
    orphans = (table["x_label"] != 0) & ~trained[table["userID"].to_numpy()]
    if orphans.any():
        warnings.warn(f"{path}: {int(orphans.sum())} held-out rows of users without training rows dropped", DataWarning)
        table = table[~orphans]
    splits = {}
    for split, label in SPLIT_LABELS.items():
        part = table[table["x_label"] == label]
        ones = np.ones(len(part), dtype=np.float32)
        splits[split] = sp.csr_matrix((ones, (part["userID"], part["itemID"])), shape=shape, dtype=np.float32)
    wanted = available_modalities(directory) if modalities is None else list(modalities)
    features = {}
    for modality in wanted:
        feature_path = directory / f"{modality}{FEATURE_SUFFIX}"
        if not feature_path.is_file():
            raise DataError(f"{feature_path}: missing feature file for modality {modality!r}")
        features[modality] = load_features(feature_path, shape[1])
    verification = {p.name: "unverified" for p in [path, *(directory / f"{m}{FEATURE_SUFFIX}" for m in wanted)]}
    return InteractionDataset(
        name or directory.name.lower(), splits["train"], splits["val"], splits["test"], features, verification
    )
