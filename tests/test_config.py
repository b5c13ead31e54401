"""Config resolution: precedence, typed overrides, clear errors."""

from __future__ import annotations

import pytest

from mmdiffbench.config import ConfigError, resolve


def test_trainer_defaults_model_yaml_and_overrides_in_order() -> None:
    config = resolve("lightgcn", "baby", overrides=["epochs=7", "n_layers=2", "lr=1e-2"])
    assert config.trainer["epochs"] == 7
    assert config.model["n_layers"] == 2
    assert config.trainer["lr"] == pytest.approx(0.01) and isinstance(config.trainer["lr"], float)
    assert config.trainer["selection_metric"] == "recall@20"  # from trainer.yaml


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'n_layer'.*valid keys:.*n_layers"):
        resolve("lightgcn", "baby", overrides=["n_layer=2"])


def test_wrong_type_is_rejected() -> None:
    with pytest.raises(ConfigError, match="epochs: expected int"):
        resolve("mf_bpr", "baby", overrides=["epochs=ten"])
    with pytest.raises(ConfigError, match="not key=value"):
        resolve("mf_bpr", "baby", overrides=["epochs"])


def test_unknown_model_and_variant() -> None:
    with pytest.raises(ConfigError, match="unknown variant 'nope'.*full"):
        resolve("mf_bpr", "baby", variant="nope")
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        resolve("nope", "baby")


@pytest.mark.parametrize(
    ("setting", "message"),
    [("lr_decay=0.0", "lr_decay must be > 0"), ("lr_decay_step=0", "lr_decay_step must be >= 1")],
)
def test_a_learning_rate_decay_no_run_can_use_is_refused(setting: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve("lattice", "baby", overrides=[setting])
