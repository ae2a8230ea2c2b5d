"""Real servers for the tests: an HTTP server on 127.0.0.1, Debian's mosquitto broker, and PostgreSQL.

`bash tests/run.sh` installs mosquitto (apt-get, when missing) and starts one broker for the
whole run (FACECAM_TEST_MQTT_PORT); a test that stops and restarts a broker starts its own.
PostgreSQL 16 with pgvector comes from the ``pgserver`` wheel (tests/requirements.txt): one
server per test session in a temporary folder (:class:`Postgres`), a fresh database per test.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WebhookServer:
    """Records every POST (wall time of receipt, parsed JSON). ``mode``: "ok", "hang" (never answers
    within the client's timeout), or "fail" (HTTP 503); it can be changed while running."""

    def __init__(self, mode: str = "ok", hang_s: float = 30.0):
        self.mode, self.hang_s = mode, hang_s
        self.received: list[tuple[float, dict]] = []
        self.attempts = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received = time.time()
                with server._lock:
                    server.attempts += 1
                    mode = server.mode
                if mode == "hang":
                    time.sleep(server.hang_s)
                    return
                if mode == "fail":
                    self.send_response(503)
                    self.end_headers()
                    return
                with server._lock:
                    server.received.append((received, json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def events(self) -> list[dict]:
        with self._lock:
            return [event for _, event in self.received]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_until(condition, timeout: float = 60.0) -> bool:   # a bound against hanging, not a time budget
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if not found:
        pytest.fail("mosquitto is not installed; run the README's test command (bash tests/run.sh installs it)")
    return found


class Broker:
    """A mosquitto process on 127.0.0.1:``port`` (anonymous, no persistence); stop() and start() again."""

    def __init__(self, folder: Path, port: int | None = None):
        self.port = port or free_port()
        self.config = Path(folder) / f"mosquitto-{self.port}.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.process: subprocess.Popen | None = None

    def start(self) -> "Broker":
        self.process = subprocess.Popen([mosquitto_binary(), "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(5)
            self.process = None


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def shared_broker_port(tmp_folder: Path) -> tuple[int, Broker | None]:
    """The broker tests/run.sh started (FACECAM_TEST_MQTT_PORT), else one started here (returned to stop)."""
    port = os.environ.get("FACECAM_TEST_MQTT_PORT")
    if port:
        wait_for_port(int(port))
        return int(port), None
    broker = Broker(tmp_folder).start()
    return broker.port, broker


class Subscriber:
    """A paho-mqtt client subscribed to ``topics``, recording (wall time, topic, payload, retained)."""

    def __init__(self, port: int, topics: list[str]):
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[float, str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.on_connect = lambda c, *_: c.subscribe([(topic, 1) for topic in topics])
        client.on_subscribe = lambda *_: self._subscribed.set()
        client.on_message = self._on_message
        client.connect("127.0.0.1", port)
        client.loop_start()
        self.client = client
        if not self._subscribed.wait(10):
            raise RuntimeError("MQTT subscription not acknowledged")

    def _on_message(self, _client, _userdata, message) -> None:
        with self._lock:
            self.messages.append((time.time(), message.topic, bytes(message.payload), bool(message.retain)))

    def on(self, topic: str) -> list[tuple[float, bytes]]:
        with self._lock:
            return [(t, payload) for t, name, payload, _ in self.messages if name == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def run_watch_timed(argv: list[str]) -> tuple[int, float, str, str]:
    """``facecam watch`` in this process: (exit code, wall time the video source started, stdout, stderr).

    The source's start is a little before its first frame is read, so delays measured from it
    are a little longer than the real ones (never shorter)."""
    import io

    from facecam.cli import main
    from facecam.sources import VideoSource

    started: list[float] = []
    original_start = VideoSource.start

    def timed_start(self):
        started.append(time.time())
        return original_start(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(VideoSource, "start", timed_start)
        stdout, stderr = io.StringIO(), io.StringIO()
        code = main(argv, stdout=stdout, stderr=stderr)
    return code, (started[0] if started else float("nan")), stdout.getvalue(), stderr.getvalue()


class Postgres:
    """A real PostgreSQL 16 + pgvector (the ``pgserver`` wheel) in ``folder``, reached by its Unix socket.

    ``url(database)`` is a libpq URL; ``new_database()`` makes an empty one (pgvector not created: the
    store does that); ``stop()`` and ``start()`` take the server down and up again (same socket, same data).
    As root, pgserver runs the server as its own system user, as PostgreSQL requires."""

    def __init__(self, folder: Path):
        import pgserver

        self.folder = Path(folder)
        self.server = pgserver.get_server(self.folder, cleanup_mode="stop")
        self._count = 0

    def url(self, database: str = "postgres") -> str:
        return self.server.get_uri(database)

    def new_database(self) -> str:
        """The URL of a new, empty database (a name of its own per call)."""
        import psycopg

        self._count += 1
        name = f"facecam_test_{os.getpid()}_{self._count}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')  # a name made here, not user input
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are cut, as in a real outage)."""
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def close(self) -> None:
        self.server.cleanup()


@pytest.fixture(scope="session")
def postgres() -> Postgres:
    """One real PostgreSQL server for the test session (stopped and deleted at the end). Its folder is a new
    one in the system's temporary folder, not pytest's: as root the server runs as pgserver's own user,
    which cannot enter pytest's owner-only folders; a short path also keeps the socket's name short."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="facecam-pg-"))
    server = Postgres(folder)
    yield server
    server.close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def db_url(postgres) -> str:
    """A URL to a new, empty database on the session's PostgreSQL."""
    return postgres.new_database()


@pytest.fixture
def late_db_url(postgres) -> str:
    """A URL to a new, empty database whose server is stopped when the test starts: the test starts it with
    ``postgres.start()`` when it wants the database to come up (a facecam started while its database is
    down). The server runs again after the test, whatever happened."""
    url = postgres.new_database()
    postgres.stop()
    try:
        yield url
    finally:
        postgres.start()
