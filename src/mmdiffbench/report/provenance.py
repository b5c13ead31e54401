"""Where a paper's baseline numbers came from: the cells that other published tables print too.

DiffMM's Table 1 shares 126 of its 135 baseline cells with MMSSL's README table, and LD4MRec's
Table 2 many cells with MMRec's leaderboard; a reader comparing our runs with those cells should
know they were not measured by the paper under its own protocol. The facts are computed, not
written by hand: paper_tables/provenance_values.csv holds the other tables (transcribed from the
files named in provenance_sources.csv, with their commits), and a paper cell "comes from" a
source when it prints the same number for the same model, dataset, metric and K. The paper's
own model (DiffMM in DiffMM's tables) is never compared.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from mmdiffbench.report.paper import load_paper_table, read_packaged_csv

CELL_KEYS = ["dataset_key", "model_key", "metric", "k"]
ROW_KEYS = ["dataset_key", "model_key", "variant"]


@cache
def sources() -> pd.DataFrame:
    """One row per source table, indexed by its key: short name, repo, path, commit, note."""
    return read_packaged_csv("provenance_sources.csv").set_index("source")


@cache
def source_values() -> pd.DataFrame:
    """The sources' cells (source, dataset_key, model_key, metric, k, paper_value)."""
    return load_paper_table("provenance_values.csv")


def baseline_cells(paper: pd.DataFrame) -> pd.DataFrame:
    """The printed cells of the baseline rows of a paper table (`paper_results` frame)."""
    keep = (paper["variant"] == "full") & (paper["model_key"] != paper["paper"]) & paper["paper_value"].notna()
    return paper[keep]


def matches(paper: pd.DataFrame) -> pd.DataFrame:
    """One row per (baseline cell, source printing the same number); `cell` is the paper frame's index."""
    cells = baseline_cells(paper).rename_axis("cell").reset_index()
    values = source_values()[["source", *CELL_KEYS, "paper_value"]].rename(columns={"paper_value": "source_value"})
    joined = cells.merge(values, on=CELL_KEYS)
    return joined[joined["paper_value"] == joined["source_value"]]


def cell_sources(paper: pd.DataFrame) -> pd.Series:
    """Per paper cell (the frame's index): the short names of the sources printing its number, or ''."""
    found = matches(paper)
    short = found["source"].map(sources()["short"])
    named = short.groupby(found["cell"]).agg(" + ".join)
    return named.reindex(paper.index, fill_value="")


def row_sources(paper: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """Per baseline row (dataset, model, variant) with a match: "MMRec's leaderboard: 3 of 4 cells"."""
    found = matches(paper)
    printed = baseline_cells(paper).groupby(ROW_KEYS).size()
    out: dict[tuple[str, str, str], list[str]] = {}
    for (source, *row), hits in found.groupby(["source", *ROW_KEYS]):
        key = (row[0], row[1], row[2])
        out.setdefault(key, []).append(f"{sources().loc[source, 'short']}: {len(hits)} of {printed[key]} cells")
    return {key: "; ".join(texts) for key, texts in out.items()}


def provenance_lines(paper: pd.DataFrame) -> list[str]:
    """One line per source that shares cells with the table: how many, which rows have none, the source."""
    cells = baseline_cells(paper)
    found = matches(paper)
    lines = []
    for source, hits in found.groupby("source"):
        info = sources().loc[source]
        matched = set(hits["model_key"])
        without = list(dict.fromkeys(cells.loc[~cells["model_key"].isin(matched), "model"]))
        lines.append(
            f"{len(hits)} of {len(cells)} printed baseline cells equal {info['short']} "
            f"({info['repo']} {info['path']} @{info['commit'][:7]}; {info['note']})"
            + (f"; rows with none: {', '.join(without)}" if without else "")
        )
    return lines
