"""DiffRec's importance sampling of t against its rule written out here."""

import io
from collections import deque

import pytest
import torch

from mmdiffbench.diffusion import Denoiser, GaussianSchedule, ImportanceSampler, diffusion_loss
from tests._diffusion_helpers import Oracle

STEPS, N, FLOOR = 4, 3, 0.001


def _expected_probabilities(history):
    """p_t = (1 - u) sqrt(mean L^2) / sum sqrt(mean L^2) + u / T, from lists of losses."""
    roots = [(sum(v * v for v in losses) / len(losses)) ** 0.5 for losses in history]
    return torch.tensor([(1 - FLOOR) * r / sum(roots) + FLOOR / len(roots) for r in roots], dtype=torch.float64)


def _filled(history):
    sampler = ImportanceSampler(STEPS, N, FLOOR)
    for step, losses in enumerate(history):
        sampler.record(torch.full((len(losses),), step), torch.tensor(losses))
    return sampler


HISTORY = [[1.0, 2.0, 3.0], [0.5, 0.5, 0.5], [0.0, 0.0, 0.0], [4.0, 0.0, 1.0]]  # step 2: only the floor


def test_uniform_until_every_step_holds_n_losses():
    sampler = ImportanceSampler(STEPS, N, FLOOR)
    sampler.record(torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3]), torch.rand(11))  # step 3 holds 2
    torch.manual_seed(30)
    t, divisor = sampler.sample(50, torch.device("cpu"))
    torch.manual_seed(30)
    assert torch.equal(t, torch.randint(0, STEPS, (50,)))
    assert torch.equal(divisor, torch.ones(50))
    sampler.record(torch.tensor([3]), torch.rand(1))
    torch.manual_seed(30)
    assert not torch.equal(sampler.sample(50, torch.device("cpu"))[0], t)


def test_probabilities_follow_diffrec_and_the_divisor_is_p_t_times_t():
    sampler = _filled(HISTORY)
    expected = _expected_probabilities(HISTORY)
    torch.testing.assert_close(sampler.probabilities(), expected)
    assert float(expected[2]) == pytest.approx(FLOOR / STEPS)
    torch.manual_seed(31)
    t, divisor = sampler.sample(200_000, torch.device("cpu"))
    torch.testing.assert_close(divisor, (expected[t] * STEPS).float())
    share = torch.bincount(t, minlength=STEPS).double() / len(t)
    assert torch.all((share - expected).abs() < 4 * (expected * (1 - expected) / len(t)).sqrt() + 1e-6)


def test_importance_weighted_loss_is_unbiased():
    history = [[1.0, 2.0, 3.0], [0.5, 0.5, 0.5], [2.0, 2.0, 1.0], [4.0, 0.0, 1.0]]  # no tiny p_t: a small variance
    sampler = _filled(history)
    losses = torch.tensor([0.3, 1.7, 0.9, 2.4], dtype=torch.float64)  # any per-step loss
    p = _expected_probabilities(history)
    torch.manual_seed(32)
    t, divisor = sampler.sample(400_000, torch.device("cpu"))
    by_step = {s: float(divisor[t == s][0]) for s in range(STEPS)}  # every step is drawn
    exact = sum(float(p[s]) * float(losses[s]) / by_step[s] for s in range(STEPS))
    assert exact == pytest.approx(float(losses.mean()), rel=1e-6)  # sum_t p_t L_t / (p_t T)
    assert float((losses[t] / divisor).mean()) == pytest.approx(float(losses.mean()), rel=0.01)


def test_history_keeps_the_last_n_losses_in_batch_order():
    sampler = ImportanceSampler(STEPS, N, FLOOR)
    reference = [deque(maxlen=N) for _ in range(STEPS)]
    torch.manual_seed(33)
    for size in (2, 7, 1, 9, 5):
        t, losses = torch.randint(0, STEPS, (size,)), torch.rand(size)
        sampler.record(t, losses)
        for step, loss in zip(t.tolist(), losses.tolist(), strict=True):
            reference[step].append(loss)
        for step in range(STEPS):
            count = int(sampler.loss_counts[step])
            assert count == len(reference[step])
            torch.testing.assert_close(sampler.loss_history[step, :count].float(), torch.tensor(list(reference[step])))


def _run(sampler, iterations):
    drawn = []
    for _ in range(iterations):
        t, _ = sampler.sample(6, torch.device("cpu"))
        sampler.record(t, torch.rand(6) * (t + 1))
        drawn.append(t)
    return torch.cat(drawn)


def test_a_restored_history_gives_the_same_next_draws():
    torch.manual_seed(34)
    first = ImportanceSampler(STEPS, N, FLOOR)
    _run(first, 5)
    buffer = io.BytesIO()
    torch.save({"sampler": first.state_dict(), "rng": torch.get_rng_state()}, buffer)
    uninterrupted = _run(first, 20)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # tensors only, no pickled objects
    resumed = ImportanceSampler(STEPS, N, FLOOR)
    resumed.load_state_dict(saved["sampler"])
    torch.set_rng_state(saved["rng"])
    assert torch.equal(_run(resumed, 20), uninterrupted)
    assert resumed.warmed_up()


def test_diffusion_loss_divides_by_p_t_times_t_and_records_the_weighted_losses():
    torch.manual_seed(38)
    schedule = GaussianSchedule(STEPS, 0.1, 1e-4, 0.02)
    x0 = (torch.rand(64, 12) < 0.3).float()
    sampler = _filled(HISTORY)
    torch.manual_seed(35)
    result = diffusion_loss(Oracle(torch.zeros_like(x0)), schedule, x0, "snr", sampler=sampler)
    p = _expected_probabilities(HISTORY)
    bar = torch.cumprod(1 - schedule.betas.double(), 0)
    snr = bar / (1 - bar)
    weight = torch.cat([torch.ones(1, dtype=torch.float64), snr[:-1] - snr[1:]])  # SNR(t-1) - SNR(t), 1 at 0
    per_row = weight[result.t] * x0.pow(2).mean(-1).double()  # the history holds the weighted loss
    expected = (per_row / (p[result.t] * STEPS)).mean()
    assert float(result.loss) == pytest.approx(float(expected), rel=1e-5)
    for step in range(STEPS):
        drawn = per_row[result.t == step].tolist()
        held = (HISTORY[step] + drawn)[-N:]
        torch.testing.assert_close(
            sampler.loss_history[step], torch.tensor(held, dtype=torch.float64), rtol=1e-4, atol=0
        )


def test_warm_up_draws_and_losses_equal_the_default_uniform_path():
    schedule = GaussianSchedule(STEPS, 0.1, 1e-4, 0.02)
    x0 = (torch.rand(16, 20) < 0.3).float()
    torch.manual_seed(36)
    den = Denoiser(20, [8])
    torch.manual_seed(37)
    default = diffusion_loss(den, schedule, x0)
    torch.manual_seed(37)
    warming = diffusion_loss(den, schedule, x0, sampler=ImportanceSampler(STEPS, N, FLOOR))
    assert torch.equal(warming.t, default.t)
    assert torch.equal(warming.loss, default.loss)
    with pytest.raises(ValueError, match="steps"):
        diffusion_loss(den, schedule, x0, sampler=ImportanceSampler(STEPS + 1))
