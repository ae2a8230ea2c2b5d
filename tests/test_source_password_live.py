"""Issue 18's done-when for item 5: with a password in the source URL, the password appears in no file facecam
writes, no webhook or MQTT payload, no command output and no log line.

The real `facecam watch` (a child process: its whole stderr, FFmpeg's and OpenCV's included, and every log line of
every logger at DEBUG into a file) reads a real clip (lfw photos, tests/clips.py) from a small IP camera in this
test: an MJPEG stream over HTTP on 127.0.0.1 that wants basic auth and a token, with real SFace + MTCNN, a real
webhook receiver and the suite's real MQTT broker. Then `facecam sightings` and `facecam unknowns`, and the source's
failures (a wrong password, nobody listening)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
import pytest

from clips import SHORT_SCENE, make_gallery, write_clip
from servers import Subscriber, WebhookServer, free_port, shared_broker_port

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD, TOKEN = "alice", "S3cretPW-4q9", "T0ken-x7Rk2"
SECRETS = (PASSWORD, TOKEN, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
FRAMES = 300   # --max-frames: 10 s of the 6 s clip, which the camera plays in a loop


class IpCamera:
    """An MJPEG camera on 127.0.0.1 (multipart/x-mixed-replace, as many IP cameras serve it): the clip's frames in
    a loop at its own rate, only to a request with the right basic auth and ``token``; ``refused`` counts the rest."""

    def __init__(self, clip: Path, fps: float = 30.0):
        capture = cv2.VideoCapture(str(clip))
        self.frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            self.frames.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
        capture.release()
        self.fps, self.refused, self.served = fps, 0, 0
        self.stop = threading.Event()
        camera = self
        wanted = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = parse_qs(urlsplit(self.path).query)
                if self.headers.get("Authorization") != wanted or query.get("token") != [TOKEN]:
                    camera.refused += 1
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                start, n = time.monotonic(), 0
                try:
                    while not camera.stop.is_set():
                        jpeg = camera.frames[n % len(camera.frames)]
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                                         % (len(jpeg), jpeg))
                        camera.served += 1
                        n += 1
                        delay = start + n / camera.fps - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                except OSError:
                    pass   # the client went away

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, password: str = PASSWORD, port: int | None = None) -> str:
        return f"http://{USER}:{password}@127.0.0.1:{port or self.port}/stream?channel=1&token={TOKEN}"

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


# A child facecam with every logger's every line (DEBUG and up) in a file: "no log line" means none of them.
LOGGED = ("import logging, sys; logging.basicConfig(level=logging.DEBUG, filename=sys.argv[1], "
          "format='%(name)s %(levelname)s %(message)s'); from facecam.__main__ import main; sys.exit(main(sys.argv[2:]))")


def facecam(folder: Path, log: Path, *argv) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("FACECAM_", "TF_"))}
    environ.update(PYTHONPATH=str(ROOT), FACECAM_CONFIG_DIR=str(folder / "config"))
    return subprocess.run([sys.executable, "-c", LOGGED, str(log), *map(str, argv)], capture_output=True,
                          text=True, cwd=folder, env=environ, timeout=600)


def leaks(text: str | bytes) -> list[str]:
    data = text if isinstance(text, bytes) else text.encode()
    return [secret for secret in SECRETS if secret.encode() in data]


def leaking_files(folder: Path) -> dict[str, list[str]]:
    return {str(path): leaks(path.read_bytes()) for path in folder.rglob("*") if path.is_file()
            and leaks(path.read_bytes())}


@pytest.fixture(scope="module")
def run(tmp_path_factory, model_dir):
    folder = tmp_path_factory.mktemp("password")
    clip = folder / "clip.avi"
    write_clip(clip, SHORT_SCENE, seconds=6.0)
    known = make_gallery(folder / "known_faces")
    camera = IpCamera(clip)
    webhook = WebhookServer()
    port, own_broker = shared_broker_port(folder)
    prefix = f"facecam-test-{uuid.uuid4().hex[:8]}"
    subscriber = Subscriber(port, [f"{prefix}/#"])
    events, summary, log = folder / "events.jsonl", folder / "summary.json", folder / "watch.log"
    common = ["--model", "sface", "--detector", "yunet", "--model-dir", model_dir, "--known-faces", known]
    try:
        watch = facecam(folder, log, "watch", *common, "--source", camera.url(), "--max-frames", FRAMES,
                        "--events", events, "--summary", summary, "--notify", webhook.url,
                        "--mqtt", f"mqtt://127.0.0.1:{port}/{prefix}")
        time.sleep(1.0)   # the retained "offline" and the last events reach the subscriber
    finally:
        camera.close()
        subscriber.close()
        webhook.close()
        if own_broker is not None:
            own_broker.stop()
    yield {"folder": folder, "known": known, "camera": camera, "watch": watch, "events": events, "log": log,
           "summary": json.loads(summary.read_text()) if summary.exists() else None, "common": common,
           "webhook": webhook, "mqtt": subscriber, "prefix": prefix, "name": f"http://127.0.0.1:{camera.port}/stream?channel=1"}


def test_watch_reads_the_camera_and_names_it_without_its_password_everywhere(run):
    watch, summary, name = run["watch"], run["summary"], run["name"]
    assert watch.returncode == 0, watch.stderr[-2000:]
    assert run["camera"].served >= FRAMES and summary["frames_out"] == FRAMES   # the stream was really read...
    assert leaks(watch.stdout) == [] and leaks(watch.stderr) == []              # ...and no output holds a secret
    from facecam.sightings import SightingQuery
    from facecam.stores import open_sighting_store
    from facecam.unknowns.live import open_store

    with open_sighting_store(run["known"], retention_days=None) as store:       # the log: visits under the name
        visits = store.query(SightingQuery())
    assert {v.name for v in visits} >= {"Tony_Blair", "George_W_Bush"} and {v.source for v in visits} == {name}
    unknowns = open_store(run["known"], "sface", 128)
    try:
        strangers = unknowns.sightings()                                         # the unknowns store: the same
    finally:
        unknowns.close()
    assert summary["unknown_sightings"] == len(strangers) >= 1 and {s.source for s in strangers} == {name}
    hooks = run["webhook"].events()                                              # webhook bodies: the same
    assert len(hooks) >= 2 and {e["source"] for e in hooks} == {name}
    assert leaks(json.dumps(hooks)) == []
    messages = run["mqtt"].messages                                              # MQTT: every topic and payload
    mqtt_events = [json.loads(payload) for _, topic, payload, _ in messages if topic == f"{run['prefix']}/events"]
    assert len(mqtt_events) == len(hooks) and {e["source"] for e in mqtt_events} == {name}
    assert [(topic, leaks(topic), leaks(payload)) for _, topic, payload, _ in messages
            if leaks(topic) or leaks(payload)] == []
    events = [json.loads(line) for line in run["events"].read_text().splitlines()]
    assert len(events) == FRAMES and any(f["name"] == "Tony_Blair" for e in events for f in e["faces"])
    # every file facecam wrote: known_faces/.facecam/** (log, unknowns store and crops, cache), --events, --summary,
    # and the log file of every logger
    assert leaking_files(run["folder"]) == {}
    assert (run["known"] / ".facecam" / "sightings.sqlite").is_file() and run["log"].is_file()


def test_sightings_and_unknowns_commands_show_the_name_never_the_password(run):
    folder, known, name = run["folder"], run["known"], run["name"]
    shown = []
    for argv in (["sightings", "--known-faces", known], ["sightings", "--known-faces", known, "--json"],
                 ["sightings", "--known-faces", known, "--csv"],
                 ["unknowns", *run["common"]], ["unknowns", *run["common"], "--json"]):
        result = facecam(folder, folder / "commands.log", *argv)
        assert result.returncode == 0, result.stderr
        assert name in result.stdout, argv                       # the source is listed, by its name
        shown.append((argv[0], leaks(result.stdout), leaks(result.stderr)))
    assert shown == [(command, [], []) for command, _, _ in shown]
    assert leaks((folder / "commands.log").read_bytes()) == []


@pytest.mark.parametrize("how", ["wrong password", "nobody listening"])
def test_a_source_that_fails_says_so_in_one_line_without_the_password(run, how):
    folder, camera = run["folder"], run["camera"]
    alive = IpCamera(folder / "clip.avi")   # the module's camera is closed: one of its own for this failure
    try:
        url = alive.url(password="wr0ngPW-" + PASSWORD) if how == "wrong password" else alive.url(port=free_port())
        log = folder / f"failed-{how.replace(' ', '-')}.log"
        result = facecam(folder, log, "watch", *run["common"], "--source", url, "--max-frames", 10)
    finally:
        alive.close()
    assert result.returncode == 1 and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("facecam: error:")]
    assert len(errors) == 1 and "stream http://127.0.0.1:" in errors[0] and "/stream?channel=1 " in errors[0], result.stderr
    assert alive.refused >= (1 if how == "wrong password" else 0) and alive.served == 0
    assert leaks(result.stderr) == [] and leaks(log.read_bytes()) == [] and "wr0ngPW" not in result.stderr
    assert camera.port != alive.port


def test_the_unknowns_are_collected_under_the_source_name_like_the_sightings(run, cli, model_dir):
    folder = run["folder"]
    known = make_gallery(folder / "named" / "known_faces")
    code, _, err = cli("watch", "--model", "sface", "--detector", "yunet", "--model-dir", model_dir, "--known-faces",
                       known, "--source", folder / "clip.avi", "--source-name", "front door")
    assert code == 0, err
    from facecam.sightings import SightingQuery
    from facecam.stores import open_sighting_store
    from facecam.unknowns.live import open_store

    with open_sighting_store(known, retention_days=None) as store:
        visits = store.query(SightingQuery())
    unknowns = open_store(known, "sface", 128)
    try:
        strangers = unknowns.sightings()
    finally:
        unknowns.close()
    assert {v.name for v in visits} >= {"Tony_Blair", "George_W_Bush", None} and {v.source for v in visits} == {"front door"}
    assert strangers and {s.source for s in strangers} == {"front door"}   # before: the --source, whatever the name
