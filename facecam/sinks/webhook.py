"""The webhook sink: an HTTP POST of each arrival's JSON (``--notify URL``, repeatable)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from facecam.errors import FacecamError
from facecam.sinks.base import NOTIFY, DeliveryError, Event, public_url


class WebhookSink:
    """HTTP POST of the event's JSON to ``url`` (http or https), ``timeout_s`` per attempt."""

    stages = frozenset({NOTIFY})

    def __init__(self, url: str, timeout_s: float = 5.0):
        self.url, self.timeout_s = url, float(timeout_s)
        self._name = self.describe_url(url)

    @classmethod
    def from_url(cls, url: str) -> "WebhookSink":
        return cls(url)

    @staticmethod
    def describe_url(url: str) -> str:
        """``scheme://host:port`` of an http(s) URL (its path and query often carry a token); FacecamError else."""
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise FacecamError("--notify: expected an http:// or https:// URL with a host")
        try:
            parsed.port
        except ValueError:
            raise FacecamError("--notify: the port is not a number between 1 and 65535") from None
        return public_url(parsed, 443 if parsed.scheme == "https" else 80)

    def describe(self) -> str:
        return self._name

    def send(self, event: Event) -> None:
        request = urllib.request.Request(self.url, data=event.body, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "facecam"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read(65536)
        except urllib.error.HTTPError as error:
            raise DeliveryError(f"HTTP {error.code} from {self._name}",
                                final=400 <= error.code < 500 and error.code not in (408, 429)) from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise DeliveryError(f"{self._name}: {type(reason).__name__ if not str(reason) else reason}") from None

    def close(self) -> None:
        pass
