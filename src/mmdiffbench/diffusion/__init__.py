"""Gaussian diffusion over interaction rows, shared by DiffMM, DiffRec, DiffCL and LD4MRec."""

from mmdiffbench.diffusion.denoiser import Denoiser, timestep_embedding
from mmdiffbench.diffusion.inference import FastReverseChain, fast_chain_applies, reverse_chain, reverse_chain_fast
from mmdiffbench.diffusion.loss import DiffusionLoss, diffusion_loss, row_mean_squared_error
from mmdiffbench.diffusion.schedule import GaussianSchedule, linear_cumulative_betas

__all__ = [
    "Denoiser",
    "DiffusionLoss",
    "FastReverseChain",
    "GaussianSchedule",
    "diffusion_loss",
    "fast_chain_applies",
    "linear_cumulative_betas",
    "reverse_chain",
    "reverse_chain_fast",
    "row_mean_squared_error",
    "timestep_embedding",
]
