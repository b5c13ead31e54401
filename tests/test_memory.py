"""The heap trim between DiffMM's phases, the fixed mmap threshold (`mmap_threshold_mib`) and the
raised trim threshold (`trim_threshold_mib`) are really active where CI runs (Linux, glibc): freed
buffers leave RSS, or stay mapped for the next ones, and the trainer sets them and releases the
free heap after every epoch (`release_heap_each_epoch`)."""

import dataclasses
import platform
import subprocess
import sys
import weakref
from pathlib import Path

import pytest
import torch

from mmdiffbench import memory
from mmdiffbench.config import ConfigError, resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.memory import keep_freed_heap, map_large_buffers, release_free_memory
from mmdiffbench.train import phases, train_run, trainer
from mmdiffbench.train.run import build_model
from tests._same_state import assert_same_state

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


# a training step's pattern: four 6 MiB temporaries, then all freed, 40 times; glibc's adaptive trim
# threshold (twice the adaptive mmap threshold, here 12 MiB) returns the heap's free top each time
# and every step faults those pages in again; with the trim threshold raised they stay mapped
REUSING = """
import resource, sys
import numpy as np
from mmdiffbench.memory import keep_freed_heap
if sys.argv[1] == "kept":
    assert keep_freed_heap(1 << 30, 32 << 20)
np.ones(6 << 17)  # the adaptive mmap threshold rises to 6 MiB
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    step = [np.ones(6 << 17) for _ in range(4)]
    del step
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", REUSING, mode], check=True, capture_output=True, text=True)
    return int(done.stdout)


@glibc_only
def test_a_raised_trim_threshold_keeps_freed_buffers_mapped_for_the_next_step():
    adaptive, kept = _faults("adaptive"), _faults("kept")
    # seen here: 81,000 (2,000 pages of 4 KiB faulted in again per step) against 1,500 (about once)
    assert adaptive > 40 * 1000 and kept * 20 < adaptive, (adaptive, kept)


def test_heap_settings_refuse_a_threshold_below_one_byte():
    with pytest.raises(ValueError, match="thresholds must be >= 1"):
        keep_freed_heap(0, 1 << 20)


def test_map_large_buffers_refuses_a_threshold_below_one_byte():
    with pytest.raises(ValueError, match="threshold_bytes"):
        map_large_buffers(0)


def test_the_trainer_keys_set_the_thresholds_and_mmgcn_maps_its_large_buffers(
    synthetic: InteractionDataset, monkeypatch: pytest.MonkeyPatch
):
    kept: list[tuple[int, int]] = []
    mapped: list[int] = []
    monkeypatch.setattr(memory, "keep_freed_heap", lambda trim, mmap: kept.append((trim, mmap)))
    monkeypatch.setattr(memory, "map_large_buffers", mapped.append)
    assert resolve("lightgcn", "baby").trainer["mmap_threshold_mib"] == 0
    for model_name, extra in (("lightgcn", []), ("mmgcn", []), ("mmgcn", ["trim_threshold_mib=0"])):
        config = resolve(model_name, synthetic.name, "full", extra)
        phases.PhaseRunner(build_model(synthetic, config, torch.device("cpu")), synthetic, config.trainer, 0)
    assert kept == [(1024 << 20, 32 << 20), (1024 << 20, 4 << 20)]  # 32 MiB: glibc's cap, where adaptive ends
    assert mapped == [4 << 20]  # a fixed mmap threshold alone: glibc's small trim threshold stays
    with pytest.raises(ConfigError, match=r"mmap_threshold_mib must be in \[0, 32\], got 33"):
        resolve("mmgcn", "baby", overrides=["mmap_threshold_mib=33"])
    with pytest.raises(ConfigError, match=r"trim_threshold_mib must be in \[0, 2047\], got 2048"):
        resolve("mmgcn", "baby", overrides=["trim_threshold_mib=2048"])


def test_the_trainer_returns_the_free_heap_once_after_every_epoch_unless_switched_off(
    synthetic: InteractionDataset, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    calls: list[int] = []
    monkeypatch.setattr(trainer, "release_free_memory", lambda: calls.append(1) or True)
    for switch, expected in (("true", 3), ("false", 0)):
        calls.clear()
        config = resolve(
            "mf_bpr", synthetic.name, "full", ["epochs=3", "patience=0", f"release_heap_each_epoch={switch}"]
        )
        train_run(synthetic, config, seed=1, out_dir=tmp_path / switch, device=torch.device("cpu"))
        assert len(calls) == expected, switch


def test_a_run_handed_its_dataset_drops_the_feature_arrays_and_trains_the_same(
    synthetic: InteractionDataset, tmp_path: Path, one_thread: None
) -> None:
    """`mmdiffbench train` passes `release_features`: once MGCN is built (it trains copies of the
    tables) the dataset's arrays are unreferenced, hence freed, and the numbers do not change."""
    config = resolve("mgcn", synthetic.name, "full", ["epochs=2", "patience=0"])
    handed = dataclasses.replace(synthetic, features={m: a.copy() for m, a in synthetic.features.items()})
    arrays = [weakref.ref(array) for array in handed.features.values()]
    cpu = torch.device("cpu")
    kept = train_run(synthetic, config, seed=1, out_dir=tmp_path / "kept", device=cpu)
    released = train_run(handed, config, seed=1, out_dir=tmp_path / "released", device=cpu, release_features=True)
    assert handed.features == {} and synthetic.features  # the caller that kept its dataset keeps its arrays
    assert arrays and all(ref() is None for ref in arrays)
    assert (released["val"], released["test"]) == (kept["val"], kept["test"])
    assert_same_state(tmp_path / "kept", tmp_path / "released")
