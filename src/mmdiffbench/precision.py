"""Where bfloat16 matmuls are used: one switch per model part, resolved against the device.

On CPUs that multiply bfloat16 natively (AVX512-BF16 or AMX) a bfloat16 matmul runs 2-6x faster
than a float32 one; elsewhere oneDNN emulates it and it runs about 12x SLOWER (AVX2 EPYC, 4096 x 64
by 64 x 9000: benchmarks/bf16_matmul.py). On GPUs float32 is already fast enough for these sizes. So
`cpu` (the useful default) means bfloat16 only when the tensors live on a CPU with native bfloat16,
float32 everywhere else. Accumulation stays in float32 inside the kernels; what changes is the
rounding of the inputs and of the product. Runs record which it was (metrics.json `machine`).
"""

from __future__ import annotations

import torch

MODES = ("never", "always", "cpu")


def check_mode(name: str, mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"{name} must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


# probed once at import: a plain global is what torch.compile reads inside a compiled step
_NATIVE_BF16_CPU = bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def native_bf16_cpu() -> bool:
    """Whether this CPU has bfloat16 dot-product instructions (AVX512-BF16 or AMX tiles)."""
    return _NATIVE_BF16_CPU


def compute_dtype(mode: str, device: torch.device) -> torch.dtype:
    """bfloat16 when `mode` asks for it on this device, else float32."""
    on = mode == "always" or (mode == "cpu" and device.type == "cpu" and native_bf16_cpu())
    return torch.bfloat16 if on else torch.float32
