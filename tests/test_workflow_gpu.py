"""GPUs on one machine: train jobs ask for gpu=1 with device=cuda, and two concurrent jobs
claim different devices (Snakemake only counts GPUs; the library picks the device)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests._workflow_helpers import copy_workflow, env, load_default_config, snakemake, write_config


def test_train_jobs_request_one_gpu_only_with_cuda(tmp_path: Path) -> None:
    work = copy_workflow(tmp_path / "wf")
    config = load_default_config()
    config.update(data_dir=str(tmp_path / "nodata"), scale="quick", device="cuda")
    config["scales"]["quick"]["experiments"] = ["diffmm.table1"]
    write_config(work, config)
    out = snakemake(work, "-n", "--resources", "gpu=2", "-p")
    text = out.stdout + out.stderr
    train_blocks = [b for b in text.split("\n\n") if "rule train:" in b]
    assert train_blocks and all("gpu=1" in b for b in train_blocks)
    assert all("--device cuda" in b for b in train_blocks)
    config["device"] = "cpu"
    write_config(work, config)
    out = snakemake(work, "-n", "-p")
    train_blocks = [b for b in (out.stdout + out.stderr).split("\n\n") if "rule train:" in b]
    assert train_blocks and not any("gpu=" in b for b in train_blocks)


def test_concurrent_jobs_claim_distinct_gpus(tmp_path: Path) -> None:
    """Two processes (as two Snakemake jobs would be) each hold a claim; they get 0 and 1."""
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from mmdiffbench.train.device import claim_free_gpu
        print(claim_free_gpu(2, Path({str(tmp_path)!r})), flush=True)
        sys.stdin.read()  # hold the claim until the test closes stdin
        """
    )
    first = subprocess.Popen(
        [sys.executable, "-c", script], env=env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    got_first = first.stdout.readline().strip()
    second = subprocess.run(
        [sys.executable, "-c", script], env=env(), input="", check=False, capture_output=True, text=True, timeout=120
    )
    first.stdin.close()
    first.wait(timeout=60)
    assert {got_first, second.stdout.strip()} == {"0", "1"}


def test_slurm_jobs_trust_slurm_assignment_and_never_fight_over_a_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under SLURM with cgroups every job sees its GPU as cuda:0 with the same CUDA_VISIBLE_DEVICES:
    two jobs on one node both use device 0 (their own), and neither takes the lock."""
    from mmdiffbench.train.device import claim_free_gpu

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    for job in ("101", "102"):
        monkeypatch.setenv("SLURM_JOB_ID", job)
        assert claim_free_gpu(1, tmp_path) == 0
    assert list(tmp_path.iterdir()) == []  # no lock file: nothing a second job could find taken
    monkeypatch.delenv("SLURM_JOB_ID")
    assert claim_free_gpu(1, tmp_path) == 0  # outside SLURM the lock is taken as before
    assert len(list(tmp_path.iterdir())) == 1
