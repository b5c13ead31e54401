"""LD4MRec: each equation against a direct float64 computation written here, the variants,
and learning on planted data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset, make_synthetic
from mmdiffbench.models.ld4mrec import LD4MRec, soft_target
from mmdiffbench.models.phase import UserRowBatch
from tests._planted import planted_dataset, popularity_recall, trained_recall
from tests._resume import assert_resume_continues_exactly

SMALL = ["hidden_dim=16", "svd_rank=6", "batch_size=32"]


pytestmark = pytest.mark.usefixtures("one_thread")  # these models are tiny: more threads only spin on a shared machine


@pytest.fixture
def data() -> InteractionDataset:
    return make_synthetic(n_users=60, n_items=40, n_clusters=4, interactions_per_user=10, seed=3)


def build(dataset: InteractionDataset, overrides: list[str] | None = None, variant: str = "full") -> LD4MRec:
    config = resolve("ld4mrec", dataset.name, variant, [*SMALL, *(overrides or [])])
    torch.manual_seed(0)
    model = LD4MRec(dataset, config.model)
    with torch.no_grad():  # leave DF-GAN's identity start, so that every weight shows in the outputs
        for parameter in model.cnet.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
        model.input_time.add_(0.3 * torch.randn_like(model.input_time))
    return model.double()


def dense(dataset: InteractionDataset) -> np.ndarray:
    return (dataset.train.toarray() > 0).astype(np.float64)


def linear(layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return x @ layer.weight.T + layer.bias


def mlp(seq: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return linear(seq[2], torch.relu(linear(seq[0], x)))


def direct_preferences(dataset: InteractionDataset, modality: str) -> torch.Tensor:
    """Eq. 14 item by item: e_u = sum_{i in N_u} e_i / sqrt(|N_u| |N_i|)."""
    r = dense(dataset)
    features = dataset.features[modality].astype(np.float64)
    out = np.zeros((r.shape[0], features.shape[1]))
    for u in range(r.shape[0]):
        for i in np.flatnonzero(r[u]):
            out[u] += features[i] / np.sqrt(r[u].sum() * r[:, i].sum())
    return torch.from_numpy(out)


def direct_bd(block: torch.nn.Module, b: torch.Tensor, c: torch.Tensor, tf: torch.Tensor) -> torch.Tensor:
    """Eq. 16-19 with tanh: b' (1 - g) + c' g."""
    g = torch.sigmoid(tf @ block.gate_layer.weight.T + block.gate_layer.bias)
    b1 = torch.tanh(b @ block.behaviour.weight.T + block.behaviour.bias)
    c1 = torch.tanh(c @ block.collab.weight.T + block.collab.bias)
    return b1 * (1 - g) + c1 * g


def direct_bg(block: torch.nn.Module, h: torch.Tensor, e: torch.Tensor, matrix: bool) -> torch.Tensor:
    """Eq. 21-22: W = MLP_1(e), b = MLP_2(e), W h + b (W per channel or a full matrix)."""
    w, shift = mlp(block.scale, e), mlp(block.shift, e)
    if matrix:
        d = h.shape[1]
        return torch.stack([w[k].reshape(d, d) @ h[k] for k in range(len(h))]) + shift
    return w * h + shift


def leaky(h: torch.Tensor) -> torch.Tensor:
    return torch.where(h > 0, h, 0.2 * h)


def direct_cnet(model: LD4MRec, x: torch.Tensor, users: torch.Tensor, tf: torch.Tensor) -> torch.Tensor:
    """The full variant's C-Net: in -> BD -> LReLU -> BG(text) -> LReLU -> BG(image) -> out."""
    net = model.cnet
    dataset_prefs = {m: getattr(model, f"preference_{m}") for m in ("text", "image")}
    h = linear(net.input, x)
    h = direct_bd(net.first, h, model.collab[users], tf)
    for block, m in zip(net.generators, ("text", "image"), strict=True):
        h = direct_bg(block, leaky(h), dataset_prefs[m][users], False)
    return linear(net.output, h)


