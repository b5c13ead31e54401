"""Shared by the workflow tests: run Snakemake on a copy of the workflow in a temp folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"
WORKFLOW_PARTS = ("Snakefile", "config.yaml", "workflow", "profiles", "envs")


def copy_workflow(dest: Path) -> Path:
    """The workflow files (not results/ or resources/) copied into `dest`, and src/ linked: the
    jobs put the workflow's own src/ first on PYTHONPATH, so they run this checkout's library,
    not whichever copy the environment has installed."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part)
        else:
            shutil.copy2(src, dest / part)
    (dest / "src").symlink_to(REPO / "src", target_is_directory=True)
    return dest


def env() -> dict[str, str]:
    """This checkout's library first on PYTHONPATH; this interpreter's bin first on PATH."""
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([str(REPO / "src")] + ([out["PYTHONPATH"]] if out.get("PYTHONPATH") else []))
    out["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), out.get("PATH", "")])
    return out


def snakemake(workdir: Path, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", *args]
    proc = subprocess.run(cmd, cwd=workdir, env=env(), check=False, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count (without the 'total' row)."""
    counts: dict[str, int] = {}
    block = output.split("Job stats:", 1)[1] if "Job stats:" in output else ""
    for line in block.splitlines()[3:]:
        match = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if not match:
            break
        counts[match.group(1)] = int(match.group(2))
    counts.pop("total", None)
    return counts


def write_config(workdir: Path, config: dict) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def load_default_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())
