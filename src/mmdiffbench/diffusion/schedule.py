"""The Gaussian noise schedule of DiffMM eq. 1-3 and the DDPM quantities derived from it.

Indices are 0-based as in the official code: step index t in {0, ..., T-1} is the paper's
step t + 1. The betas come from `betas.schedule_betas` (default `linear-var`, DiffMM eq. 3
with the official first beta 1e-4, `first_beta=None` keeps eq. 3 exactly).

The network predicts either x0 (DiffMM, LD4MRec, DiffRec `x0`) or the noise eps (DiffRec
`eps`, its `mean_type`); `x0_from_output` turns either into the x0 estimate that the
posterior mean of eq. 8 takes, which is how DiffRec forms its eps-model mean.

Everything is precomputed once in float64 and stored as float32 buffers, so the schedule
moves with the model. The buffers that DiffMM's checkpoints carry stay in the state_dict; those
added for the eps target and DiffRec's weights are derived and not saved (persistent=False), so
those checkpoints still load strictly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mmdiffbench.diffusion.betas import schedule_betas

TARGETS = ("x0", "eps")
WEIGHTINGS = ("snr", "uniform", "diffrec")


class GaussianSchedule(nn.Module):
    """Forward sampling (eq. 2), posterior (eq. 7-8) and loss weights (eq. 11-12)."""

    # float32 buffers of length `steps`, registered in __init__
    betas: torch.Tensor
    alphas_cumprod: torch.Tensor
    sqrt_alphas_cumprod: torch.Tensor
    sqrt_one_minus_alphas_cumprod: torch.Tensor
    posterior_variance: torch.Tensor
    posterior_coef_x0: torch.Tensor
    posterior_coef_xt: torch.Tensor
    snr_weights: torch.Tensor
    sqrt_recip_alphas_cumprod: torch.Tensor
    sqrt_recipm1_alphas_cumprod: torch.Tensor
    diffrec_eps_weights: torch.Tensor

    def __init__(
        self,
        steps: int,
        scale: float,
        noise_min: float,
        noise_max: float,
        first_beta: float | None = 1e-4,
        noise_schedule: str = "linear-var",
    ) -> None:
        super().__init__()
        self.steps = steps
        betas = schedule_betas(noise_schedule, steps, scale, noise_min, noise_max, first_beta)
        bar = np.cumprod(1.0 - betas)
        bar_prev = np.concatenate([[1.0], bar[:-1]])  # gamma_bar_{-1} = 1
        variance = betas * (1.0 - bar_prev) / (1.0 - bar)
        snr = bar / (1.0 - bar)
        snr_prev = np.concatenate([[np.inf], snr[:-1]])
        weights = np.where(np.arange(steps) == 0, 1.0, snr_prev - snr)  # eq. 11 without 1/2; eq. 12 at index 0
        eps_weights = np.ones(steps)  # DiffRec's eps reweighting, 1 at index 0 where it divides by zero
        eps_weights[1:] = (1.0 - bar[1:]) / ((1.0 - bar_prev[1:]) ** 2 * (1.0 - betas[1:]))
        saved = {
            "betas": betas,
            "alphas_cumprod": bar,
            "sqrt_alphas_cumprod": np.sqrt(bar),
            "sqrt_one_minus_alphas_cumprod": np.sqrt(1.0 - bar),
            "posterior_variance": variance,
            "posterior_coef_x0": betas * np.sqrt(bar_prev) / (1.0 - bar),
            "posterior_coef_xt": (1.0 - bar_prev) * np.sqrt(1.0 - betas) / (1.0 - bar),
            "snr_weights": weights,
        }
        derived = {
            "sqrt_recip_alphas_cumprod": np.sqrt(1.0 / bar),
            "sqrt_recipm1_alphas_cumprod": np.sqrt(1.0 / bar - 1.0),
            "diffrec_eps_weights": eps_weights,
        }
        for tensors, persistent in ((saved, True), (derived, False)):
            for name, value in tensors.items():
                self.register_buffer(name, torch.tensor(value, dtype=torch.float32), persistent=persistent)

    @staticmethod
    def _at(values: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """values[t] shaped (B, 1) to broadcast over a row's entries."""
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

    def x0_from_output(self, output: torch.Tensor, xt: torch.Tensor, t: torch.Tensor, target: str) -> torch.Tensor:
        """The x0 estimate from the network's output: itself for `x0`, eq. 2 solved for x0 for `eps`."""
        if target == "x0":
            return output
        if target == "eps":
            return (
                self._at(self.sqrt_recip_alphas_cumprod, t) * xt
                - self._at(self.sqrt_recipm1_alphas_cumprod, t) * output
            )
        raise ValueError(f"unknown target {target!r}; expected one of {TARGETS}")

    def loss_weights(self, t: torch.Tensor, weighting: str, target: str = "x0") -> torch.Tensor:
        """Per-sample weights of the squared error of the target.

        `snr`: SNR(t-1) - SNR(t), 1 at index 0 (eq. 11-12 as the official code runs them), a
        weight of the x0 error only; `uniform`: all ones (the practical eq. 13; DiffRec's
        `reweight=False` branch, which at YiyanXu/DiffRec@5b0420e stops on an unbound `loss`,
        read as the unweighted error); `diffrec`:
        DiffRec's `reweight=True`, `snr` for x0 and for eps (1 - bar_t) / ((1 - bar_{t-1})^2
        (1 - beta_t)), 1 at index 0, as its code has it (not the ELBO weight
        beta_t / ((1 - beta_t)(1 - bar_{t-1}))); its index-0 eps term is the loss's concern.
        """
        if weighting == "uniform":
            return torch.ones_like(t, dtype=self.snr_weights.dtype)
        if weighting == "snr" and target == "x0":
            return self.snr_weights[t]
        if weighting == "diffrec" and target in TARGETS:
            return (self.snr_weights if target == "x0" else self.diffrec_eps_weights)[t]
        raise ValueError(
            f"no loss weighting {weighting!r} for target {target!r}; expected one of {WEIGHTINGS} "
            "('snr' for the x0 target only)"
        )
