"""Backing up and moving a gallery (``facecam people export`` / ``import``), and "what do you hold on me"
(``people export --name NAME``). Qt-free; no model is loaded but to store photos into a database.

**The archive** is one zip file (stdlib :mod:`zipfile`)::

    manifest.json                         format, facecam version, when, where from, the people, and the
                                          SHA-256 and size of every other member
    manifest.sha256                       the SHA-256 of manifest.json (a damaged or edited manifest is refused)
    people/<Name>/photos/<file>           the person's own photos (from a database: its face thumbnails)
    people/<Name>/learned/<file>          their learned crops (``known_faces/<Name>/.learned/``)
    subject/summary.json, visits.csv      with --name only: what facecam holds on them, readable
    subject/visits/<id>.jpg               ... each visit's snapshot from the sightings log
    subject/unknown_visits/<id>.jpg       ... the visits of unknown-face clusters later named as them

Per-person settings: facecam keeps none today beyond the photos and learned crops (each person's
``settings`` object in the manifest is where such things go, and is carried as it is).

**Embeddings are recomputed on import** (not carried): the archive holds no biometric template, works
whichever model the importer runs, and a folder import needs no model at all (the next ``index``, ``identify``,
``watch`` or the window embeds the photos, as for any new photo). Into a database (``--db``) each photo is
embedded now, by the model of the command, and stored as ``enroll --db`` stores one (face thumbnail + embedding).

**Import refuses, writing nothing** (one line, exit 1) a damaged archive (not a zip, truncated, a CRC or
checksum mismatch, the manifest changed, a member missing or unlisted) and a hostile one (a member name that is
absolute, holds ``..`` or a backslash, a link, a person name facecam's own rule refuses
(:func:`facecam.gallery.person_name_ok`), more than :data:`MAX_MEMBERS` members or :data:`MAX_TOTAL_BYTES`
unpacked, a member compressed more than :data:`MAX_RATIO` times): everything is read and checked before the
first byte is written. Then the files go to a temporary folder inside ``known_faces/.facecam`` and are moved
into place from there (a rename on the same disk); destination names are made from the checked person name and
:func:`facecam.gallery.safe_photo_stem`, never from a member's path. ``--merge`` (the default) adds the photos a
person does not have yet (same bytes: skipped); ``--replace`` first moves the person's folder to
``known_faces/.facecam/removed/`` (as the window's Remove does: nothing is lost), or in a database deletes
their photos.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import stat
import tempfile
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from facecam import __version__
from facecam.errors import FacecamError

FORMAT = "facecam-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
MAX_MEMBERS = 20_000
MAX_TOTAL_BYTES = 4 << 30        # 4 GiB unpacked in all
MAX_MANIFEST_BYTES = 16 << 20
# one member at most: the largest photo facecam reads (facecam.images.MAX_FILE_BYTES), as the manifest's
# members are read whole (each checked, then dropped) before anything is written
MAX_MEMBER_BYTES = 256 << 20
MAX_RATIO = 200                  # a member packed more than 200 times (zeros: a zip bomb); JPEGs pack ~1.01x
RATIO_FREE_BYTES = 1 << 20       # small members may pack well (JSON, CSV)
_CHUNK = 1 << 20


class ArchiveError(FacecamError):
    """An archive facecam refuses (damaged, tampered or hostile): one line, nothing written."""


@dataclass
class ArchivePerson:
    name: str
    photos: list[str] = field(default_factory=list)     # member names
    learned: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)


@dataclass
class ImportResult:
    """What an import did, per person: photos and learned crops added, already there, and replaced folders."""

    people: dict[str, dict] = field(default_factory=dict)
    mode: str = "merge"
    where: str = ""
    notes: list[str] = field(default_factory=list)

    def count(self, key: str) -> int:
        return sum(entry.get(key, 0) for entry in self.people.values())

    def text(self) -> str:
        return (f"imported {len(self.people)} person(s) into {self.where} ({self.mode}): {self.count('photos')} "
                f"photo(s) and {self.count('learned')} learned crop(s) added, {self.count('already')} already there")

    def as_json(self) -> dict:
        return {"mode": self.mode, "where": self.where, "people": self.people, "notes": self.notes}


# ---------------------------------------------------------------- writing an archive

class _Writer:
    """A zip being written to a temporary file beside ``path``, renamed into place when complete."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise FacecamError(f"{self.path} is a folder; give the archive's file name, e.g. gallery.zip")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix="." + self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        os.chmod(self.tmp, 0o600)   # faces are biometric data: the archive is owner-only
        self.zip = zipfile.ZipFile(self.tmp, "w", zipfile.ZIP_DEFLATED)
        self.members: dict[str, dict] = {}

    def add(self, name: str, data: bytes, packed: bool = True) -> str:
        if name in self.members:
            stem, dot, suffix = name.rpartition(".")
            n = 2
            while f"{stem}-{n}.{suffix}" in self.members:
                n += 1
            name = f"{stem}-{n}.{suffix}"
        info = zipfile.ZipInfo(name, time.localtime()[:6])
        info.external_attr = (stat.S_IFREG | 0o600) << 16
        info.compress_type = zipfile.ZIP_DEFLATED if packed else zipfile.ZIP_STORED
        self.zip.writestr(info, data)
        self.members[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        return name

    def finish(self, manifest: dict) -> None:
        manifest["members"] = dict(sorted(self.members.items()))
        text = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
        self.add(MANIFEST, text)
        self.add(MANIFEST_SUM, (hashlib.sha256(text).hexdigest() + "\n").encode("ascii"))
        self.zip.close()
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        try:
            self.zip.close()
        finally:
            Path(self.tmp).unlink(missing_ok=True)


def _photo_member(person: str, kind: str, filename: str) -> str:
    from facecam.gallery import safe_photo_stem  # noqa: PLC0415

    stem, suffix = os.path.splitext(filename)
    return f"people/{person}/{kind}/{safe_photo_stem(stem)}{suffix.lower() or '.jpg'}"


def folder_people(root: Path) -> dict[str, list[Path]]:
    """Each person of the known_faces folder ``root`` and their files (photos and learned crops), by name."""
    from facecam.gallery import scan_photos  # noqa: PLC0415

    people: dict[str, list[Path]] = {}
    for path, person in scan_photos(root)[0]:
        people.setdefault(person, []).append(path)
    return dict(sorted(people.items()))


def _add_folder_people(writer: _Writer, root: Path, only: str | None) -> list[ArchivePerson]:
    from facecam.gallery import is_learned  # noqa: PLC0415
    from facecam.sealed import unseal  # noqa: PLC0415

    out = []
    for person, files in folder_people(root).items():
        if only is not None and person != only:
            continue
        entry = ArchivePerson(person)
        for path in files:
            learned = is_learned(path)
            data = unseal(path.read_bytes(), str(path)) if learned else path.read_bytes()  # FACECAM_KEY: as JPEG
            member = writer.add(_photo_member(person, "learned" if learned else "photos", path.name), data,
                                packed=False)
            (entry.learned if learned else entry.photos).append(member)
        out.append(entry)
    return out


def _add_db_people(writer: _Writer, database, only: str | None) -> list[ArchivePerson]:
    out: dict[str, ArchivePerson] = {}
    for photo in database.gallery_photos(only):
        entry = out.setdefault(photo.person, ArchivePerson(photo.person))
        entry.photos.append(writer.add(_photo_member(photo.person, "photos", photo.file_name or f"{photo.id}.jpg"),
                                       photo.thumbnail, packed=False))
    return list(out.values())


def export_archive(path: Path, stores, name: str | None = None) -> dict:
    """Write the archive of the gallery of ``stores`` (:class:`facecam.stores.Stores`: its folder, or with a
    database the database's people), or with ``name`` of that person only with what facecam holds on them; the
    manifest (without its member list). FacecamError when there is nothing to export."""
    from facecam.gallery import check_person_name  # noqa: PLC0415

    if name is not None:
        name = check_person_name(name)
    writer = _Writer(path)
    try:
        if stores.shared:
            people = _add_db_people(writer, stores.database(), name)
        else:
            root = Path(stores.known_faces)
            if not root.is_dir():
                raise FacecamError(f"the known_faces folder {root} does not exist; check --known-faces")
            people = _add_folder_people(writer, root, name)
        subject = _add_subject(writer, stores, name, people) if name is not None else None
        if not people and subject is None:
            raise FacecamError(f"nobody is enrolled in {stores.where}; nothing to export")
        if name is not None and not people and not (subject["visits"] or subject["unknown_visits"]):
            raise FacecamError(f"facecam holds nothing on {name!r} in {stores.where}: no photos, learned crops or "
                               "visits (names are matched exactly; 'facecam sightings' lists the names seen)")
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "facecam_version": __version__,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "source": "database" if stores.shared else "folder", "subject": name,
                    "embeddings": "not included: recomputed on import by the model in use",
                    "people": [{"name": p.name, "photos": p.photos, "learned": p.learned, "settings": p.settings}
                               for p in people]}
        writer.finish(manifest)
    except BaseException:
        writer.abandon()
        raise
    manifest.pop("members", None)
    return manifest


