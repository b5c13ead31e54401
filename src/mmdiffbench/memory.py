"""Give freed heap memory back to the operating system between the phases of an epoch.

glibc serves buffers below its (adaptive, up to 32 MiB) mmap threshold from the heap and keeps
them after they are freed. A phase that allocates many such buffers (the bfloat16 InfoNCE
softmax of every recommender step: 10-70 MB each) then leaves the heap fragmented, and the next
phase's working set lands on top: DiffMM's TikTok peak RSS grew from 1,118 MiB (epoch 0) to
1,828 MiB (epoch 1) in the denoiser pass. `malloc_trim` returns the free pages; it costs a few
milliseconds. A no-op where the C library has no `malloc_trim` (macOS, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    return getattr(ctypes.CDLL(name), "malloc_trim", None)


def release_free_memory() -> bool:
    """Return freed heap pages to the OS; True when the C library could do it."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
