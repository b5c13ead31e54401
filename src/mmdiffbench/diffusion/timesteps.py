"""Drawing the training step t: uniform (DiffMM) or DiffRec's importance sampling.

DiffRec (YiyanXu/DiffRec@5b0420e `GaussianDiffusion.sample_timesteps`, `training_losses`) keeps the
last N = 10 weighted losses of each step. Until every step has N of them it draws t uniformly
(and divides by nothing); then p_t = (1 - u) sqrt(mean_k L_{t,k}^2) / sum_s sqrt(mean_k L_{s,k}^2)
+ u / T with the uniform floor u = 0.001, and each sample's loss is divided by p_t T, so that
E_{t ~ p}[L_t / (p_t T)] = (1/T) sum_t L_t, the expectation under uniform draws. The history takes
the weighted loss before that division, one sample at a time in batch order (the oldest dropped
once a step holds N). LD4MRec (eq. 13, Alg. 1) describes the same rule without N or the floor;
DiffRec's values are the defaults for it too.

The history is two buffers, so it is in the owner's state_dict and a resumed run draws exactly
the steps an uninterrupted one would.
"""

from __future__ import annotations

import torch
from torch import nn


def uniform_steps(steps: int, batch: int, device: torch.device) -> torch.Tensor:
    """t uniform on {0..T-1}: the one draw both the default path and the warm-up make."""
    return torch.randint(0, steps, (batch,), device=device)


class ImportanceSampler(nn.Module):
    """DiffRec's importance sampling of t; `history` is its N, `uniform_floor` its u."""

    loss_history: torch.Tensor  # steps x N, float64, zero-padded until full
    loss_counts: torch.Tensor  # losses held per step

    def __init__(self, steps: int, history: int = 10, uniform_floor: float = 0.001) -> None:
        super().__init__()
        self.steps, self.uniform_floor = steps, uniform_floor
        self.register_buffer("loss_history", torch.zeros(steps, history, dtype=torch.float64))
        self.register_buffer("loss_counts", torch.zeros(steps, dtype=torch.long))

    def warmed_up(self) -> bool:
        """Whether every step holds a full history (before that, t is uniform)."""
        return bool((self.loss_counts == self.loss_history.shape[1]).all())

    def probabilities(self) -> torch.Tensor:
        """p_t over all steps (float64) from the current history."""
        root_mean_square = self.loss_history.square().mean(-1).sqrt()
        return (1.0 - self.uniform_floor) * root_mean_square / root_mean_square.sum() + self.uniform_floor / self.steps

    def sample(self, batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(t, p_t T): the steps and what each sample's loss is divided by (ones while uniform)."""
        if not self.warmed_up():
            t = uniform_steps(self.steps, batch, device)
            return t, torch.ones(batch, device=device)
        p = self.probabilities()
        t = torch.multinomial(p, batch, replacement=True)
        return t.to(device), (p[t] * self.steps).float().to(device)

    @torch.no_grad()
    def record(self, t: torch.Tensor, losses: torch.Tensor) -> None:
        """Append each sample's loss to its step's history, in batch order, keeping the last N."""
        t, losses = t.to(self.loss_history.device), losses.detach().to(self.loss_history)
        size = self.loss_history.shape[1]
        for step in t.unique().tolist():
            held = self.loss_history[step, : self.loss_counts[step]]
            kept = torch.cat([held, losses[t == step]])[-size:]
            self.loss_history[step, : len(kept)] = kept
            self.loss_counts[step] = len(kept)
