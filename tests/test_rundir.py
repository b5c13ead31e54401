"""Run folders you can trust: one writer, a resume that refuses a changed run, a new run that never
mixes with an old one or destroys it before checking itself, and one-line errors with the exit
code of their kind (2 data / configuration / environment, 130 Ctrl-C)."""

from __future__ import annotations

import errno
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch

from mmdiffbench.cli import EXIT_BAD_INPUT, EXIT_INTERRUPTED, main
from mmdiffbench.config import ConfigError, resolve
from mmdiffbench.data import InteractionDataset, make_synthetic, write_release
from mmdiffbench.environment import EnvironmentProblem
from mmdiffbench.train import runinfo
from mmdiffbench.train import trainer as trainer_module
from mmdiffbench.train.checkpoint import load_tensors, save_torch, write_json
from mmdiffbench.train.phases import PhaseRunner
from mmdiffbench.train.run import train_run
from mmdiffbench.train.rundir import check_resume, run_lock

SMALL = ["epochs=3", "eval_every=1", "patience=0", "embedding_dim=8", "batch_size=64", "topks=[20]", "group_edges=[0]"]


def _train(
    dataset: InteractionDataset,
    out: Path,
    extra: list[str] = (),
    seed: int = 1,
    resume: bool = False,
    model_name: str = "mf_bpr",
) -> Any:
    config = resolve(model_name, dataset.name, overrides=[*SMALL, *extra])
    try:
        return train_run(dataset, config, seed, out, torch.device("cpu"), resume=resume)
    finally:
        logging.getLogger().handlers.clear()


