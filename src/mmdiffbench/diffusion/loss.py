"""The denoiser's training loss: x0 reconstruction over uniformly drawn steps (eq. 11-13).

Per user: draw t uniformly from {0..T-1}, noise x0 to x_t (eq. 2), predict x0_hat with input
dropout, and take the mean over items of (x0 - x0_hat)^2, weighted per user by
`GaussianSchedule.loss_weights` (`snr`: the official code; `uniform`: eq. 13). The mean over
items (not the squared norm of eq. 11) is the official code's choice; it only rescales.
Models add their own terms (DiffMM's MSI, eq. 14) to the returned prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mmdiffbench.diffusion.denoiser import Denoiser
from mmdiffbench.diffusion.schedule import GaussianSchedule


@dataclass
class DiffusionLoss:
    """The weighted reconstruction loss (batch mean) and the prediction it was computed on."""

    loss: torch.Tensor
    x0_hat: torch.Tensor
    t: torch.Tensor


def diffusion_loss(
    denoiser: Denoiser, schedule: GaussianSchedule, x0: torch.Tensor, weighting: str = "snr"
) -> DiffusionLoss:
    t = torch.randint(0, schedule.steps, (x0.shape[0],), device=x0.device)
    xt = schedule.q_sample(x0, t)
    x0_hat = denoiser(xt, t, input_dropout=True)
    per_user = (x0 - x0_hat).pow(2).mean(dim=-1)
    return DiffusionLoss((schedule.loss_weights(t, weighting) * per_user).mean(), x0_hat, t)
