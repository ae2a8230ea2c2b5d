"""Helpers shared by the window tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np

from clips import LFW10
from conftest import slowdown  # noqa: F401 - the GUI tests import it from here

# How long a test waits for something the window must do (qtbot.waitUntil returns as soon as it is done):
# a bound against hanging, not a time budget, so generous enough for a machine with a load of 20.
EVENT_TIMEOUT_MS = 60_000


def facecam_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("facecam-") and t.is_alive()]


def wait_for_names(qtbot, window, names, timeout_s=EVENT_TIMEOUT_MS / 1000):
    """Wait until the painted labels include every name of ``names``."""
    qtbot.waitUntil(lambda: set(names) <= set(window.label_names()), timeout=int(timeout_s * 1000))


def qimage_to_rgb(image) -> np.ndarray:
    """A copy of a QImage's pixels as an (H, W, 3) RGB array."""
    from PyQt5.QtGui import QImage

    rgb = image.convertToFormat(QImage.Format_RGB888)
    width, height, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    data = np.frombuffer(rgb.constBits().asstring(stride * height), np.uint8).reshape(height, stride)
    return data[:, : width * 3].reshape(height, width, 3).copy()


def lfw_photo(person: str, n: int) -> Path:
    return LFW10 / person / f"{person}_{n:04d}.jpg"


class FakeCamera:
    """A camera backend: real-photo frames at ~30 fps, then unplugged after ``frames`` reads (read fails)."""

    def __init__(self, frames: int | None = None):
        self.frames = frames
        self.reads = 0
        photo = cv2.resize(cv2.imread(str(lfw_photo("Tony_Blair", 5)))[25:225, 25:225], (200, 200))
        self.image = np.full((480, 640, 3), 90, np.uint8)
        self.image[140:340, 220:420] = photo
        self.released = threading.Event()

    def isOpened(self):
        return True

    def get(self, prop):
        return {cv2.CAP_PROP_FPS: 30.0, cv2.CAP_PROP_FRAME_WIDTH: 640, cv2.CAP_PROP_FRAME_HEIGHT: 480}.get(prop, 0.0)

    def read(self):
        self.reads += 1
        if self.frames is not None and self.reads > self.frames:
            time.sleep(0.005)
            return False, None
        time.sleep(1 / 30)
        return True, self.image.copy()

    def release(self):
        self.released.set()


class ModelServer:
    """A real HTTP server on 127.0.0.1 serving one model file in 64 KB pieces (Range supported, so a
    download can resume). ``hold`` (an Event, set = go on) stops the body after ``hold_after`` bytes until
    it is set, so a test can watch the progress and press Cancel; ``ranges`` records the Range headers."""

    def __init__(self, data: bytes, hold_after: int | None = None):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.data = data
        self.hold_after = hold_after
        self.hold = threading.Event()
        self.ranges: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                server.ranges.append(rng)
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                body = server.data[start:]
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(server.data) - 1}/{len(server.data)}")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                try:
                    for offset in range(0, len(body), 65536):
                        if server.hold_after is not None and start + offset >= server.hold_after:
                            while not server.hold.wait(0.05):
                                pass
                        self.wfile.write(body[offset:offset + 65536])
                        time.sleep(0.02)  # a slow line: several progress reports before the hold
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="test-model-server", daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(2)


def point_vgg_face_at(monkeypatch, spec) -> None:
    """Make the registry's VGG-Face entry download ``spec`` (a ModelFile on a 127.0.0.1 server) for one test."""
    import dataclasses
    from types import MappingProxyType

    from facecam import registry

    entry = dataclasses.replace(registry.MODELS["vgg-face"], file=spec)
    monkeypatch.setattr(registry, "MODELS", MappingProxyType({**registry.MODELS, "vgg-face": entry}))
