"""The schedule against closed forms: eq. 3, eq. 2 by sampling, eq. 7-8 by Bayes, eq. 11-12 weights."""

import numpy as np
import pytest
import torch

from mmdiffbench.diffusion import GaussianSchedule, schedule_betas

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
    bar = np.cumprod(1 - schedule_betas("linear-var", T, S, LO, HI, 1e-4))  # float64, independent of the buffers
    snr = bar / (1 - bar)
    t = torch.arange(T)
    expected = np.concatenate([[1.0], snr[:-1] - snr[1:]])
    np.testing.assert_allclose(schedule.loss_weights(t, "snr").numpy(), expected, rtol=1e-4)
    np.testing.assert_allclose(schedule.loss_weights(t, "snr").numpy(), [1, 8326, 760.4, 285.3, 149.5], rtol=2e-3)
    assert torch.equal(schedule.loss_weights(t, "uniform"), torch.ones(T))
    with pytest.raises(ValueError, match="weighting"):
        schedule.loss_weights(t, "bogus")


def test_diffrec_linear_schedule_spaces_the_betas_themselves():
    schedule = GaussianSchedule(T, S, LO, HI, first_beta=None, noise_schedule="linear")
    betas = [S * LO + k / (T - 1) * (S * HI - S * LO) for k in range(T)]
    np.testing.assert_allclose(schedule.betas.numpy(), betas, rtol=1e-6)
    bar, expected = 1.0, []
    for beta in betas:
        bar *= 1 - beta
        expected.append(bar)
    np.testing.assert_allclose(schedule.alphas_cumprod.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("noise_schedule", ["linear", "linear-var"])
def test_first_beta_overrides_only_the_first_beta(noise_schedule):
    plain = GaussianSchedule(T, S, LO, HI, first_beta=None, noise_schedule=noise_schedule)
    fixed = GaussianSchedule(T, S, LO, HI, first_beta=1e-5, noise_schedule=noise_schedule)  # DiffRec's beta_fixed
    assert float(fixed.betas[0]) == pytest.approx(1e-5)
    assert torch.equal(fixed.betas[1:], plain.betas[1:])


def test_ld4mrec_schedule_is_eq3_with_the_upper_bound_one():
    s, a_min, steps = 0.01, 0.05, 6
    schedule = GaussianSchedule(steps, s, a_min, 1.0, first_beta=None, noise_schedule="ld4mrec")
    expected = [s * (a_min + (t - 1) / (steps - 1) * (1 - a_min)) for t in range(1, steps + 1)]
    np.testing.assert_allclose(1 - schedule.alphas_cumprod.double().numpy(), expected, atol=6e-8)  # float32 buffers
    assert expected[0] == pytest.approx(0.0005) and expected[-1] == pytest.approx(0.01)  # the fact sheet's values
    with pytest.raises(ValueError, match="noise_max"):
        GaussianSchedule(steps, s, a_min, 0.5, noise_schedule="ld4mrec")
    with pytest.raises(ValueError, match="schedule"):
        GaussianSchedule(steps, s, a_min, 1.0, noise_schedule="cosine")


def _bars(schedule, step):
    beta = float(schedule.betas[step])
    bar = float(np.prod([1 - float(b) for b in schedule.betas[: step + 1]]))
    return beta, bar, bar / (1 - beta)


@pytest.mark.parametrize("step", [0, 2, 4])
def test_eps_target_recovers_x0_from_the_forward_sample(step):
    schedule = GaussianSchedule(T, 1.0, 0.05, 0.5)
    _, bar, _ = _bars(schedule, step)
    x0, eps = torch.tensor([[0.0, 1.0, -2.0]]), torch.tensor([[0.5, -1.5, 0.3]])
    xt = np.sqrt(bar) * x0 + np.sqrt(1 - bar) * eps
    t = torch.tensor([step])
    torch.testing.assert_close(schedule.x0_from_output(eps, xt, t, "eps"), x0, atol=1e-5, rtol=1e-5)
    assert schedule.x0_from_output(eps, xt, t, "x0") is eps
    with pytest.raises(ValueError, match="target"):
        schedule.x0_from_output(eps, xt, t, "v")


@pytest.mark.parametrize("step", [0, 1, 3, 4])
def test_eps_posterior_mean_is_the_textbook_form(step):
    """mu = (x_t - beta_t / sqrt(1 - bar_t) eps) / sqrt(1 - beta_t) (Ho et al. eq. 11)."""
    schedule = GaussianSchedule(T, 1.0, 0.05, 0.5)
    beta, bar, _ = _bars(schedule, step)
    xt, eps = torch.tensor([[1.2, -0.4, 0.0]]), torch.tensor([[0.3, 0.9, -1.1]])
    t = torch.tensor([step])
    expected = (xt - beta / np.sqrt(1 - bar) * eps) / np.sqrt(1 - beta)
    got = schedule.posterior_mean(schedule.x0_from_output(eps, xt, t, "eps"), xt, t)
    torch.testing.assert_close(got, expected.float(), atol=1e-5, rtol=1e-5)


def test_diffrec_weights_for_both_targets():
    schedule = GaussianSchedule(T, S, LO, HI, first_beta=1e-5)
    snr, eps_weight = [1.0], [1.0]
    for step in range(1, T):
        beta, bar, bar_prev = _bars(schedule, step)
        snr.append(bar_prev / (1 - bar_prev) - bar / (1 - bar))
        eps_weight.append((1 - bar) / ((1 - bar_prev) ** 2 * (1 - beta)))
    t = torch.arange(T)
    np.testing.assert_allclose(schedule.loss_weights(t, "diffrec", "x0").numpy(), snr, rtol=1e-3)
    np.testing.assert_allclose(schedule.loss_weights(t, "diffrec", "eps").numpy(), eps_weight, rtol=1e-3)
    assert torch.equal(schedule.loss_weights(t, "uniform", "eps"), torch.ones(T))
    with pytest.raises(ValueError, match="x0 target only"):
        schedule.loss_weights(t, "snr", "eps")
