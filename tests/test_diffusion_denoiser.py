"""Denoiser, training loss and inference against direct computations."""

import math

import pytest
import torch

from mmdiffbench.diffusion import (
    Denoiser,
    GaussianSchedule,
    diffusion_loss,
    fast_chain_applies,
    reverse_chain,
    reverse_chain_fast,
    row_mean_squared_error,
    timestep_embedding,
)
from mmdiffbench.diffusion.denoiser import inverted_dropout
from mmdiffbench.diffusion.loss import noised_dropped_rows
from tests._diffusion_helpers import Oracle


def test_timestep_embedding_is_cosine_then_sine():
    emb = timestep_embedding(torch.tensor([0, 3]), 10)
    freqs = [math.exp(-math.log(10000) * k / 5) for k in range(5)]
    expected = [[math.cos(3 * f) for f in freqs] + [math.sin(3 * f) for f in freqs]]
    torch.testing.assert_close(emb[1:], torch.tensor(expected))
    torch.testing.assert_close(emb[0], torch.tensor([1.0] * 5 + [0.0] * 5))
    assert timestep_embedding(torch.tensor([2]), 7).shape == (1, 7)


def test_denoiser_shapes_and_input_dropout_only_on_request():
    torch.manual_seed(0)
    den = Denoiser(30, [16])
    x = torch.rand(4, 30)
    t = torch.tensor([0, 1, 2, 3])
    assert den(x, t).shape == (4, 30)
    den.eval()  # dropout is controlled by the call, as in the official code
    assert not torch.equal(den(x, t, input_dropout=True), den(x, t))
    torch.testing.assert_close(den(x, t), den(x, t))


def _chain_by_hand(den, schedule, x):
    for step in reversed(range(schedule.steps)):
        t = torch.full((x.shape[0],), step)
        x = schedule.posterior_coef_x0[step] * den(x, t) + schedule.posterior_coef_xt[step] * x
    return x


def test_reverse_chain_is_the_posterior_mean_iteration():
    torch.manual_seed(1)
    den, schedule = Denoiser(40, [32]), GaussianSchedule(5, 0.1, 1e-4, 0.02)
    x0 = (torch.rand(6, 40) < 0.1).float()
    torch.testing.assert_close(reverse_chain(den, schedule, x0), _chain_by_hand(den, schedule, x0))


@pytest.mark.parametrize("corrupt", [0, 3])
def test_fast_chain_equals_the_literal_chain(corrupt):
    torch.manual_seed(2)
    den, schedule = Denoiser(50, [32]), GaussianSchedule(5, 0.1, 1e-4, 0.02)
    x0 = (torch.rand(8, 50) < 0.1).float()
    assert fast_chain_applies(den, sampling_noise=False)
    torch.manual_seed(3)
    literal = reverse_chain(den, schedule, x0, corrupt)
    torch.manual_seed(3)
    fast = reverse_chain_fast(den, schedule, x0.to_sparse() if corrupt == 0 else x0, corrupt)
    torch.testing.assert_close(fast, literal, atol=1e-5, rtol=1e-4)
    assert not fast_chain_applies(Denoiser(50, [32, 16]), False)
    assert not fast_chain_applies(den, sampling_noise=True)


def test_bf16_chain_stays_close_and_keeps_the_top_item():
    torch.manual_seed(4)
    den, schedule = Denoiser(200, [64]), GaussianSchedule(5, 0.1, 1e-4, 0.02)
    x0 = (torch.rand(16, 200) < 0.05).float()
    exact = reverse_chain_fast(den, schedule, x0.to_sparse())
    den.bf16 = "always"
    approx = reverse_chain_fast(den, schedule, x0.to_sparse())
    assert (approx - exact).abs().max() < 0.05


def test_diffusion_loss_is_the_weighted_mean_over_items():
    schedule = GaussianSchedule(5, 0.1, 1e-4, 0.02)
    x0 = (torch.rand(64, 12) < 0.3).float()
    assert float(diffusion_loss(Oracle(x0), schedule, x0).loss) == 0.0
    torch.manual_seed(5)
    result = diffusion_loss(Oracle(torch.zeros_like(x0)), schedule, x0, "snr")
    expected = (schedule.loss_weights(result.t, "snr") * x0.pow(2).mean(-1)).mean()
    torch.testing.assert_close(result.loss, expected)
    torch.manual_seed(5)
    uniform = diffusion_loss(Oracle(torch.zeros_like(x0)), schedule, x0, "uniform")
    torch.testing.assert_close(uniform.loss, x0.pow(2).mean())


def _literal_forward(den, x, t, condition=None):
    """The official form: one Linear over [x; condition; W_t emb(t)], tanh between layers."""
    parts = [x] if condition is None else [x, condition]
    h = torch.cat([*parts, den.step_layer(timestep_embedding(t, den.step_dim))], dim=-1)
    for i, layer in enumerate(den.layers):
        h = layer(h) if i == 0 else layer(torch.tanh(h))
    return h


