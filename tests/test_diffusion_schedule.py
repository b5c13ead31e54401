"""The schedule against closed forms: eq. 3, eq. 2 by sampling, eq. 7-8 by Bayes, eq. 11-12 weights."""

import numpy as np
import pytest
import torch

from mmdiffbench.diffusion import GaussianSchedule, linear_cumulative_betas

S, LO, HI, T = 0.1, 1e-4, 0.02, 5


def test_eq3_cumulative_noise_is_linear_without_the_official_first_beta():
    schedule = GaussianSchedule(T, S, LO, HI, first_beta=None)
    t = np.arange(1, T + 1)
    expected = S * (LO + (t - 1) / (T - 1) * (HI - LO))
    np.testing.assert_allclose(1 - schedule.alphas_cumprod.double().numpy(), expected, atol=6e-8)  # float32 buffers


def test_official_first_beta_shifts_every_cumulative_product():
    schedule = GaussianSchedule(T, S, LO, HI, first_beta=1e-4)
    eq3 = S * np.linspace(LO, HI, T)
    bar = 1 - eq3
    betas = np.concatenate([[1e-4], 1 - bar[1:] / bar[:-1]])
    np.testing.assert_allclose(schedule.alphas_cumprod.numpy(), np.cumprod(1 - betas), rtol=1e-6)
    # the official code's printed values (fact sheet section 6)
    np.testing.assert_allclose(
        1 - schedule.alphas_cumprod.numpy(), [1.0e-4, 5.97e-4, 1.095e-3, 1.592e-3, 2.090e-3], rtol=2e-3, atol=1e-6
    )


def test_q_sample_mean_and_variance_over_many_samples():
    schedule = GaussianSchedule(T, 1.0, 0.05, 0.5, first_beta=None)
    torch.manual_seed(0)
    x0 = torch.tensor([[0.0, 1.0, 2.0]]).repeat(200_000, 1)
    for step in (0, 2, 4):
        t = torch.full((x0.shape[0],), step)
        xt = schedule.q_sample(x0, t)
        bar = float(schedule.alphas_cumprod[step])
        np.testing.assert_allclose(xt.mean(0).numpy(), np.sqrt(bar) * np.array([0, 1, 2]), atol=6e-3)
        np.testing.assert_allclose(xt.var(0).numpy(), np.full(3, 1 - bar), rtol=2e-2)


@pytest.mark.parametrize("step", [1, 2, 3, 4])
def test_posterior_is_the_bayes_conditional_of_two_gaussians(step):
    """q(x_{t-1} | x_t, x0) from N(sqrt(bar_{t-1}) x0, 1 - bar_{t-1}) and N(sqrt(1 - beta_t) x_{t-1}, beta_t)."""
    schedule = GaussianSchedule(T, 1.0, 0.05, 0.5, first_beta=None)
    beta = float(schedule.betas[step])
    bar_prev = float(schedule.alphas_cumprod[step - 1])
    precision = 1 / (1 - bar_prev) + (1 - beta) / beta
    variance = 1 / precision
    coef_x0 = variance * np.sqrt(bar_prev) / (1 - bar_prev)
    coef_xt = variance * np.sqrt(1 - beta) / beta
    assert float(schedule.posterior_variance[step]) == pytest.approx(variance, rel=1e-5)
    assert float(schedule.posterior_coef_x0[step]) == pytest.approx(coef_x0, rel=1e-5)
    assert float(schedule.posterior_coef_xt[step]) == pytest.approx(coef_xt, rel=1e-5)
    x0, xt = torch.tensor([[0.3, -1.0]]), torch.tensor([[1.5, 0.2]])
    t = torch.tensor([step])
    expected = coef_x0 * x0 + coef_xt * xt
    torch.testing.assert_close(schedule.posterior_mean(x0, xt, t), expected.float())


def test_first_step_posterior_returns_x0():
    schedule = GaussianSchedule(T, S, LO, HI)
    assert float(schedule.posterior_coef_x0[0]) == pytest.approx(1.0)
    assert float(schedule.posterior_coef_xt[0]) == 0.0


def test_loss_weights_are_snr_differences_and_one_at_the_first_step():
    schedule = GaussianSchedule(T, S, LO, HI)
    bar = np.cumprod(1 - linear_cumulative_betas(T, S, LO, HI, 1e-4))  # float64, independent of the buffers
    snr = bar / (1 - bar)
    t = torch.arange(T)
    expected = np.concatenate([[1.0], snr[:-1] - snr[1:]])
    np.testing.assert_allclose(schedule.loss_weights(t, "snr").numpy(), expected, rtol=1e-4)
    np.testing.assert_allclose(schedule.loss_weights(t, "snr").numpy(), [1, 8326, 760.4, 285.3, 149.5], rtol=2e-3)
    assert torch.equal(schedule.loss_weights(t, "uniform"), torch.ones(T))
    with pytest.raises(ValueError, match="weighting"):
        schedule.loss_weights(t, "bogus")
