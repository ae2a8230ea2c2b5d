"""The window's notification settings: the command line's ``--notify``, ``--mqtt``, ``--notify-on`` and
``--cooldown``, remembered in the settings file (``window.notify``).

::

    settings = NotifySettings.load()                  # {} in the file: no notifications
    notifier = settings.notifier()                    # facecam.sightings.live.build_notifier, or None
    settings.save()
    settings.describe()                               # for the status bar: never a password or a URL's path

The settings file is owner-only (0600, like the rest of it): an MQTT password given in the URL is
kept there, and shown nowhere else (the status bar and the logs name ``scheme://host:port`` only).
Qt-free (the dialog is :mod:`facecam.gui.notify_dialog`).
"""

from __future__ import annotations

import math
import urllib.parse
from dataclasses import dataclass

from facecam import config
from facecam.errors import FacecamError
from facecam.sightings.notify import DEFAULT_COOLDOWN_S, MqttTarget, NotifyRule, WebhookSink

SETTINGS_KEY = "notify"      # settings["window"]["notify"]


@dataclass(frozen=True)
class NotifySettings:
    """Where and when to notify. ``notify_on``: ``--notify-on`` values (``known``, ``unknown``, names;
    empty: every arrival). Validated on creation (FacecamError: one line that says what to fix)."""

    webhooks: tuple[str, ...] = ()
    mqtt: str | None = None
    notify_on: tuple[str, ...] = ()
    cooldown_s: float = DEFAULT_COOLDOWN_S

    def __post_init__(self) -> None:
        object.__setattr__(self, "webhooks", tuple(u.strip() for u in self.webhooks if u and u.strip()))
        object.__setattr__(self, "mqtt", (self.mqtt or "").strip() or None)
        object.__setattr__(self, "notify_on", tuple(w.strip() for w in self.notify_on if w and w.strip()))
        for url in self.webhooks:
            WebhookSink(url)                     # raises FacecamError for anything but http(s)://host...
        if self.mqtt is not None:
            MqttTarget.parse(self.mqtt)
        try:
            NotifyRule.parse(list(self.notify_on) or None)
        except ValueError as error:
            raise FacecamError(str(error)) from None
        if isinstance(self.cooldown_s, bool) or not isinstance(self.cooldown_s, (int, float)) \
                or not math.isfinite(self.cooldown_s) or self.cooldown_s < 0:
            raise FacecamError("cooldown: expected 0 or more seconds")
        object.__setattr__(self, "cooldown_s", float(self.cooldown_s))

    @property
    def enabled(self) -> bool:
        return bool(self.webhooks or self.mqtt)

    def notifier(self):
        """A running :class:`~facecam.sightings.notify.Notifier` (its threads start now), or None."""
        from facecam.sightings.live import build_notifier  # noqa: PLC0415

        return build_notifier(self.webhooks, self.mqtt, self.notify_on, self.cooldown_s)

    def describe(self) -> str:
        """A line for the status bar: the endpoints as ``scheme://host:port`` (no credentials, no token path)."""
        if not self.enabled:
            return "notifications off"
        where = [WebhookSink(url).describe() for url in self.webhooks]
        if self.mqtt:
            where.append(MqttTarget.parse(self.mqtt).describe())
        who = ", ".join(self.notify_on) if self.notify_on else "every arrival"
        return f"notifying {', '.join(where)} on {who} (cooldown {self.cooldown_s:g} s)"

    # ------------------------------------------------------------ the settings file
    def to_settings(self) -> dict:
        return {"webhooks": list(self.webhooks), "mqtt": self.mqtt, "notify_on": list(self.notify_on),
                "cooldown_s": self.cooldown_s}

    @classmethod
    def from_settings(cls, entry) -> "NotifySettings":
        """From ``window.notify``; a missing or unusable entry is no notifications (never raises)."""
        if not isinstance(entry, dict):
            return cls()
        try:
            return cls(webhooks=tuple(str(u) for u in entry.get("webhooks") or () if isinstance(u, str)),
                       mqtt=entry.get("mqtt") if isinstance(entry.get("mqtt"), str) else None,
                       notify_on=tuple(str(w) for w in entry.get("notify_on") or () if isinstance(w, str)),
                       cooldown_s=entry.get("cooldown_s", DEFAULT_COOLDOWN_S))
        except FacecamError:
            return cls()

    @classmethod
    def load(cls) -> "NotifySettings":
        return cls.from_settings(_saved_entry())

    @classmethod
    def saved_problem(cls) -> str | None:
        """One line when a saved entry exists but cannot be used (so the window notifies nobody), else None."""
        entry = _saved_entry()
        if entry is None:
            return None
        try:
            if not isinstance(entry, dict):
                raise FacecamError(f"expected an object, got {type(entry).__name__}")
            cls(**{key: tuple(entry[key]) if key in ("webhooks", "notify_on") else entry[key]
                   for key in ("webhooks", "mqtt", "notify_on", "cooldown_s") if key in entry})
        except (FacecamError, TypeError, ValueError) as error:
            return (f"the saved notification settings cannot be used ({error}); nothing is sent: set them again in "
                    "Tools > Notifications...")
        return None

    def save(self) -> None:
        """Remember in the settings file (atomic, 0600); the other settings are kept."""
        settings = config.load_settings()
        window = settings.get("window") if isinstance(settings.get("window"), dict) else {}
        settings["window"] = {**window, SETTINGS_KEY: self.to_settings()}
        config.save_settings(settings)

    @classmethod
    def from_args(cls, args) -> "NotifySettings | None":
        """The window's command line (``--notify``, ``--mqtt``, ``--notify-on``, ``--cooldown``, as ``watch``
        has them): when it names an endpoint, these settings for this run (not saved); else None (the saved
        settings count)."""
        if not (getattr(args, "notify", None) or getattr(args, "mqtt", None)):
            return None
        return cls(webhooks=tuple(args.notify or ()), mqtt=args.mqtt, notify_on=tuple(args.notify_on or ()),
                   cooldown_s=args.cooldown)


def _saved_entry():
    window = config.load_settings().get("window")
    return window.get(SETTINGS_KEY) if isinstance(window, dict) else None


def split_password(url: str | None) -> tuple[str, str]:
    """``(the URL without its password, the password)``: the dialog shows the password in a masked field."""
    if not url:
        return "", ""
    parsed = urllib.parse.urlsplit(url)
    if parsed.password is None:
        return url, ""
    user = parsed.username or ""
    host = parsed.netloc.rsplit("@", 1)[1]
    shown = urllib.parse.urlunsplit(parsed._replace(netloc=f"{user}@{host}" if user else host))
    return shown, urllib.parse.unquote(parsed.password)


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` put back (percent-encoded); unchanged when the password is empty."""
    url = url.strip()
    if not url or not password:
        return url
    parsed = urllib.parse.urlsplit(url)
    user = parsed.netloc.rsplit("@", 1)[0] if "@" in parsed.netloc else ""
    host = parsed.netloc.rsplit("@", 1)[1] if "@" in parsed.netloc else parsed.netloc
    user = user.split(":", 1)[0]
    return urllib.parse.urlunsplit(parsed._replace(
        netloc=f"{user}:{urllib.parse.quote(password, safe='')}@{host}"))
