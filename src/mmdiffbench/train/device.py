"""Choose the torch device at run time, including a free GPU for concurrent local jobs.

Snakemake counts GPUs (`--resources gpu=2`) but never says which one a job should use, so
`auto` claims a GPU with an exclusive lock file (held until the process exits): two jobs
started side by side get different devices instead of both defaulting to cuda:0. Under
SLURM, CUDA_VISIBLE_DEVICES already names the job's GPU and it is simply cuda:0.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

import torch

from mmdiffbench.environment import EnvironmentProblem

_held_locks: list[object] = []  # keep lock files open for the life of the process


def claim_free_gpu(n_devices: int, lock_dir: Path | None = None) -> int:
    """Index of the first GPU whose lock file this process could take, exclusively.

    Inside a SLURM job the scheduler has already given the job its GPUs (with cgroups every job
    sees its own as device 0, under the same CUDA_VISIBLE_DEVICES on the same node), so a lock
    shared between jobs would only make the second job fail: SLURM's assignment is trusted.
    """
    if "SLURM_JOB_ID" in os.environ:
        return 0
    lock_dir = lock_dir or Path(os.environ.get("MMDIFFBENCH_GPU_LOCK_DIR", tempfile.gettempdir()))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "all").replace(",", "_")
    for index in range(n_devices):
        handle = open(lock_dir / f"mmdiffbench-gpu-{visible}-{index}.lock", "w")  # noqa: SIM115 (held open: the lock lives as long as the process)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _held_locks.append(handle)
        return index
    raise EnvironmentProblem(f"all {n_devices} visible GPUs are claimed by other mmdiffbench jobs")


def resolve_device(spec: str) -> torch.device:
    """`cpu`, `cuda`, `cuda:N` or `auto` (a free GPU if any, else the CPU)."""
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device(f"cuda:{claim_free_gpu(torch.cuda.device_count())}")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise EnvironmentProblem(f"device {spec!r} requested but CUDA is not available on this machine")
        if spec == "cuda":
            return torch.device(f"cuda:{claim_free_gpu(torch.cuda.device_count())}")
        return torch.device(spec)
    raise EnvironmentProblem(f"unknown device {spec!r}; use cpu, cuda, cuda:N or auto")
