"""The heap trim between DiffMM's phases and the fixed mmap threshold (`mmap_threshold_mib`) are
really active where CI runs (Linux, glibc): freed buffers leave RSS, and the trainer sets it."""

import platform
import subprocess
import sys

import pytest
import torch

from mmdiffbench.config import ConfigError, resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.memory import map_large_buffers, release_free_memory
from mmdiffbench.train import phases
from mmdiffbench.train.run import build_model

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only"
)

# 100 buffers of 6 MiB, each followed by a small one that stays, then the large ones freed: after
# one 30 MiB temporary has raised glibc's adaptive threshold they come from the heap and their
# holes stay in RSS; with the threshold fixed at 1 MiB each had its own mapping, gone when freed
FRAGMENTING = """
import sys
import numpy as np
from mmdiffbench.memory import map_large_buffers
if sys.argv[1] == "fixed":
    assert map_large_buffers(1 << 20)
np.ones(30 << 17)  # 30 MiB, freed at once: the adaptive threshold rises to it
large, small = [], []
for _ in range(100):
    large.append(np.ones(6 << 17))
    small.append(np.ones(1 << 10))
del large
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) >> 10)
"""


def _rss_mib_after_freeing(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", FRAGMENTING, mode], check=True, capture_output=True, text=True)
    return int(done.stdout)


@glibc_only
def test_release_free_memory_reaches_malloc_trim_on_glibc():
    blocks = [bytearray(4 << 20) for _ in range(8)]  # heap blocks, then freed: something to return
    del blocks
    assert release_free_memory() is True


@glibc_only
def test_a_fixed_mmap_threshold_returns_freed_buffers_at_once():
    adaptive, fixed = _rss_mib_after_freeing("adaptive"), _rss_mib_after_freeing("fixed")
    assert adaptive - fixed > 400, (adaptive, fixed)  # 600 MiB freed: held by the heap, or not


def test_map_large_buffers_refuses_a_threshold_below_one_byte():
    with pytest.raises(ValueError, match="threshold_bytes"):
        map_large_buffers(0)


def test_the_trainer_key_sets_the_threshold_and_mmgcn_turns_it_on(
    synthetic: InteractionDataset, monkeypatch: pytest.MonkeyPatch
):
    calls: list[int] = []
    monkeypatch.setattr(phases, "map_large_buffers", calls.append)
    assert resolve("lightgcn", "baby").trainer["mmap_threshold_mib"] == 0
    for model_name in ("lightgcn", "mmgcn"):
        config = resolve(model_name, synthetic.name, "full", [])
        phases.PhaseRunner(build_model(synthetic, config, torch.device("cpu")), synthetic, config.trainer, 0)
    assert calls == [4 << 20]
    with pytest.raises(ConfigError, match=r"mmap_threshold_mib must be in \[0, 32\], got 33"):
        resolve("mmgcn", "baby", overrides=["mmap_threshold_mib=33"])
