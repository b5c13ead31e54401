"""`cpu` bfloat16 switches: bfloat16 only on a CPU that multiplies it natively, and the probe of
that agrees with what the kernel reports of the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mmdiffbench import precision

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize(
    ("mode", "device", "native", "expected"),
    [
        ("cpu", CPU, True, torch.bfloat16),
        ("cpu", CPU, False, torch.float32),  # emulated bfloat16: ~12x slower than float32
        ("cpu", CUDA, True, torch.float32),
        ("always", CPU, False, torch.bfloat16),
        ("always", CUDA, False, torch.bfloat16),
        ("never", CPU, True, torch.float32),
    ],
)
def test_compute_dtype_follows_mode_device_and_cpu(
    monkeypatch: pytest.MonkeyPatch, mode: str, device: torch.device, native: bool, expected: torch.dtype
) -> None:
    monkeypatch.setattr(precision, "native_bf16_cpu", lambda: native)
    assert precision.compute_dtype(mode, device) == expected


def test_native_bf16_probe_matches_the_kernels_cpu_flags() -> None:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo on this system")
    flags = set(cpuinfo.read_text().split())
    assert precision.native_bf16_cpu() == bool({"avx512_bf16", "amx_tile"} & flags)