# ---------------------------------------------------------------- "what do you hold on me"

_VISIT_FIELDS = ("id", "type", "name", "cluster", "source", "start", "end", "duration_s", "distance", "box",
                 "snapshot")


def _add_subject(writer: _Writer, stores, name: str, people: list[ArchivePerson]) -> dict:
    """The visits of ``name`` and the unknown visits merged into them, with their snapshots, and a summary."""
    from facecam.sightings.model import SightingQuery  # noqa: PLC0415
    from facecam.unknowns.merged import clusters_of  # noqa: PLC0415

    visits, unknown_visits = [], []
    log = stores.sighting_log() if stores.has_sightings() else None
    clusters = clusters_of(stores.known_faces, name)
    if log is not None:
        try:
            for folder, found in (("visits", log.query(SightingQuery(person=name, snapshots=True))),
                                  ("unknown_visits", [s for cluster in clusters for s in
                                                      log.query(SightingQuery(cluster=cluster, snapshots=True))])):
                rows = visits if folder == "visits" else unknown_visits
                for sighting in sorted(found, key=lambda s: s.started):
                    row = sighting.row()
                    row["snapshot"] = (writer.add(f"subject/{folder}/{sighting.id}.jpg", sighting.snapshot, False)
                                       if sighting.snapshot else None)
                    rows.append(row)
        finally:
            log.close()
    person = next((p for p in people if p.name == name), ArchivePerson(name))
    summary = {
        "name": name, "facecam_version": __version__, "from": stores.where,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "photos": person.photos, "learned_crops": person.learned,
        "visits": len(visits), "unknown_visits": len(unknown_visits), "merged_clusters": clusters,
        "first_seen": min((v["start"] for v in visits + unknown_visits), default=None),
        "last_seen": max((v["end"] for v in visits + unknown_visits), default=None),
        "what_this_is": ("Everything this facecam holds on this person: their photos, the face crops it learned, "
                         "every visit in its sightings log (times, camera, distance, snapshot), and the visits "
                         "it logged as an unknown face before the person was named. Face embeddings are "
                         "numbers computed from these photos; they are not included."),
        "visit_list": visits, "unknown_visit_list": unknown_visits,
    }
    writer.add("subject/summary.json", json.dumps(summary, ensure_ascii=False, indent=1).encode("utf-8"))
    table = io.StringIO()
    out = csv.DictWriter(table, fieldnames=_VISIT_FIELDS, extrasaction="ignore")
    out.writeheader()
    for row in visits + unknown_visits:
        out.writerow({**row, "box": " ".join(map(str, row["box"]))})
    writer.add("subject/visits.csv", table.getvalue().encode("utf-8"))
    return summary


