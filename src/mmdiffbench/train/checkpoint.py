"""Atomic writes: a killed job never leaves a half-written checkpoint or result file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mmdiffbench.environment import EnvironmentProblem


def _replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write into a uniquely named temporary file beside `path`, then rename it over `path`: a
    reader never sees half a file, two writers never share a temporary, and a failed write (a
    full or read-only disk) leaves no temporary behind and raises EnvironmentProblem."""
    try:
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise EnvironmentProblem(f"{path.parent}: cannot write ({err.strerror})") from None
    os.close(handle)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise EnvironmentProblem(f"{path}: cannot write ({err.strerror or err})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_torch(obj: Any, path: Path) -> None:
    _replace_atomically(Path(path), lambda tmp: torch.save(obj, tmp))


def load_torch(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=False)


def load_weights(path: Path) -> dict[str, Any]:
    """A model state (model.pt): tensors and containers of tensors only, so loading runs no code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def write_json(obj: Any, path: Path) -> None:
    _replace_atomically(Path(path), lambda tmp: tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n"))


def write_text(text: str, path: Path) -> None:
    _replace_atomically(Path(path), lambda tmp: tmp.write_text(text))
