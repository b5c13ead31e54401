"""Does bfloat16 autocast change what DiffMM's denoisers generate? (TikTok, official preset)

From the same initial weights and RNG state, trains the denoisers for --epochs passes in
float32 and in bfloat16, rebuilds the modality graphs after each pass, and prints per pass
and modality: the diffusion and MSI losses of both, the share of users whose generated
item is the same, and the CPU time of the denoiser pass and the rebuild (CPU time, not wall: the
machine this was written on is shared; run with --threads 1 for a clean per-core figure). The recommender
is not involved (its steps never run the denoiser), so this isolates the denoiser's precision.

    PYTHONPATH=src python benchmarks/diffmm_bf16_check.py --data ../shared/datasets/tiktok --epochs 3
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import load_release
from mmdiffbench.models.diffmm import DiffMM
from mmdiffbench.train.phases import PhaseRunner


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=421)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = load_release(args.data)
    config = resolve("diffmm", dataset.name, "full", [])
    torch.manual_seed(args.seed)
    models = {"float32": DiffMM(dataset, config.model)}
    models["bfloat16"] = copy.deepcopy(models["float32"])
    for name, precision in (("float32", "never"), ("bfloat16", "always")):
        for m in models[name].modalities:
            models[name].denoiser(m).bf16 = precision
    runners = {name: PhaseRunner(model, dataset, config.trainer, args.seed) for name, model in models.items()}
    for epoch in range(args.epochs):
        rows = {}
        for name, runner in runners.items():
            torch.manual_seed(args.seed + epoch)
            t0 = time.process_time()
            generator = runner.by_name["generator"]
            losses = runner.run_phase(generator, epoch)
            t1 = time.process_time()
            assert generator.after is not None
            generator.after()
            rows[name] = (losses, t1 - t0, time.process_time() - t1)
        for m in models["float32"].modalities:
            same = (models["float32"].topk[m] == models["bfloat16"].topk[m]).float().mean()
            parts = [f"epoch {epoch} {m}: same generated item for {100 * float(same):.1f}% of users"]
            for name, (losses, _, _) in rows.items():
                parts.append(
                    f"{name} diffusion {losses[f'loss_gen_{m}']:.4f} lambda0 * msi {losses.get(f'loss_msi_{m}', 0.0):.3f}"
                )
            print("; ".join(parts), flush=True)
        for name, (_, train_s, rebuild_s) in rows.items():
            print(f"epoch {epoch} {name}: denoiser pass {train_s:.1f} CPU-s, rebuild {rebuild_s:.1f} CPU-s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