@pytest.mark.parametrize("hidden", [[16], [16, 8], []])
def test_split_first_layer_equals_the_concatenated_input(hidden):
    torch.manual_seed(6)
    den = Denoiser(30, hidden)
    x, t = torch.rand(5, 30), torch.tensor([0, 1, 2, 3, 4])
    torch.testing.assert_close(den(x, t), _literal_forward(den, x, t))


@torch.no_grad()
def test_bf16_forward_low_stays_in_bfloat16_and_close():
    torch.manual_seed(7)
    den = Denoiser(300, [64], bf16="always")
    x, t = torch.rand(8, 300), torch.randint(0, 5, (8,))
    low = den.forward_low(x, t)
    assert low.dtype == torch.bfloat16
    den.bf16 = "never"
    exact = den.forward_low(x, t)
    assert exact.dtype == torch.float32
    assert float((low.float() - exact).abs().max()) < 0.05 * float(exact.abs().max())


def test_inverted_dropout_keeps_the_expectation_and_drops_p():
    torch.manual_seed(8)
    x = torch.full((400, 500), 2.0)
    for p in (0.2, 0.5, 0.8):
        out = inverted_dropout(x, p)
        zero_share = float((out == 0).float().mean())
        assert abs(zero_share - p) < 0.01  # 200,000 draws: sd of the share < 0.0011
        torch.testing.assert_close(out[out != 0], torch.full_like(out[out != 0], 2.0 / (1 - p)))
        assert abs(float(out.mean()) - 2.0) < 0.03
    assert torch.equal(inverted_dropout(x, 0.0), x)
    assert torch.equal(inverted_dropout(x, 1.0), torch.zeros_like(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_row_mean_squared_error_value_and_gradient(dtype):
    torch.manual_seed(9)
    pred = torch.randn(6, 40).to(dtype).requires_grad_()
    target = (torch.rand(6, 40) < 0.2).float()
    weights = torch.rand(6)
    (weights * row_mean_squared_error(pred, target)).sum().backward()
    assert pred.grad.dtype == dtype
    reference = pred.detach().float().requires_grad_()
    expected = (weights * (reference - target).pow(2).mean(-1)).sum()
    expected.backward()
    torch.testing.assert_close(
        float((weights * row_mean_squared_error(pred.detach(), target)).sum()),
        float(expected.detach()),
        rtol=1e-6,
        atol=0,
    )
    tolerance = {"rtol": 1e-2, "atol": 1e-4} if dtype == torch.bfloat16 else {}
    torch.testing.assert_close(pred.grad.float(), reference.grad, **tolerance)


@pytest.mark.parametrize("p", [0.0, 0.5, 0.3, 1.0])
def test_noised_dropped_rows_equal_dropout_of_q_sample_with_the_same_draws(p):
    schedule = GaussianSchedule(5, 0.1, 1e-4, 0.02)
    x0 = (torch.rand(40, 30) < 0.2).float()
    t = torch.randint(0, 5, (40,))
    torch.manual_seed(11)
    literal = inverted_dropout(schedule.q_sample(x0, t), p)
    torch.manual_seed(11)
    fused = noised_dropped_rows(schedule, x0, t, p, torch.float32)
    torch.testing.assert_close(fused, literal)
    torch.manual_seed(11)
    low = noised_dropped_rows(schedule, x0, t, p, torch.bfloat16)
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), literal, rtol=1e-2, atol=1e-3)


def test_condition_is_concatenated_before_the_first_layer():
    torch.manual_seed(12)
    den = Denoiser(20, [16], condition_dim=6)
    x, t = torch.rand(4, 20), torch.tensor([0, 1, 2, 3])
    condition = torch.randn(4, 6, requires_grad=True)
    out = den(x, t, condition=condition)
    assert out.shape == (4, 20)
    torch.testing.assert_close(out, _literal_forward(den, x, t, condition))
    assert not torch.allclose(den(x, t, condition=condition + 1.0), out)
    out.square().sum().backward()
    assert condition.grad.shape == (4, 6) and bool(condition.grad.abs().sum() > 0)
    assert den.layers[0].weight.grad.shape == (16, 20 + 6 + 10)
    with pytest.raises(ValueError, match="condition"):
        den(x, t)
    with pytest.raises(ValueError, match="condition"):
        Denoiser(20, [16])(x, t, condition=condition)
    assert not fast_chain_applies(den, sampling_noise=False)


def test_condition_reaches_the_loss_and_the_chain():
    torch.manual_seed(13)
    den, schedule = Denoiser(12, [8], condition_dim=3), GaussianSchedule(4, 0.1, 1e-4, 0.02)
    x0 = torch.randn(5, 12)  # embedding-like rows
    for target in ("x0", "eps"):
        condition = torch.randn(5, 3, requires_grad=True)
        diffusion_loss(den, schedule, x0, "uniform", target, condition=condition).loss.backward()
        assert condition.grad.shape == (5, 3) and bool(condition.grad.abs().sum() > 0)
    with torch.no_grad():
        x = x0
        for step in reversed(range(4)):
            t = torch.full((5,), step)
            x = schedule.posterior_mean(_literal_forward(den, x, t, condition), x, t)
    torch.testing.assert_close(reverse_chain(den, schedule, x0, condition=condition.detach()), x)
