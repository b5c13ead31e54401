"""Provenance recorded in metrics.json: versions, machine, git commit, peak memory."""

from __future__ import annotations

import platform
import resource
import subprocess
from pathlib import Path

import numpy as np
import scipy
import torch

import mmdiffbench
from mmdiffbench.precision import native_bf16_cpu


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def git_commit() -> str:
    """The commit of the mmdiffbench checkout, or 'unknown' for an installed copy."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(mmdiffbench.__file__).parent,
            check=False,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "mmdiffbench": mmdiffbench.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def machine() -> dict[str, object]:
    """What decides a run's speed and its `cpu` bfloat16 switches (mmdiffbench.precision)."""
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_native_bf16": native_bf16_cpu(),
    }
