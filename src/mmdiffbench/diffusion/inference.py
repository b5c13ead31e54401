"""Inference of DiffMM section 2.2.3: corrupt x0 for T' steps, then a deterministic reverse.

The reverse chain always runs all T steps (index T-1 down to 0, as the official code),
each x_{t-1} = mu_theta(x_t, t) = c_x0[t] x0_hat + c_xt[t] x_t (eq. 10), optionally with
posterior noise (`sampling_noise`, off in every official command line). T' = 0 starts from
x0 itself (the official default). For the eps target x0_hat is recovered from x_t first, as
DiffRec's `p_mean_variance` does. `one_step_x0` is LD4MRec's forward-free inference (Alg. 2):
one denoiser call on the (by default un-noised) input at a chosen step; LD4MRec's learnable
input time z_in belongs to its network, so the step here is the integer the network is given.

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


def _steps(x: torch.Tensor, step: int) -> torch.Tensor:
    return torch.full((x.shape[0],), step, dtype=torch.long, device=x.device)


def _start(schedule: GaussianSchedule, x0: torch.Tensor, corrupt_steps: int) -> torch.Tensor:
    if corrupt_steps == 0:
        return x0
    return schedule.q_sample(x0, _steps(x0, corrupt_steps - 1))


def _x0_hat(
    denoiser: Denoiser,
    schedule: GaussianSchedule,
    x: torch.Tensor,
    t: torch.Tensor,
    target: str,
    condition: torch.Tensor | None,
) -> torch.Tensor:
    return schedule.x0_from_output(denoiser(x, t, condition=condition), x, t, target)


@torch.no_grad()
def reverse_chain(
    denoiser: Denoiser,
    schedule: GaussianSchedule,
    x0: torch.Tensor,
    corrupt_steps: int = 0,
    sampling_noise: bool = False,
    target: str = "x0",
    condition: torch.Tensor | None = None,
) -> torch.Tensor:
    """The denoised rows (B x width) after T reverse steps from x0 corrupted T' steps."""
    x = _start(schedule, x0, corrupt_steps)
    for step in reversed(range(schedule.steps)):
        t = _steps(x, step)
        x = schedule.posterior_mean(_x0_hat(denoiser, schedule, x, t, target, condition), x, t)
        if sampling_noise and step > 0:
            # the official code uses index 1's log-variance at index 0; index 0 adds no noise
            x = x + schedule.posterior_variance[step].sqrt() * torch.randn_like(x)
    return x


@torch.no_grad()
def one_step_x0(
    denoiser: Denoiser,
    schedule: GaussianSchedule,
    x: torch.Tensor,
    step: int,
    corrupt_steps: int = 0,
    target: str = "x0",
    condition: torch.Tensor | None = None,
) -> torch.Tensor:
    """x0_hat (B x width) from one denoiser call at `step` on x, corrupted T' steps first if asked."""
    x = _start(schedule, x, corrupt_steps)
    return _x0_hat(denoiser, schedule, x, _steps(x, step), target, condition)


def fast_chain_applies(denoiser: Denoiser, sampling_noise: bool, target: str = "x0") -> bool:
    """Whether `FastReverseChain` computes `reverse_chain`: x0 target, no condition (see above)."""
    return (
        len(denoiser.layers) == 2
        and not denoiser.normalize_input
        and not sampling_noise
        and target == "x0"
        and denoiser.condition_dim == 0
    )


class FastReverseChain:
    """`reverse_chain` for many user batches with one set of weights (see the module docstring).

    Built once per rebuild: it precomputes W1 W2 and W1 b2, the per-step hidden offsets
    W_t emb(t) + b1 (the same for every user), and, when the denoiser runs in bfloat16,
    the bfloat16 copies of the two large matrices.
    """

    @torch.no_grad()
    def __init__(self, denoiser: Denoiser, schedule: GaussianSchedule, corrupt_steps: int = 0) -> None:
        if not fast_chain_applies(denoiser, sampling_noise=False):
            raise ValueError(
                "the fast chain needs a one-hidden-layer denoiser without input normalisation or condition"
            )
        first, last = denoiser.linear_layers()
        width = denoiser.width
        device = first.weight.device
        self.schedule, self.corrupt_steps = schedule, corrupt_steps
        self.w_in_t = first.weight[:, :width].T.contiguous()  # width x hidden, float32
        w_loop = first.weight[:, :width] @ last.weight  # hidden x hidden
        self.b_loop = first.weight[:, :width] @ last.bias
        steps = torch.arange(schedule.steps, device=device)
        self.offsets = denoiser.step_embedding(steps) @ first.weight[:, width:].T + first.bias  # steps x hidden
        low = self.dtype = denoiser.compute_dtype(device)
        self.w_loop_t = w_loop.T.contiguous().to(low)
        self.w_out_t = last.weight.T.contiguous().to(low)
        self.b_out = last.bias

    @torch.no_grad()
    def __call__(self, x0: torch.Tensor) -> torch.Tensor:
        """Denoised rows for a batch; `x0` may be sparse (COO) when corrupt_steps is 0."""
        schedule = self.schedule
        if self.corrupt_steps:
            x = _start(schedule, x0.to_dense() if x0.is_sparse else x0, self.corrupt_steps)
            carried = x @ self.w_in_t
        else:
            carried = torch.sparse.mm(x0, self.w_in_t) if x0.is_sparse else x0 @ self.w_in_t
        for step in reversed(range(schedule.steps)):
            hidden = torch.tanh(carried + self.offsets[step]).to(self.dtype)
            if step == 0:  # c_x0[0] = 1 and c_xt[0] = 0: the result is the last x0_hat
                return (hidden @ self.w_out_t).float() + self.b_out
            projected = (hidden @ self.w_loop_t).float() + self.b_loop
            carried = schedule.posterior_coef_x0[step] * projected + schedule.posterior_coef_xt[step] * carried
        raise AssertionError("unreachable: the loop returns at step 0")


def reverse_chain_fast(
    denoiser: Denoiser, schedule: GaussianSchedule, x0: torch.Tensor, corrupt_steps: int = 0
) -> torch.Tensor:
    """Same result as `reverse_chain` (up to float rounding) when `fast_chain_applies`."""
    return FastReverseChain(denoiser, schedule, corrupt_steps)(x0)
