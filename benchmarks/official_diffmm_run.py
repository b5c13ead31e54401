"""The official DiffMM code's whole TikTok run on this machine's CPU: wall time (process start to
exit) and peak RSS, for issue 15's "N times faster than the official code" on the same machine and
day as `diffmm_run.py`. Not a test: run it by hand on an idle machine.

    git --git-dir=<HKUDS/DiffMM bare clone> archive fae20e6 Main.py Model.py Params.py DataHandler.py Utils \\
        | tar -x -C /tmp/diffmm_official
    python benchmarks/official_diffmm_run.py --official /tmp/diffmm_official \\
        --data ../shared/datasets/tiktok --epochs 50 --threads 2 --log /tmp/official.log

The official files are copied into a temporary folder and changed there, never here, only as far
as a CPU run needs (`PATCHES`; ../shared/reference/diffmm-official.md section 13): every
`.cuda()` removed, scipy's removed `.A` spelled `.toarray()`, the unused `setproctitle` import
given a stub. TikTok runs as image + audio through the code's two-modality path (the dataset
folder's `text_feat.npy` is the audio features, `--data baby` picks that folder): the same model
as its three-modality path without text, as our runs use it. The arguments are the README's
TikTok command line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIKTOK_COMMAND = "--reg 1e-4 --ssl_reg 1e-2 --trans 1 --e_loss 0.1 --cl_method 1"  # README, TikTok
SOURCES = ("Main.py", "Model.py", "Params.py", "DataHandler.py", "Utils/Utils.py", "Utils/TimeLogger.py")
PATCHES = {  # file -> (text, replacement): what a CPU run with today's scipy needs, nothing more
    "Main.py": [(".cuda()", "")],
    "Model.py": [(".cuda()", "")],
    "DataHandler.py": [(".cuda()", ""), ("self.trnMat.A)", "self.trnMat.toarray())")],
    "Utils/Utils.py": [(".cuda()", "")],
}
DATA_LINKS = {  # the two-modality folder: file name the code opens -> our TikTok file
    "trnMat.pkl": "trnMat.pkl",
    "tstMat.pkl": "tstMat.pkl",
    "valMat.pkl": "valMat.pkl",
    "image_feat.npy": "image_feat.npy",
    "text_feat.npy": "audio_feat.npy",
}


def prepare(official: Path, data: Path, work: Path) -> None:
    """The patched copy of the official code and its dataset folder under `work`."""
    for name in SOURCES:
        source = official / name
        if not source.is_file():
            raise SystemExit(f"{source}: missing; extract HKUDS/DiffMM @fae20e6 there (see the docstring)")
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text()
        for old, new in PATCHES.get(name, []):
            if old not in text:
                raise SystemExit(f"{source}: {old!r} not found; is this HKUDS/DiffMM @fae20e6?")
            text = text.replace(old, new)
        target.write_text(text)
    (work / "setproctitle.py").write_text("def setproctitle(title):\n    pass\n")
    folder = work / "Datasets" / "baby"
    folder.mkdir(parents=True)
    for name, ours in DATA_LINKS.items():
        (folder / name).symlink_to((data / ours).resolve())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, required=True, help="HKUDS/DiffMM @fae20e6, extracted")
    parser.add_argument("--data", type=Path, required=True, help="our TikTok folder")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log", type=Path, default=None, help="the official code's output goes here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepare(args.official, args.data, work)
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
        command = [sys.executable, "Main.py", "--data", "baby", "--epoch", str(args.epochs), *TIKTOK_COMMAND.split()]
        log = open(args.log or os.devnull, "w")  # noqa: SIM115 (closed below)
        start = time.perf_counter()
        done = subprocess.run(command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
        wall = time.perf_counter() - start
        log.close()
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "returncode": done.returncode,
                "epochs": args.epochs,
                "threads": args.threads,
                "wall_s": round(wall, 1),
                "peak_rss_mib": round(peak_mib, 1),
            }
        )
    )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
