"""Give freed heap memory back to the operating system: after every epoch (trainer switch
`release_heap_each_epoch`), between the phases of an epoch, and (a trainer switch) for every
large buffer as soon as it is freed; or keep it (another switch) for the next buffers of the same
phase.

glibc serves buffers below its mmap threshold from the heap and keeps them after they are freed.
The threshold adapts: it rises to the size of the largest mmapped buffer freed so far, up to 32
MiB, so after the first big temporaries every 4-32 MiB buffer comes from the heap.

- `release_free_memory` (`malloc_trim`) returns the free heap pages once. A phase that allocates
  many such buffers (the bfloat16 InfoNCE softmax of every recommender step: 10-70 MB each)
  leaves the heap fragmented, and the next phase's working set lands on top: DiffMM's TikTok
  peak RSS grew from 1,118 MiB (epoch 0) to 1,828 MiB (epoch 1) in the denoiser pass.
- `map_large_buffers` fixes the threshold (glibc then stops adapting it): every buffer of at least
  that size gets its own mapping, unmapped when freed, within a step too. MMGCN's (U + I) x 64
  layers on Sports (13.8 MiB each, dozens per step) otherwise left about 870 MiB of free heap in
  RSS after its first step (benchmarks/README.md). The cost is a page fault per 4 KiB page of
  every such buffer; the numbers computed do not change.

- `keep_freed_heap` raises the trim threshold: glibc's adaptive one (twice the mmap threshold)
  returns the heap's free top as soon as a few of a step's freed 4-32 MiB buffers lie there, and
  the next step touches those pages again, one page fault per 4 KiB. On TikTok this took 0.6-1.0
  million faults and 1.1-2.0 s of system time per DiffMM epoch, 1.1-1.9 million and 2.3-3.8 s
  per CLCRec epoch (1.19x its epoch; benchmarks/README.md). Peak RSS grows by 1-6% (freed
  memory is reused, not returned), and `release_free_memory` still returns it between phases.

All are no-ops where the C library lacks them (macOS, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache

#: mallopt's parameter numbers (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: the largest mmap threshold glibc accepts on 64-bit systems, where its adaptive one stops rising
MAX_MMAP_THRESHOLD_MIB = 32


@cache
def _libc_function(name: str) -> Callable[..., int] | None:
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    function: Callable[..., int] | None = getattr(ctypes.CDLL(library), name, None)
    return function


def release_free_memory() -> bool:
    """Return freed heap pages to the OS; True when the C library could do it."""
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True


def map_large_buffers(threshold_bytes: int) -> bool:
    """From now on, for the whole process, serve every buffer of at least `threshold_bytes` by its
    own mmap (returned to the OS when freed), and return the heap's free pages now; True when the
    C library took the setting."""
    if threshold_bytes < 1:
        raise ValueError(f"threshold_bytes must be >= 1, got {threshold_bytes}")
    mallopt = _libc_function("mallopt")
    if mallopt is None or mallopt(M_MMAP_THRESHOLD, threshold_bytes) != 1:
        return False
    return release_free_memory()


def keep_freed_heap(trim_threshold_bytes: int, mmap_threshold_bytes: int) -> bool:
    """From now on, for the whole process, keep up to `trim_threshold_bytes` of free memory at the
    top of the heap instead of returning it at each free, with buffers below `mmap_threshold_bytes`
    served from the heap. Setting one threshold stops glibc adapting the other, so both are set.
    True when the C library took both."""
    if trim_threshold_bytes < 1 or mmap_threshold_bytes < 1:
        raise ValueError(f"thresholds must be >= 1, got {trim_threshold_bytes}, {mmap_threshold_bytes}")
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold_bytes) == 1 and mallopt(M_TRIM_THRESHOLD, trim_threshold_bytes) == 1


def apply_heap_settings(mmap_threshold_mib: int, trim_threshold_mib: int) -> None:
    """The trainer's two heap keys (0 = glibc's adaptive value); a fixed mmap threshold without a
    trim threshold keeps glibc's small default trim threshold (MMGCN's memory switch)."""
    if trim_threshold_mib:
        keep_freed_heap(trim_threshold_mib << 20, (mmap_threshold_mib or MAX_MMAP_THRESHOLD_MIB) << 20)
    elif mmap_threshold_mib:
        map_large_buffers(mmap_threshold_mib << 20)
