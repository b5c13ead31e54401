"""Known sha256 digests of the public DiffMM release files (../shared/datasets/README.md).

A file with a known name and a different digest is an error; a file the registry does not
know (e.g. a text_feat.npy added by the user) is loaded and reported as unverified.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

RELEASE_SHA256: dict[str, dict[str, str]] = {
    "baby": {
        "trnMat.pkl": "4f89877511ce79f65e3e9376128f5c85fe4edf8d293706b94647f4b354a79d77",
        "tstMat.pkl": "98b2f7faf5c275e55ab63087cb52056f102d47b0a2db7b43a34836d737360b35",
        "valMat.pkl": "71d426a111aec233f7442c478a8d21e182b87c9c2d5efe2ef1558fe0b1e929d2",
    },
    "sports": {
        "trnMat.pkl": "636e7679a7ac7c8c017be429486d5a9162a49543a52085d8decff713b084e259",
        "tstMat.pkl": "f6d90e1cf9ccc8e971bd4132f7c72489cac2dba5bc48efb5b4447f63c243fe4f",
        "valMat.pkl": "0a444bb5954b63dffef7e46abb4df670e423215581930c594249a822afccdea4",
    },
    "tiktok": {
        "audio_feat.npy": "d45a44a9d462f578802de914c2feea5cfd45742b2922775a085b9bdc1beba26f",
        "image_feat.npy": "f6c1ec1726ed2aa80315411199ab2143bee6333821bf58c5f00bd3f5b462efc2",
        "trnMat.pkl": "1efbc49d1a7ce5268f01e3e0c558df1f8f8644628c76aa6536be4ec61d256916",
        "tstMat.pkl": "e83a93787d88728572dbdd5b131bae01a90e17c340820e7b8f0a7c27e69d6f9e",
        "valMat.pkl": "b6971ed696613d565613dd74b101c45b2aa002b66e8ba99cad03abf04db2397b",
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


def expected_sha256(dataset: str, filename: str) -> str | None:
    """The release digest of `dataset/filename`, or None when the registry does not know it."""
    return RELEASE_SHA256.get(dataset, {}).get(filename)
