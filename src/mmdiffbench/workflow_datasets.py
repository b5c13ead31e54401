"""What an entry of config.yaml `datasets` is: a source folder or a dataset derived from one.

- source: a folder of data_dir in the DiffMM release layout (`layout: release`, the default) or
  in MMRec's (`layout: mmrec`: `<name>.inter` with x_label plus `<modality>_feat.npy`). One key
  names one release: MMRec's Baby is not the DiffMM release's Baby (other split, other ids), so
  it needs its own key.
- derived: `derived_from: <source key>` plus a seeded `transform` the workflow applies (the
  `noisy_data` rule), e.g. LD4MRec's noisy training (`random_noise`). It inherits the source's
  modalities and size; an experiment takes it only when its registry entry asks for the
  transform (experiments.yaml `derived`), beside the source.
YAML only, no torch: the plan and the Snakemake rules read it.
"""

from __future__ import annotations

from typing import Any

from mmdiffbench.data.noisy import NOISE_RATIO
from mmdiffbench.plan_types import PlanError

#: transform -> the paper tables' `setting` it reproduces (their rows are compared with derived data)
TRANSFORMS = {"random_noise": "noisy_training"}


def spec(config: dict[str, Any], name: str) -> dict[str, Any]:
    return config["datasets"][name]


def is_derived(config: dict[str, Any], name: str) -> bool:
    return "derived_from" in spec(config, name)


def source_of(config: dict[str, Any], name: str) -> str:
    """The source dataset whose folder a dataset is made from (itself for a source)."""
    return spec(config, name).get("derived_from", name)


def layout(config: dict[str, Any], name: str) -> str:
    """`release` or `mmrec`: the layout of the source folder in data_dir."""
    return spec(config, source_of(config, name)).get("layout", "release")


def size(config: dict[str, Any], name: str) -> str:
    """small | large (which resource hints its jobs get): a derived dataset's own, else its source's."""
    return spec(config, name).get("size") or spec(config, source_of(config, name)).get("size", "large")


def derived_datasets(config: dict[str, Any], source: str, transforms: tuple[str, ...]) -> list[str]:
    """The configured datasets derived from `source` by one of `transforms`, in config order."""
    return [
        name
        for name, entry in config["datasets"].items()
        if entry.get("derived_from") == source and entry.get("transform") in transforms
    ]


def check_datasets(config: dict[str, Any]) -> None:
    """A derived dataset names a configured source (no chains) and a known transform."""
    for name, entry in config["datasets"].items():
        if "derived_from" not in entry:
            continue
        base = entry["derived_from"]
        if base not in config["datasets"]:
            raise PlanError(f"datasets.{name}.derived_from: unknown dataset {base!r}")
        if is_derived(config, base):
            raise PlanError(f"datasets.{name}.derived_from: {base!r} is itself derived; name its source")
        if entry.get("transform") not in TRANSFORMS:
            raise PlanError(
                f"datasets.{name}.transform: {entry.get('transform')!r} is not one of {', '.join(TRANSFORMS)}"
            )


def plan_info(config: dict[str, Any], name: str) -> dict[str, Any]:
    """What a plan records of a dataset: label, stats path and, when derived, source and transform."""
    info: dict[str, Any] = {"label": spec(config, name)["label"], "stats": f"resources/data/{name}/stats.json"}
    if is_derived(config, name):
        info.update(derived_from=source_of(config, name), transform=spec(config, name)["transform"])
    return info


def transform_args(config: dict[str, Any], name: str) -> str:
    """The `mmdiffbench data noisy` options that make the derived dataset `name`."""
    entry = spec(config, name)
    return f"--ratio {entry.get('noise_ratio', NOISE_RATIO)} --seed {entry.get('seed', 0)}"
