"""The conda environments (untestable here: no conda channel is reachable) at least ask for
every runtime dependency of pyproject.toml, with the same lower bounds, and install this checkout."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}
WORKFLOW_ONLY = {"snakemake", "snakemake-executor-plugin-slurm"}  # the driver's, not the jobs'


def _requirements() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    parsed = (re.match(r"([A-Za-z0-9_.-]+)(.*)", d).groups() for d in deps)
    return {CONDA_NAMES.get(name, name): spec for name, spec in parsed if name not in WORKFLOW_ONLY}


@pytest.mark.parametrize("env", ["cpu", "cuda"])
def test_env_file_covers_the_runtime_dependencies(env):
    spec = yaml.safe_load((ROOT / "envs" / f"{env}.yaml").read_text())
    entries = [d for d in spec["dependencies"] if isinstance(d, str)]
    conda = {re.match(r"[A-Za-z0-9_.-]+", d).group(0): d for d in entries}
    for name, bound in _requirements().items():
        assert name in conda, f"{env}.yaml lacks {name}"
        lower = re.search(r">=([0-9.]+)", bound)
        if name != "pytorch" and lower:
            assert f">={lower.group(1)}" in conda[name], f"{env}.yaml: {conda[name]} vs pyproject {name}{bound}"
    assert conda["pytorch"].endswith("=cpu*" if env == "cpu" else "=cuda*")
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    assert (ROOT / "envs" / pip[0].split()[-1] / "pyproject.toml").is_file()  # `-e ../` is this checkout
