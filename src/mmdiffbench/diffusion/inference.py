"""Inference of DiffMM section 2.2.3: corrupt x0 for T' steps, then a deterministic reverse.

The reverse chain always runs all T steps (index T-1 down to 0, as the official code),
each x_{t-1} = mu_theta(x_t, t) = c_x0[t] x0_hat + c_xt[t] x_t (eq. 10), optionally with
posterior noise (`sampling_noise`, off in every official command line). T' = 0 starts from
x0 itself (the official default).

`reverse_chain` is the literal chain. `reverse_chain_fast` computes the same result with
far fewer FLOPs for the one-hidden-layer tanh denoiser without input normalisation or
sampling noise (every official configuration): the first layer is linear in x, and
x_{t-1} is linear in (x0_hat, x_t) with x0_hat = W2 h + b2, so W1 x_{t-1} =
c_x0 (W1 W2 h + W1 b2) + c_xt W1 x_t can be carried in the hidden space with the
precomputed hidden x hidden matrix W1 W2. Only the first product (with the sparse 0/1 x0)
and the last output layer touch all items; since c_xt[0] = 0 the result is the last
x0_hat. The intermediate dense rows are never formed.
"""

from __future__ import annotations

import torch

from mmdiffbench.diffusion.denoiser import Denoiser
from mmdiffbench.diffusion.schedule import GaussianSchedule


def _start(schedule: GaussianSchedule, x0: torch.Tensor, corrupt_steps: int) -> torch.Tensor:
    if corrupt_steps == 0:
        return x0
    t = torch.full((x0.shape[0],), corrupt_steps - 1, dtype=torch.long, device=x0.device)
    return schedule.q_sample(x0, t)


@torch.no_grad()
def reverse_chain(
    denoiser: Denoiser,
    schedule: GaussianSchedule,
    x0: torch.Tensor,
    corrupt_steps: int = 0,
    sampling_noise: bool = False,
) -> torch.Tensor:
    """The denoised rows (B x n_items) after T reverse steps from x0 corrupted T' steps."""
    x = _start(schedule, x0, corrupt_steps)
    for step in reversed(range(schedule.steps)):
        t = torch.full((x.shape[0],), step, dtype=torch.long, device=x.device)
        x = schedule.posterior_mean(denoiser(x, t), x, t)
        if sampling_noise and step > 0:
            # the official code uses index 1's log-variance at index 0; index 0 adds no noise
            x = x + schedule.posterior_variance[step].sqrt() * torch.randn_like(x)
    return x


def fast_chain_applies(denoiser: Denoiser, sampling_noise: bool) -> bool:
    return len(denoiser.layers) == 2 and not denoiser.normalize_input and not sampling_noise


@torch.no_grad()
def reverse_chain_fast(
    denoiser: Denoiser, schedule: GaussianSchedule, x0: torch.Tensor, corrupt_steps: int = 0
) -> torch.Tensor:
    """Same result as `reverse_chain` (up to float rounding) when `fast_chain_applies`.

    `x0` may be a sparse COO/CSR batch when `corrupt_steps` is 0.
    """
    first, last = denoiser.layers
    n_items = denoiser.n_items
    w_in, w_step = first.weight[:, :n_items], first.weight[:, n_items:]
    x = x0 if corrupt_steps == 0 else _start(schedule, x0.to_dense() if x0.is_sparse else x0, corrupt_steps)
    carried = torch.sparse.mm(x, w_in.T) if x.is_sparse else x @ w_in.T  # W1 x_t, float32
    w_loop = w_in @ last.weight  # hidden x hidden, float32
    b_loop = w_in @ last.bias
    batch = x.shape[0]
    for step in reversed(range(schedule.steps)):
        t = torch.full((batch,), step, dtype=torch.long, device=carried.device)
        hidden = torch.tanh(carried + denoiser.step_embedding(t) @ w_step.T + first.bias)
        with denoiser.autocast(hidden.device):
            if step == 0:
                return last(hidden).float()  # c_x0[0] = 1 and c_xt[0] = 0: the last x0_hat
            projected = (hidden @ w_loop.T).float() + b_loop
        carried = schedule.posterior_coef_x0[step] * projected + schedule.posterior_coef_xt[step] * carried
    raise AssertionError("unreachable: the loop returns at step 0")
