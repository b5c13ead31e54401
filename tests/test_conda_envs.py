"""The conda environments (untestable here: no conda channel is reachable) at least ask for
every runtime dependency of pyproject.toml, with the same lower bounds; the jobs run this
checkout's library through PYTHONPATH, never through a pip line in the env file (Snakemake
resolves such a relative path against its own copy of the file, so it never installs)."""

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
    assert not any(isinstance(d, dict) for d in spec["dependencies"]), "no pip section: nothing relative"


def test_every_job_runs_this_checkouts_library(tmp_path: Path) -> None:
    """Each rule calls `python -m mmdiffbench...` with this checkout's src/ on PYTHONPATH, so a
    conda environment holding only the dependencies runs the same code."""
    from tests._workflow_helpers import copy_workflow, load_default_config, snakemake, write_config

    work = copy_workflow(tmp_path / "wf")
    config = load_default_config()
    config.update(data_dir=str(tmp_path / "nodata"), scale="quick")
    write_config(work, config)
    out = snakemake(work, "-n", "-p")
    commands = [line for line in (out.stdout + out.stderr).splitlines() if "-m mmdiffbench" in line]
    assert commands
    assert all(f"env PYTHONPATH='{work / 'src'}' python -m mmdiffbench" in line for line in commands)
