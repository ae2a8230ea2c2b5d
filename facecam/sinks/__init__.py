"""Event sinks: where arrivals and visits are sent. One registry, :data:`SINKS`; the command line's options
(:func:`facecam.sightings.live.add_live_options`), the window's Notifications dialog and its saved settings
(:mod:`facecam.gui.notify_settings`) and :func:`facecam.sightings.live.build_notifier` read it.

A new sink is a module with a class that has ``stages``, ``from_url``, ``describe_url``, ``describe``,
``send`` and ``close`` (:class:`facecam.sinks.base.Sink`), plus one entry here. The rules, the cooldown,
the queues, threads and retries are the notifier's (:class:`facecam.sightings.notify.Notifier`), not the sink's.

::

    urls = urls_from_args(args)                     # {"webhooks": (...), "mqtt": (...), "homeassistant": (...)}
    sinks = build_sinks(urls)                       # running sinks (their connections start now)
"""

from __future__ import annotations

import os
from typing import Mapping

from facecam.sinks.base import Sink, SinkKind

SINKS: dict[str, SinkKind] = {kind.key: kind for kind in (
    SinkKind("webhooks", "--notify", "URL", "POST each arrival as JSON to this http(s) URL (repeatable)",
             "Webhooks (POST JSON):", "http://homeassistant.local:8123/api/webhook/facecam-door  (one URL a line)",
             "facecam.sinks.webhook:WebhookSink", many=True),
    SinkKind("mqtt", "--mqtt", "URL", "publish arrivals to mqtt://[user:pass@]host[:port]/prefix (or FACECAM_MQTT)",
             "MQTT broker:", "mqtt://user@homeassistant.local:1883/facecam", "facecam.sinks.mqtt:MqttSink",
             env="FACECAM_MQTT"),
    SinkKind("homeassistant", "--homeassistant", "URL",
             "Home Assistant MQTT discovery on the broker mqtt://[user:pass@]host[:port][/discovery_prefix] "
             "(default prefix homeassistant): a sensor per person and per camera, an unknown-person event "
             "(or FACECAM_HOMEASSISTANT)", "Home Assistant (MQTT):", "mqtt://user@homeassistant.local:1883",
             "facecam.sinks.homeassistant:HomeAssistantSink", env="FACECAM_HOMEASSISTANT"),
)}


def env_default(kind: SinkKind) -> str | None:
    return (os.environ.get(kind.env) or None) if kind.env else None


def add_sink_options(group) -> None:
    """Each registered sink's option (``--notify``, ``--mqtt``, ``--homeassistant``...) on a parser or group."""
    for kind in SINKS.values():
        group.add_argument(kind.option, metavar=kind.metavar, help=kind.help,
                           **({"action": "append"} if kind.many else {"default": env_default(kind)}))


def urls_from_args(args) -> dict[str, tuple[str, ...]]:
    """Each registered sink's URLs from parsed options (``--notify``, ``--mqtt``, ...); absent options: none."""
    urls = {}
    for kind in SINKS.values():
        value = getattr(args, kind.dest, None)
        urls[kind.key] = tuple(value or ()) if kind.many else ((value,) if value else ())
    return urls


def check_urls(urls: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Every URL named without credentials (``scheme://host:port...``); FacecamError (one line) on a bad one
    or an unknown sink."""
    from facecam.errors import FacecamError  # noqa: PLC0415

    unknown = sorted(set(urls) - set(SINKS))
    if unknown:
        raise FacecamError(f"no event sink called {unknown[0]!r}; expected one of {', '.join(SINKS)}")
    return [SINKS[key].describe(url) for key, values in urls.items() for url in values]


def build_sinks(urls: Mapping[str, tuple[str, ...]]) -> list[Sink]:
    """Running sinks for these URLs (checked first, so a bad one starts nothing)."""
    check_urls(urls)
    return [SINKS[key].build(url) for key, values in urls.items() for url in values]
