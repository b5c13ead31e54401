"""DiffCL: every equation against dense float64 math written here, every loss term checked, the
Table III variants switch exactly their components, and it learns on planted data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmdiffbench.config import model_file, resolve
from mmdiffbench.data import InteractionDataset, make_synthetic
from mmdiffbench.models import diffcl
from mmdiffbench.models.diffcl import DiffCL
from mmdiffbench.models.phase import BPRBatch
from tests._planted import planted_dataset, popularity_recall, trained_recall

SMALL = ["denoiser_dims=[32]", "knn_k=5", "item_layers=2", "denoiser_bf16=never", "contrastive_bf16=never"]
D = torch.float64
LOUD = ["noise_scale=1.0", "noise_max=0.3", "steps=3", "view_corrupt_steps=2"]  # views far from x0


def build(dataset: InteractionDataset, overrides: list[str], variant: str = "full") -> DiffCL:
    torch.manual_seed(0)
    return DiffCL(dataset, resolve("diffcl", dataset.name, variant, [*SMALL, *overrides]).model)


def batch() -> BPRBatch:
    return BPRBatch(torch.tensor([0, 5, 17, 3, 5]), torch.tensor([1, 2, 40, 7, 1]), torch.tensor([9, 11, 3, 60, 0]))


def dense_adjacency(dataset: InteractionDataset) -> torch.Tensor:
    """D^-1/2 [[0, R], [R^T, 0]] D^-1/2, no self loops (eq. 3)."""
    r = torch.tensor(dataset.train.toarray(), dtype=D).clamp(max=1)
    u, i = r.shape
    a = torch.zeros(u + i, u + i, dtype=D)
    a[:u, u:], a[u:, :u] = r, r.T
    d = a.sum(1)
    inv = torch.where(d > 0, d.pow(-0.5), torch.zeros_like(d))
    return inv[:, None] * a * inv[None, :]


def dense_knn(features: np.ndarray, k: int) -> torch.Tensor:
    """Eq. 18-21: cosine top-k of the other items, weight 1, D^-1/2 S D^-1/2 with row sums."""
    f = F.normalize(torch.tensor(features, dtype=D), dim=1)
    sim = f @ f.T
    sim.fill_diagonal_(float("-inf"))
    s = torch.zeros_like(sim)
    s.scatter_(1, sim.topk(k, dim=1).indices, 1.0)
    d = s.sum(1).pow(-0.5)
    return d[:, None] * s * d[None, :]


def dense_branches(model: DiffCL, dataset: InteractionDataset) -> dict[str, torch.Tensor]:
    """E_id, and per modality E_m after eq. 4 ('<m>:enc') and after eq. 23 ('<m>'), in float64."""
    a = dense_adjacency(dataset)
    c = model.config

    def propagate(x: torch.Tensor) -> torch.Tensor:
        layers = [x]
        for _ in range(c["n_layers"]):
            layers.append(a @ layers[-1])
        return torch.stack(layers).sum(0)

    out = {"id": propagate(torch.cat([model.user_embedding, model.item_embedding]).detach().double())}
    r = torch.tensor(dataset.train.toarray(), dtype=D).clamp(max=1)
    for m in model.modalities:
        enc = model.encoders[m]
        items0 = (
            torch.tensor(dataset.features[m], dtype=D) @ enc.weight.detach().double().T + enc.bias.detach().double()
        )
        if c["user_modal_init"] == "table":
            users0 = model.user_modal[m].detach().double()
        else:
            users0 = (r / r.sum(1, keepdim=True).clamp(min=1)) @ items0
        out[f"{m}:enc"] = propagate(torch.cat([users0, items0]))
        out[m] = out[f"{m}:enc"].clone()
        if c["use_h"]:
            extra = items0
            for _ in range(c["item_layers"]):
                extra = dense_knn(dataset.features[m], c["knn_k"]) @ extra
            out[m][model.n_users :] += extra
    return out


def literal_view(model: DiffCL, m: str, x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Eq. 10 for T' steps, then x_{t-1} = mu(x_t, x0_hat) for t = T..1 with coefficients written out."""
    betas = model.schedule.betas.double()
    bar = torch.cumprod(1 - betas, 0)
    prev = torch.cat([torch.ones(1, dtype=D), bar[:-1]])
    corrupt = model.config["view_corrupt_steps"]
    x = bar[corrupt - 1].sqrt() * x0 + (1 - bar[corrupt - 1]).sqrt() * noise.double()
    for t in reversed(range(len(betas))):
        x0_hat = model.denoisers[m](x.float(), torch.full((len(x),), t)).double()
        x = betas[t] * prev[t].sqrt() / (1 - bar[t]) * x0_hat + (1 - prev[t]) * (1 - betas[t]).sqrt() / (1 - bar[t]) * x
    return x


