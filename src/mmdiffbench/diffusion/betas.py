"""The noise schedules as betas: DiffRec's `linear` and `linear-var`, and LD4MRec's eq. 3.

With lo = s * noise_min and hi = s * noise_max (YiyanXu/DiffRec `GaussianDiffusion.get_betas`):
`linear` spaces the betas themselves evenly from lo to hi; `linear-var` spaces the cumulative
noise 1 - alpha_bar_t evenly from lo to hi and derives beta_t = 1 - alpha_bar_t / alpha_bar_{t-1},
capped at 0.999 (DiffMM eq. 3 is this form). LD4MRec eq. 3 is `linear-var` with the upper bound
fixed to 1, 1 - alpha_bar_t = s (a_min + (t - 1) / (T - 1) (1 - a_min)); `ld4mrec` asks for
noise_max = 1 rather than ignoring it, so that a config cannot silently say otherwise.

Both official codes then overwrite the first beta (`beta_fixed`: 1e-5 in DiffRec, 1e-4 in
DiffMM); `first_beta` does that for every schedule, None keeps the formula. LD4MRec says
nothing of it, so None is its literal form.
"""

from __future__ import annotations

import numpy as np

NOISE_SCHEDULES = ("linear-var", "linear", "ld4mrec")


def linear_cumulative_betas(steps: int, scale: float, noise_min: float, noise_max: float) -> np.ndarray:
    """betas (float64) whose cumulative noise 1 - prod(1 - beta) is linear (`linear-var`)."""
    one_minus_bar = scale * np.linspace(noise_min, noise_max, steps, dtype=np.float64)
    bar = 1.0 - one_minus_bar
    betas = np.empty(steps, dtype=np.float64)
    betas[0] = one_minus_bar[0]
    betas[1:] = np.minimum(1.0 - bar[1:] / bar[:-1], 0.999)
    return betas


def linear_betas(steps: int, scale: float, noise_min: float, noise_max: float) -> np.ndarray:
    """betas (float64) spaced evenly from s * noise_min to s * noise_max (`linear`)."""
    return np.linspace(scale * noise_min, scale * noise_max, steps, dtype=np.float64)


def schedule_betas(
    noise_schedule: str,
    steps: int,
    scale: float,
    noise_min: float,
    noise_max: float,
    first_beta: float | None = None,
) -> np.ndarray:
    """The betas of one of NOISE_SCHEDULES, the first one optionally overwritten."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if noise_schedule == "linear-var":
        betas = linear_cumulative_betas(steps, scale, noise_min, noise_max)
    elif noise_schedule == "linear":
        betas = linear_betas(steps, scale, noise_min, noise_max)
    elif noise_schedule == "ld4mrec":
        if noise_max != 1.0:
            raise ValueError(f"the ld4mrec schedule fixes noise_max to 1 (LD4MRec eq. 3), got {noise_max}")
        betas = linear_cumulative_betas(steps, scale, noise_min, 1.0)
    else:
        raise ValueError(f"unknown noise schedule {noise_schedule!r}; expected one of {NOISE_SCHEDULES}")
    if first_beta is not None:
        betas[0] = first_beta
    return betas
