"""The Gaussian noise schedule of DiffMM eq. 1-3 and the DDPM quantities derived from it.

Indices are 0-based as in the official code: step index t in {0, ..., T-1} is the paper's
step t + 1. The schedule is linear in the cumulative noise 1 - gamma_bar (eq. 3):
    1 - gamma_bar_t = s * (gamma_min + t / (T - 1) * (gamma_max - gamma_min)).
The official code (HKUDS/DiffMM @fae20e6, `GaussianDiffusion(beta_fixed=True)`) then
overwrites the first beta with 1e-4 and recomputes gamma_bar; `first_beta` reproduces that
(default in the YAML) and `first_beta=None` keeps eq. 3 exactly.

Everything is precomputed once in float64 and stored as float32 buffers, so the schedule
moves with the model and is part of its state_dict.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def linear_cumulative_betas(
    steps: int, scale: float, noise_min: float, noise_max: float, first_beta: float | None = None
) -> np.ndarray:
    """betas (float64) whose cumulative noise 1 - prod(1 - beta) follows eq. 3."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    one_minus_bar = scale * np.linspace(noise_min, noise_max, steps, dtype=np.float64)
    bar = 1.0 - one_minus_bar
    betas = np.empty(steps, dtype=np.float64)
    betas[0] = one_minus_bar[0]
    betas[1:] = np.minimum(1.0 - bar[1:] / bar[:-1], 0.999)
    if first_beta is not None:
        betas[0] = first_beta
    return betas


class GaussianSchedule(nn.Module):
    """Forward sampling (eq. 2), posterior (eq. 7-8) and loss weights (eq. 11-12)."""

    def __init__(
        self, steps: int, scale: float, noise_min: float, noise_max: float, first_beta: float | None = 1e-4
    ) -> None:
        super().__init__()
        self.steps = steps
        betas = linear_cumulative_betas(steps, scale, noise_min, noise_max, first_beta)
        bar = np.cumprod(1.0 - betas)
        bar_prev = np.concatenate([[1.0], bar[:-1]])  # gamma_bar_{-1} = 1
        variance = betas * (1.0 - bar_prev) / (1.0 - bar)
        snr = bar / (1.0 - bar)
        snr_prev = np.concatenate([[np.inf], snr[:-1]])
        weights = np.where(np.arange(steps) == 0, 1.0, snr_prev - snr)  # eq. 11 without 1/2; eq. 12 at index 0
        tensors = {
            "betas": betas,
            "alphas_cumprod": bar,
            "sqrt_alphas_cumprod": np.sqrt(bar),
            "sqrt_one_minus_alphas_cumprod": np.sqrt(1.0 - bar),
            "posterior_variance": variance,
            "posterior_coef_x0": betas * np.sqrt(bar_prev) / (1.0 - bar),
            "posterior_coef_xt": (1.0 - bar_prev) * np.sqrt(1.0 - betas) / (1.0 - bar),
            "snr_weights": weights,
        }
        for name, value in tensors.items():
            self.register_buffer(name, torch.tensor(value, dtype=torch.float32))

    @staticmethod
    def _at(values: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """values[t] shaped (B, 1) to broadcast over items."""
        return values[t].unsqueeze(-1)

    def q_coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(sqrt(gamma_bar_t), sqrt(1 - gamma_bar_t)) of eq. 2, each (B, 1)."""
        return self._at(self.sqrt_alphas_cumprod, t), self._at(self.sqrt_one_minus_alphas_cumprod, t)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """x_t = sqrt(gamma_bar_t) x0 + sqrt(1 - gamma_bar_t) eps (eq. 2, reparameterised)."""
        if noise is None:
            noise = torch.randn_like(x0)
        signal, spread = self.q_coefficients(t)
        return signal * x0 + spread * noise

    def posterior_mean(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """mu~(x_t, x0, t) of eq. 8 (and, with x0 predicted, mu_theta of eq. 10)."""
        return self._at(self.posterior_coef_x0, t) * x0 + self._at(self.posterior_coef_xt, t) * xt

    def loss_weights(self, t: torch.Tensor, weighting: str) -> torch.Tensor:
        """Per-sample weights of the x0 reconstruction loss.

        `snr`: SNR(t-1) - SNR(t), 1 at index 0 (eq. 11-12 as the official code runs them);
        `uniform`: all ones (the practical eq. 13).
        """
        if weighting == "snr":
            return self.snr_weights[t]
        if weighting == "uniform":
            return torch.ones_like(t, dtype=self.snr_weights.dtype)
        raise ValueError(f"unknown loss weighting {weighting!r}; expected 'snr' or 'uniform'")
