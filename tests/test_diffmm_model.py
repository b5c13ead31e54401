"""DiffMM on tiny synthetic data: rebuild, every variant's effect, resume, learning."""

import json
import logging

import numpy as np
import pytest
import torch

from mmdiffbench.config import list_variants, resolve
from mmdiffbench.data.synthetic import make_synthetic
from mmdiffbench.models import get_model_class
from mmdiffbench.models.base import BPRBatch
from mmdiffbench.models.vgae_generator import VGAEGenerator
from mmdiffbench.train.phases import PhaseRunner
from mmdiffbench.train.run import train_run

SMALL = ["denoiser_dims=[32]", "embedding_dim=16", "diffusion_batch=64"]


DATA = make_synthetic(n_users=120, n_items=80, modalities={"image": 12, "audio": 6}, seed=3)
TRAINER = {"lr": 1e-3, "weight_decay": 0.0, "batch_size": 64}


@pytest.fixture(scope="module")
def dataset():
    return DATA


def build(dataset, variant="full", overrides=(), seed=0):
    config = resolve("diffmm", dataset.name, variant, [*SMALL, *overrides])
    torch.manual_seed(seed)
    return get_model_class("diffmm")(dataset, config.model), config


def batch():
    return BPRBatch(torch.tensor([0, 1, 1, 7, 30]), torch.tensor([2, 3, 4, 5, 6]), torch.tensor([9, 8, 7, 6, 10]))


def generator_phase(model, seed=1) -> dict[str, float]:
    """The generator phase and the rebuild after it, as the trainer runs them."""
    runner = PhaseRunner(model, DATA, TRAINER, seed=0)
    torch.manual_seed(seed)
    phase = runner.by_name["generator"]
    row = runner.run_phase(phase, 0)
    phase.after()
    return row


def one_epoch(model, seed=1):
    generator_phase(model, seed)
    return model.losses(batch())


@pytest.mark.parametrize("k", [1, 3])
def test_rebuild_keeps_exactly_k_distinct_items_per_user(dataset, k):
    model, _ = build(dataset, overrides=[f"rebuild_k={k}", "keep_rate=1.0"])
    generator_phase(model)
    for m in model.modalities:
        topk = model.topk[m]
        assert topk.shape == (dataset.n_users, k)
        assert all(len(set(row)) == k for row in topk.tolist())
        dense = model.graphs_full[m].coo.to_dense()
        user_item = dense[: dataset.n_users, dataset.n_users :]
        assert torch.equal((user_item > 0).sum(1), torch.full((dataset.n_users,), k))
        assert torch.equal(dense, dense.T)  # symmetric, with self-loops
        assert torch.all(dense.diagonal() > 0)


def test_rebuild_takes_the_top_items_of_the_literal_reverse_chain(dataset):
    from mmdiffbench.diffusion import reverse_chain

    model, _ = build(dataset, overrides=["rebuild_k=2", "denoiser_bf16=never"])
    generator_phase(model)
    x0 = torch.from_numpy(dataset.train.toarray()).float().clamp(max=1)
    for m in model.modalities:
        denoised = reverse_chain(model.generators[m], model.schedule, x0)
        chosen = denoised.gather(1, model.topk[m])
        kth = torch.topk(denoised, 2, dim=1).values[:, -1:]
        assert torch.all(chosen >= kth - 1e-5)


def test_edge_dropout_keeps_the_expected_share_and_rescales(dataset):
    model, _ = build(dataset, overrides=["keep_rate=0.5"])
    generator_phase(model)
    full, dropped = model.graphs_full["image"].coo, model.graphs_train["image"].coo
    share = dropped._nnz() / full._nnz()
    assert 0.35 < share < 0.65
    assert torch.allclose(dropped.to_dense()[dropped.to_dense() != 0], 2 * full.to_dense()[dropped.to_dense() != 0])


def test_phases_split_the_parameters_between_generators_and_recommender(dataset):
    model, _ = build(dataset)
    generator, recommender = model.phases()
    assert (generator.name, generator.batches, recommender.name, recommender.batches) == (
        "generator",
        "user_rows",
        "recommender",
        "bpr",
    )
    ours = {id(p) for p in recommender.parameters}
    assert {id(p) for p in generator.parameters} == {id(p) for p in model.generators.parameters()}
    assert not ours & {id(p) for p in generator.parameters}
    assert {id(model.user_embedding), id(model.item_embedding), id(model.modal_weight)} <= ours
    assert generator.optimizer.lr == model.config["generator_lr"] and generator.batch_size == 64


def test_every_variant_is_listed(dataset):
    expected = {
        "full",
        "official_eval",
        "wo_cl",
        "wo_dm",
        "wo_msi",
        "anchor_modality",
        "anchor_main",
        "trans_linear",
        "trans_matrix",
    } | {f"fusion_{r}" for r in ("0", "0.2", "0.4", "0.6", "0.8", "1.0")}
    assert expected <= set(list_variants("diffmm"))


