"""A tiny end-to-end run of the real Snakefile on a synthetic release.

The release is served by a real HTTP server on loopback and the data_dir is empty, so the
data rule's download path runs. MF-BPR and LightGCN train a few epochs; the test checks the
tables, figures, reproduction.md and the HTML report, that a second run does nothing, that a
paper-scale dry run between two quick runs touches no file of the quick scale, and that a run
killed mid-way (SIGKILL of the whole process group) finishes with --rerun-incomplete, resuming
the killed job from its checkpoint without redoing finished jobs.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from mmdiffbench.data import make_synthetic, write_release
from tests._workflow_helpers import copy_workflow, env, job_counts, load_default_config, snakemake, write_config

pytestmark = pytest.mark.slow


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def served_release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("served")
    write_release(make_synthetic(n_users=300, n_items=200, modalities={}, seed=0, name="synth"), root / "synth")
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root / "synth"
    httpd.shutdown()
    httpd.server_close()


def tiny_config(base_url: str, release: Path, data_dir: Path, seeds: list[int]) -> dict:
    config = load_default_config()
    files = {  # the package's checksum registry does not know this dataset: config.yaml gives them
        p.name: {"url": f"{base_url}/synth/{p.name}", "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
        for p in sorted(release.iterdir())
    }
    fast = {"epochs": 2, "eval_every": 1, "patience": 0, "batch_size": 256}
    config.update(
        data_dir=str(data_dir),
        scale="quick",
        train_threads=1,
        datasets={"synth": {"label": "Synthetic", "size": "small", "files": files}},
        sweeps={"diffmm.table2": [{"model": "lightgcn", "axes": {"n_layers": [1]}}]},
    )
    config["scales"]["quick"] = {
        "datasets": ["synth"],
        "seeds": seeds,
        "experiments": ["diffmm.table1", "diffmm.table2", "diffmm.fig2", "diffmm.table5"],
        "models": ["mf_bpr", "lightgcn", "diffmm"],  # the workflow's mechanics, not every model
        "set": fast,
        "model_set": {},
    }
    # the same runs with more epochs: the scale whose tree a quick run must never touch
    config["scales"]["paper"] = {**config["scales"]["quick"], "set": {**fast, "epochs": 4}}
    return config


def _mtimes(paths: list[Path]) -> dict[Path, float]:
    return {p: p.stat().st_mtime_ns for p in paths}


def _tree(root: Path) -> dict[Path, float]:
    """Every file under `root` with its mtime."""
    return _mtimes(sorted(p for p in root.rglob("*") if p.is_file()))


def test_end_to_end_second_run_and_kill(served_release: tuple[str, Path], tmp_path: Path) -> None:
    base_url, release = served_release
    work = copy_workflow(tmp_path / "wf")
    write_config(work, tiny_config(base_url, release, tmp_path / "empty-data-dir", seeds=[1]))

    # 1. end to end
    first = snakemake(work, "--cores", "2")
    out = work / "results/quick"  # the quick scale's tree
    for name in ("diffmm.table1", "diffmm.table2", "diffmm.table5"):
        assert (out / f"tables/{name}.csv").is_file()
        assert (out / f"tables/{name}.png").read_bytes()[:4] == b"\x89PNG"
    for suffix in ("png", "pdf", "csv"):
        assert (out / f"figures/diffmm.fig2.{suffix}").is_file()
    # the left-out cells: one short line per call (not again from the jobs), the list in a file
    said = [line for line in first.stderr.splitlines() if "cell(s) left out" in line]
    assert len(said) == 1 and "results/quick/left_out.txt" in said[0]
    assert "not among the models of the 'quick' scale" in (out / "left_out.txt").read_text()
    ablation = pd.read_csv(out / "tables/diffmm.table2.csv")
    ok = ablation[ablation["status"] == "ok"]
    assert list(ok["variant"]) == ["n_layers_1"] and set(ok["model"]) == {"lightgcn"}  # the config's sweep
    assert set(ablation.loc[ablation["status"] != "ok", "model"]) == {"diffmm"}  # synth has no features
    overall = pd.read_csv(out / "tables/diffmm.table1.csv")
    assert set(overall.loc[overall["status"] == "ok", "model"]) == {"mf_bpr", "lightgcn"}
    assert overall.loc[overall["status"] == "ok", "recall@20 mean [val_selected]"].between(0, 1).all()
    assert "left out: not among the models of the 'quick' scale (scales.quick.models)" in set(overall["status"])
    assert "Reproduction of the papers" in (out / "reproduction.md").read_text()
    recorded = json.loads((out / "runs/synth/lightgcn/n_layers_1/seed1/metrics.json").read_text())
    assert (recorded["variant"], recorded["workflow_variant"]) == ("full", "n_layers_1")
    assert "downloaded from http://127.0.0.1" in (work / "logs/data/synth.log").read_text()
    assert (out / "benchmarks/train/synth/lightgcn/full/seed1.tsv").is_file()
    # the lightgcn/full run is shared by Table 1 and Fig. 2: trained once
    assert len(list((out / "runs/synth/lightgcn").glob("*/seed1/metrics.json"))) == 2

    # 2. a paper-scale dry run, then the quick run again: the quick tree untouched, nothing to do
    quick = _tree(out)
    paper = snakemake(work, "-n", "--config", "scale=paper")
    counts = job_counts(paper.stdout + paper.stderr)
    # the paper scale's own runs, as many as the quick scale's: none of those is reused
    assert counts["train"] == len(list((out / "runs").rglob("metrics.json"))) == 3
    assert "results/paper/runs/synth/" in paper.stdout + paper.stderr
    assert "training job(s) planned" in paper.stderr  # the cost, before anything runs
    # a newer stats.json (the data rule rerun for another scale's data_dir) retrains nothing
    stats = work / "resources/data/synth/stats.json"
    os.utime(stats, ns=(time.time_ns(), time.time_ns()))
    again = snakemake(work, "--cores", "2")
    assert "Nothing to be done" in again.stdout + again.stderr
    assert _tree(out) == quick
    assert not (work / "results/paper/runs").exists()

    # 3. the HTML report, as the README writes it (the run's own scale), after that run
    snakemake(work, "--report", "results/quick/report.html", "--config", "scale=quick")
    html = (out / "report.html").read_text(errors="replace")
    assert "diffmm.table2" in html and "DiffMM ablation" in html  # the registry's caption
    assert _tree(out).keys() - quick.keys() == {out / "report.html"}

    # 4. kill a run mid-way, then --rerun-incomplete
    config = tiny_config(base_url, release, tmp_path / "empty-data-dir", seeds=[1])
    config["sweeps"]["diffmm.table2"] += [
        {"model": "lightgcn", "axes": {"n_layers": [2]}},
        {"model": "lightgcn", "axes": {"epochs": [300]}},
    ]
    write_config(work, config)
    finished_before = sorted((out / "runs").rglob("seed1/metrics.json"))
    before = _mtimes(finished_before)
    # n_layers_2 first: left to the scheduler, the 300-epoch job (7 s on synth) may run first and
    # end before any other train job has finished, and then no kill mid-way happens
    finishes_first = "results/quick/runs/synth/lightgcn/n_layers_2/seed1/metrics.json"
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--prioritize", finishes_first]
    log = tmp_path / "killed-run.log"
    with open(log, "w") as handle:
        proc = subprocess.Popen(
            cmd, cwd=work, env=env(), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    slow = out / "runs/synth/lightgcn/epochs_300"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            started = list(slow.glob("seed*/checkpoint.pt"))
            # a job is finished once Snakemake has recorded it, not when its file appears
            finished = "(Rule: train)" in log.read_text()
            if started and finished and proc.poll() is None:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the slow job did not start in time")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed = [d for d in slow.glob("seed*") if (d / "checkpoint.pt").is_file() and not (d / "metrics.json").exists()]
    assert killed, "expected a job killed mid-way (checkpoint, no metrics.json)"
    finished_in_killed_run = sorted((out / "runs/synth/lightgcn/n_layers_2").glob("seed1/metrics.json"))
    assert finished_in_killed_run
    before.update(_mtimes(finished_in_killed_run))

    snakemake(work, "--unlock")
    snakemake(work, "--cores", "2", "--rerun-incomplete")
    assert _mtimes(list(before)) == before  # finished jobs were not redone
    for run in killed:
        assert (run / "metrics.json").is_file()
        assert "resumed from" in (run / "train.log").read_text()
    ablation = pd.read_csv(out / "tables/diffmm.table2.csv")
    ok = ablation[ablation["status"] == "ok"]
    assert list(ok["variant"]) == ["n_layers_1", "n_layers_2", "epochs_300"]
    again = snakemake(work, "--cores", "2")
    assert "Nothing to be done" in again.stdout + again.stderr
