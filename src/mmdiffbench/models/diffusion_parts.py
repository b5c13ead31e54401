"""The shared diffusion core built from a model's config keys, one spelling for every diffusion model.

Keys: `denoiser_dims`, `step_embedding_dim`, `denoiser_dropout`, `denoiser_norm`, `denoiser_bf16`
for the MLP; `steps`, `noise_schedule`, `noise_scale`, `noise_min`, `noise_max`, `first_beta`
(0 = the schedule's own first beta) for the noise schedule.
"""

from __future__ import annotations

from typing import Any

from mmdiffbench.diffusion import Denoiser, GaussianSchedule


def denoiser_from_config(width: int, c: dict[str, Any], condition_dim: int = 0) -> Denoiser:
    return Denoiser(
        width,
        list(c["denoiser_dims"]),
        c["step_embedding_dim"],
        c["denoiser_dropout"],
        c["denoiser_norm"],
        c["denoiser_bf16"],
        condition_dim,
    )


def schedule_from_config(c: dict[str, Any]) -> GaussianSchedule:
    first_beta = c["first_beta"] if c["first_beta"] > 0 else None
    return GaussianSchedule(
        c["steps"], c["noise_scale"], c["noise_min"], c["noise_max"], first_beta, c["noise_schedule"]
    )
