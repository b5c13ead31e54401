"""What each workflow job gets from the declarations, not from config.yaml copies of them: a
training job's resources (the model YAML's `declare.resources`, by the dataset's size) and the
data job's release files with their checksums (mmdiffbench.data.checksums). YAML only, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mmdiffbench.config import declaration, list_variants
from mmdiffbench.data.checksums import release_checksum
from mmdiffbench.models import MODELS
from mmdiffbench.plan_types import PlanError
from mmdiffbench.workflow_datasets import size as dataset_size


@dataclass(frozen=True)
class ModelInfo:
    """What planning needs of an implemented model (from its YAML, without importing it)."""

    variants: tuple[str, ...]
    requires_features: bool
    resources: dict[str, dict[str, int]] = field(default_factory=dict)  # dataset size -> runtime, mem_mb


def implemented_models() -> dict[str, ModelInfo]:
    """Registered model name -> its library variants and declaration (YAML only, no torch)."""
    declared = {name: declaration(name) for name in MODELS}
    return {
        name: ModelInfo(tuple(list_variants(name)), bool(d["requires_features"]), d["resources"])
        for name, d in declared.items()
    }


def job_resources(config: dict[str, Any], info: ModelInfo, dataset: str) -> dict[str, int]:
    """A training job's runtime (minutes) and mem_mb: the model's hints for the dataset's size,
    replaced by the scale's `resources` where it sets them."""
    size = dataset_size(config, dataset)
    if set(info.resources.get(size, {})) != {"runtime", "mem_mb"}:
        raise PlanError(f"datasets.{dataset}.size: the model declares no runtime and mem_mb for {size!r} datasets")
    return {**info.resources[size], **(config["scales"][config["scale"]].get("resources") or {})}


def release_files(config: dict[str, Any], dataset: str) -> list[tuple[str, str | None, str]]:
    """(name, url or None, `sha256:HEX` | `git_blob:HEX`) of each configured release file.

    The checksum comes from mmdiffbench.data.checksums; config.yaml gives one only for a file
    that registry does not know, never a second copy of a known one.
    """
    out = []
    for name, spec in sorted((config["datasets"][dataset].get("files") or {}).items()):
        key = f"datasets.{dataset}.files.{name}"
        known = release_checksum(dataset, name)
        if isinstance(spec, dict):
            if known:
                raise PlanError(f"{key}: its checksum lives in mmdiffbench/data/checksums.py; give only the URL")
            algorithm = "sha256" if "sha256" in spec else "git_blob"
            out.append((name, spec.get("url"), f"{algorithm}:{spec[algorithm]}"))
        elif known:
            out.append((name, spec, known))
        else:
            raise PlanError(f"{key}: no checksum known (mmdiffbench/data/checksums.py); give {{url: ..., sha256: ...}}")
    return out
