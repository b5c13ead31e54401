"""The quick ablation through `--workflow-profile profiles/slurm` on a real SLURM cluster.

Skipped unless MMDIFFBENCH_SLURM=1 (CI sets it after `bash .ci/slurm-up.sh`, which brings up a
single-node SLURM with accounting). Runs on the real TikTok release in ../shared/datasets under
a hard time limit: on expiry snakemake gets SIGINT (the plugin then cancels its jobs), and any
job still queued is cancelled with scancel.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mmdiffbench.report.labels import SMOKE_STATUS
from tests._workflow_helpers import SHARED_DATASETS, copy_workflow, env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("MMDIFFBENCH_SLURM") != "1",
        reason="needs a real SLURM cluster: run `bash .ci/slurm-up.sh` and set MMDIFFBENCH_SLURM=1",
    ),
    pytest.mark.skipif(not (SHARED_DATASETS / "tiktok").is_dir(), reason="needs ../shared/datasets/tiktok"),
]
LIMIT_S = int(os.environ.get("MMDIFFBENCH_SLURM_TIMEOUT", "1500"))


def test_quick_ablation_through_slurm_profile(tmp_path: Path) -> None:
    work = copy_workflow(tmp_path / "wf")
    targets = ["results/quick/tables/diffmm.table2.csv", "results/quick/tables/diffmm.table2.png"]
    cmd = [
        "timeout",
        "-s",
        "INT",
        "-k",
        "60",
        str(LIMIT_S),
        sys.executable,
        "-m",
        "snakemake",
        "--workflow-profile",
        "profiles/slurm",
        "--max-threads",
        "2",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--config",
        f"data_dir={SHARED_DATASETS}",
        "scale=quick",
        "--",
        *targets,
    ]
    proc = subprocess.run(cmd, cwd=work, env=env(), check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        subprocess.run(["scancel", "--user", os.environ.get("USER", "root")], check=False)
        logs = "\n".join(p.read_text()[-3000:] for p in sorted((work / "logs").rglob("*.log")))
        pytest.fail(
            f"snakemake on SLURM failed (rc {proc.returncode}):\n{proc.stderr[-6000:]}\n--- logs ---\n{logs[-8000:]}"
        )
    for target in targets:
        assert (work / target).is_file(), target
    table = pd.read_csv(work / "results/quick/tables/diffmm.table2.csv")
    assert list(table["variant"]) == ["full", "wo_cl", "wo_dm", "wo_msi"]
    assert (table["status"] == SMOKE_STATUS).all()  # every variant ran (none left out); quick = smoke
    # the training jobs really went through SLURM: their SLURM logs are kept (profile)
    slurm_logs = list((work / "logs/slurm").rglob("*.log"))
    assert any("rule_train" in str(p) for p in slurm_logs), slurm_logs
    accounting = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-S", "now-1hours"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert "COMPLETED" in accounting.stdout
