"""Where bfloat16 matmuls are used: one switch per model part, resolved against the device.

On this project's CPUs (AVX-512 with bf16) a bfloat16 matmul runs 2-6x faster than a float32
one; on GPUs float32 is already fast enough for these sizes, so `cpu` (bfloat16 only when the
tensors live on a CPU) is the useful default. Accumulation stays in float32 inside the kernels;
what changes is the rounding of the inputs and of the product.
"""

from __future__ import annotations

import torch

MODES = ("never", "always", "cpu")


def check_mode(name: str, mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"{name} must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def compute_dtype(mode: str, device: torch.device) -> torch.dtype:
    """bfloat16 when `mode` asks for it on this device, else float32."""
    on = mode == "always" or (mode == "cpu" and device.type == "cpu")
    return torch.bfloat16 if on else torch.float32
