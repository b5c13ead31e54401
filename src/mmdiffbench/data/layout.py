"""One entry point for both input layouts: the DiffMM release and MMRec's."""

from __future__ import annotations

from pathlib import Path

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.data.errors import DataError
from mmdiffbench.data.mmrec import load_mmrec
from mmdiffbench.data.release import SPLIT_FILES, load_release


def detect_layout(directory: Path) -> str:
    """`release` (trnMat.pkl present), `mmrec` (a *.inter file present); else a DataError naming both."""
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory")
    if (directory / SPLIT_FILES["train"]).exists():
        return "release"
    if any(directory.glob("*.inter")):
        return "mmrec"
    raise DataError(
        f"{directory}: neither the DiffMM release layout ({', '.join(SPLIT_FILES.values())}) nor MMRec's (<name>.inter)"
    )


def load_dataset(
    directory: str | Path, modalities: list[str] | None = None, layout: str | None = None
) -> InteractionDataset:
    """The dataset in `directory`, in whichever layout it is; with `layout` (the workflow's
    configured one) a folder in the other layout is a DataError."""
    directory = Path(directory)
    found = detect_layout(directory)
    if layout is not None and found != layout:
        raise DataError(f"{directory}: configured as the {layout} layout but holds the {found} layout")
    if found == "release":
        return load_release(directory, modalities)
    return load_mmrec(directory, modalities)