def direct_info_nce(first: torch.Tensor, second: torch.Tensor, anchors: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean over anchors n of -log exp(cos(a_n, b_n)/tau) / sum_{n'} exp(cos(a_n, b_n')/tau)."""
    a, b = F.normalize(first, dim=1), F.normalize(second, dim=1)
    terms = [-torch.log(torch.exp(a[n] @ b[n] / tau) / torch.exp(a[n] @ b.T / tau).sum()) for n in anchors.tolist()]
    return torch.stack(terms).mean()


def recording_noise(monkeypatch: pytest.MonkeyPatch) -> list[torch.Tensor]:
    """Replace the views' noise by draws from a private generator, recorded in order."""
    drawn: list[torch.Tensor] = []
    generator = torch.Generator().manual_seed(7)

    def draw(x: torch.Tensor) -> torch.Tensor:
        drawn.append(torch.randn(x.shape, generator=generator))
        return drawn[-1]

    monkeypatch.setattr(diffcl, "draw_noise", draw)
    return drawn


def direct_align(e: dict[str, torch.Tensor], modalities: list[str], axis: str) -> torch.Tensor:
    """Eq. 25-28 without lambda: scalar (or per-dimension, averaged) Gaussian gaps to E_id."""
    total = torch.zeros((), dtype=D)
    for m in modalities:
        if axis == "matrix":
            mu_gap = (e["id"].mean() - e[m].mean()).abs()
            sd_gap = (e["id"].std(unbiased=False) - e[m].std(unbiased=False)).abs()
        else:
            mu_gap = (e["id"].mean(0) - e[m].mean(0)).abs().mean()
            sd_gap = (e["id"].std(0, unbiased=False) - e[m].std(0, unbiased=False)).abs().mean()
        total = total + mu_gap + sd_gap
    return total


