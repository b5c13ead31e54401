"""Checksums of the public DiffMM release files: the one place they live.

Loading verifies a known file against its sha256 (a different digest is an error; a file the
registry does not know, e.g. a text_feat.npy added by the user, loads as unverified), and the
workflow's data rule verifies local copies and downloads against these (config.yaml keeps only
the URLs). Values are `sha256:HEX`, or `git_blob:HEX` (what `git hash-object FILE` prints) for
files the release README gives only a blob id for.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

RELEASE_CHECKSUMS: dict[str, dict[str, str]] = {
    "baby": {
        "trnMat.pkl": "sha256:4f89877511ce79f65e3e9376128f5c85fe4edf8d293706b94647f4b354a79d77",
        "tstMat.pkl": "sha256:98b2f7faf5c275e55ab63087cb52056f102d47b0a2db7b43a34836d737360b35",
        "valMat.pkl": "sha256:71d426a111aec233f7442c478a8d21e182b87c9c2d5efe2ef1558fe0b1e929d2",
        "text_feat.npy": "git_blob:1fb92223ae114c3cc7df7c8d52c5ae8d76064296",
        # image_feat.npy ships zipped: image_feat.npy.zip is git_blob be2d0255ae3f9347f63ab72b2f9e7531c0530532
    },
    "sports": {
        "trnMat.pkl": "sha256:636e7679a7ac7c8c017be429486d5a9162a49543a52085d8decff713b084e259",
        "tstMat.pkl": "sha256:f6d90e1cf9ccc8e971bd4132f7c72489cac2dba5bc48efb5b4447f63c243fe4f",
        "valMat.pkl": "sha256:0a444bb5954b63dffef7e46abb4df670e423215581930c594249a822afccdea4",
        "text_feat.npy": "git_blob:012d4e9248918dae845a831a77e600476a6e4e26",
    },
    "tiktok": {
        "audio_feat.npy": "sha256:d45a44a9d462f578802de914c2feea5cfd45742b2922775a085b9bdc1beba26f",
        "image_feat.npy": "sha256:f6c1ec1726ed2aa80315411199ab2143bee6333821bf58c5f00bd3f5b462efc2",
        "trnMat.pkl": "sha256:1efbc49d1a7ce5268f01e3e0c558df1f8f8644628c76aa6536be4ec61d256916",
        "tstMat.pkl": "sha256:e83a93787d88728572dbdd5b131bae01a90e17c340820e7b8f0a7c27e69d6f9e",
        "valMat.pkl": "sha256:b6971ed696613d565613dd74b101c45b2aa002b66e8ba99cad03abf04db2397b",
        "text_feat.npy": "git_blob:f056985c131d90c19c5265af033b095f525e5ce2",
    },
}


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB blocks: `sha256`, or `git_blob` (what
    `git hash-object FILE` prints: sha1 over a "blob <size>\\0" header and the bytes)."""
    if algorithm == "sha256":
        digest = hashlib.sha256()
    elif algorithm == "git_blob":
        digest = hashlib.sha1()
        digest.update(f"blob {path.stat().st_size}\0".encode())
    else:
        raise ValueError(f"unknown digest algorithm {algorithm!r}; expected sha256 or git_blob")
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def release_checksum(dataset: str, filename: str) -> str | None:
    """`sha256:HEX` or `git_blob:HEX` of a release file, or None when the registry does not know it."""
    return RELEASE_CHECKSUMS.get(dataset, {}).get(filename)


def expected_sha256(dataset: str, filename: str) -> str | None:
    """The release sha256 of `dataset/filename`, or None when the registry has none for it."""
    algorithm, _, digest = (release_checksum(dataset, filename) or "").partition(":")
    return digest if algorithm == "sha256" else None
