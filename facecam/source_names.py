"""A stream address without its secrets: the string rules behind :func:`facecam.sources.display_name`.

Standard library only (no OpenCV), so the stores' migrations and the PostgreSQL schema can use them::

    redact_url("rtsp://admin:pw@cam:554/live?channel=1&token=abc")   # "rtsp://cam:554/live?channel=1"
    scrub("cannot open rtsp://admin:pw@cam:554/live: 401", url)       # the address named, the password gone
    checkpoint(db, redact_stored_names(db, "sightings"))              # a migration of rows written before

A source is named once, where it is opened (:func:`facecam.sources.display_name`, ``VideoSource.name``);
these rules make the name of a stream's address, and clean an old row or a message that still holds one.
"""

from __future__ import annotations

import re

# A stream address's display name is these substitutions in order (the same regular expressions run in Python and,
# through redaction_sql, in PostgreSQL, so a migration names old rows exactly as facecam names new ones): the user
# and password ("user:pass@", up to the last "@" before the path), the fragment, then each query parameter whose
# key looks like a secret (token=, access_token=, key=, apikey=, password=, pwd=, auth=, sig=, signature=, secret=,
# session=, user=, login=, X-Amz-Credential=...): those after the first, then the first. A harmless parameter
# that looks like one (keyframe=) goes too: a shorter name is the price of never showing a secret.
SECRET_KEY = r"[^=&/?]*(?:token|key|pass|pwd|auth|sig|secret|credential|session|user|login)[^=&/?]*"
NAME_STEPS: tuple[tuple[str, str, bool], ...] = (  # (pattern, replacement, every match), case-insensitive
    (r"^([a-z][a-z0-9+.-]*://)[^/]*@", r"\1", False),
    (r"#.*$", "", False),
    (rf"&{SECRET_KEY}(=[^&]*)?", "", True),
    (rf"\?{SECRET_KEY}(=[^&]*)?&", "?", False),
    (rf"\?{SECRET_KEY}(=[^&]*)?$", "", False),
)
_NAME_STEPS = tuple((re.compile(pattern, re.IGNORECASE), replacement, every)
                    for pattern, replacement, every in NAME_STEPS)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def is_address(text: str) -> bool:
    """True for ``scheme://...`` (a stream's address, or a ``file://`` one)."""
    return _SCHEME.match(str(text).strip()) is not None


def redact_url(url: str) -> str:
    """A stream address without its user, password, fragment and secret query parameters (:data:`NAME_STEPS`);
    text that is not an address (``front door``, ``clip.mp4``) comes back as it was."""
    original = str(url).strip()
    if not is_address(original):
        return original
    text = original
    for pattern, replacement, every in _NAME_STEPS:
        text = pattern.sub(replacement, text, count=0 if every else 1)
    password = _password(original)
    if password and password in text:  # an address too odd to take apart (its host holds the password too)
        text = _SCHEME.match(text).group(0) + "***"
    return text


def _password(url: str) -> str:
    """The password in ``url``'s "user:password@" ("" when none)."""
    head = _SCHEME.match(url)
    authority = url[head.end():].split("/", 1)[0] if head else ""
    return authority.rsplit("@", 1)[0].partition(":")[2] if "@" in authority else ""


def _secrets(url: str) -> list[str]:
    """What of ``url`` must never be shown: its "user:password", password, user, secret query values and fragment
    (longest first, so a whole secret is replaced before a shorter one inside it)."""
    head = _SCHEME.match(url)
    if head is None:
        return []
    rest = url[head.end():]
    authority = rest.split("/", 1)[0]
    found = []
    if "@" in authority:
        userinfo = authority.rsplit("@", 1)[0]
        user, _, password = userinfo.partition(":")
        found += [userinfo, password, user if len(user) >= 3 else ""]
    query, _, fragment = rest.partition("?")[2].partition("#")
    found += [value for key, _, value in (item.partition("=") for item in query.split("&"))
              if re.fullmatch(SECRET_KEY, key, re.IGNORECASE)] + [fragment]
    return sorted({s for s in found if s}, key=len, reverse=True)


def scrub(text: str, url: str | None) -> str:
    """``text`` (a backend's error, a library's message) with the address ``url`` replaced by its display name and
    each of its secrets (password, user, secret query values) by ``***``."""
    text = str(text)
    url = str(url).strip() if url else ""
    if not is_address(url):
        return text
    text = text.replace(url, redact_url(url))
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


def redaction_sql(column: str) -> str:
    """A PostgreSQL expression giving :func:`redact_url` of ``column`` (the same :data:`NAME_STEPS`), for a
    migration. The patterns are escape strings (``E'...'``): the same whatever ``standard_conforming_strings`` is."""
    def literal(text: str) -> str:
        return "E'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    expression = column
    for pattern, replacement, every in NAME_STEPS:
        expression = (f"regexp_replace({expression}, {literal(pattern)}, {literal(replacement)}, "
                      f"'{'gi' if every else 'i'}')")
    return expression


def redact_stored_names(db, table: str, column: str = "source") -> int:
    """Clean the source names in ``table`` that still hold a password or secret (rows an older facecam wrote with
    the whole ``--source`` address): a migration step of the SQLite stores. ``db`` is a sqlite3 connection inside
    the caller's write transaction (``table`` and ``column`` are names from the code). ``secure_delete`` is turned
    on so the old text is overwritten, not left in a free part of a page; after committing, the caller calls
    :func:`checkpoint` so the database file itself holds the clean pages. How many rows changed."""
    changed = 0
    db.execute("PRAGMA secure_delete = ON")
    names = db.execute(f"SELECT DISTINCT {column} FROM {table} WHERE {column} LIKE '%://%'").fetchall()
    for (old,) in names:
        new = redact_url(old)
        if new != old:
            changed += db.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (new, old)).rowcount
    return changed


def checkpoint(db, changed: int) -> None:
    """After :func:`redact_stored_names` changed rows (and its transaction committed): copy the write-ahead log into
    the database file and empty it, so no file keeps an old page with a password."""
    if changed:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
