"""facecam.models: model folder, downloads (progress, resume, cancel, checks), verification.

Downloads are tested against a real HTTP server on 127.0.0.1 (http.server in a
thread) that supports Range and can be told to misbehave.
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from facecam import models, registry
from facecam.errors import DownloadError, ModelError
from facecam.models import (BUILTIN_DIR, DownloadCancelled, ModelFile, download, ensure_model_file, file_status,
                            model_dir, sha256_of, verify_file)

DATA = os.urandom(300_000 + 123)   # several 64 KB pieces, not a multiple of one
DATA_SHA = hashlib.sha256(DATA).hexdigest()


class FakeServer:
    """A local HTTP server serving ``data`` at any path, with switches to misbehave."""

    def __init__(self, data: bytes = DATA) -> None:
        self.data = data
        self.requests: list[dict] = []     # method, path, headers of every request, in order
        self.cut_after: int | None = None  # next response: send this many body bytes, then drop the connection
        self.status: int | None = None     # answer every request with this status and no body
        self.ignore_range = False          # answer 200 with everything even when asked for a range
        self.redirect_to: str | None = None  # answer 302 to this Location...
        self.redirect_from: str | None = None  # ...only for this path (None: every path)
        self.stalling = False              # accept the request, then answer nothing (until close)
        self.stall = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                server.requests.append({"path": self.path, "headers": dict(self.headers)})
                if server.stalling:
                    server.stall.wait(5)
                    return
                if server.redirect_to and server.redirect_from in (None, self.path):
                    self.send_response(302)
                    self.send_header("Location", server.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if server.status is not None:
                    body = b"not here"
                    self.send_response(server.status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                data, start = server.data, 0
                rng = self.headers.get("Range")
                if rng and not server.ignore_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                cut, server.cut_after = server.cut_after, None
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, name: str = "model.bin") -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        self.stall.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(2)


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _clear_verify_cache():
    models._verify_cache.clear()
    yield
    models._verify_cache.clear()


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def part_of(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def assert_one_line(exc: BaseException) -> str:
    message = str(exc)
    assert message and "\n" not in message
    return message


# --------------------------------------------------------------------------- registry / folder

def test_registry_holds_the_known_files():
    assert list(registry.MODELS) == ["vgg-face", "sface"] and list(registry.DETECTORS) == ["mtcnn", "yunet"]
    assert [spec.key for spec in registry.model_files()] == ["vgg-face", "sface", "yunet"]
    vgg, sface, yunet = (registry.model_file(key) for key in ("vgg-face", "sface", "yunet"))
    assert vgg == ModelFile("vgg-face", "vgg_face_weights.h5",
                            "https://github.com/serengil/deepface_models/releases/download/v1.0/"
                            "vgg_face_weights.h5", None, None)
    assert sface.filename == "face_recognition_sface_2021dec.onnx"
    assert sface.url == ("https://github.com/opencv/opencv_zoo/raw/main/models/face_recognition_sface/"
                         "face_recognition_sface_2021dec.onnx")
    assert sface.size == 38696353 and sface.builtin
    assert sface.sha256 == "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79"
    assert yunet.size == 232589 and yunet.builtin
    assert yunet.sha256 == "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
    with pytest.raises(AttributeError):
        sface.size = 1  # frozen
    with pytest.raises(ModelError, match="unknown model 'arcface'; choose one of: vgg-face, sface"):
        registry.model("arcface")
    with pytest.raises(ModelError, match="unknown detector 'haar'; choose one of: mtcnn, yunet"):
        registry.detector("haar")


def test_built_in_files_are_the_official_ones_with_their_licences():
    for spec in (registry.model_file("sface"), registry.model_file("yunet")):
        path = models.builtin_path(spec)
        assert path == BUILTIN_DIR / spec.filename
        assert path.stat().st_size == spec.size and sha256_of(path) == spec.sha256
    assert "Apache License" in (BUILTIN_DIR / "LICENSE-SFace-Apache-2.0.txt").read_text()
    assert "Copyright (c) 2020 Shiqi Yu" in (BUILTIN_DIR / "LICENSE-YuNet-MIT.txt").read_text()
    assert models.builtin_path(registry.model_file("vgg-face")) is None


def test_built_in_copy_is_used_when_the_model_folder_has_none_or_a_bad_one(tmp_path):
    sface = registry.model_file("sface")
    assert ensure_model_file(sface, tmp_path, allow_download=False) == BUILTIN_DIR / sface.filename
    (tmp_path / sface.filename).write_bytes(b"x" * 10)  # a broken copy does not stop the first run
    assert ensure_model_file(sface, tmp_path, allow_download=False) == BUILTIN_DIR / sface.filename
    assert list(tmp_path.iterdir()) == [tmp_path / sface.filename]  # nothing downloaded, nothing deleted


def test_a_valid_copy_in_the_model_folder_wins_over_the_built_in_one(tmp_path):
    import shutil

    yunet = registry.model_file("yunet")
    shutil.copy(BUILTIN_DIR / yunet.filename, tmp_path)
    assert ensure_model_file(yunet, tmp_path, allow_download=False) == tmp_path / yunet.filename
    row = file_status(yunet, tmp_path)
    assert (row["source"], row["path"], row["valid"]) == ("model folder", str(tmp_path / yunet.filename), True)


def test_entries_are_checked_on_creation():
    sface = registry.model_file("sface")
    with pytest.raises(ValueError, match="factory"):
        registry.EmbedderEntry("x", "X", ModelFile("x", "x.onnx", "https://h/x"), 0.5, "s", "os:system")
    with pytest.raises(ValueError, match="threshold"):
        registry.EmbedderEntry("sface", "S", sface, 2.5, "s", "facecam.embedders.sface:SFaceEmbedder")
    with pytest.raises(ValueError, match="the file of 'x'"):
        registry.EmbedderEntry("x", "X", sface, 0.5, "s", "facecam.embedders.sface:SFaceEmbedder")


def test_model_file_rejects_bad_specs():
    with pytest.raises(ValueError, match="bare file name"):
        ModelFile("x", "../evil.bin", "https://example.com/x")
    with pytest.raises(ValueError, match="64 hex digits"):
        ModelFile("x", "x.bin", "https://example.com/x", sha256="abc")
    assert ModelFile("x", "x.bin", "https://e.com/x", sha256=DATA_SHA.upper()).sha256 == DATA_SHA


def test_model_dir_default_env_and_override(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv("FACECAM_MODEL_DIR", raising=False)
    assert model_dir() == Path(platformdirs.user_cache_dir("facecam")) / "models"
    monkeypatch.setenv("FACECAM_MODEL_DIR", str(tmp_path / "env"))
    assert model_dir() == tmp_path / "env"
    assert model_dir(tmp_path / "cli") == tmp_path / "cli"       # explicit beats the environment
    assert model_dir(str(tmp_path / "cli")) == tmp_path / "cli"
    monkeypatch.setenv("FACECAM_MODEL_DIR", "~/facecam-models")
    assert model_dir() == Path.home() / "facecam-models"
    assert not (tmp_path / "env").exists()                        # nothing is created by asking


def test_ensure_model_file_uses_the_env_model_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("FACECAM_MODEL_DIR", str(tmp_path))
    spec = ModelFile("t", "t.bin", f"http://127.0.0.1:{closed_port()}/t.bin", DATA_SHA, len(DATA))
    (tmp_path / "t.bin").write_bytes(DATA)
    assert ensure_model_file(spec) == tmp_path / "t.bin"


def test_import_pulls_in_no_tensorflow_or_qt():
    code = ("import sys, facecam.models; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'PyQt5', 'cv2', 'platformdirs', 'h5py')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- download

def test_complete_download_with_checksum_and_progress(server, tmp_path):
    dest = tmp_path / "sub" / "model.bin"
    calls = []
    result = download(server.url(), dest, sha256=DATA_SHA, expected_size=len(DATA),
                      progress=lambda done, total: calls.append((done, total)))
    assert result == dest
    assert dest.read_bytes() == DATA
    assert not part_of(dest).exists()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    assert calls[0] == (0, len(DATA))
    assert calls[-1] == (len(DATA), len(DATA))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(calls) >= 3
    assert "Range" not in server.requests[0]["headers"]
    assert server.requests[0]["headers"]["User-Agent"].startswith("facecam")


@pytest.mark.parametrize("expected_size", [len(DATA), None])
def test_resume_after_connection_cut(server, tmp_path, expected_size):
    dest = tmp_path / "model.bin"
    server.cut_after = 100_000
    with pytest.raises(DownloadError) as info:
        download(server.url(), dest, expected_size=expected_size)
    message = assert_one_line(info.value)
    assert f"after 100000 of {len(DATA)} bytes" in message
    assert "resume" in message
    assert not dest.exists()
    assert part_of(dest).read_bytes() == DATA[:100_000]

    calls = []
    download(server.url(), dest, expected_size=expected_size, progress=lambda d, t: calls.append((d, t)))
    assert server.requests[1]["headers"]["Range"] == "bytes=100000-"
    assert dest.read_bytes() == DATA
    assert not part_of(dest).exists()
    assert calls[0] == (100_000, len(DATA)) and calls[-1] == (len(DATA), len(DATA))


@pytest.mark.parametrize("stale", [5000, len(DATA) + 1000])
def test_server_ignoring_range_restarts_from_zero(server, tmp_path, stale):
    dest = tmp_path / "model.bin"
    part_of(dest).write_bytes(b"\xff" * stale)  # stale bytes that must not survive (no checksum to catch them)
    server.ignore_range = True
    download(server.url(), dest)
    assert server.requests[0]["headers"]["Range"] == f"bytes={stale}-"
    assert dest.read_bytes() == DATA


def test_416_on_complete_part_is_checked_and_used(server, tmp_path):
    dest = tmp_path / "model.bin"
    part_of(dest).write_bytes(DATA)
    download(server.url(), dest, sha256=DATA_SHA)
    assert server.requests[0]["headers"]["Range"] == f"bytes={len(DATA)}-"
    assert len(server.requests) == 1
    assert dest.read_bytes() == DATA and not part_of(dest).exists()


def test_416_on_oversized_part_starts_afresh(server, tmp_path):
    dest = tmp_path / "model.bin"
    part_of(dest).write_bytes(DATA + b"extra")
    download(server.url(), dest, sha256=DATA_SHA)
    assert [r["headers"].get("Range") for r in server.requests] == [f"bytes={len(DATA) + 5}-", None]
    assert dest.read_bytes() == DATA


def test_checksum_mismatch_deletes_everything(server, tmp_path):
    dest = tmp_path / "model.bin"
    with pytest.raises(DownloadError) as info:
        download(server.url(), dest, sha256="0" * 64)
    message = assert_one_line(info.value)
    assert "corrupt" in message and "sha256 mismatch" in message and "try again" in message
    assert not dest.exists() and not part_of(dest).exists()
    assert list(tmp_path.iterdir()) == []


def test_size_offered_differs_from_expected(server, tmp_path):
    dest = tmp_path / "model.bin"
    with pytest.raises(DownloadError) as info:
        download(server.url(), dest, expected_size=len(DATA) + 1)
    assert f"offers {len(DATA)} bytes, expected {len(DATA) + 1}" in assert_one_line(info.value)
    assert list(tmp_path.iterdir()) == []


def test_http_404_is_one_line_with_status_and_advice(server, tmp_path):
    server.status = 404
    dest = tmp_path / "vgg_face_weights.h5"
    with pytest.raises(DownloadError) as info:
        download(server.url("vgg_face_weights.h5"), dest)
    message = assert_one_line(info.value)
    assert message.startswith(f"could not download vgg_face_weights.h5 from {server.url('vgg_face_weights.h5')}: "
                              f"HTTP 404")
    assert "--weights PATH" in message and str(dest) in message
    assert not dest.exists() and not part_of(dest).exists()


def test_http_500_is_reported(server, tmp_path):
    server.status = 500
    with pytest.raises(DownloadError, match=r": HTTP 500 "):
        download(server.url(), tmp_path / "m.bin")


def test_server_gone_connection_refused(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/model.bin"
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "model.bin", timeout=2)
    message = assert_one_line(info.value)
    assert message.startswith(f"could not download model.bin from {url}: connection refused")
    assert "try again" in message
    assert not (tmp_path / "model.bin").exists()


def test_server_shut_down_after_first_use(tmp_path):
    s = FakeServer()
    url = s.url()
    download(url, tmp_path / "a.bin")
    s.close()
    with pytest.raises(DownloadError, match="connection refused"):
        download(url, tmp_path / "b.bin", timeout=2)
    assert (tmp_path / "a.bin").read_bytes() == DATA and not (tmp_path / "b.bin").exists()


def test_timeout(server, tmp_path):
    server.stalling = True
    with pytest.raises(DownloadError) as info:
        download(server.url(), tmp_path / "m.bin", timeout=0.3)
    assert "timed out" in assert_one_line(info.value)


def test_cancel_with_event_keeps_part_for_resume(server, tmp_path):
    dest = tmp_path / "model.bin"
    stop = threading.Event()

    def progress(done, total):
        if done >= 100_000:
            stop.set()

    with pytest.raises(DownloadCancelled) as info:
        download(server.url(), dest, sha256=DATA_SHA, progress=progress, cancel=stop)
    assert isinstance(info.value, DownloadError)
    message = assert_one_line(info.value)
    kept = part_of(dest).read_bytes()
    assert 100_000 <= len(kept) < len(DATA)
    assert kept == DATA[:len(kept)]
    assert f"cancelled after {len(kept)} bytes" in message and "resume" in message
    assert not dest.exists()

    download(server.url(), dest, sha256=DATA_SHA)
    assert server.requests[-1]["headers"]["Range"] == f"bytes={len(kept)}-"
    assert dest.read_bytes() == DATA


def test_cancel_with_callable_before_start(server, tmp_path):
    with pytest.raises(DownloadCancelled, match="cancelled after 0 bytes"):
        download(server.url(), tmp_path / "m.bin", cancel=lambda: True)
    assert server.requests == []


def test_https_only_for_non_local_hosts(tmp_path):
    for url in ("http://example.com/model.bin", "ftp://example.com/model.bin",
                "file:///etc/passwd", "http://127.0.0.2.example.com/x", "not a url"):
        with pytest.raises(DownloadError) as info:
            download(url, tmp_path / "model.bin", timeout=0.5)
        message = assert_one_line(info.value)
        assert message.startswith("refusing to download model.bin")
        assert "https://" in message
    assert list(tmp_path.iterdir()) == []


def test_redirect_to_plain_http_elsewhere_is_refused(server, tmp_path):
    server.redirect_to = "http://example.com/model.bin"
    with pytest.raises(DownloadError) as info:
        download(server.url(), tmp_path / "m.bin", timeout=1)
    assert "refusing to download m.bin from http://example.com/model.bin" in assert_one_line(info.value)


def test_redirect_to_local_is_followed(server, tmp_path):
    server.redirect_from, server.redirect_to = "/start.bin", "/real.bin"
    download(server.url("start.bin"), tmp_path / "m.bin")
    assert [r["path"] for r in server.requests] == ["/start.bin", "/real.bin"]
    assert (tmp_path / "m.bin").read_bytes() == DATA


# --------------------------------------------------------------------------- verification

def test_sha256_of_and_verify_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(DATA)
    assert sha256_of(path) == DATA_SHA
    good = ModelFile("t", "f.bin", "https://e.com/f", DATA_SHA, len(DATA))
    assert verify_file(path, good) is None
    assert verify_file(path, ModelFile("t", "f.bin", "https://e.com/f", None, 38696353)) == \
        f"size {len(DATA)} bytes, expected 38696353"
    assert verify_file(path, ModelFile("t", "f.bin", "https://e.com/f", "1" * 64, len(DATA))) == "sha256 mismatch"
    assert verify_file(tmp_path / "nope.bin", good) == "file not found"
    assert verify_file(tmp_path, good) == "not a regular file"
    (tmp_path / "empty.bin").write_bytes(b"")
    assert verify_file(tmp_path / "empty.bin", ModelFile("t", "e.bin", "https://e.com/f")) == "empty file (0 bytes)"


def test_h5_without_checksum_gets_a_signature_check(tmp_path):
    spec = ModelFile("vgg-face", "w.h5", "https://e.com/w.h5")
    html = tmp_path / "w.h5"
    html.write_bytes(b"<html>rate limited</html>" * 50)
    assert verify_file(html, spec).startswith("not an HDF5 file")
    h5 = tmp_path / "good.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(1000))
    assert verify_file(h5, spec) is None
    with_user_block = tmp_path / "ub.h5"
    with_user_block.write_bytes(bytes(512) + b"\x89HDF\r\n\x1a\n" + bytes(100))
    assert verify_file(with_user_block, spec) is None


def test_verification_is_cached_until_the_file_changes(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(DATA)
    spec = ModelFile("t", "f.bin", "https://e.com/f", DATA_SHA, len(DATA))
    hashed = []
    real = models.sha256_of
    monkeypatch.setattr(models, "sha256_of", lambda p: hashed.append(p) or real(p))
    assert verify_file(path, spec) is None
    assert verify_file(path, spec) is None
    assert len(hashed) == 1
    path.write_bytes(b"\0" * len(DATA))       # same size, new content and mtime
    os.utime(path, ns=(1, 1))
    assert verify_file(path, spec) == "sha256 mismatch"
    assert len(hashed) == 2


# --------------------------------------------------------------------------- ensure / status

def test_ensure_uses_valid_existing_file_without_network(tmp_path):
    spec = ModelFile("t", "t.bin", f"http://127.0.0.1:{closed_port()}/t.bin", DATA_SHA, len(DATA))
    path = tmp_path / "t.bin"
    path.write_bytes(DATA)
    before = path.stat().st_mtime_ns
    assert ensure_model_file(spec, tmp_path) == path
    assert ensure_model_file(spec, tmp_path, allow_download=False) == path
    assert path.read_bytes() == DATA and path.stat().st_mtime_ns == before


def test_ensure_downloads_missing_file(server, tmp_path):
    spec = ModelFile("t", "t.bin", server.url("t.bin"), DATA_SHA, len(DATA))
    seen = []
    path = ensure_model_file(spec, tmp_path / "models", progress=lambda d, t: seen.append((d, t)))
    assert path == tmp_path / "models" / "t.bin"
    assert path.read_bytes() == DATA
    assert seen[-1] == (len(DATA), len(DATA))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_ensure_deletes_downloaded_h5_that_is_not_hdf5(server, tmp_path):
    spec = ModelFile("vgg-face", "w.h5", server.url("w.h5"))  # serves random bytes, no HDF5 signature
    with pytest.raises(DownloadError) as info:
        ensure_model_file(spec, tmp_path)
    assert "corrupt (not an HDF5 file" in assert_one_line(info.value)
    assert list(tmp_path.iterdir()) == []


def test_ensure_missing_without_download_says_where_and_how(tmp_path):
    spec = registry.model_file("vgg-face")
    with pytest.raises(ModelError) as info:
        ensure_model_file(spec, tmp_path, allow_download=False)
    message = assert_one_line(info.value)
    assert not isinstance(info.value, DownloadError)
    assert str(tmp_path) in message and spec.url in message and spec.filename in message


def test_ensure_present_but_invalid_says_delete(tmp_path):
    spec = ModelFile("sface", "t.onnx", f"http://127.0.0.1:{closed_port()}/t.onnx", DATA_SHA, len(DATA))
    (tmp_path / "t.onnx").write_bytes(DATA[:-1])
    with pytest.raises(ModelError) as info:
        ensure_model_file(spec, tmp_path)
    message = assert_one_line(info.value)
    assert f"size {len(DATA) - 1} bytes, expected {len(DATA)}" in message
    assert "delete it" in message and str(tmp_path / "t.onnx") in message
    assert (tmp_path / "t.onnx").exists()  # never deleted behind the user's back


def test_file_status(tmp_path):
    vgg, sface = registry.model_file("vgg-face"), registry.model_file("sface")
    (tmp_path / "vgg_face_weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    assert file_status(vgg, tmp_path) == {
        "key": "vgg-face", "filename": "vgg_face_weights.h5", "path": str(tmp_path / "vgg_face_weights.h5"),
        "url": vgg.url, "present": True, "valid": True, "reason": None, "source": "model folder", "builtin": None}
    (tmp_path / "vgg_face_weights.h5").unlink()
    (tmp_path / "vgg_face_weights.h5.part").write_bytes(bytes(10))
    row = file_status(vgg, tmp_path)
    assert (row["present"], row["valid"], row["source"]) == (False, None, None)
    assert row["reason"] == "not downloaded (partial download: 10 bytes)"
    elsewhere = tmp_path / "mine.h5"
    row = file_status(vgg, tmp_path, (elsewhere, "--weights"))
    assert (row["path"], row["source"], row["valid"], row["reason"]) == (str(elsewhere), "--weights", False,
                                                                         "file not found")
    # SFace: the built-in copy is used while the model folder has no valid one (and says why not)
    row = file_status(sface, tmp_path)
    assert (row["source"], row["path"], row["valid"]) == ("built-in", str(BUILTIN_DIR / sface.filename), True)
    assert row["builtin"] == str(BUILTIN_DIR / sface.filename) and row["present"] is False
