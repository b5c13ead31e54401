"""Atomic writes: a killed job never leaves a half-written checkpoint or result file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch


def _replace_atomically(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


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