def test_wo_cl_drops_the_contrastive_term(dataset):
    assert "cl" in one_epoch(build(dataset)[0])
    assert "cl" not in one_epoch(build(dataset, "wo_cl")[0])


def test_wo_msi_trains_the_denoisers_differently(dataset):
    full, _ = build(dataset)
    wo, _ = build(dataset, "wo_msi")
    rows_full, rows_wo = generator_phase(full), generator_phase(wo)
    assert "loss_msi_image" in rows_full and "loss_msi_image" not in rows_wo
    w_full = full.generators["image"].layers[0].weight
    w_wo = wo.generators["image"].layers[0].weight
    assert not torch.allclose(w_full, w_wo)


def test_wo_dm_generates_with_a_vgae(dataset):
    model, _ = build(dataset, "wo_dm")
    assert all(isinstance(g, VGAEGenerator) for g in model.generators.values())
    terms = one_epoch(model)
    assert torch.isfinite(sum(terms.values()))
    assert model.topk["image"].shape == (dataset.n_users, 1)


def test_fusion_ratio_changes_only_the_contrastive_graphs(dataset):
    base = one_epoch(build(dataset, "fusion_0")[0])
    full = one_epoch(build(dataset, "full")[0])
    torch.testing.assert_close(base["cl"], full["cl"])  # ratio 0 = the generated graph only (the paper's definition)
    values = []
    for r in ("0.2", "0.6", "1.0"):
        model, _ = build(dataset, f"fusion_{r}")
        terms = one_epoch(model)
        torch.testing.assert_close(terms["bpr"], full["bpr"])  # the main view keeps the generated graphs
        assert not torch.allclose(model.graphs_cl["image"].coo.to_dense(), model.graphs_train["image"].coo.to_dense())
        values.append(float(terms["cl"].detach()))
    assert len({round(v, 6) for v in values + [float(full["cl"].detach())]}) == 4


def test_anchor_and_trans_variants_change_the_computation(dataset):
    modality = one_epoch(build(dataset, "anchor_modality")[0])["cl"]
    main = one_epoch(build(dataset, "anchor_main")[0])["cl"]
    assert not torch.allclose(modality, main)
    linear, _ = build(dataset, "trans_linear")
    matrix, _ = build(dataset, "trans_matrix")
    assert isinstance(linear.trans["image"], torch.nn.Linear) and linear.trans["image"].bias is not None
    assert isinstance(matrix.trans["image"], torch.nn.Sequential)
    assert not torch.allclose(one_epoch(linear)["bpr"], one_epoch(matrix)["bpr"])


def test_official_eval_scores_with_the_dropped_graphs(dataset):
    standard, _ = build(dataset, overrides=["keep_rate=0.5"])
    official, config = build(dataset, "official_eval", ["keep_rate=0.5"])
    assert config.trainer["test_mask_val"] is False
    for model in (standard, official):
        torch.manual_seed(1)
        generator_phase(model)
    with standard.scoring():
        s = standard.score(torch.arange(5))
    with official.scoring():
        o = official.score(torch.arange(5))
    assert not torch.allclose(s, o)
    official.config["official_eval"] = False
    with official.scoring():
        torch.testing.assert_close(official.score(torch.arange(5)), s)


def test_hyperparameter_overrides_reach_the_model(dataset):
    model, _ = build(dataset, overrides=["lambda0=0.5", "omega=0.25", "tau=0.1", "lambda1=0.1"])
    assert (model.config["lambda0"], model.config["omega"], model.config["tau"], model.config["lambda1"]) == (
        0.5,
        0.25,
        0.1,
        0.1,
    )
    base = one_epoch(build(dataset)[0])
    assert not torch.allclose(one_epoch(model)["cl"], base["cl"])


def test_state_dict_round_trip_restores_graphs_from_tensors_only(dataset, tmp_path):
    model, config = build(dataset)
    one_epoch(model)
    clone = get_model_class("diffmm")(dataset, config.model)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    clone.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))  # no pickled objects
    for m in model.modalities:
        assert torch.equal(clone.topk[m], model.topk[m])
        torch.testing.assert_close(clone.graphs_train[m].coo.to_dense(), model.graphs_train[m].coo.to_dense())
    with model.scoring(), clone.scoring():
        torch.testing.assert_close(model.score(torch.arange(4)), clone.score(torch.arange(4)))


