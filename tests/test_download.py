"""The data rule's download path against a real HTTP server on loopback.

A `http.server` in a thread serves a temp folder holding a synthetic release; one file is
corrupted to prove the checksum stop (error naming the file, nothing left under its name).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmdiffbench.data import DataError, load_release, make_synthetic, write_release
from mmdiffbench.data.checksums import file_digest
from mmdiffbench.data.download import ReleaseFile, download, main, prepare_release


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture()
def release(tmp_path: Path) -> Path:
    folder = tmp_path / "served" / "synth"
    write_release(make_synthetic(n_users=60, n_items=40, modalities={"image": 8}, seed=3), folder)
    return folder


@pytest.fixture()
def server(release: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(release.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _specs(release: Path, base_url: str) -> list[ReleaseFile]:
    return [
        ReleaseFile(p.name, f"{base_url}/synth/{p.name}", "sha256", hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(release.iterdir())
    ]


def test_downloads_verifies_and_loads(release: Path, server: str, tmp_path: Path) -> None:
    dest = tmp_path / "resources" / "synth"
    how = prepare_release(dest, tmp_path / "absent", _specs(release, server))
    assert set(how) == {"trnMat.pkl", "valMat.pkl", "tstMat.pkl", "image_feat.npy"}
    assert all(text.startswith("downloaded from http://127.0.0.1") for text in how.values())
    for path in release.iterdir():
        assert (dest / path.name).read_bytes() == path.read_bytes()
    assert not list(dest.glob("*.part"))
    dataset = load_release(dest, verify=False)
    assert dataset.n_users == 60 and dataset.modalities == ["image"]
    # a second call finds the files and only verifies them
    again = prepare_release(dest, None, _specs(release, server))
    assert all(text.startswith("already downloaded") for text in again.values())


def test_corrupted_file_stops_naming_it(release: Path, server: str, tmp_path: Path) -> None:
    specs = _specs(release, server)
    with open(release / "valMat.pkl", "ab") as handle:  # the server now serves a corrupted copy
        handle.write(b"corruption")
    dest = tmp_path / "resources" / "synth"
    with pytest.raises(DataError, match=r"valMat\.pkl.*sha256 mismatch"):
        prepare_release(dest, None, specs)
    assert not (dest / "valMat.pkl").exists()
    assert not list(dest.glob(".valMat.pkl.*"))


def test_cli_exit_code_and_message(release: Path, server: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = _specs(release, server)[0]
    bad = "0" * 64
    code = main(["--dest", str(tmp_path / "d"), "--file", spec.name, spec.url, f"sha256:{bad}"])
    assert code == 2
    assert spec.name in capsys.readouterr().err
    code = main(["--dest", str(tmp_path / "d"), "--file", spec.name, spec.url, f"sha256:{spec.digest}"])
    assert code == 0


def test_local_copy_is_linked_and_verified(release: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    shutil.copytree(release, local)
    (local / "text_feat.npy").write_bytes((release / "image_feat.npy").read_bytes())  # a user-added modality
    specs = [ReleaseFile(s.name, None, s.algorithm, s.digest) for s in _specs(release, "http://unused")]
    dest = tmp_path / "dest"
    how = prepare_release(dest, local, specs)
    assert (dest / "trnMat.pkl").is_symlink()
    assert "unverified" in how["text_feat.npy"]
    with open(local / "tstMat.pkl", "ab") as handle:
        handle.write(b"x")
    with pytest.raises(DataError, match="tstMat.pkl"):
        prepare_release(dest, local, specs)


def test_missing_file_without_url_names_it(release: Path, tmp_path: Path) -> None:
    spec = ReleaseFile("audio_feat.npy", None, "sha256", "0" * 64)
    with pytest.raises(DataError, match="audio_feat.npy: absent"):
        prepare_release(tmp_path / "dest", release, [spec])


def test_git_blob_checksum(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"hello\n")
    # `printf 'hello\n' | git hash-object --stdin`
    assert file_digest(path, "git_blob") == "ce013625030ba8dba906f756967f9e9ca394464a"


class _CutHandler(http.server.BaseHTTPRequestHandler):
    """Promises 1000 bytes, sends 10, closes: a download cut by the network."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"0123456789")

    def log_message(self, *args) -> None:
        pass


def test_a_cut_download_is_retried_then_named_and_leaves_no_partial_file(tmp_path: Path) -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/trnMat.pkl"
        dest = tmp_path / "d" / "trnMat.pkl"
        with pytest.raises(DataError, match=r"trnMat\.pkl: download from .* failed after 2 attempts: IncompleteRead"):
            download(url, dest, ReleaseFile("trnMat.pkl", url, "sha256", "0" * 64), retries=2)
        assert list(dest.parent.iterdir()) == []
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_ctrl_c_during_a_download_exits_130_and_keeps_no_partial_file(
    release: Path, server: str, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _specs(release, server)[0]

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("urllib.request.urlopen", interrupted)
    dest = tmp_path / "d"
    assert main(["--dest", str(dest), "--file", spec.name, spec.url, f"sha256:{spec.digest}"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert list(dest.iterdir()) == []