# ---------------------------------------------------------------- reading and checking an archive

def _refuse(archive: Path, reason: str, advice: str = "use an archive written by 'facecam people export'") -> ArchiveError:
    return ArchiveError(f"cannot import {archive}: {reason}; nothing was written; {advice}")


def _safe_member_name(name: str) -> str | None:
    """Why a member name is refused, or None."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute or Windows path"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "a path with '..', '.' or an empty part"
    return None


class CheckedArchive:
    """An archive read and checked in full (see the module notes): its people, and the bytes of each member
    read on demand, checked again as they are read. Raise :class:`ArchiveError` at the first fault."""

    def __init__(self, path: Path, *, max_members: int = MAX_MEMBERS, max_total: int = MAX_TOTAL_BYTES,
                 max_ratio: float = MAX_RATIO):
        self.path = Path(path)
        try:
            self.zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise ArchiveError(f"cannot import {self.path}: no such file; check the path") from None
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise _refuse(self.path, f"it is not a readable zip archive ({error})") from None
        try:
            self._check(max_members, max_total, max_ratio)
        except BaseException:
            self.zip.close()
            raise

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> "CheckedArchive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check(self, max_members: int, max_total: int, max_ratio: float) -> None:
        infos = self.zip.infolist()
        if len(infos) > max_members:
            raise _refuse(self.path, f"it holds {len(infos)} members, more than the {max_members} allowed")
        seen: set[str] = set()
        total = 0
        for info in infos:
            reason = _safe_member_name(info.filename)
            if reason:
                raise _refuse(self.path, f"member {info.filename!r} is {reason}", "it may be hostile: do not use it")
            mode = info.external_attr >> 16
            if info.is_dir() or stat.S_IFMT(mode) not in (0, stat.S_IFREG):   # 0: written without a type (a file)
                raise _refuse(self.path, f"member {info.filename!r} is a link or a folder, not a file",
                              "it may be hostile: do not use it")
            if info.flag_bits & 0x1:
                raise _refuse(self.path, f"member {info.filename!r} is encrypted")
            if info.filename in seen:
                raise _refuse(self.path, f"member {info.filename!r} appears twice", "it may be hostile: do not use it")
            seen.add(info.filename)
            if info.file_size > MAX_MEMBER_BYTES:
                raise _refuse(self.path, f"member {info.filename!r} unpacks to {info.file_size} bytes, more than a "
                                         f"photo facecam reads ({MAX_MEMBER_BYTES})", "it may be hostile: do not use it")
            total += info.file_size
            if total > max_total:
                raise _refuse(self.path, f"it unpacks to more than {max_total} bytes (a zip bomb?)",
                              "it may be hostile: do not use it")
            if info.file_size > RATIO_FREE_BYTES and info.file_size > max_ratio * max(info.compress_size, 1):
                raise _refuse(self.path, f"member {info.filename!r} is packed {info.file_size // max(info.compress_size, 1)}"
                                         " times (a zip bomb?)", "it may be hostile: do not use it")
        self.max_total = max_total
        for required in (MANIFEST, MANIFEST_SUM):
            if required not in seen:
                raise _refuse(self.path, f"it has no {required}")
        text = self._read(MANIFEST, MAX_MANIFEST_BYTES)
        given = self._read(MANIFEST_SUM, 200).decode("ascii", "replace").strip()
        if hashlib.sha256(text).hexdigest() != given:
            raise _refuse(self.path, "manifest.json does not match its checksum (damaged or edited)",
                          "it may have been tampered with: export it again from the source")
        try:
            manifest = json.loads(text.decode("utf-8"))
        except ValueError:
            raise _refuse(self.path, "manifest.json is not valid JSON") from None
        self.manifest = manifest
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise _refuse(self.path, "it is not a facecam archive (manifest format)")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise _refuse(self.path, f"archive format {manifest.get('format_version')!r} is not one this facecam "
                                     f"{__version__} reads", "update facecam")
        members = manifest.get("members")
        if not isinstance(members, dict) or not all(
                isinstance(m, dict) and isinstance(m.get("sha256"), str) and isinstance(m.get("size"), int)
                for m in members.values()):
            raise _refuse(self.path, "manifest.json has no valid member list")
        self.members: dict[str, dict] = members
        listed, present = set(members), seen - {MANIFEST, MANIFEST_SUM}
        if listed - present:
            raise _refuse(self.path, f"member {sorted(listed - present)[0]!r} listed in the manifest is missing")
        if present - listed:
            raise _refuse(self.path, f"member {sorted(present - listed)[0]!r} is not in the manifest",
                          "it may have been tampered with: export it again from the source")
        self.people = self._people(manifest.get("people"))
        for name in sorted(listed):   # every byte checked before anything is written
            self.read(name)

    def _people(self, raw) -> list[ArchivePerson]:
        from facecam.gallery import person_name_ok  # noqa: PLC0415
        from facecam.images import is_image_name  # noqa: PLC0415

        if not isinstance(raw, list):
            raise _refuse(self.path, "manifest.json has no list of people")
        people, names = [], set()
        for entry in raw:
            if not isinstance(entry, dict):
                raise _refuse(self.path, "manifest.json has a person that is not an object")
            name = entry.get("name")
            reason = person_name_ok(name) if isinstance(name, str) else "it is not text"
            if reason is None and unicodedata.normalize("NFC", name) != name:
                reason = "it is not in Unicode normal form C"
            if reason:
                raise _refuse(self.path, f"person name {name!r} is refused ({reason})", "it may be hostile: do not use it")
            if name in names:
                raise _refuse(self.path, f"person {name!r} appears twice")
            names.add(name)
            person = ArchivePerson(name, settings=entry.get("settings") if isinstance(entry.get("settings"), dict)
                                   else {})
            for kind in ("photos", "learned"):
                files = entry.get(kind, [])
                if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
                    raise _refuse(self.path, f"person {name!r} has no valid list of {kind}")
                for member in files:
                    if member not in self.members:
                        raise _refuse(self.path, f"photo {member!r} of {name!r} is not a member of the archive")
                    if not is_image_name(PurePosixPath(member).name):
                        raise _refuse(self.path, f"photo {member!r} of {name!r} is not a photo file name")
                getattr(person, kind).extend(files)
            people.append(person)
        return people

    def _read(self, name: str, limit: int) -> bytes:
        """A member's bytes, at most ``limit`` (more: refused as a zip bomb), its CRC checked by zipfile."""
        chunks, size = [], 0
        try:
            with self.zip.open(name) as handle:
                while chunk := handle.read(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise _refuse(self.path, f"member {name!r} unpacks to more than it says (a zip bomb?)",
                                      "it may be hostile: do not use it")
                    chunks.append(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as error:
            raise _refuse(self.path, f"member {name!r} cannot be read ({error}): the archive is damaged",
                          "export it again from the source") from None
        except Exception as error:  # noqa: BLE001 - zlib.error and the like: a damaged archive, never a crash
            raise _refuse(self.path, f"member {name!r} cannot be read ({type(error).__name__}: {error}): the "
                                     "archive is damaged", "export it again from the source") from None
        return b"".join(chunks)

    def read(self, name: str) -> bytes:
        """A listed member's bytes, checked against the manifest's size and SHA-256."""
        expected = self.members[name]
        data = self._read(name, min(expected["size"], self.max_total, MAX_MEMBER_BYTES))
        if len(data) != expected["size"] or hashlib.sha256(data).hexdigest() != expected["sha256"]:
            raise _refuse(self.path, f"member {name!r} does not match its checksum (damaged or changed)",
                          "export it again from the source")
        return data


# ---------------------------------------------------------------- importing into a folder

def _file_name(member: str, used: set[str]) -> str:
    """The name a member's photo gets in the person's folder: made safe, unique among ``used``."""
    from facecam.gallery import safe_photo_stem  # noqa: PLC0415
    from facecam.images import is_image_name  # noqa: PLC0415

    stem, suffix = os.path.splitext(PurePosixPath(member).name)
    suffix = suffix.lower() if is_image_name("x" + suffix) else ".jpg"
    stem = safe_photo_stem(stem)
    name, n = stem + suffix, 1
    while name.lower() in used:
        n += 1
        name = f"{stem}-{n}{suffix}"
    used.add(name.lower())
    return name


def _folder_hashes(folder: Path) -> set[str]:
    """The SHA-256 of each file's content in ``folder`` (a learned crop sealed with FACECAM_KEY: of its JPEG, as the
    archive holds it; one that cannot be unsealed: of its bytes)."""
    from facecam.sealed import KeyProblem, unseal  # noqa: PLC0415

    if not folder.is_dir():
        return set()
    hashes = set()
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()   # read once: unsealed when sealed (unseal returns other bytes as they are)
            try:
                data = unseal(data, str(path))
            except KeyProblem:
                pass
            hashes.add(hashlib.sha256(data).hexdigest())
    return hashes


def import_into_folder(archive: CheckedArchive, root: Path, replace: bool = False) -> ImportResult:
    """Write the checked archive's people into the known_faces folder ``root`` (see the module notes)."""
    from facecam.fileutil import private_folder, sha256_of  # noqa: PLC0415
    from facecam.gallery import CACHE_DIR, LEARNED_DIR, person_folder  # noqa: PLC0415
    from facecam.images import is_image_name  # noqa: PLC0415
    from facecam.sealed import seal  # noqa: PLC0415

    root = Path(root)
    result = ImportResult(mode="replace" if replace else "merge", where=str(root))
    if root.is_dir():
        for person in archive.people:   # a folder that leaves root (a link) is refused before anything is written
            person_folder(root, person.name)
    root.mkdir(parents=True, exist_ok=True)
    private_folder(root / CACHE_DIR)
    staging = Path(tempfile.mkdtemp(prefix="importing-", dir=root / CACHE_DIR))
    try:
        plans = []
        for person in archive.people:
            folder = person_folder(root, person.name)   # proven inside root
            single = ([p for p in root.iterdir() if p.is_file() and p.stem == person.name and is_image_name(p.name)]
                      if not folder.exists() else [])
            have = set() if replace else _folder_hashes(folder) | {sha256_of(p) for p in single}
            stage = staging / f"{len(plans)}"
            private_folder(stage)
            (stage / LEARNED_DIR).mkdir(mode=0o700)
            counts = {"photos": 0, "learned": 0, "already": 0}
            used = {p.name.lower() for p in folder.iterdir()} if folder.is_dir() and not replace else set()
            learned_used = ({p.name.lower() for p in (folder / LEARNED_DIR).iterdir()}
                            if (folder / LEARNED_DIR).is_dir() and not replace else set())
            for kind, members in (("photos", person.photos), ("learned", person.learned)):
                for member in members:
                    data = archive.read(member)
                    digest = hashlib.sha256(data).hexdigest()
                    if digest in have:
                        counts["already"] += 1
                        continue
                    have.add(digest)
                    target = (stage / _file_name(member, used) if kind == "photos"
                              else stage / LEARNED_DIR / _file_name(member, learned_used))
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644 if kind == "photos" else 0o600)
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(data if kind == "photos" else seal(data))   # FACECAM_KEY: as learn.py
                        handle.flush()
                        os.fsync(handle.fileno())
                    counts[kind] += 1
            plans.append((person, folder, single, stage, counts))
        for person, folder, single, stage, counts in plans:   # everything staged: move into place
            if replace and (folder.exists() or single):
                removed = root / CACHE_DIR / "removed"
                removed.mkdir(parents=True, exist_ok=True)
                backup = Path(tempfile.mkdtemp(prefix=f"{person.name}-{time.strftime('%Y%m%d-%H%M%S')}-import-",
                                               dir=removed))   # a new folder each time, owner-only
                for source in ([folder] if folder.exists() else single):
                    os.replace(source, backup / source.name)
                counts["replaced"] = str(backup)
            if not any((stage / LEARNED_DIR).iterdir()):
                (stage / LEARNED_DIR).rmdir()
            os.chmod(stage, 0o755)
            try:
                os.mkdir(folder)   # a new person (or a folder made meanwhile: merged into, never overwritten)
            except FileExistsError:
                pass
            _move_into(stage, folder)
            result.people[person.name] = counts
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _move_into(stage: Path, folder: Path) -> None:
    """Move the staged files into an existing person folder, never over a file (a name taken: -2, -3...)."""
    from facecam.fileutil import private_folder  # noqa: PLC0415
    from facecam.gallery import LEARNED_DIR  # noqa: PLC0415

    for source in sorted(stage.rglob("*")):
        if not source.is_file():
            continue
        relative = source.relative_to(stage)
        destination_folder = folder / relative.parent
        if relative.parent.name == LEARNED_DIR:
            private_folder(destination_folder)
        stem, suffix = os.path.splitext(relative.name)
        for n in range(1, 100000):
            target = destination_folder / (relative.name if n == 1 else f"{stem}-{n}{suffix}")
            try:
                os.link(source, target)
            except FileExistsError:
                continue
            break
        source.unlink()


# ---------------------------------------------------------------- importing into a database

def import_into_database(archive: CheckedArchive, database, embed_photo: Callable[[Path], object],
                         model: str, version: str, replace: bool = False, where: str = "the database",
                         progress: Callable[[int, int, str], None] | None = None) -> ImportResult:
    """Embed each photo of the checked archive (``embed_photo``, the model of the command) and store it as
    ``enroll --db`` does (face thumbnail + embedding). All photos are embedded before the first is stored; one
    without a face is passed over and said. Learned crops stay out: the database keeps none (said)."""
    from facecam.db.gallery import face_thumbnail  # noqa: PLC0415
    from facecam.db.postgres import NewEmbedding  # noqa: PLC0415
    from facecam.fileutil import private_folder  # noqa: PLC0415
    from facecam.images import read_image  # noqa: PLC0415

    result = ImportResult(mode="replace" if replace else "merge", where=where)
    ready = []   # (person, sha, file name, thumbnail, NewEmbedding)
    total = sum(len(p.photos) for p in archive.people)
    done = 0
    with tempfile.TemporaryDirectory(prefix="facecam-import-") as folder:
        private_folder(Path(folder))
        for person in archive.people:
            counts = result.people.setdefault(person.name, {"photos": 0, "learned": 0, "already": 0, "no_face": 0})
            used: set[str] = set()
            for member in person.photos:
                data = archive.read(member)
                name = _file_name(member, used)
                path = Path(folder) / f"{done}{Path(name).suffix}"
                path.write_bytes(data)
                try:
                    embedded = embed_photo(path)
                    if embedded.faces == 0 or embedded.embedding is None:
                        counts["no_face"] += 1
                        result.notes.append(f"{person.name}/{name}: no face found; not stored")
                        continue
                    thumbnail, box = face_thumbnail(read_image(path), embedded.box)
                except FacecamError as error:
                    counts["no_face"] += 1
                    result.notes.append(f"{person.name}/{name}: {error}; not stored")
                    continue
                finally:
                    path.unlink(missing_ok=True)
                    done += 1
                    if progress is not None:
                        progress(done, total, f"{person.name}/{name}")
                ready.append((person.name, hashlib.sha256(data).hexdigest(), name, thumbnail,
                              NewEmbedding(model, version, embedded.faces, box, embedded.embedding)))
            if person.learned:
                result.notes.append(f"{person.name}: {len(person.learned)} learned crop(s) not imported (the database "
                                    "keeps no learned crops)")
    kept: dict[str, list[int]] = {person.name: [] for person in archive.people}
    for person, sha, name, thumbnail, embedding in ready:
        photo_id, new = database.add_photo(person, sha, name, thumbnail, embedding)
        kept[person].append(photo_id)
        result.people[person]["photos" if new else "already"] += 1
    if replace:   # only once the archive's photos are stored: a failure before this loses nothing
        for person, ids in kept.items():
            if not ids:   # none of the archive's photos of them could be stored: theirs stay
                result.notes.append(f"{person}: no photo of the archive could be stored; their photos are kept")
                continue
            removed = database.drop_other_photos(person, ids)
            if removed:
                result.people[person]["replaced"] = removed
    return result


# ---------------------------------------------------------------- the commands (facecam people export / import)

def add_export_options(parser) -> None:
    parser.add_argument("archive", type=Path, metavar="ARCHIVE", help="the archive to write (a .zip file)")
    parser.add_argument("--name", metavar="NAME", help="only this person, with everything facecam holds on them "
                        "(photos, learned crops, visits and their snapshots, unknown faces named as them)")


def add_import_options(parser) -> None:
    parser.add_argument("archive", type=Path, metavar="ARCHIVE", help="an archive written by 'facecam people export'")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--merge", dest="replace", action="store_false",
                      help="add the photos each person does not have yet (the default)")
    mode.add_argument("--replace", dest="replace", action="store_true",
                      help="each person in the archive gets exactly the archive's photos (their folder is moved to "
                           "known_faces/.facecam/removed/ first; in a database their photos are deleted)")
    parser.set_defaults(replace=False)


