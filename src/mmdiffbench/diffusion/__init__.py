"""Gaussian diffusion over interaction rows or embeddings, shared by DiffMM, DiffRec, DiffCL and LD4MRec."""

from mmdiffbench.diffusion.betas import NOISE_SCHEDULES, linear_betas, linear_cumulative_betas, schedule_betas
from mmdiffbench.diffusion.denoiser import Denoiser, timestep_embedding
from mmdiffbench.diffusion.inference import (
    FastReverseChain,
    fast_chain_applies,
    one_step_x0,
    reverse_chain,
    reverse_chain_fast,
)
from mmdiffbench.diffusion.loss import DiffusionLoss, diffusion_loss, row_mean_squared_error
from mmdiffbench.diffusion.schedule import TARGETS, WEIGHTINGS, GaussianSchedule
from mmdiffbench.diffusion.timesteps import ImportanceSampler

__all__ = [
    "NOISE_SCHEDULES",
    "TARGETS",
    "WEIGHTINGS",
    "Denoiser",
    "DiffusionLoss",
    "FastReverseChain",
    "GaussianSchedule",
    "ImportanceSampler",
    "diffusion_loss",
    "fast_chain_applies",
    "linear_betas",
    "linear_cumulative_betas",
    "one_step_x0",
    "reverse_chain",
    "reverse_chain_fast",
    "row_mean_squared_error",
    "schedule_betas",
    "timestep_embedding",
]
