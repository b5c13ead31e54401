"""Per-row notes beside our numbers: how our setting differs from the paper's.

A row's note joins the registry's note for its cell (e.g. what our w/o DM also drops) and,
where the paper lists the dataset's modalities, the difference between the modalities we
trained with (the data rule's stats.json) and the paper's (e.g. TikTok without text features).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from mmdiffbench.report.paper import paper_modalities


@cache
def _our_modalities(stats_path: str) -> tuple[str, ...] | None:
    path = Path(stats_path)
    return tuple(json.loads(path.read_text()).get("modalities") or ()) if path.is_file() else None


def modality_note(paper: str, dataset: str, stats_path: str) -> str:
    """'' when the modalities agree, or when either side is unknown."""
    theirs = paper_modalities(paper, dataset)
    ours = _our_modalities(stats_path)
    if not theirs or ours is None or set(ours) == set(theirs):
        return ""
    ordered = [m for m in theirs if m in ours] + sorted(set(ours) - set(theirs))
    absent = [m for m in theirs if m not in ours]
    return (
        f"modalities: ours {'+'.join(ordered) or 'none'} ({len(ordered)}; {', '.join(absent)} absent from our copy "
        f"of the release), the paper's {'+'.join(theirs)} ({len(theirs)})"
    )


def row_note(cell_note: str, paper: str, dataset: str, stats_path: str) -> str:
    return "; ".join(n for n in (cell_note, modality_note(paper, dataset, stats_path)) if n)
