"""The heap trim between DiffMM's phases is really active where CI runs (Linux, glibc)."""

import platform
import sys

import pytest

from mmdiffbench.memory import release_free_memory


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_release_free_memory_reaches_malloc_trim_on_glibc():
    blocks = [bytearray(4 << 20) for _ in range(8)]  # heap blocks, then freed: something to return
    del blocks
    assert release_free_memory() is True