def sinusoid(n: torch.Tensor, d: int) -> torch.Tensor:
    """Eq. 15 (cosine half first, as the shared core lays it out) at steps n."""
    freqs = 10000.0 ** (-torch.arange(d // 2, dtype=torch.float64) / (d // 2))
    args = n.double()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def test_soft_target_is_eq_12(data: InteractionDataset) -> None:
    x = torch.from_numpy(dense(data)[:10])
    p, gamma = 0.3, 0.1
    torch.manual_seed(5)
    got = soft_target(x, p, gamma)
    torch.manual_seed(5)
    chosen = torch.rand_like(x) < p
    expected = x.clone()
    for u, i in zip(*np.nonzero(chosen.numpy()), strict=True):
        expected[u, i] = 1 - gamma if x[u, i] == 1 else gamma  # S+ -> 1 - gamma, S- -> gamma
    torch.testing.assert_close(got, expected)
    assert 0 < int((got != x).sum()) < x.numel()  # some entries smoothed, most untouched
    assert torch.equal(soft_target(x, 0.0, gamma), x)


def test_conditions_are_eq_14_and_the_svd(data: InteractionDataset) -> None:
    model = build(data)
    for m in data.modalities:
        torch.testing.assert_close(getattr(model, f"preference_{m}"), direct_preferences(data, m), atol=1e-5, rtol=1e-5)
    u, s, _ = np.linalg.svd(dense(data), full_matrices=False)
    k = model.collab.shape[1]
    gram = (u[:, :k] * s[:k]) @ u[:, :k].T  # (U S^1/2)(U S^1/2)^T, free of the factors' signs
    torch.testing.assert_close(model.collab @ model.collab.T, torch.from_numpy(gram), atol=1e-5, rtol=1e-5)


def test_bd_gate_and_block(data: InteractionDataset) -> None:
    model = build(data)
    torch.manual_seed(1)
    b, c, tf = torch.randn(5, 16, dtype=torch.float64), torch.randn(5, 6, dtype=torch.float64), torch.randn(5, 16)
    tf = tf.double()
    block = model.cnet.first
    direct_gate = 1 / (1 + torch.exp(-(tf @ block.gate_layer.weight.T + block.gate_layer.bias)))
    torch.testing.assert_close(block.gate(tf), direct_gate)
    torch.testing.assert_close(block(b, c, tf), direct_bd(block, b, c, tf))


@pytest.mark.parametrize("transform", ["channel", "matrix"])
def test_bg_transform(data: InteractionDataset, transform: str) -> None:
    model = build(data, [f"bg_transform={transform}"])
    torch.manual_seed(2)
    block = model.cnet.generators[1]
    h = torch.randn(4, 16, dtype=torch.float64)
    e = torch.randn(4, block.scale[0].in_features, dtype=torch.float64)
    torch.testing.assert_close(block(h, e), direct_bg(block, h, e, transform == "matrix"))


def test_bg_blocks_start_as_the_identity(data: InteractionDataset) -> None:
    config = resolve("ld4mrec", data.name, "full", SMALL)
    block = LD4MRec(data, config.model).cnet.generators[0]
    h, e = torch.randn(3, 16), torch.randn(3, block.scale[0].in_features)
    torch.testing.assert_close(block(h, e), h)


def test_scores_are_one_cnet_call_at_the_input_time(data: InteractionDataset) -> None:
    model = build(data)
    users = torch.tensor([0, 7, 3, 59])
    calls = []
    model.cnet.register_forward_hook(lambda *_: calls.append(1))
    scores = model.score(users)
    assert len(calls) == 1  # forward-free: no noising, no reverse chain
    x = torch.from_numpy(dense(data)[users.numpy()])
    torch.testing.assert_close(scores, direct_cnet(model, x, users, model.input_time[users]))


def test_bg_order_follows_the_text_role(data: InteractionDataset) -> None:
    """The planted dataset: image 16-d, text 24-d; the first BG block reads the text role."""
    assert build(data).cnet.generators[0].scale[0].in_features == 24
    assert build(data, ["text_modality=image"]).cnet.generators[0].scale[0].in_features == 16
    assert resolve("ld4mrec", "tiktok", "full").model["text_modality"] == "audio"
    with pytest.raises(ValueError, match="text_modality"):
        build(data, ["text_modality=audio"])


def direct_loss(model: LD4MRec, rows: torch.Tensor, users: torch.Tensor, p: torch.Tensor | None) -> torch.Tensor:
    """Eq. 3, 11-13 written out, drawing the same random numbers in the same order."""
    c = model.config
    steps = c["steps"]
    one_minus_bar = c["noise_scale"] * (c["noise_min"] + np.arange(steps) / (steps - 1) * (1 - c["noise_min"]))
    bar = 1 - one_minus_bar
    bar_prev = np.concatenate([[1.0], bar[:-1]])
    coef = np.sqrt(bar_prev) * (1 - bar / bar_prev) / (1 - bar)  # eq. 7's factor of x_hat
    if p is None:
        t = torch.randint(0, steps, (len(rows),))
    else:
        t = torch.multinomial(p, len(rows), replacement=True)
    target = rows
    if c["soft_p"] > 0:  # w/o SR draws nothing
        chosen = torch.rand_like(rows) < c["soft_p"]
        target = torch.where(chosen, torch.where(rows == 1, 1 - c["soft_gamma"], c["soft_gamma"]), rows)
    eps = torch.randn_like(rows)
    x_t = torch.from_numpy(np.sqrt(bar))[t, None] * target + torch.from_numpy(np.sqrt(1 - bar))[t, None] * eps
    x_hat = direct_cnet(model, x_t, users, sinusoid(t + 1, c["hidden_dim"]) + model.input_time[users])
    loss = torch.from_numpy(coef)[t] ** 2 * ((x_hat - target) ** 2).mean(1)  # |mu~ - mu_theta|^2 / |I|
    if p is not None:
        loss = loss / (p[t] * steps)
    return loss.mean()


def batch_of(data: InteractionDataset, users: torch.Tensor) -> UserRowBatch:
    return UserRowBatch(users, data.train[users.numpy()])


@pytest.mark.parametrize("variant", ["full", "wo_sr"])
def test_loss_is_eq_11_importance_weighted(data: InteractionDataset, variant: str) -> None:
    model = build(data, ["soft_p=0.3", "soft_gamma=0.2"] if variant == "full" else [], variant)
    users = torch.arange(0, 60, 3)
    rows = torch.from_numpy(dense(data)[users.numpy()])
    batch = batch_of(data, users)
    batch.dense = lambda: rows  # type: ignore[method-assign]  # float64 like the model here
    torch.manual_seed(3)
    uniform = model.loss_parts(batch)[0]["rec"]
    torch.manual_seed(3)
    torch.testing.assert_close(uniform, direct_loss(model, rows, users, None), atol=1e-7, rtol=1e-5)
    sampler = model.sampler
    assert sampler is not None
    sampler.loss_history.copy_(torch.arange(1.0, 6.0, dtype=torch.float64)[:, None] * torch.rand(5, 10))
    sampler.loss_counts.fill_(10)
    rms = sampler.loss_history.square().mean(1).sqrt()
    p = 0.999 * rms / rms.sum() + 0.001 / 5  # eq. 13 with DiffRec's uniform floor
    torch.manual_seed(4)
    weighted = model.loss_parts(batch)[0]["rec"]
    torch.manual_seed(4)
    torch.testing.assert_close(weighted, direct_loss(model, rows, users, p), atol=1e-7, rtol=1e-5)


def test_importance_weights_are_unbiased(data: InteractionDataset) -> None:
    """sum_t p_t L_t / divisor_t equals the uniform mean of L_t, with the divisors the sampler returns."""
    sampler = build(data).sampler
    assert sampler is not None
    sampler.loss_history.copy_(torch.tensor([1.0, 3.0, 0.5, 8.0, 2.0], dtype=torch.float64)[:, None])
    sampler.loss_counts.fill_(10)
    torch.manual_seed(0)
    t, divisor = sampler.sample(5000, torch.device("cpu"))
    losses = torch.tensor([0.2, 1.0, 4.0, 0.1, 2.5], dtype=torch.float64)
    by_step = {int(s): float(d) for s, d in zip(t, divisor, strict=True)}
    assert sorted(by_step) == list(range(5))
    rms = torch.tensor([1.0, 3.0, 0.5, 8.0, 2.0], dtype=torch.float64)
    p = 0.999 * rms / rms.sum() + 0.001 / 5
    weighted = sum(float(p[s]) * float(losses[s]) / by_step[s] for s in range(5))
    assert weighted == pytest.approx(float(losses.mean()), rel=1e-6)
    empirical = float((losses[t] / divisor.double()).mean())  # and the draws themselves
    assert empirical == pytest.approx(float(losses.mean()), rel=0.1)


def shapes(model: LD4MRec) -> dict[str, tuple[int, ...]]:
    return {name: tuple(value.shape) for name, value in model.named_parameters()}


def test_each_variant_switches_exactly_its_block(data: InteractionDataset) -> None:
    configs = {v: resolve("ld4mrec", data.name, v, SMALL).model for v in ("full", "wo_bg", "wo_bd", "wo_sr")}
    for variant, switched in (("wo_bg", "bg_block"), ("wo_bd", "bd_block"), ("wo_sr", "soft_p")):
        assert {k for k in configs["full"] if configs[variant][k] != configs["full"][k]} == {switched}
    full = shapes(build(data))
    assert shapes(build(data, variant="wo_sr")) == full

    def changed(variant: str) -> set[str]:
        other = shapes(build(data, variant=variant))
        return {name.split(".")[1] for name in set(full) | set(other) if full.get(name) != other.get(name)}

    assert changed("wo_bg") == {"generators", "second"}  # BG blocks out, a second BD block in
    assert changed("wo_bd") == {"first"}  # BD block out, DiffRec's concatenating MLP in
    assert build(data, variant="wo_bd").collab is None  # no collaborative signal without BD
    assert len(build(data, variant="wo_bg").modalities) == 0  # no preferences without BG


def test_ld4mrec_learns_better_than_item_popularity(tmp_path: Path) -> None:
    dataset = planted_dataset({"image": 16, "text": 8})
    recall = trained_recall(dataset, "ld4mrec", ["epochs=10", "batch_size=32"], tmp_path)
    assert recall > 1.5 * popularity_recall(dataset), (recall, popularity_recall(dataset))


def test_resume_restores_the_sampler_and_input_times_exactly(data: InteractionDataset, tmp_path: Path) -> None:
    """The derived conditions are rebuilt, the sampler's history and z_in come from the checkpoint."""
    settings = [*SMALL, "history=2", "eval_every=1", "patience=0", "topks=[20]", "group_edges=[0]"]
    assert_resume_continues_exactly(data, "ld4mrec", settings, tmp_path, seed=3)
    state = torch.load(tmp_path / "resumed" / "model.pt", weights_only=True)
    assert int(state["sampler.loss_counts"].min()) == 2 and "input_time" in state  # importance draws ran
    assert not any(k.startswith(("collab", "preference_")) for k in state)  # derived from the data
