"""Give freed heap memory back to the operating system: between the phases of an epoch, and (a
trainer switch) for every large buffer as soon as it is freed.

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

Both are no-ops where the C library lacks them (macOS, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache

#: mallopt's parameter number for the mmap threshold (glibc malloc.h)
M_MMAP_THRESHOLD = -3


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