def run_export(session, args, out) -> int:
    manifest = export_archive(args.archive, session.stores, args.name)
    people = manifest["people"]
    photos = sum(len(p["photos"]) for p in people)
    learned = sum(len(p["learned"]) for p in people)
    out.result({"archive": str(args.archive), "people": [p["name"] for p in people], "photos": photos,
                "learned": learned, "subject": manifest["subject"]},
               f"wrote {args.archive}: {len(people)} person(s), {photos} photo(s), {learned} learned crop(s)"
               + (f"; everything held on {args.name} (see subject/summary.json inside)" if args.name else ""))
    return 0


def run_import(session, args, out) -> int:
    with CheckedArchive(args.archive) as archive:   # everything checked before anything is written
        if session.db_url:
            from facecam.console import Progress  # noqa: PLC0415
            from facecam.db.gallery import db_version  # noqa: PLC0415

            database = session.store()   # a server that does not answer is said before any model loads
            recognizer = session.recognizer()
            result = import_into_database(archive, database, recognizer.embed_photo,
                                          *db_version(recognizer), replace=args.replace, where=session.gallery_name,
                                          progress=Progress("embedding the archive's photos", out.stderr))
        else:
            if session.stores.read_only:
                raise FacecamError(f"{args.known_faces} is read-only; import into a folder you may write "
                                   "(--known-faces) or into a database (--db)")
            result = import_into_folder(archive, Path(args.known_faces), replace=args.replace)
    for note in result.notes:
        out.message(f"facecam: note: {note}")
    out.result(result.as_json(), result.text())
    return 0

