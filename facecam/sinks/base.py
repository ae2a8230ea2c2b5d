"""What every event sink shares: the event, the :class:`Sink` protocol, the delivery error and the
registry entry (:class:`SinkKind`) that gives a sink its command-line option and its field in the
window's Notifications dialog (the registry itself: :data:`facecam.sinks.SINKS`)."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from importlib import import_module
from typing import ClassVar, Protocol

from facecam.sightings.model import Sighting

NOTIFY = "notify"        # an arrival the rule and the cooldown let through: what webhooks and MQTT get
VISIT_STAGES = ("arrived", "updated", "ended")   # a visit's every change (the recorder's stages): for presence
FORGET = "forget"        # a person was removed from the gallery: a sink drops what it published about them


class DeliveryError(Exception):
    """A send failed; ``final`` when retrying cannot help (the endpoint refused the event itself)."""

    def __init__(self, message: str, final: bool = False):
        super().__init__(message)
        self.final = final


@dataclass(frozen=True)
class Event:
    """One thing to send. ``stage``: :data:`NOTIFY` (the sighting's arrival and its JSON ``body``, built once
    for every sink), one of :data:`VISIT_STAGES` (the visit changed), or :data:`FORGET` (``person`` was
    removed; no sighting)."""

    sighting: Sighting | None
    body: bytes = b""
    stage: str = NOTIFY
    person: str | None = None

    @classmethod
    def of(cls, sighting: Sighting, stage: str = NOTIFY) -> "Event":
        body = json.dumps(sighting.event(), ensure_ascii=False).encode("utf-8") if stage == NOTIFY else b""
        return cls(sighting, body, stage)

    @classmethod
    def forget(cls, name: str) -> "Event":
        return cls(None, b"", FORGET, name)


class Sink(Protocol):
    """Where events go. ``stages``: the event stages it takes (:data:`NOTIFY`, :data:`VISIT_STAGES`,
    :data:`FORGET`); ``send`` raises :class:`DeliveryError`; ``describe`` never shows credentials."""

    stages: ClassVar[frozenset[str]]

    def send(self, event: Event) -> None: ...

    def describe(self) -> str: ...

    def close(self) -> None: ...


def public_url(url: urllib.parse.SplitResult, default_port: int) -> str:
    """``scheme://host:port``: how a sink is named in messages (no user, password, path or query)."""
    return f"{url.scheme}://{url.hostname}:{url.port or default_port}"


@dataclass(frozen=True)
class SinkKind:
    """A sink in the registry: its settings key, command-line option, help, the window's label and example,
    and ``factory`` (``"module:Class"``, imported when used) whose ``from_url(url)`` builds a running sink and
    ``describe_url(url)`` checks a URL (FacecamError, one line) and names it without credentials.
    ``many``: the option is repeatable (a list of URLs); ``env``: an environment variable giving the default."""

    key: str
    option: str
    metavar: str
    help: str
    label: str
    placeholder: str
    factory: str
    many: bool = False
    env: str | None = None

    @property
    def dest(self) -> str:
        """The option's attribute on the parsed arguments (``--notify`` -> ``notify``)."""
        return self.option.lstrip("-").replace("-", "_")

    def sink_class(self):
        module, name = self.factory.split(":")
        return getattr(import_module(module), name)

    def build(self, url: str) -> Sink:
        return self.sink_class().from_url(url)

    def describe(self, url: str) -> str:
        return self.sink_class().describe_url(url)
