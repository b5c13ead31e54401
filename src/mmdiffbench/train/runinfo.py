"""Provenance recorded in metrics.json: versions, machine, git commit, peak memory, and the processes
that trained a resumed run."""

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


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """Vendor, family, model and stepping of the first CPU (Linux), which name its microarchitecture where
    the model name does not (a VM's "Intel(R) Xeon(R) Processor"): two AVX-512 machines of other models
    can pick other matrix kernels, whose float32 sums round differently."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    first_cpu = [line.split(":", 1) for line in text.split("\n\n", 1)[0].splitlines() if ":" in line]
    fields = {key.strip(): value.strip() for key, value in first_cpu}
    keys = ("vendor_id", "cpu family", "model", "stepping")
    if not all(key in fields for key in keys):
        return None
    return "{} family {} model {} stepping {}".format(*(fields[key] for key in keys))


def machine() -> dict[str, object]:
    """What decides a run's speed, its `cpu` bfloat16 switches (mmdiffbench.precision) and the rounding
    of its CPU kernels."""
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_native_bf16": native_bf16_cpu(),
        "cpu_model": cpu_model(),
    }


# A checkpoint written before runs listed their processes: who trained its epochs is not known.
UNRECORDED_PROCESS: dict[str, object] = {"first_epoch": 0, "git_commit": "unrecorded"}


def process_record(first_epoch: int, device: str) -> dict[str, object]:
    """What one process of a run trained with, from `first_epoch` on. A resume on another CPU or at
    another commit continues the run, but its later epochs need not equal an uninterrupted run's to
    the last bit (other matrix kernels round differently), so metrics.json lists every process."""
    return {
        "first_epoch": first_epoch,
        "git_commit": git_commit(),
        "machine": machine(),
        "threads": torch.get_num_threads(),
        "device": device,
        "gpu": torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else None,
        "torch": str(torch.__version__),  # a plain str: checkpoints load with weights_only
    }


def process_changes(before: dict[str, object], now: dict[str, object]) -> list[str]:
    """What differs between the process that wrote a checkpoint and the one resuming it."""
    keys = ("git_commit", "machine", "threads", "device", "gpu", "torch")
    return [f"{key} {before.get(key, 'unrecorded')} -> {now[key]}" for key in keys if before.get(key) != now[key]]
