"""The window's notification settings: the command line's sink options (``--notify``, ``--mqtt``,
``--homeassistant``: the registry :data:`facecam.sinks.SINKS`), ``--notify-on`` and ``--cooldown``,
remembered in the settings file (``window.notify``).

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
from typing import Mapping

from facecam import config
from facecam.errors import FacecamError
from facecam.sightings.notify import DEFAULT_COOLDOWN_S, NotifyRule
from facecam.sinks import SINKS, check_urls, urls_from_args

SETTINGS_KEY = "notify"      # settings["window"]["notify"]


class NotifySettings:
    """Where and when to notify: the URLs of each registered sink (:data:`facecam.sinks.SINKS`, given by
    its key: ``webhooks=(...)``, ``mqtt=...``, ``homeassistant=...``, and read back as attributes of the same
    names: a tuple for a repeatable sink, else a URL or None), ``notify_on`` (``--notify-on`` values:
    ``known``, ``unknown``, names; empty: every arrival) and ``cooldown_s``. Immutable; validated on creation
    (FacecamError: one line that says what to fix)."""

    __slots__ = ("urls", "notify_on", "cooldown_s")

    def __init__(self, *, notify_on=(), cooldown_s: float = DEFAULT_COOLDOWN_S,
                 urls: Mapping[str, tuple[str, ...]] | None = None, **by_sink):
        given = {**(urls or {}), **by_sink}
        unknown = sorted(set(given) - set(SINKS))
        if unknown:
            raise TypeError(f"NotifySettings: no event sink called {unknown[0]!r}")
        normal = {}
        for kind in SINKS.values():
            value = given.get(kind.key)
            values = (value,) if isinstance(value, str) else tuple(value or ())
            values = tuple(u.strip() for u in values if isinstance(u, str) and u.strip())
            if len(values) > 1 and not kind.many:
                raise FacecamError(f"{kind.option}: one URL only")
            normal[kind.key] = values
        check_urls(normal)                       # FacecamError for anything a sink does not take
        object.__setattr__(self, "urls", normal)
        object.__setattr__(self, "notify_on", tuple(w.strip() for w in notify_on if w and w.strip()))
        try:
            NotifyRule.parse(list(self.notify_on) or None)
        except ValueError as error:
            raise FacecamError(str(error)) from None
        if isinstance(cooldown_s, bool) or not isinstance(cooldown_s, (int, float)) \
                or not math.isfinite(cooldown_s) or cooldown_s < 0:
            raise FacecamError("cooldown: expected 0 or more seconds")
        object.__setattr__(self, "cooldown_s", float(cooldown_s))

    def __getattr__(self, name: str):
        kind = SINKS.get(name)
        if kind is None or name.startswith("_"):
            raise AttributeError(name)
        values = object.__getattribute__(self, "urls")[name]
        return values if kind.many else (values[0] if values else None)

    def __setattr__(self, name, value):
        raise AttributeError("NotifySettings is immutable")

    def _key(self) -> tuple:
        return tuple(self.urls.items()), self.notify_on, self.cooldown_s

    def __eq__(self, other) -> bool:
        return isinstance(other, NotifySettings) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:   # never a URL: they may hold a password
        return f"NotifySettings({self.describe()!r})"

    @property
    def enabled(self) -> bool:
        return any(self.urls.values())

    def notifier(self):
        """A running :class:`~facecam.sightings.notify.Notifier` (its threads start now), or None."""
        from facecam.sightings.live import build_notifier  # noqa: PLC0415

        return build_notifier(self.urls, self.notify_on, self.cooldown_s)

    def describe(self) -> str:
        """A line for the status bar: the endpoints as ``scheme://host:port`` (no credentials, no token path)."""
        if not self.enabled:
            return "notifications off"
        who = ", ".join(self.notify_on) if self.notify_on else "every arrival"
        return f"notifying {', '.join(check_urls(self.urls))} on {who} (cooldown {self.cooldown_s:g} s)"

    # ------------------------------------------------------------ the settings file
    def to_settings(self) -> dict:
        return {**{key: list(self.urls[key]) if kind.many else getattr(self, key) for key, kind in SINKS.items()},
                "notify_on": list(self.notify_on), "cooldown_s": self.cooldown_s}

    @classmethod
    def from_settings(cls, entry) -> "NotifySettings":
        """From ``window.notify``; a missing or unusable entry is no notifications (never raises)."""
        if not isinstance(entry, dict):
            return cls()
        try:
            return cls(urls={key: _strings(entry.get(key)) for key in SINKS},
                       notify_on=_strings(entry.get("notify_on")),
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
            cls(urls={key: entry[key] for key in SINKS if entry.get(key) is not None},
                **{key: entry[key] for key in ("notify_on", "cooldown_s") if key in entry})
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
        """The window's command line (each sink's option, ``--notify-on``, ``--cooldown``, as ``watch`` has
        them): when it names an endpoint, these settings for this run (not saved); else None (the saved
        settings count)."""
        urls = urls_from_args(args)
        if not any(urls.values()):
            return None
        return cls(urls=urls, notify_on=tuple(args.notify_on or ()), cooldown_s=args.cooldown)


def _strings(value) -> tuple[str, ...]:
    """A saved value as URLs or words: a string, or the strings of a list (anything else: none)."""
    if isinstance(value, str):
        return (value,)
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


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
