"""Command line: `mmdiffbench data check|stats DIR`, `data noisy SRC DEST`, `train`, `evaluate RUN_DIR`,
`case-study RUN_DIR`, `models` (what is registered), `report`, `tune choose PLAN` (presets from a
validation grid).

Bad input ends with a one-line error and a non-zero exit, not a traceback:
exit 2 for bad data, configuration or environment (the message says which), 3 when training
diverges (a NaN/inf loss or one grown past `divergence_factor`), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from mmdiffbench import __version__
from mmdiffbench.config import ConfigError, declaration, list_variants, resolve
from mmdiffbench.data import DataError, dataset_stats, load_dataset
from mmdiffbench.data.derived import preset_name, write_noisy
from mmdiffbench.data.noisy import NOISE_RATIO
from mmdiffbench.environment import EnvironmentProblem
from mmdiffbench.experiments import RegistryError
from mmdiffbench.models import MODELS
from mmdiffbench.tuning import TuningError

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C


def _positive_int(text: str) -> int:
    """argparse type for counts where 0 would silently export nothing (or be ignored)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _seed(text: str) -> int:
    """argparse type: numpy takes seeds in [0, 2**32)."""
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32), got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmdiffbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mmdiffbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list the registered models: name, label, whether they need features, variants")

    data = sub.add_parser("data", help="check a dataset folder, print its statistics or derive a noisy copy")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    for name, text in (
        ("check", "verify files, checksums, shapes and values"),
        ("stats", "dataset statistics (paper Table 5 layout)"),
    ):
        cmd = data_sub.add_parser(name, help=text)
        cmd.add_argument("directory", type=Path)
        cmd.add_argument("--modalities", nargs="*", default=None, help="feature files to load (default: all present)")
        cmd.add_argument(
            "--layout", choices=("release", "mmrec"), default=None, help="expected layout (default: detected)"
        )
    data_sub.choices["stats"].add_argument("--json", action="store_true", help="print JSON instead of a table")
    noisy = data_sub.add_parser(
        "noisy", help="LD4MRec's noisy training: random non-interactions added to train and validation, test kept"
    )
    noisy.add_argument("source", type=Path, help="the clean dataset folder (either layout)")
    noisy.add_argument("dest", type=Path, help="the noisy folder to write (release layout, features linked)")
    noisy.add_argument(
        "--ratio", type=_positive_float, default=NOISE_RATIO, help="added pairs per clean interaction (LD4MRec: 0.1)"
    )
    noisy.add_argument("--seed", type=_seed, default=0, help="seed of the random pairs")

    train = sub.add_parser("train", help="train one (dataset, model, variant, seed) run")
    train.add_argument("--data", type=Path, required=True, help="release folder, e.g. ../shared/datasets/tiktok")
    train.add_argument("--model", required=True)
    train.add_argument("--variant", default="full", help="library variant (the model YAML's `variants:`)")
    train.add_argument(
        "--workflow-variant",
        default=None,
        metavar="NAME",
        help="the workflow's name for this run (e.g. lambda0_0.1), recorded in config.json and metrics.json "
        "(default: --variant)",
    )
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    train.add_argument("--seed", type=_seed, default=0)
    train.add_argument("--out", type=Path, required=True, help="run directory")
    train.add_argument("--resume", action="store_true", help="continue from the run directory's checkpoint")
    train.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    train.add_argument(
        "--threads", type=_positive_int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    train.add_argument("--modalities", nargs="*", default=None, help="feature files to load (default: all present)")

    evaluate = sub.add_parser("evaluate", help="re-evaluate the selected model of a run directory")
    evaluate.add_argument("run_dir", type=Path)
    evaluate.add_argument("--data", type=Path, default=None, help="release folder (default: the one in config.json)")
    evaluate.add_argument("--device", default="auto")

    case = sub.add_parser(
        "case-study", help="export DiffMM's generated edges and their feature similarity (paper Fig. 5)"
    )
    case.add_argument(
        "run_dir", type=Path, help="a DiffMM run directory (model.pt, or checkpoint.pt of a run not finished)"
    )
    case.add_argument("--out", type=Path, required=True, help="folder for the CSVs and summary.json")
    case.add_argument("--data", type=Path, default=None, help="release folder (default: the one in config.json)")
    case.add_argument(
        "--k",
        type=_positive_int,
        default=None,
        help="the first k generated items per user (default: the model's own graph); k above the run's "
        "ranked_kept (20) needs a run trained with keep_generators=true",
    )
    case.add_argument("--users", type=_positive_int, default=20, help="users sampled for the per-user CSVs")
    case.add_argument("--seed", type=int, default=0)

    from mmdiffbench.report.cli import add_report_parser  # workflow reports (report/cli.py)

    add_report_parser(sub)
    from mmdiffbench.tuning.cli import add_tune_parser

    add_tune_parser(sub)
    return parser


def _models_command(args: argparse.Namespace) -> int:
    """One line per model, from the YAML declarations (no model is imported)."""
    for name in sorted(MODELS):
        declared = declaration(name)
        features = "needs features" if declared["requires_features"] else "ID only"
        print(f"{name:12s} {declared['label']:12s} {features:15s} variants: {', '.join(list_variants(name))}")
    return 0


def _noisy_command(args: argparse.Namespace) -> int:
    record = write_noisy(args.source, args.dest, args.ratio, args.seed)
    for split, counts in record["interactions"].items():
        print(f"{split}: {counts['clean']} -> {counts['noisy']} interactions")
    return 0


def _data_command(args: argparse.Namespace) -> int:
    if args.data_command == "noisy":
        return _noisy_command(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = load_dataset(args.directory, args.modalities, args.layout)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    if args.data_command == "check":
        for filename, status in sorted(dataset.verification.items()):
            print(f"{filename}: {status}")
        print(
            f"{args.directory}: OK ({dataset.n_users} users, {dataset.n_items} items, modalities: {', '.join(dataset.modalities) or 'none'})"
        )
        return 0
    stats = dataset_stats(dataset)
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            if key == "sparsity_percent":
                value = f"{value:.3f}%"
            elif key == "modalities" and isinstance(value, dict):
                value = ", ".join(f"{m} {d}-d" for m, d in value.items()) or "none"
            print(f"{key:>20}: {value}")
    return 0


def _train_command(args: argparse.Namespace) -> int:
    import torch

    from mmdiffbench.train import resolve_device, train_run
    from mmdiffbench.train.phases import TrainingDiverged

    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = load_dataset(args.data, args.modalities)
    config = resolve(args.model, preset_name(args.data, dataset.name), args.variant, args.overrides)
    device = resolve_device(args.device)
    provenance = {"data_dir": str(args.data.resolve()), "modalities": dataset.modalities, "overrides": args.overrides}
    try:
        metrics = train_run(
            dataset,
            config,
            args.seed,
            args.out,
            device,
            args.resume,
            provenance,
            args.workflow_variant,
            release_features=True,  # this process's only use of the dataset
        )
    except TrainingDiverged as err:
        print(f"error (training diverged): {err}", file=sys.stderr)
        return EXIT_DIVERGED
    metric = metrics["selection"]["metric"]
    print(
        f"test {metric} = {metrics['test'][metric]:.4f} (validation-selected, epoch {metrics['selected_epoch']}); "
        f"{metrics['paper_protocol']['test'][metric]:.4f} (best test epoch {metrics['paper_protocol']['epoch']})"
    )
    return 0


def _evaluate_command(args: argparse.Namespace) -> int:
    import torch

    from mmdiffbench.eval import evaluate_model
    from mmdiffbench.train import resolve_device
    from mmdiffbench.train.restore import restore_run

    dataset, config, model = restore_run(args.run_dir, args.data, resolve_device(args.device))
    trainer = config.trainer
    with torch.no_grad():
        results = evaluate_model(
            model, dataset, tuple(trainer["topks"]), trainer["eval_batch_size"], trainer["test_mask_val"]
        )
    print(json.dumps({split: result.mean() for split, result in results.items()}, indent=2, sort_keys=True))
    return 0


def _case_study_command(args: argparse.Namespace) -> int:
    from mmdiffbench.analysis.diffmm_case_study import run_case_study

    summary = run_case_study(args.run_dir, args.out, args.data, args.users, args.k, args.seed)
    print(json.dumps(summary, indent=2))
    return 0


def _report_command(args: argparse.Namespace) -> int:
    from mmdiffbench.report.cli import report_command  # reads plans, runs and the registry: no torch

    return report_command(args)


def _tune_command(args: argparse.Namespace) -> int:
    from mmdiffbench.tuning.cli import tune_command  # reads a plan, its runs and the model YAML: no torch

    return tune_command(args)


COMMANDS = {
    "data": _data_command,
    "train": _train_command,
    "evaluate": _evaluate_command,
    "case-study": _case_study_command,
    "report": _report_command,
    "models": _models_command,
    "tune": _tune_command,
}


def _warning_line(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """A warning as one line (`warning: ...`), not Python's file-and-line form."""
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    warnings.showwarning = _warning_line
    try:
        return COMMANDS[args.command](args)
    except (DataError, FileNotFoundError) as err:
        print(f"error (data): {err}", file=sys.stderr)
    except (ConfigError, RegistryError) as err:
        print(f"error (configuration): {err}", file=sys.stderr)
    except TuningError as err:
        print(f"error (tuning): {err}", file=sys.stderr)
    except EnvironmentProblem as err:
        print(f"error (environment): {err}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted: the run folder keeps its last checkpoint (continue with --resume)", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_BAD_INPUT
