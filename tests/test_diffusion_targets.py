"""The eps target, the reverse chain for both targets and the one-step prediction, against formulas typed here."""

import numpy as np
import pytest
import torch

from mmdiffbench.diffusion import (
    Denoiser,
    GaussianSchedule,
    diffusion_loss,
    fast_chain_applies,
    one_step_x0,
    reverse_chain,
)

T = 5


def _schedule():
    return GaussianSchedule(T, 1.0, 0.05, 0.5, first_beta=1e-4)


def _bars(schedule):
    """alpha_bar_t = prod_{s <= t} (1 - beta_s), in float64 from the betas alone."""
    return torch.cumprod(1 - schedule.betas.double(), 0)


class _EpsOracle(torch.nn.Module):
    """Predicts the noise that made x from x0 (eq. 2 solved for eps), plus a constant error."""

    normalize_input = False
    dropout = 0.5

    def __init__(self, x0, bars, error=0.0):
        super().__init__()
        self.x0, self.bars, self.error = x0, bars, error

    def compute_dtype(self, device):
        return torch.float32

    def forward_low(self, x, t, input_dropout=False, condition=None):
        bar = self.bars[t].unsqueeze(-1)
        return ((x - bar.sqrt() * self.x0) / (1 - bar).sqrt()).float() + self.error


def test_eps_loss_of_the_true_noise_is_zero_and_recovers_x0():
    schedule = _schedule()
    torch.manual_seed(20)
    x0 = torch.randn(64, 8)  # embeddings: any width, any sign
    result = diffusion_loss(_EpsOracle(x0, _bars(schedule)), schedule, x0, "uniform", target="eps")
    assert float(result.loss) < 1e-8
    torch.testing.assert_close(result.x0_hat, x0, atol=1e-4, rtol=1e-4)


def test_eps_loss_with_a_constant_error_under_both_weightings():
    schedule = _schedule()
    bars = _bars(schedule)
    torch.manual_seed(21)
    x0 = (torch.rand(256, 30) < 0.2).float()
    uniform = diffusion_loss(_EpsOracle(x0, bars, 0.1), schedule, x0, "uniform", target="eps")
    assert float(uniform.loss) == pytest.approx(0.01, rel=1e-4)
    result = diffusion_loss(_EpsOracle(x0, bars, 0.1), schedule, x0, "diffrec", target="eps")
    betas, bar_prev = schedule.betas.double(), torch.cat([torch.ones(1, dtype=torch.float64), bars[:-1]])
    weight = (1 - bars) / ((1 - bar_prev) ** 2 * (1 - betas))  # DiffRec's eps reweighting
    # at t = 0: half the x0 error, x0_hat = x0 - sqrt(1 / bar_0 - 1) * 0.1
    per_step = torch.where(torch.arange(T) == 0, (1 / bars[0] - 1) * 0.01 / 2, weight * 0.01)
    assert 0 in result.t.tolist() and len(set(result.t.tolist())) == T
    assert float(result.loss) == pytest.approx(float(per_step[result.t].mean()), rel=1e-3)
    # one step only (bar_0 = 0.5), so that the index-0 term is the whole loss: (1 / 0.5 - 1) * 0.01 / 2
    single = GaussianSchedule(1, 1.0, 0.5, 0.5, first_beta=None)
    result = diffusion_loss(_EpsOracle(x0, _bars(single), 0.1), single, x0, "diffrec", target="eps")
    assert float(result.loss) == pytest.approx(0.005, rel=1e-4)


def _chain_by_hand(den, schedule, x0, corrupt, noise, target):
    """DDPM ancestral steps written out: the x0 form (eq. 8) or Ho et al.'s eps form."""
    betas, bars = schedule.betas.double(), _bars(schedule)
    x = x0.double()
    if corrupt:
        x = bars[corrupt - 1].sqrt() * x + (1 - bars[corrupt - 1]).sqrt() * torch.randn_like(x0).double()
    for step in reversed(range(T)):
        out = den(x.float(), torch.full((x.shape[0],), step)).double()
        beta, bar = betas[step], bars[step]
        bar_prev = bars[step - 1] if step else torch.tensor(1.0, dtype=torch.float64)
        if target == "eps":
            x = (x - beta / (1 - bar).sqrt() * out) / (1 - beta).sqrt()
        else:
            x = (beta * bar_prev.sqrt() * out + (1 - bar_prev) * (1 - beta).sqrt() * x) / (1 - bar)
        if noise and step > 0:
            x = x + (beta * (1 - bar_prev) / (1 - bar)).sqrt() * torch.randn_like(x0).double()
    return x.float()


@pytest.mark.parametrize("target", ["x0", "eps"])
@pytest.mark.parametrize(("corrupt", "noise"), [(0, False), (2, False), (3, True)])
def test_reverse_chain_for_both_targets(target, corrupt, noise):
    torch.manual_seed(22)
    den, schedule = Denoiser(16, [12]), _schedule()
    x0 = (torch.rand(6, 16) < 0.3).float()
    torch.manual_seed(23)
    got = reverse_chain(den, schedule, x0, corrupt, noise, target=target)
    torch.manual_seed(23)
    expected = _chain_by_hand(den, schedule, x0, corrupt, noise, target)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert fast_chain_applies(den, noise, target) == (target == "x0" and not noise)


@pytest.mark.parametrize("step", [0, 3])
def test_one_step_prediction_is_one_denoiser_call(step):
    torch.manual_seed(24)
    den, schedule = Denoiser(10, [8]), _schedule()
    bars = _bars(schedule)
    x = (torch.rand(4, 10) < 0.3).float()
    t = torch.full((4,), step)
    assert torch.equal(one_step_x0(den, schedule, x, step), den(x, t))
    eps = den(x, t).double()
    expected = (x - (1 - bars[step]).sqrt() * eps) / bars[step].sqrt()
    torch.testing.assert_close(one_step_x0(den, schedule, x, step, target="eps"), expected.float())
    torch.manual_seed(25)
    noised = bars[1].sqrt() * x + (1 - bars[1]).sqrt() * torch.randn_like(x)
    torch.manual_seed(25)
    torch.testing.assert_close(one_step_x0(den, schedule, x, step, corrupt_steps=2), den(noised.float(), t))


def test_embedding_rows_train_and_denoise_at_their_own_width():
    torch.manual_seed(26)
    den, schedule = Denoiser(8, [16]), _schedule()
    x0 = torch.randn(32, 8)
    for target, weighting in (("x0", "snr"), ("eps", "diffrec"), ("eps", "uniform")):
        den.zero_grad()
        result = diffusion_loss(den, schedule, x0, weighting, target=target)
        result.loss.backward()
        assert result.x0_hat.shape == (32, 8) and np.isfinite(float(result.loss.detach()))
        assert den.layers[0].weight.grad.shape == (16, 8 + 10)
        assert reverse_chain(den, schedule, x0, target=target).shape == (32, 8)
