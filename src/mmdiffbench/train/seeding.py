"""Seeds and RNG snapshots: what makes a one-thread CPU run bit-identical and a resumed run exact.

What holds (tests/test_trainer.py, test_one_thread_runs_are_bit_identical and the resume tests):
- one CPU thread, same seed, same code: every loss, metric and weight is bit-identical;
- a resumed run equals the uninterrupted one (every RNG, sampler and optimiser is checkpointed);
- more threads: the order of floating-point reductions inside matrix products may differ between
  runs, so weights differ in the last bits (DiffMM on TikTok, 2 threads, one epoch: losses equal to
  about 1e-8 relative, weights within a few 1e-6) while the metrics stayed equal in our runs.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def _numpy_state() -> tuple[str, torch.Tensor, int, int, float]:
    """numpy's legacy global state with its key array as a tensor, so that checkpoints hold
    tensors and plain values only (loadable with weights_only)."""
    name, keys, position, has_gauss, cached = np.random.get_state()
    return str(name), torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(position), int(has_gauss), float(cached)


def capture_rng() -> dict[str, Any]:
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": _numpy_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    name, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
