"""Atomic writes: a killed job never leaves a half-written checkpoint or result file."""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mmdiffbench.data.errors import DataError
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
    """torch.save without the per-record CRC32: torch.load never checks it (a flipped byte loads
    silently), and computing it made a 335 MB DiffMM checkpoint 2.25x slower to write
    (benchmarks/checkpoint_write.py: 0.613 vs 0.272 s, 2 threads). A torn write is what the atomic rename guards against."""
    previous = torch.serialization.get_crc32_options()
    torch.serialization.set_crc32_options(False)
    try:
        _replace_atomically(Path(path), lambda tmp: torch.save(obj, tmp))
    finally:
        torch.serialization.set_crc32_options(previous)


def load_tensors(path: Path) -> Any:
    """model.pt or checkpoint.pt: tensors, numbers, strings and containers of them only.

    Run folders are shared between people, so nothing in one may run code: torch's
    `weights_only` loader refuses every other pickled object, and so does this, in one line.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"{path}: refused, it holds more than tensors and plain values ({reason})") from None
    except (EOFError, RuntimeError, OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable or truncated ({type(err).__name__}: {err})") from None


def write_json(obj: Any, path: Path) -> None:
    _replace_atomically(Path(path), lambda tmp: tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n"))


def write_text(text: str, path: Path) -> None:
    _replace_atomically(Path(path), lambda tmp: tmp.write_text(text))
