"""DiffMM's generator phase against a literal float64 transcription of the official training step
(`GaussianDiffusion.training_losses` of HKUDS/DiffMM @fae20e6, facts in
shared/reference/diffmm-official.md, section 6): the SNR-weighted diffusion term and the MSI term.

Everything expected here is written out in the test from the official formulas: the schedule,
the step embedding, the MLP, the dropout, the weights and both loss terms. Only the random draws
are taken in the order the model takes them (step, noise, dropout uniforms), from the same seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data.synthetic import make_synthetic
from mmdiffbench.models import get_model_class
from mmdiffbench.models.phase import UserRowBatch

DATA = make_synthetic(n_users=40, n_items=30, modalities={"image": 7, "audio": 5}, seed=5)
SETTINGS = ["denoiser_dims=[12]", "embedding_dim=8", "step_embedding_dim=6", "denoiser_bf16=never"]


def official_schedule(steps: int, scale: float, low: float, high: float, first_beta: float) -> np.ndarray:
    """alpha_bar of `GaussianDiffusion(beta_fixed=True)`: linear 1 - alpha_bar, first beta overwritten."""
    variance = scale * np.linspace(low, high, steps)
    alpha_bar = 1 - variance
    betas = [1 - alpha_bar[0]] + [min(1 - alpha_bar[i] / alpha_bar[i - 1], 0.999) for i in range(1, steps)]
    betas[0] = first_beta
    return np.cumprod(1 - np.array(betas))


def official_denoise(generator: torch.nn.Module, x: torch.Tensor, t: torch.Tensor, step_dim: int) -> torch.Tensor:
    """`Denoise.forward` in float64: emb = Linear([cos, sin](t f)); h = cat[x, emb]; Linear, tanh, ..., Linear."""
    half = step_dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
    args = t.double()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    emb = emb @ generator.step_layer.weight.double().T + generator.step_layer.bias.double()
    h = torch.cat([x, emb], dim=-1)
    layers = list(generator.layers)
    for i, layer in enumerate(layers):
        h = h @ layer.weight.double().T + layer.bias.double()
        if i < len(layers) - 1:
            h = torch.tanh(h)
    return h


def build(overrides: list[str], seed: int = 0):
    config = resolve("diffmm", DATA.name, "full", [*SETTINGS, *overrides])
    torch.manual_seed(seed)
    return get_model_class("diffmm")(DATA, config.model), config.model


@pytest.mark.parametrize("weighting", ["snr", "uniform"])
@pytest.mark.parametrize("trans", ["linear", "matrix"])
def test_generator_losses_equal_the_official_training_step(weighting: str, trans: str) -> None:
    model, c = build([f"loss_weighting={weighting}", f"trans={trans}", "lambda0=0.3"])
    users = np.array([3, 0, 17, 29, 8, 11])
    rows = DATA.train[users].astype(np.float32)
    rows.data[:] = 1.0
    batch = UserRowBatch(torch.from_numpy(users), rows)
    model.prepare_generator_phase()
    torch.manual_seed(42)
    parts = list(model.generator_loss_parts(batch))

    x0 = torch.from_numpy(rows.toarray()).double()
    bar = torch.from_numpy(official_schedule(c["steps"], c["noise_scale"], c["noise_min"], c["noise_max"], 1e-4))
    snr = bar / (1 - bar)
    torch.manual_seed(42)
    assert [next(iter(p)) for p in parts] == [f"gen_{m}" for m in model.modalities]
    for m, terms in zip(model.modalities, parts, strict=True):
        t = torch.randint(0, c["steps"], (len(users),))
        noise = torch.randn(x0.shape).double()
        keep = (torch.rand(x0.shape) < 1 - c["denoiser_dropout"]).double()
        x_t = bar[t].sqrt()[:, None] * x0 + (1 - bar[t]).sqrt()[:, None] * noise
        dropped = x_t * keep / (1 - c["denoiser_dropout"])
        x0_hat = official_denoise(model.generators[m], dropped, t, c["step_embedding_dim"])
        mse = ((x0 - x0_hat) ** 2).mean(dim=1)
        if weighting == "snr":
            weight = torch.where(t == 0, torch.ones_like(mse), snr[(t - 1).clamp(min=0)] - snr[t])
        else:
            weight = torch.ones_like(mse)
        diffusion = (weight * mse).mean()
        # MSI: Trans_m(f_m) without Norm, raw ID table, both detached; mean over the d dims, then users
        with torch.no_grad():
            projected = model.trans[m](torch.from_numpy(np.asarray(DATA.features[m], np.float32))).double()
        items = model.item_embedding.detach().double()
        msi = ((x0_hat @ projected - x0 @ items) ** 2).mean(dim=1).mean()
        torch.testing.assert_close(terms[f"gen_{m}"].double(), diffusion, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(terms[f"msi_{m}"].double(), c["lambda0"] * msi, rtol=1e-5, atol=1e-7)


def test_the_msi_term_trains_only_the_generators() -> None:
    """Both MSI targets are detached: its gradient reaches the denoiser and nothing else."""
    model, _ = build(["lambda0=1.0"])
    users = np.arange(10)
    rows = DATA.train[users].astype(np.float32)
    batch = UserRowBatch(torch.from_numpy(users), rows)
    model.prepare_generator_phase()
    for terms in model.generator_loss_parts(batch):
        sum(terms.values()).backward()
    assert all(p.grad is None for name, p in model.named_parameters() if not name.startswith("generators."))
    assert all(p.grad is not None for p in model.generators.parameters())


def test_without_msi_the_generator_part_is_the_diffusion_term_alone() -> None:
    model, _ = build(["lambda0=0"])
    rows = DATA.train[np.arange(5)].astype(np.float32)
    model.prepare_generator_phase()
    parts = list(model.generator_loss_parts(UserRowBatch(torch.arange(5), rows)))
    assert [set(p) for p in parts] == [{f"gen_{m}"} for m in model.modalities]
