"""Progress of a long loop, readable where the output goes.

On a terminal a tqdm bar (it redraws one line). Elsewhere (a Snakemake log, a SLURM output file)
a bar's carriage returns make an unreadable file, so the loop instead prints a plain line every
`interval` seconds with the steps done, the time spent and the time left at the rate so far.
A loop shorter than `interval` prints nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")

INTERVAL_S = 30.0


def clock(seconds: float) -> str:
    """h:mm:ss, or m:ss under an hour (tqdm's format)."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress(
    items: Iterable[T], total: int, desc: str, interval: float | None = None, stream: TextIO | None = None
) -> Iterator[T]:
    """`items`, reporting on `stream` (default stderr): a bar on a terminal, else a line with an ETA
    every `interval` seconds (default INTERVAL_S)."""
    stream = sys.stderr if stream is None else stream
    interval = INTERVAL_S if interval is None else interval
    if stream.isatty():
        yield from tqdm(items, total=total, desc=desc, leave=False, file=stream)
        return
    start = last = time.perf_counter()
    for done, item in enumerate(items, start=1):
        yield item  # the caller's work on `item` runs here, so `now` counts it
        now = time.perf_counter()
        if now - last >= interval and done < total:
            spent = now - start
            stream.write(
                f"{desc}: {done}/{total} ({100 * done / total:.0f}%), {clock(spent)} spent, "
                f"ETA {clock(spent / done * (total - done))}\n"
            )
            stream.flush()
            last = now
