"""DiffRec on the shared core: ranking from the literal reverse chain, learning on planted data,
exact resume with the importance sampler's history."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.models.diffrec import DiffRec
from tests._planted import planted_dataset, popularity_recall, trained_recall
from tests._resume import assert_resume_continues_exactly

# float32 MLP: the literal chain below is float64; bfloat16 (the CPU default) is checked on whole
# runs over seeds instead (benchmarks/results/diffrec_bf16_tiktok.csv)
SMALL = [
    "denoiser_dims=[32]",
    "eval_every=1",
    "patience=0",
    "topks=[20]",
    "group_edges=[0]",
    "batch_size=32",
    "denoiser_bf16=never",
]


def build(dataset: InteractionDataset, overrides: list[str]) -> DiffRec:
    config = resolve("diffrec", dataset.name, "full", [*SMALL, *overrides])
    torch.manual_seed(0)
    return DiffRec(dataset, config.model)


def literal_ranking_scores(model: DiffRec, rows: torch.Tensor, corrupt: int, noise: torch.Tensor) -> torch.Tensor:
    """T' forward steps, then x <- c_x0[t] x0_hat(x, t) + c_xt[t] x for t = T-1..0, in float64, with the
    schedule written out here (linear-var, beta_0 overwritten) and the MLP applied layer by layer."""
    c = model.config
    variance = c["noise_scale"] * np.linspace(c["noise_min"], c["noise_max"], c["steps"])
    bar = 1 - variance
    betas = np.array([1 - bar[0]] + [min(1 - bar[i] / bar[i - 1], 0.999) for i in range(1, c["steps"])])
    betas[0] = c["first_beta"]
    bar = np.cumprod(1 - betas)
    bar_prev = np.concatenate([[1.0], bar[:-1]])
    coef_x0 = betas * np.sqrt(bar_prev) / (1 - bar)
    coef_xt = (1 - bar_prev) * np.sqrt(1 - betas) / (1 - bar)
    x = rows.double()
    if corrupt:
        x = np.sqrt(bar[corrupt - 1]) * x + np.sqrt(1 - bar[corrupt - 1]) * noise.double()
    denoiser = model.denoiser
    half = c["step_embedding_dim"] // 2
    freqs = torch.exp(-np.log(10000) * torch.arange(half, dtype=torch.float64) / half)
    for t in reversed(range(c["steps"])):
        args = torch.full((len(x), 1), float(t), dtype=torch.float64) * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        emb = emb @ denoiser.step_layer.weight.double().T + denoiser.step_layer.bias.double()
        h = torch.cat([x, emb], dim=-1)
        for i, layer in enumerate(denoiser.layers):
            h = h @ layer.weight.double().T + layer.bias.double()
            h = torch.tanh(h) if i < len(denoiser.layers) - 1 else h
        x = coef_x0[t] * h + coef_xt[t] * x
    return x


def test_scores_are_the_literal_reverse_chain(synthetic: InteractionDataset) -> None:
    users = torch.tensor([0, 5, 17, 3])
    rows = torch.from_numpy(synthetic.train[users.numpy()].toarray()).float().clamp(max=1)
    for corrupt in (0, 2):
        model = build(synthetic, [f"sampling_steps={corrupt}", "noise_scale=0.1", "noise_max=0.02"])
        torch.manual_seed(1)
        with model.scoring():
            fast = model.score(users).clone()
        torch.manual_seed(1)
        noise = torch.randn(rows.shape)
        torch.testing.assert_close(
            fast.double(), literal_ranking_scores(model, rows, corrupt, noise), atol=1e-4, rtol=1e-4
        )
        torch.manual_seed(1)
        slow = model.score(users).double()
        torch.testing.assert_close(slow, literal_ranking_scores(model, rows, corrupt, noise), atol=1e-5, rtol=1e-4)


def test_diffrec_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset()
    recall = trained_recall(
        dataset, "diffrec", ["epochs=30", "lr=1e-3", "denoiser_dims=[64]", "batch_size=32"], tmp_path
    )
    assert recall > 1.5 * popularity_recall(dataset), (recall, popularity_recall(dataset))


def test_resume_restores_the_importance_sampler_exactly(synthetic: InteractionDataset, tmp_path: Path) -> None:
    """History full after a few epochs (5 steps x 10 losses), so the resumed epochs draw t by importance."""
    settings = [*SMALL, "lr=1e-3"]
    keys = ("val", "test", "paper_protocol")
    assert_resume_continues_exactly(synthetic, "diffrec", settings, tmp_path, epochs=6, stop_after=3, seed=3, keys=keys)
    state = torch.load(tmp_path / "resumed" / "model.pt", weights_only=True)
    assert int(state["sampler.loss_counts"].min()) == 10  # warmed up: importance draws happened


def test_uniform_sampling_has_no_sampler_state(synthetic: InteractionDataset) -> None:
    model = build(synthetic, ["timestep_sampling=uniform"])
    assert model.sampler is None and not any(k.startswith("sampler.") for k in model.state_dict())
