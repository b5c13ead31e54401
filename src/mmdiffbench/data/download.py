"""Assemble a dataset folder for the workflow: local copy where present, download otherwise.

`prepare_release(dest, source, files)` makes `dest/` hold every configured release file:
a file present in `source/` is linked (after its checksum is checked); a missing one is
downloaded from its URL, streamed to a temporary file in `dest/`, checked, and renamed into
place only when its checksum matches. A mismatch stops with a `DataError` naming the file
and both digests; nothing half-downloaded is left under the final name. Extra
`*_feat.npy` files found in `source/` (feature files the user added) are linked too, and in
MMRec's layout its `*.inter` file (unverified unless the config names it with a checksum).

Checksums are `sha256` or `git_blob` (the id `git hash-object FILE` prints; the release
README gives only these for some feature files).

Command line (what the workflow's `data` rule calls):
    python -m mmdiffbench.data.download --dest DIR [--source DIR] [--layout release|mmrec] \
        --file NAME URL|- sha256:HEX|git_blob:HEX ...
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mmdiffbench.data.checksums import file_digest
from mmdiffbench.data.errors import DataError
from mmdiffbench.data.release import FEATURE_SUFFIX

CHUNK = 1 << 20
EXTRAS = {"release": (f"*{FEATURE_SUFFIX}",), "mmrec": (f"*{FEATURE_SUFFIX}", "*.inter")}  # linked unconfigured


@dataclass(frozen=True)
class ReleaseFile:
    name: str
    url: str | None
    algorithm: str  # sha256 | git_blob
    digest: str

    @classmethod
    def parse(cls, name: str, url: str, checksum: str) -> ReleaseFile:
        algorithm, _, digest = checksum.partition(":")
        if algorithm not in ("sha256", "git_blob") or not digest:
            raise DataError(f"{name}: checksum {checksum!r} is not sha256:HEX or git_blob:HEX")
        return cls(name, None if url in ("", "-", "None", "null") else url, algorithm, digest.lower())


def verify(path: Path, spec: ReleaseFile, shown_name: str | None = None) -> None:
    actual = file_digest(path, spec.algorithm)
    if actual != spec.digest:
        raise DataError(
            f"{shown_name or path}: {spec.algorithm} mismatch (expected {spec.digest}, got {actual}); "
            "corrupted or partial file, or a different release"
        )


def download(url: str, dest: Path, spec: ReleaseFile, retries: int = 3, timeout: float = 60.0) -> None:
    """Stream `url` to a temporary file next to `dest`, verify, then rename atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for attempt in range(1, retries + 1):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                promised, received = response.getheader("Content-Length"), 0
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    received += len(block)
                if promised is not None and received != int(promised):  # the server closed early
                    raise http.client.IncompleteRead(b"", int(promised) - received)
            verify(tmp, spec, shown_name=f"{dest} (downloaded from {url})")
            os.replace(tmp, dest)
            return
        except DataError:
            tmp.unlink(missing_ok=True)
            raise  # a wrong checksum will not fix itself by retrying
        except (OSError, http.client.HTTPException) as err:  # URLError, HTTPError; a cut stream (IncompleteRead)
            tmp.unlink(missing_ok=True)
            last = err
            print(f"{dest.name}: download attempt {attempt}/{retries} failed: {err!r}", file=sys.stderr)
            time.sleep(min(2.0 * attempt, 5.0))
        except BaseException:  # Ctrl-C: no partial file is left behind
            tmp.unlink(missing_ok=True)
            raise
    raise DataError(f"{dest}: download from {url} failed after {retries} attempts: {last}")


def _link(target: Path, link: Path) -> None:
    if link.is_symlink() or link.exists():
        if link.is_symlink() and Path(os.readlink(link)) == target:
            return
        link.unlink()
    link.symlink_to(target)


def prepare_release(
    dest: Path | str, source: Path | str | None, files: list[ReleaseFile], layout: str = "release"
) -> dict[str, str]:
    """Make `dest` a complete release folder; returns file name -> how it got there."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    source = Path(source) if source else None
    how: dict[str, str] = {}
    for spec in files:
        target = dest / spec.name
        local = source / spec.name if source else None
        if local is not None and local.is_file():
            verify(local, spec)
            _link(local.resolve(), target)
            how[spec.name] = f"linked from {local} ({spec.algorithm} verified)"
        elif target.is_file() and not target.is_symlink():
            verify(target, spec)  # downloaded by an earlier run
            how[spec.name] = f"already downloaded ({spec.algorithm} verified)"
        elif spec.url:
            download(spec.url, target, spec)
            how[spec.name] = f"downloaded from {spec.url} ({spec.algorithm} verified)"
        else:
            where = f"{source}" if source else "the data folder"
            raise DataError(f"{spec.name}: absent from {where} and no download URL configured")
    known = {spec.name for spec in files}
    if source is not None and source.is_dir():
        for extra in sorted(p for pattern in EXTRAS[layout] for p in source.glob(pattern)):
            if extra.name not in known:
                _link(extra.resolve(), dest / extra.name)
                how[extra.name] = f"linked from {extra} (not in the config: unverified)"
    return how


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmdiffbench.data.download", description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, required=True)
    parser.add_argument("--source", type=Path, default=None, help="local release folder (used where a file exists)")
    parser.add_argument("--layout", choices=sorted(EXTRAS), default="release", help="which unconfigured files to link")
    parser.add_argument("--file", nargs=3, action="append", default=[], metavar=("NAME", "URL", "CHECKSUM"))
    args = parser.parse_args(argv)
    try:
        files = [ReleaseFile.parse(*triple) for triple in args.file]
        for name, how in prepare_release(args.dest, args.source, files, args.layout).items():
            print(f"{name}: {how}")
    except DataError as err:
        print(f"error (data): {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no partial file was kept", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
