"""One writer per run folder, a fresh run that never mixes with an old one, and a resume that
refuses a changed run.

- `run_lock`: an exclusive lock file (`.lock`, holding the writer's pid); a second writer stops
  at once, naming the holder.
- `clear_results`: a fresh run removes every result file of an earlier run in the folder, after
  its own settings were checked and before it writes anything, so the folder never holds files
  of two runs (and `evaluate` never scores an old model.pt as the new run's).
- `check_resume`: the resolved configuration, model, seed, modalities and the data's fingerprint
  must equal what the run's config.json records; only `epochs`, the checkpoint settings and the
  memory switches (which give the same numbers) may change.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mmdiffbench.config import ConfigError
from mmdiffbench.environment import EnvironmentProblem

RESULT_FILES = ("metrics.json", "model.pt", "checkpoint.pt", "history.csv", "config.json", "train.log")
# may differ on --resume: the run continues for longer (or stops sooner), checkpoints as asked,
# gives memory back otherwise (the same numbers)
RESUMABLE_KEYS = {
    "epochs",
    "checkpoint_every",
    "keep_checkpoint",
    "mmap_threshold_mib",
    "trim_threshold_mib",
    "release_heap_each_epoch",
}
# model keys that trade memory for time and give the same numbers (tests/test_recompute.py): a run
# may resume with either value, so a changed default never strands a half-finished run
RESUMABLE_MODEL_KEYS = {"recompute"}
# keys added after runs were started: absent from a run's config.json, each means the value that
# computes what the code did before it existed (DiffMM's `ranked_kept` and `keep_generators`
# change only what model.pt keeps; SGL's and NCL's `contrastive_bf16` came with e3a31c4, their
# runs before it computed in float32, so they resume only with `never`)
ADDED_TRAINER_KEYS: dict[str, object] = {"lr_decay": 1.0, "lr_decay_step": 50, "fused_adam": False}
ADDED_MODEL_KEYS: dict[str, object] = {"ranked_kept": 20, "keep_generators": False, "contrastive_bf16": "never"}


@contextmanager
def run_lock(out_dir: Path) -> Iterator[None]:
    """Hold `out_dir/.lock` for the life of the run; EnvironmentProblem if another process holds it."""
    path = out_dir / ".lock"
    try:
        handle = open(path, "a+")  # noqa: SIM115 (held open while the run lives)
    except OSError as err:
        raise EnvironmentProblem(f"{out_dir}: cannot create a lock file ({err.strerror})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise EnvironmentProblem(f"{out_dir}: another run writes into this folder (pid {holder})") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def clear_results(out_dir: Path) -> None:
    for name in RESULT_FILES:
        (out_dir / name).unlink(missing_ok=True)


def _differences(saved: Any, now: Any, prefix: str) -> list[str]:
    if isinstance(saved, dict) and isinstance(now, dict):
        found = []
        for key in sorted(set(saved) | set(now)):
            found += _differences(saved.get(key, "<absent>"), now.get(key, "<absent>"), f"{prefix}{key}.")
        return found
    return [] if saved == now else [f"{prefix.rstrip('.')}: {saved!r} in the run, {now!r} now"]


def check_resume(out_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    """The run's config.json; ConfigError naming every setting in which `record` differs from it."""
    path = out_dir / "config.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: unreadable ({err}); cannot resume, start a new run folder") from None
    compared = ("model_name", "variant", "dataset", "data_fingerprint", "model", "trainer", "seed", "modalities")
    differences = []
    for key in compared:
        old, new = saved.get(key, "<absent>"), record.get(key, "<absent>")
        added: dict[str, object] = {"trainer": ADDED_TRAINER_KEYS, "model": ADDED_MODEL_KEYS}.get(key, {})
        if isinstance(old, dict) and isinstance(new, dict):
            old = {**{k: v for k, v in added.items() if k in new}, **old}
        resumable = {"trainer": RESUMABLE_KEYS, "model": RESUMABLE_MODEL_KEYS}.get(key, set())
        if isinstance(old, dict) and isinstance(new, dict):
            old = {k: v for k, v in old.items() if k not in resumable}
            new = {k: v for k, v in new.items() if k not in resumable}
        differences += _differences(old, new, f"{key}.")
    if differences:
        raise ConfigError(
            f"--resume refused: {out_dir} was trained with other settings ({'; '.join(differences)}); "
            "resume with the run's settings, or start a new run folder"
        )
    return saved
