"""DiffMM on the TikTok release: the official preset builds the official architecture."""

from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.mark.realdata
@pytest.mark.skipif(not (DATASETS / "tiktok").is_dir(), reason="TikTok release not present")
def test_tiktok_preset_builds_the_official_model():
    from mmdiffbench.config import resolve
    from mmdiffbench.data import load_release
    from mmdiffbench.models import get_model_class

    dataset = load_release(DATASETS / "tiktok")
    config = resolve("diffmm", dataset.name, "full", [])
    # README: --reg 1e-4 --ssl_reg 1e-2 --epoch 50 --trans 1 --e_loss 0.1 --cl_method 1
    assert (config.model["lambda2"], config.model["lambda1"], config.model["lambda0"]) == (1e-4, 1e-2, 0.1)
    assert (config.model["trans"], config.model["anchor"], config.trainer["epochs"]) == ("linear", "main", 50)
    assert config.model["keep_rate"] == 0.5
    model = get_model_class("diffmm")(dataset, config.model)
    assert model.modalities == ["image", "audio"]  # the release has no TikTok text features
    for generator in model.generators.values():
        assert sum(p.numel() for p in generator.parameters()) == 13_437_820  # 13.44 M, fact sheet section 5
