"""Resolve a run's configuration from the package's YAML files.

Order, later wins: trainer defaults (configs/trainer.yaml) < the model's YAML (`model:` and
`trainer:` sections) < the dataset preset chosen by the data folder's name (`presets:`) <
the named variant (`variants:`) < `--set key=value` overrides. Trainer and model keys share
one namespace, so `--set epochs=5 --set lambda1=0.1` both work. Every override is checked
against the known keys and the type of its default; an unknown key is an error listing the
valid ones (no silently ignored typos).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml


class ConfigError(ValueError):
    """A bad model, variant, key or value in a run's configuration."""


@dataclass
class RunConfig:
    model_name: str
    variant: str
    dataset: str
    model: dict[str, Any]
    trainer: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "variant": self.variant,
            "dataset": self.dataset,
            "model": self.model,
            "trainer": self.trainer,
        }


def _read_yaml(filename: str) -> dict[str, Any]:
    path = resources.files("mmdiffbench") / "configs" / filename
    if not path.is_file():
        raise ConfigError(f"no config file {filename} in the package")
    return yaml.safe_load(path.read_text()) or {}


def model_file(model_name: str) -> dict[str, Any]:
    return _read_yaml(f"{model_name}.yaml")


def list_variants(model_name: str) -> list[str]:
    return sorted(model_file(model_name).get("variants", {"full": {}}))


DECLARE_KEYS = {"label", "requires_features", "resources"}


def declaration(model_name: str) -> dict[str, Any]:
    """The model's `declare:` section (label, requires_features, resources), read without torch.

    The one place a model states what the workflow and reports need to know about it; a test
    checks that `requires_features` agrees with the registered class.
    """
    declared = model_file(model_name).get("declare") or {}
    unknown = set(declared) - DECLARE_KEYS
    if unknown:
        raise ConfigError(f"{model_name}.yaml declare: unknown key(s) {sorted(unknown)}; known: {sorted(DECLARE_KEYS)}")
    return {"label": model_name, "requires_features": False, "resources": {}, **declared}


def coerce(key: str, value: Any, default: Any) -> Any:
    """`value` converted to the type of `default`, or a ConfigError naming the key."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML reads "1e-5" as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, list):
        if isinstance(value, list):
            return [coerce(key, v, default[0]) for v in value] if default else value
    elif default is None:
        return value
    raise ConfigError(f"{key}: expected {type(default).__name__}, got {value!r}")


def parse_override(text: str) -> tuple[str, Any]:
    """'key=value' -> (key, YAML-parsed value)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not key=value")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw) if raw.strip() else ""


def _apply(section_values: dict[str, Any], model: dict, trainer: dict, origin: str) -> None:
    for key, value in section_values.items():
        if key in model:
            model[key] = coerce(key, value, model[key])
        elif key in trainer:
            trainer[key] = coerce(key, value, trainer[key])
        else:
            valid = ", ".join(sorted(set(model) | set(trainer)))
            raise ConfigError(f"unknown key {key!r} in {origin}; valid keys: {valid}")


def _defaults(model_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model, trainer) settings before presets and variants: trainer.yaml < the model YAML."""
    trainer = dict(_read_yaml("trainer.yaml"))
    spec = model_file(model_name)
    model = dict(spec.get("model", {}))
    clash = set(model) & set(trainer)
    if clash:
        raise ConfigError(f"{model_name}.yaml: model keys shadow trainer keys: {sorted(clash)}")
    _apply(spec.get("trainer", {}), model, trainer, f"{model_name}.yaml trainer section")
    return model, trainer


def default_settings(model_name: str) -> dict[str, Any]:
    """Every key a preset, variant, sweep or `--set` may name, with its default (read without torch)."""
    model, trainer = _defaults(model_name)
    return {**trainer, **model}


def resolve(model_name: str, dataset: str, variant: str = "full", overrides: list[str] | None = None) -> RunConfig:
    """The fully resolved configuration of one (model, dataset, variant, overrides) run."""
    from mmdiffbench.models import get_model_class  # the registry is the source of model names

    try:
        get_model_class(model_name)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return resolve_settings(model_name, dataset, variant, overrides)


def dataset_preset(spec: dict[str, Any], dataset: str) -> dict[str, Any]:
    """A model YAML's `presets.<dataset>` (empty when it has none): the settings that runs on
    `dataset` take above the YAML's defaults."""
    return spec.get("presets", {}).get(dataset, {})


def resolve_settings(
    model_name: str, dataset: str, variant: str = "full", overrides: list[str] | None = None
) -> RunConfig:
    """`resolve` from the YAML files alone, without importing the model (torch): what the
    workflow plan compares to find cells that are one run."""
    model, trainer = _defaults(model_name)
    spec = model_file(model_name)
    _apply(dataset_preset(spec, dataset), model, trainer, f"{model_name}.yaml preset {dataset!r}")
    variants = spec.get("variants", {"full": {}})
    if variant not in variants:
        raise ConfigError(f"unknown variant {variant!r} of {model_name}; known variants: {', '.join(sorted(variants))}")
    _apply(variants[variant] or {}, model, trainer, f"variant {variant!r}")
    parsed = dict(parse_override(text) for text in overrides or [])
    _apply(parsed, model, trainer, "--set")
    check_trainer(trainer)
    return RunConfig(model_name, variant, dataset, model, trainer)


def check_trainer(trainer: dict[str, Any]) -> None:
    """ConfigError for trainer values no run can use (a count below 1, an empty topks, ...)."""
    at_least_one = ("epochs", "batch_size", "eval_every", "eval_batch_size", "checkpoint_every", "lr_decay_step")
    for key in at_least_one:
        if trainer[key] < 1:
            raise ConfigError(f"{key} must be >= 1, got {trainer[key]}")
    for key in ("patience", "weight_decay", "divergence_factor"):
        if trainer[key] < 0:
            raise ConfigError(f"{key} must be >= 0, got {trainer[key]}")
    for key in ("lr", "lr_decay"):
        if not trainer[key] > 0:
            raise ConfigError(f"{key} must be > 0, got {trainer[key]}")
    if not 0 <= trainer["mmap_threshold_mib"] <= 32:  # glibc refuses a threshold above 32 MiB
        raise ConfigError(f"mmap_threshold_mib must be in [0, 32], got {trainer['mmap_threshold_mib']}")
    if not 0 <= trainer["trim_threshold_mib"] <= 2047:  # mallopt takes an int of bytes
        raise ConfigError(f"trim_threshold_mib must be in [0, 2047], got {trainer['trim_threshold_mib']}")
    topks = trainer["topks"]
    if not topks or any(not isinstance(k, int) or k < 1 for k in topks):
        raise ConfigError(f"topks must be a non-empty list of cut-offs >= 1, got {topks}")
    computed = {f"{m}@{k}" for m in ("recall", "precision", "ndcg") for k in topks}
    if trainer["selection_metric"] not in computed:
        raise ConfigError(f"selection_metric {trainer['selection_metric']!r} is not computed with topks {topks}")
    edges = trainer["group_edges"]
    if not edges or edges[0] != 0 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise ConfigError(f"group_edges must rise strictly from 0, got {edges}")