@pytest.mark.parametrize("variant", ["full", "wo_dm"])
def test_resume_equals_uninterrupted(dataset, tmp_path, variant):
    config = resolve("diffmm", dataset.name, variant, [*SMALL, "epochs=3", "topks=[20]", "group_edges=[0]"])
    straight = train_run(dataset, config, 5, tmp_path / "straight", torch.device("cpu"))
    short = resolve(
        "diffmm", dataset.name, variant, [*SMALL, "epochs=2", "topks=[20]", "group_edges=[0]", "keep_checkpoint=true"]
    )
    train_run(dataset, short, 5, tmp_path / "resumed", torch.device("cpu"))
    checkpoint = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    kept = set(checkpoint["best_state"])  # what model.pt keeps: the generators are never read back
    assert kept and not {key for key in kept if key.startswith("generators.")}
    assert {key for key in checkpoint["model"] if key.startswith("generators.")}
    resumed = train_run(dataset, config, 5, tmp_path / "resumed", torch.device("cpu"), resume=True)
    for key in ("val", "test", "paper_protocol"):
        assert json.dumps(resumed[key], sort_keys=True) == json.dumps(straight[key], sort_keys=True)
    logging.getLogger().handlers.clear()


def test_diffmm_learns_better_than_random(dataset, tmp_path):
    config = resolve(
        "diffmm", dataset.name, "full", [*SMALL, "epochs=8", "topks=[20]", "group_edges=[0]", "batch_size=256"]
    )
    metrics = train_run(dataset, config, 0, tmp_path / "run", torch.device("cpu"))
    random_recall = 20 / dataset.n_items
    assert metrics["paper_protocol"]["test"]["recall@20"] > 2 * random_recall
    assert np.isfinite(metrics["val"]["recall@20"])


def test_case_study_export(dataset, tmp_path):
    import pandas as pd

    from mmdiffbench.analysis.diffmm_case_study import export_case_study

    model, _ = build(dataset, overrides=["rebuild_k=2"])
    one_epoch(model)
    summary = export_case_study(model, dataset, tmp_path, n_users=5)
    edges = pd.read_csv(tmp_path / "generated_edges.csv")
    assert len(edges) == 5 * 2 * len(model.modalities)
    sims = pd.read_csv(tmp_path / "item_similarity.csv")
    unit = dataset.features["image"] / np.linalg.norm(dataset.features["image"], axis=1, keepdims=True)
    row = sims[sims.modality == "image"].iloc[0]
    assert row.cosine == pytest.approx(float(unit[int(row.item_a)] @ unit[int(row.item_b)]), abs=1e-5)
    for m in model.modalities:
        assert set(summary[m]) >= {"generated_pairs", "generated_history", "original_pairs", "random_pairs"}
        # planted clusters: co-interacted items share a cluster far more often than random pairs
        assert summary[m]["original_pairs"] > summary[m]["random_pairs"]


def test_precision_switches_are_checked_and_reach_the_contrastive_term(dataset):
    with pytest.raises(ValueError, match="contrastive_bf16"):
        build(dataset, overrides=["contrastive_bf16=half"])
    with pytest.raises(ValueError, match="bf16"):
        build(dataset, overrides=["denoiser_bf16=sometimes"])
    exact = one_epoch(build(dataset, overrides=["contrastive_bf16=never", "denoiser_bf16=never"])[0])["cl"].detach()
    low = one_epoch(build(dataset, overrides=["contrastive_bf16=always", "denoiser_bf16=never"])[0])["cl"].detach()
    assert not torch.equal(exact, low)  # the products really ran in bfloat16
    assert abs(float(low) - float(exact)) < 0.01 * abs(float(exact))


def test_fusion_draws_the_random_edge_drop_per_modality(dataset):
    """At ratio 1 each modality's contrastive graph is its own random edge drop of the original graph."""
    model, _ = build(dataset, "fusion_1.0")
    generator_phase(model)
    image, audio = (model.graphs_cl[m].coo.to_dense() for m in ("image", "audio"))
    original = model.adj.to_dense()
    for graph in (image, audio):
        assert torch.all((graph == 0) | (original != 0))  # only edges of the original graph
    assert not torch.equal(image != 0, audio != 0)


@pytest.mark.slow
def test_compiled_step_gives_the_eager_losses_and_updates(dataset):
    """compile_step=true: the recommender phase's losses and the weights after it as in eager mode,
    up to float rounding (inductor fuses the elementwise passes)."""
    rows, weights = [], []
    for compiled in ("false", "true"):
        model, _ = build(dataset, overrides=[f"compile_step={compiled}"])
        generator_phase(model)
        runner = PhaseRunner(model, DATA, TRAINER, seed=0)
        torch.manual_seed(2)
        rows.append(runner.run_phase(runner.by_name["recommender"], 0, max_steps=3))
        weights.append({name: p.detach().clone() for name, p in model.named_parameters()})
    assert rows[1] == pytest.approx(rows[0], rel=1e-5)
    for name, eager in weights[0].items():
        torch.testing.assert_close(weights[1][name], eager, rtol=1e-5, atol=1e-6, msg=name)