def test_a_second_writer_stops_naming_the_holder(synthetic: InteractionDataset, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    with run_lock(out), pytest.raises(EnvironmentProblem, match=r"another run writes into this folder \(pid \d+\)"):
        _train(synthetic, out)
    assert not (out / "config.json").exists()
    _train(synthetic, out)  # the lock is released with its holder
    assert (out / "metrics.json").is_file()


@pytest.mark.parametrize(
    ("change", "named"),
    [(["lr=0.05"], "trainer.lr: 0.001 in the run, 0.05 now"), (["embedding_dim=16"], "model.embedding_dim")],
)
def test_resume_refuses_a_changed_setting_by_name(
    synthetic: InteractionDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: list[str], named: str
) -> None:
    _interrupted_run(synthetic, tmp_path, monkeypatch)
    with pytest.raises(ConfigError, match=f"--resume refused: .*{named}"):
        _train(synthetic, tmp_path, change, resume=True)


def test_resume_of_a_run_from_before_the_added_keys(
    synthetic: InteractionDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config.json without lr_decay / lr_decay_step / fused_adam resumes when they keep the old
    behaviour, and is refused by name when they change it."""
    _interrupted_run(synthetic, tmp_path, monkeypatch)
    path = tmp_path / "config.json"
    saved = json.loads(path.read_text())
    for key in ("lr_decay", "lr_decay_step", "fused_adam"):
        del saved["trainer"][key]
    path.write_text(json.dumps(saved))
    with pytest.raises(ConfigError, match="trainer.lr_decay: 1.0 in the run, 0.5 now"):
        _train(synthetic, tmp_path, ["lr_decay=0.5"], resume=True)
    assert _train(synthetic, tmp_path, resume=True)["epochs_run"] > 0


def test_resume_with_another_memory_switch_gives_the_uninterrupted_result(
    synthetic: InteractionDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`recompute` only trades memory for time: a GRCN run begun with it on (the default before
    3a45649), or from before the key existed, resumes under today's default to the same numbers."""
    uninterrupted = _train(synthetic, tmp_path / "whole", model_name="grcn")
    for run, drop_key in (("on", False), ("absent", True)):
        out = tmp_path / run
        _interrupted_run(synthetic, out, monkeypatch, ["recompute=true"], model_name="grcn")
        if drop_key:
            saved = json.loads((out / "config.json").read_text())
            del saved["model"]["recompute"]
            (out / "config.json").write_text(json.dumps(saved))
        resumed = _train(synthetic, out, resume=True, model_name="grcn")
        assert resumed["test"] == uninterrupted["test"] and resumed["epochs_run"] == uninterrupted["epochs_run"]
    with pytest.raises(ConfigError, match="model.embedding_dim"):  # a key that changes numbers still refuses
        _train(synthetic, tmp_path / "on", ["embedding_dim=16"], resume=True, model_name="grcn")


def test_resume_refuses_another_seed_or_model(
    synthetic: InteractionDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interrupted_run(synthetic, tmp_path, monkeypatch)
    with pytest.raises(ConfigError, match="seed: 1 in the run, 2 now"):
        _train(synthetic, tmp_path, seed=2, resume=True)
    config = resolve("lightgcn", synthetic.name, overrides=SMALL)
    with pytest.raises(ConfigError, match="model_name: 'mf_bpr' in the run, 'lightgcn' now"):
        train_run(synthetic, config, 1, tmp_path, torch.device("cpu"), resume=True)
    assert _train(synthetic, tmp_path, ["epochs=4"], resume=True)["epochs_run"] == 4  # longer is allowed


def test_metrics_list_each_process_and_a_resume_elsewhere_says_so(
    synthetic: InteractionDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run resumed at another commit (or on another CPU) is still one run, but its later epochs were
    computed by other code: metrics.json names who trained which epochs, and the log warns."""
    straight = _train(synthetic, tmp_path / "straight")
    assert [p["first_epoch"] for p in straight["processes"]] == [0]
    assert straight["processes"][0]["git_commit"] == straight["git_commit"]
    assert straight["processes"][0]["threads"] == torch.get_num_threads()

    out = tmp_path / "resumed"
    _interrupted_run(synthetic, out, monkeypatch)  # killed in epoch 2: epochs 0 and 1 are checkpointed
    monkeypatch.setattr(runinfo, "git_commit", lambda: "f" * 40)
    resumed = _train(synthetic, out, resume=True)
    first, second = resumed["processes"]
    assert (first["first_epoch"], second["first_epoch"]) == (0, 2)
    assert first["git_commit"] == straight["git_commit"] and second["git_commit"] == "f" * 40
    assert resumed["git_commit"] == "f" * 40  # the top-level commit is the last process's
    log = (out / "train.log").read_text()
    assert f"resumed by another process kind (git_commit {straight['git_commit']} -> {'f' * 40})" in log
    assert "the epochs from 2 on" in log

    # a checkpoint from before processes were recorded: its epochs are marked unrecorded
    again = tmp_path / "old"
    _interrupted_run(synthetic, again, monkeypatch)
    state = load_tensors(again / "checkpoint.pt")
    del state["processes"]
    save_torch(state, again / "checkpoint.pt")
    old = _train(synthetic, again, resume=True)
    assert old["processes"][0] == {"first_epoch": 0, "git_commit": "unrecorded"}
    assert old["processes"][1]["first_epoch"] == 2 and old["test"] == resumed["test"] == straight["test"]


def test_cpu_model_names_the_first_cpus_family_model_and_stepping(tmp_path: Path) -> None:
    block = "processor\t: {}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: {}\nmodel name\t: Intel(R) Xeon(R) Processor\nstepping\t: 1\n"
    (tmp_path / "cpuinfo").write_text(block.format(0, 143) + "\n" + block.format(1, 167) + "\n")
    assert runinfo.cpu_model(tmp_path / "cpuinfo") == "GenuineIntel family 6 model 143 stepping 1"
    assert runinfo.cpu_model(tmp_path / "absent") is None
    (tmp_path / "arm").write_text("processor\t: 0\nBogoMIPS\t: 50.00\n")
    assert runinfo.cpu_model(tmp_path / "arm") is None  # no x86 fields: nothing made up


def _interrupted_run(
    dataset: InteractionDataset,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str] = (),
    model_name: str = "mf_bpr",
) -> None:
    original = PhaseRunner.run_epoch

    def killed_at_epoch_2(self: PhaseRunner, epoch: int, row: dict[str, Any]) -> None:
        if epoch == 2:
            raise KeyboardInterrupt
        original(self, epoch, row)

    monkeypatch.setattr(PhaseRunner, "run_epoch", killed_at_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        _train(dataset, out, extra, model_name=model_name)
    monkeypatch.setattr(PhaseRunner, "run_epoch", original)


def test_a_bad_new_run_leaves_a_finished_result_untouched(synthetic: InteractionDataset, tmp_path: Path) -> None:
    _train(synthetic, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(ConfigError):
        _train(synthetic, tmp_path, ["epochs=0"])
    config = resolve("diffmm", synthetic.name, overrides=["fusion_ratio=2.0"])
    with pytest.raises(ConfigError, match="diffmm: fusion_ratio must be in"):
        train_run(synthetic, config, 1, tmp_path, torch.device("cpu"))
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before


def test_a_new_run_killed_early_leaves_no_file_of_the_old_run(
    synthetic: InteractionDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _train(synthetic, tmp_path)
    _interrupted_run(synthetic, tmp_path, monkeypatch)
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "model.pt").exists()
    assert main(["evaluate", str(tmp_path)]) == EXIT_BAD_INPUT  # nothing stale to score


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("json.dumps", disk_full)
    with pytest.raises(EnvironmentProblem, match="cannot write \\(No space left on device\\)"):
        write_json({"a": 1}, tmp_path / "x.json")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def release(tmp_path: Path) -> Path:
    directory = tmp_path / "toy"
    write_release(make_synthetic(n_users=60, n_items=70, modalities={}, seed=1), directory)
    return directory


def _cli(release: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(release), "--model", "mf_bpr", "--out", str(out), *extra]


@pytest.mark.parametrize(
    ("extra", "kind", "message"),
    [
        (["--set", "epochs=0"], "configuration", "epochs must be >= 1, got 0"),
        (["--set", "epochs=-1"], "configuration", "epochs must be >= 1, got -1"),
        (["--set", "topks=[]"], "configuration", "topks must be a non-empty list"),
        (["--set", "batch_size=0"], "configuration", "batch_size must be >= 1"),
        (["--set", "eval_every=0"], "configuration", "eval_every must be >= 1"),
        (["--set", "topks=[20,100]"], "configuration", "a cut-off above the 70 items of toy"),
        (["--device", "cuda"], "environment", "CUDA is not available"),
        (["--device", "tpu"], "environment", "unknown device 'tpu'"),
    ],
)
def test_bad_settings_end_in_one_line_and_exit_2(
    release: Path, tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str], kind: str, message: str
) -> None:
    if "cuda" in extra and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(_cli(release, tmp_path / "run", *extra)) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error ({kind}): ") and message in err[0]
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.parametrize("extra", [["--threads", "0"], ["--threads", "-1"], ["--seed", "-1"]])
def test_bad_flags_are_refused_by_the_parser(release: Path, tmp_path: Path, extra: list[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(_cli(release, tmp_path / "run", *extra))
    assert stop.value.code == EXIT_BAD_INPUT


def test_a_multimodal_model_without_features_is_a_data_error(
    release: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    args = ["train", "--data", str(release), "--model", "diffmm", "--out", str(tmp_path / "run")]
    assert main(args) == EXIT_BAD_INPUT
    assert capsys.readouterr().err.startswith("error (data): DiffMM needs item feature files")


def test_an_out_path_that_is_a_file_is_an_environment_error(
    release: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "file").write_text("x")
    assert main(_cli(release, tmp_path / "file")) == EXIT_BAD_INPUT
    assert "error (environment): " in capsys.readouterr().err


def test_ctrl_c_exits_130_without_a_traceback(
    release: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: PhaseRunner, epoch: int, row: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(PhaseRunner, "run_epoch", interrupted)
    assert main(_cli(release, tmp_path / "run")) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "metrics.json").exists()


class _Payload:
    """Pickles to a call that creates a marker file: what a crafted run folder would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("target", ["model.pt", "checkpoint.pt"])
def test_a_crafted_run_file_is_refused_and_its_payload_never_runs(
    synthetic: InteractionDataset, release: Path, tmp_path: Path, capsys: pytest.CaptureFixture, target: str
) -> None:
    out = tmp_path / "run"
    assert main(_cli(release, out, "--set", "epochs=2", "--set", "keep_checkpoint=true")) == 0
    marker = tmp_path / "payload-ran"
    state = torch.load(out / target, weights_only=True)
    state["payload"] = _Payload(marker)
    torch.save(state, out / target)
    if target == "model.pt":
        code = main(["evaluate", str(out)])
    else:
        (out / "model.pt").unlink()
        code = main([*_cli(release, out, "--set", "epochs=3"), "--resume"])
    assert code == EXIT_BAD_INPUT
    assert f"{target}: refused, it holds more than tensors and plain values" in capsys.readouterr().err
    assert not marker.exists()


def test_a_pickle_hidden_in_diffmm_extra_state_is_never_unpickled(tmp_path: Path) -> None:
    """The extra state is a dict of tensors now: a byte tensor (the old format) is an error, not a pickle."""
    import io

    from mmdiffbench.models.diffmm import DiffMM

    dataset = make_synthetic(n_users=30, n_items=20, modalities={"image": 4}, seed=0)
    config = resolve("diffmm", dataset.name, overrides=["denoiser_dims=[8]", "embedding_dim=4"])
    model = DiffMM(dataset, config.model)
    marker = tmp_path / "payload-ran"
    buffer = io.BytesIO()
    torch.save({"topk": _Payload(marker)}, buffer)
    state = model.state_dict()
    state["_extra_state"] = torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)
    with pytest.raises(ValueError, match="DiffMM extra state must be"):
        model.load_state_dict(state)
    assert not marker.exists()


@pytest.mark.parametrize(("target", "kept"), [("config.json", 10), ("model.pt", 100)])
def test_a_truncated_run_file_ends_in_one_line(
    release: Path, tmp_path: Path, capsys: pytest.CaptureFixture, target: str, kept: int
) -> None:
    out = tmp_path / "run"
    assert main(_cli(release, out, "--set", "epochs=1")) == 0
    path = out / target
    path.write_bytes(path.read_bytes()[:kept])
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error (data): {path}: unreadable or truncated")


def test_a_finished_run_keeps_no_checkpoint_and_resuming_it_changes_nothing(
    synthetic: InteractionDataset, tmp_path: Path
) -> None:
    first = _train(synthetic, tmp_path)
    assert not (tmp_path / "checkpoint.pt").exists()
    assert _train(synthetic, tmp_path, resume=True) == first  # the workflow's --resume on a done run
    with pytest.raises(ConfigError, match="kept no checkpoint to continue from"):
        _train(synthetic, tmp_path, ["epochs=5"], resume=True)
    kept = _train(synthetic, tmp_path / "kept", ["keep_checkpoint=true"])
    assert (tmp_path / "kept" / "checkpoint.pt").is_file()
    assert _train(synthetic, tmp_path / "kept", ["epochs=5"], resume=True)["epochs_run"] == 5 > kept["epochs_run"]


def test_checkpoints_every_n_epochs_resume_exactly(
    synthetic: InteractionDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """checkpoint_every=2, killed at epoch 3 (checkpoint of epoch 1): the resume repeats epoch 2."""
    straight = _train(synthetic, tmp_path / "a", ["epochs=5", "checkpoint_every=2"])
    original = PhaseRunner.run_epoch

    def killed_at_epoch_3(self: PhaseRunner, epoch: int, row: dict[str, Any]) -> None:
        if epoch == 3:
            raise KeyboardInterrupt
        original(self, epoch, row)

    monkeypatch.setattr(PhaseRunner, "run_epoch", killed_at_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        _train(synthetic, tmp_path / "b", ["epochs=5", "checkpoint_every=2"])
    monkeypatch.setattr(PhaseRunner, "run_epoch", original)
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["epoch"] == 1
    resumed = _train(synthetic, tmp_path / "b", ["epochs=5", "checkpoint_every=2"], resume=True)
    volatile = {"train_wall_time_s", "process_wall_time_s", "peak_rss_mb", "processes"}
    assert {k: v for k, v in resumed.items() if k not in volatile} == {
        k: v for k, v in straight.items() if k not in volatile
    }
    assert [p["first_epoch"] for p in resumed["processes"]] == [0, 2]  # the resume redid epoch 2


def test_checkpoints_skip_the_last_epoch_unless_kept(
    synthetic: InteractionDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last epoch's checkpoint would be deleted at once: written only with keep_checkpoint."""
    written: list[int] = []
    original = trainer_module.save_torch

    def recording(state: dict[str, Any], path: Path) -> None:
        written.append(state["epoch"])
        original(state, path)

    monkeypatch.setattr(trainer_module, "save_torch", recording)
    _train(synthetic, tmp_path / "a", ["epochs=5", "checkpoint_every=2"])
    assert written == [1, 3]
    written.clear()
    _train(synthetic, tmp_path / "b", ["epochs=5", "checkpoint_every=2", "keep_checkpoint=true"])
    assert written == [1, 3, 4]


def test_a_checkpoint_stores_the_state_selected_at_its_epoch_once(
    synthetic: InteractionDataset, tmp_path: Path
) -> None:
    _train(synthetic, tmp_path, ["epochs=1", "keep_checkpoint=true"])
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["selected"]["epoch"] == state["epoch"] == 0
    tensors = [key for key, value in state["best_state"].items() if isinstance(value, torch.Tensor)]
    assert tensors and set(state["best_state"]) == set(state["model"])  # MF-BPR's model.pt keeps everything
    for key in tensors:  # one storage on disk, shared after loading
        assert state["best_state"][key].untyped_storage().data_ptr() == state["model"][key].untyped_storage().data_ptr()


def test_resume_refuses_other_data(
    synthetic: InteractionDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interrupted_run(synthetic, tmp_path, monkeypatch)
    other = make_synthetic(n_users=120, n_items=80, n_clusters=4, interactions_per_user=10, seed=4)
    assert other.name == synthetic.name and other.train.shape == synthetic.train.shape
    with pytest.raises(ConfigError, match="data_fingerprint: "):
        _train(other, tmp_path, resume=True)


def test_diffmm_keys_that_change_only_model_pt_resume_an_older_run(tmp_path: Path) -> None:
    """ranked_kept / keep_generators came after DiffMM runs were started: absent, they read as
    today's defaults (what is trained does not depend on them); another value is named."""
    record = {"model_name": "diffmm", "model": {"lambda1": 0.1, "ranked_kept": 20, "keep_generators": False}}
    (tmp_path / "config.json").write_text(json.dumps({"model_name": "diffmm", "model": {"lambda1": 0.1}}))
    assert check_resume(tmp_path, record)["model"] == {"lambda1": 0.1}
    record["model"]["keep_generators"] = True
    with pytest.raises(ConfigError, match="model.keep_generators: False in the run, True now"):
        check_resume(tmp_path, record)


def test_checkpoints_are_written_without_crc32_and_load_back_equal(tmp_path: Path) -> None:
    """torch.load never checks the records' CRC32 (a flipped byte loads), so save_torch skips
    computing it; the files still load to the same tensors, and torch's own setting is left as found."""
    state = {"w": torch.arange(50_000, dtype=torch.float32), "nested": {"b": torch.ones(3)}, "epoch": 4}
    before = torch.serialization.get_crc32_options()
    save_torch(state, tmp_path / "c.pt")
    assert torch.serialization.get_crc32_options() == before
    records = [info for info in zipfile.ZipFile(tmp_path / "c.pt").infolist() if "/data/" in info.filename]
    assert records and all(info.CRC == 0 for info in records)
    loaded = load_tensors(tmp_path / "c.pt")
    assert torch.equal(loaded["w"], state["w"]) and torch.equal(loaded["nested"]["b"], state["nested"]["b"])
    assert loaded["epoch"] == 4
    torch.save(state, tmp_path / "plain.pt")  # the premise: torch.load accepts a corrupted record
    raw = bytearray((tmp_path / "plain.pt").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "plain.pt").write_bytes(bytes(raw))
    assert not torch.equal(load_tensors(tmp_path / "plain.pt")["w"], state["w"])