@pytest.mark.parametrize("overrides", [[], ["user_modal_init=items"], ["use_h=false"]])
def test_branches_and_knn_enhancement_are_dense_math(synthetic: InteractionDataset, overrides: list[str]) -> None:
    model = build(synthetic, overrides)
    expected = dense_branches(model, synthetic)
    got = model.branches()
    torch.testing.assert_close(got.id.double(), expected["id"], atol=1e-5, rtol=1e-5)
    for m in model.modalities:
        torch.testing.assert_close(got.encoded[m].double(), expected[f"{m}:enc"], atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(got.enhanced[m].double(), expected[m], atol=1e-4, rtol=1e-5)


def test_fusion_and_score_are_eq_24_and_30(synthetic: InteractionDataset) -> None:
    model = build(synthetic, [])
    assert model.mu.item() == 0.5 and model.mu.requires_grad
    with torch.no_grad():
        model.mu.fill_(0.3)
    e = dense_branches(model, synthetic)
    v, t = model.modalities
    fused = 0.3 * e[v] + 0.7 * e[t]
    users = torch.tensor([0, 7, 3])
    scores = fused[users] @ fused[model.n_users :].T + e["id"][users] @ e["id"][model.n_users :].T
    torch.testing.assert_close(model.score(users).double(), scores, atol=1e-3, rtol=1e-4)
    model.losses(batch())["bpr"].backward()
    assert model.mu.grad is not None and float(model.mu.grad) != 0.0


@pytest.mark.parametrize("axis", ["matrix", "dimension"])
def test_alignment_is_eq_25_28(synthetic: InteractionDataset, axis: str) -> None:
    model = build(synthetic, [f"align_axis={axis}", "lambda_align=0.3"])
    expected = 0.3 * direct_align(dense_branches(model, synthetic), model.modalities, axis)
    torch.testing.assert_close(model.alignment_loss(model.branches()).double(), expected, atol=1e-5, rtol=1e-5)


def expected_terms(model: DiffCL, dataset: InteractionDataset, b: BPRBatch, drawn: list[torch.Tensor]) -> dict:
    """Every term of eq. 29, 32, 33 (plus the denoising term) from the dense branches."""
    c = model.config
    e = dense_branches(model, dataset)
    v, t = model.modalities
    mu = model.mu.item()
    final = torch.cat([mu * e[v] + (1 - mu) * e[t], e["id"]], dim=1)
    u, p, n = final[b.users], final[model.n_users + b.pos], final[model.n_users + b.neg]
    bpr = -F.logsigmoid((u * p).sum(1) - (u * n).sum(1)).mean()
    rows = torch.cat([b.users, model.n_users + b.pos, model.n_users + b.neg])
    reg = c["lambda_E"] * sum(e[m][rows].pow(2).sum() for m in (v, t)) / (2 * len(b.users))
    cl = torch.zeros((), dtype=D)
    for k, m in enumerate((v, t)):
        x0 = e[f"{m}:enc"]
        first, second = (literal_view(model, m, x0, drawn[2 * k + j]) for j in range(2))
        users_part = direct_info_nce(first[: model.n_users], second[: model.n_users], b.users, c["tau"])
        items_part = direct_info_nce(first[model.n_users :], second[model.n_users :], b.pos, c["tau"])
        cl = cl + users_part + items_part
    return {
        "bpr": bpr,
        "reg": reg,
        "align": c["lambda_align"] * direct_align(e, [v, t], c["align_axis"]),
        "cl": c["lambda_cl"] * cl,
    }


def test_every_loss_term_is_its_equation(synthetic: InteractionDataset, monkeypatch: pytest.MonkeyPatch) -> None:
    """The trainer sums exactly these terms: BPR, L_E, L_align, L_cl (eq. 13-17), the denoising term."""
    drawn = recording_noise(monkeypatch)
    weights = ["lambda_cl=0.3", "lambda_align=0.2", "lambda_E=0.6", "lambda_denoise=0.5"]
    model = build(synthetic, [*weights, *LOUD])
    torch.manual_seed(11)
    got = model.losses(batch())
    assert set(got) == {"bpr", "reg", "align", "cl", "denoise"}
    expected = expected_terms(model, synthetic, batch(), drawn)
    for key, value in expected.items():
        torch.testing.assert_close(got[key].double(), value, atol=1e-4, rtol=1e-4, msg=key)
    torch.manual_seed(11)
    dense = dense_branches(model, synthetic)
    denoise = sum(
        diffcl.diffusion_loss(model.denoisers[m], model.schedule, dense[f"{m}:enc"].float(), "snr").loss
        for m in model.modalities
    )
    torch.testing.assert_close(got["denoise"], 0.5 * denoise, rtol=1e-3, atol=1e-3)


def test_denoising_term_trains_only_the_denoisers(synthetic: InteractionDataset) -> None:
    model = build(synthetic, [])
    model.losses(batch())["denoise"].backward()
    touched = {name.split(".")[0] for name, p in model.named_parameters() if p.grad is not None and p.grad.any()}
    assert touched == {"denoisers"}


def test_views_carry_gradients_to_the_embeddings_and_denoisers(synthetic: InteractionDataset) -> None:
    model = build(synthetic, [])
    model.losses(batch())["cl"].backward()
    touched = {name.split(".")[0] for name, p in model.named_parameters() if p.grad is not None and p.grad.any()}
    assert touched == {"encoders", "user_modal", "denoisers"}  # the ID branch takes no part in L_cl


def test_options_of_the_cl_term(synthetic: InteractionDataset, monkeypatch: pytest.MonkeyPatch) -> None:
    """lambda_cl_twice squares the weight, lambda_denoise=0 drops the term, cl_nodes / cl_denominator."""
    monkeypatch.setattr(diffcl, "draw_noise", torch.zeros_like)
    once = build(synthetic, ["lambda_cl=0.3", "lambda_denoise=0"]).losses(batch())
    twice = build(synthetic, ["lambda_cl=0.3", "lambda_denoise=0", "lambda_cl_twice=true"]).losses(batch())
    assert "denoise" not in once
    torch.testing.assert_close(twice["cl"], 0.3 * once["cl"])
    drawn = recording_noise(monkeypatch)
    model = build(synthetic, ["cl_nodes=all", *LOUD])
    got = model.losses(batch())["cl"]
    e = dense_branches(model, synthetic)
    expected = torch.zeros((), dtype=D)
    for k, m in enumerate(model.modalities):
        first, second = (literal_view(model, m, e[f"{m}:enc"], drawn[2 * k + j]) for j in range(2))
        for part in (slice(None, model.n_users), slice(model.n_users, None)):
            expected = expected + direct_info_nce(first[part], second[part], torch.arange(len(first[part])), 0.4)
    torch.testing.assert_close(got.double(), 0.1 * expected, atol=1e-4, rtol=1e-4)
    drawn.clear()
    model = build(synthetic, ["cl_denominator=batch", *LOUD])
    got = model.losses(batch())["cl"]
    e = dense_branches(model, synthetic)
    expected = torch.zeros((), dtype=D)
    for k, m in enumerate(model.modalities):
        first, second = (literal_view(model, m, e[f"{m}:enc"], drawn[2 * k + j]) for j in range(2))
        for part, nodes in ((slice(None, model.n_users), batch().users), (slice(model.n_users, None), batch().pos)):
            rows = torch.arange(len(nodes))  # in-batch: the batch's rows (duplicates too) form the table
            expected = expected + direct_info_nce(first[part][nodes], second[part][nodes], rows, 0.4)
    torch.testing.assert_close(got.double(), 0.1 * expected, atol=1e-4, rtol=1e-4)


def loss_and_gradients(model: DiffCL, seed: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    torch.manual_seed(seed)
    terms = model.losses(batch())
    model.zero_grad()
    sum(terms.values()).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return {key: value.detach() for key, value in terms.items()}, grads


@pytest.mark.parametrize("overrides", [[], ["cl_denominator=batch"], ["recompute=false"]])
def test_views_at_the_read_rows_only_equal_the_views_over_every_row(
    synthetic: InteractionDataset, monkeypatch: pytest.MonkeyPatch, overrides: list[str]
) -> None:
    """Skipping the view rows no InfoNCE reads changes no loss and no gradient (the chain is row-wise)."""
    model = build(synthetic, [*LOUD, *overrides])
    rows = model.view_rows(batch().users, batch().pos)
    assert rows[0] is not None and len(rows[0]) < model.n_users + model.n_items
    assert (rows[1] is None) == ("cl_denominator=batch" not in overrides)
    skipped = loss_and_gradients(model, 5)
    monkeypatch.setattr(DiffCL, "view_rows", lambda self, users, items: (None, None))
    every = loss_and_gradients(model, 5)
    for got, expected in zip(skipped, every, strict=True):
        assert set(got) == set(expected)
        for key in expected:
            torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-6, msg=key)


@pytest.mark.parametrize("switch", ["contrastive_bf16", "denoiser_bf16"])
def test_bfloat16_switches_stay_close_to_float32(synthetic: InteractionDataset, switch: str) -> None:
    """The speed switches round the products' inputs to bfloat16: near float32, never equal."""
    exact = loss_and_gradients(build(synthetic, [f"{switch}=never"]), 5)
    rounded = loss_and_gradients(build(synthetic, [f"{switch}=always"]), 5)
    terms = ("cl", "denoise") if switch == "denoiser_bf16" else ("cl",)
    for key in terms:
        assert not torch.equal(rounded[0][key], exact[0][key]), key
        torch.testing.assert_close(rounded[0][key], exact[0][key], rtol=2e-2, atol=1e-3, msg=key)
    for name, grad in exact[1].items():
        scale = float(grad.abs().max())
        torch.testing.assert_close(rounded[1][name], grad, rtol=0.0, atol=0.05 * scale + 1e-6, msg=name)


def test_table_iii_variants_switch_exactly_their_components(synthetic: InteractionDataset) -> None:
    flags = {"diff": "use_diff", "align": "use_align", "h": "use_h"}
    rows = {"baseline": set(), "full": {"diff", "align", "h"}}
    rows |= {name: set(name.split("_")) for name in ("diff", "align", "h", "diff_align", "diff_h", "align_h")}
    assert set(model_file("diffcl")["variants"]) == set(rows)
    full = resolve("diffcl", synthetic.name, "full").model
    for variant, kept in rows.items():
        config = resolve("diffcl", synthetic.name, variant).model
        changed = {key for key in config if config[key] != full[key]}
        assert changed == {flags[part] for part in set(flags) - kept}, variant
        assert all(config[flags[part]] == (part in kept) for part in flags)
        model = build(synthetic, [], variant)
        terms = set(model.losses(batch()))
        assert terms == {"bpr", "reg"} | ({"cl", "denoise"} if "diff" in kept else set()) | (
            {"align"} if "align" in kept else set()
        ), variant
        assert bool(len(model.denoisers)) == ("diff" in kept)
        assert all(hasattr(model, f"item_graph_{m}") == ("h" in kept) for m in model.modalities)


def test_modalities_are_roles_taken_from_the_data() -> None:
    data = make_synthetic(n_users=40, n_items=30, n_clusters=3, modalities={"image": 6, "audio": 5}, seed=1)
    assert build(data, []).modalities == ["image", "audio"]
    assert build(data, ["modalities=[audio, image]"]).modalities == ["audio", "image"]
    with pytest.raises(ValueError, match="two distinct modalities"):
        build(data, ["modalities=[image, text]"])
    with pytest.raises(ValueError, match="two distinct modalities"):
        build(make_synthetic(n_users=40, n_items=30, n_clusters=3, modalities={"image": 6}, seed=1), [])


def test_diffcl_learns_better_than_item_popularity(tmp_path: Path, one_thread: None) -> None:
    """One thread: seconds; minutes when two threads compete on a busy machine."""
    dataset = planted_dataset({"image": 16, "text": 8})
    recall = trained_recall(dataset, "diffcl", ["epochs=5", "batch_size=512", "denoiser_dims=[64]"], tmp_path)
    assert recall > 1.3 * popularity_recall(dataset), (recall, popularity_recall(dataset))
