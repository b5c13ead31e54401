"""Small tensor helpers shared by the library."""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable

import torch


def tensor_sum(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """a + b + c ... left to right: the values of Python's `sum` (0 + a is exactly a), typed as a
    tensor; unlike stacking and reducing, it keeps the order of the additions and so the rounding."""
    return functools.reduce(operator.add, tensors)
