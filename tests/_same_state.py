"""Equal bits in two runs' model.pt: the check of the determinism, resume and memory tests."""

from __future__ import annotations

from pathlib import Path

import torch


def assert_same_state(a: Path, b: Path) -> None:
    """Every tensor of run folder `a`'s model.pt equals `b`'s, bit for bit, under the same keys."""
    same_tensors(torch.load(a / "model.pt"), torch.load(b / "model.pt"), "model.pt")


def same_tensors(left: object, right: object, where: str) -> None:
    """Equal bits in every tensor of two (nested) states."""
    if isinstance(left, dict) and isinstance(right, dict):
        assert left.keys() == right.keys(), where
        for key in left:
            same_tensors(left[key], right[key], f"{where}/{key}")
    elif isinstance(left, torch.Tensor) and isinstance(right, torch.Tensor):
        assert torch.equal(left, right), where
    else:
        assert left == right, where
