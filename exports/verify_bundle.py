"""Checking a case file with nothing but the bundle itself.

Nothing in the ZIP is trusted: members are only read, never extracted, so a
hostile name ("../x", "/etc/x") cannot write anywhere; every read is bounded by
the size the manifest states, so a member that inflates beyond it is caught
without being read whole. Each failure names the file it is about.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from exports import manifest
from exports.signing import fingerprint as fingerprint_of

_CHUNK = 1 << 20
#: The small files read whole (manifest, sums, key, signature) may not be larger.
_SMALL_LIMIT = 256 * 1024 * 1024
_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError,
                RuntimeError, ValueError)


@dataclass
class BundleReport:
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    fingerprint: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    def lines(self) -> list[str]:
        return [f"OK   {p}" for p in self.passed] + [f"FAIL {f}" for f in self.failed]


def _unsafe(name: str) -> bool:
    parts = name.split("/")
    return (name.startswith("/") or "\\" in name or ".." in parts or ":" in parts[0]
            or any(ord(c) < 32 for c in name))


class _Reader:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.infos: dict[str, zipfile.ZipInfo] = {}
        self.duplicates: set[str] = set()
        for info in archive.infolist():
            if info.filename in self.infos:
                self.duplicates.add(info.filename)
            self.infos[info.filename] = info
        self.hashes: dict[str, tuple[int, str] | str] = {}

    def digest(self, name: str, limit: int) -> tuple[int, str] | str:
        """(size, sha256), or why the member could not be read; at most ``limit`` + 1 bytes."""
        if name in self.hashes:
            return self.hashes[name]
        info = self.infos.get(name)
        if info is None:
            return "missing"
        digest = hashlib.sha256()
        size = 0
        try:
            with self.archive.open(info) as stream:
                while size <= limit and (chunk := stream.read(min(_CHUNK, limit + 1 - size))):
                    digest.update(chunk)
                    size += len(chunk)
        except _READ_ERRORS as exc:
            result: tuple[int, str] | str = f"unreadable in the ZIP ({exc})"
        else:
            result = (size, digest.hexdigest()) if size <= limit else f"larger than {limit} bytes"
        self.hashes[name] = result
        return result

    def small(self, name: str) -> bytes | str:
        info = self.infos.get(name)
        if info is None:
            return "missing"
        if info.file_size > _SMALL_LIMIT:
            return f"larger than {_SMALL_LIMIT} bytes"
        try:
            with self.archive.open(info) as stream:
                data = stream.read(_SMALL_LIMIT + 1)
        except _READ_ERRORS as exc:
            return f"unreadable in the ZIP ({exc})"
        if len(data) > _SMALL_LIMIT:
            return f"larger than {_SMALL_LIMIT} bytes"
        self.hashes[name] = (len(data), hashlib.sha256(data).hexdigest())
        return data


def verify_bundle(path: Path, expected_fingerprint: str | None = None) -> BundleReport:
    report = BundleReport()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        report.failed.append(f"{path.name}: not a readable ZIP ({exc})")
        return report
    with archive:
        reader = _Reader(archive)
        for name in sorted(reader.duplicates):
            report.failed.append(f"{name}: appears more than once in the ZIP")
        for name in sorted(n for n in reader.infos if _unsafe(n)):
            report.failed.append(f"{name!r}: unsafe member name")
        files = _manifest(reader, report)
        signed = reader.small(manifest.MANIFEST)
        if isinstance(signed, bytes):
            _signature(reader, signed, files, report, expected_fingerprint)
        if files is not None:
            _files(reader, files, report)
        _sums(reader, report)
    return report


def _manifest(reader: _Reader, report: BundleReport) -> list[dict[str, Any]] | None:
    data = reader.small(manifest.MANIFEST)
    if isinstance(data, str):
        report.failed.append(f"{manifest.MANIFEST}: {data}")
        return None
    try:
        body = json.loads(data)
        files = body["files"]
        if not isinstance(files, list) or not all(
                isinstance(f, dict) and isinstance(f.get("path"), str)
                and isinstance(f.get("size"), int) and isinstance(f.get("sha256"), str)
                for f in files):
            raise ValueError("files must be a list of {path, size, sha256}")
    except (ValueError, KeyError, TypeError) as exc:
        report.failed.append(f"{manifest.MANIFEST}: not a Conduct manifest ({exc})")
        return None
    return files


def _files(reader: _Reader, files: list[dict[str, Any]], report: BundleReport) -> None:
    listed = set()
    bad = 0
    for entry in files:
        name = entry["path"]
        listed.add(name)
        found = reader.digest(name, max(entry["size"], 0))
        if isinstance(found, str):
            report.failed.append(f"{name}: {found}")
            bad += 1
        elif found[0] != entry["size"]:
            report.failed.append(f"{name}: size {found[0]} differs from manifest.json "
                                 f"({entry['size']})")
            bad += 1
        elif found[1] != entry["sha256"]:
            report.failed.append(f"{name}: SHA-256 differs from manifest.json")
            bad += 1
    for name in sorted(set(reader.infos) - listed - manifest.UNLISTED):
        report.failed.append(f"{name}: in the ZIP but not listed in manifest.json")
    if not bad:
        report.passed.append(f"{len(files)} files match manifest.json (size and SHA-256)")


def _sums(reader: _Reader, report: BundleReport) -> None:
    data = reader.small(manifest.SUMS)
    if isinstance(data, str):
        report.failed.append(f"{manifest.SUMS}: {data}")
        return
    sums: dict[str, str] = {}
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        match = _SUM_LINE.match(line)
        if match is None:
            report.failed.append(f"{manifest.SUMS}: line {number} is not '<sha256>  <file>'")
            continue
        sums[match.group(2)] = match.group(1)
    bad = 0
    for name, expected in sorted(sums.items()):
        found = reader.digest(name, reader.infos[name].file_size if name in reader.infos else 0)
        if isinstance(found, str):
            report.failed.append(f"{name}: {found} (listed in {manifest.SUMS})")
            bad += 1
        elif found[1] != expected:
            report.failed.append(f"{name}: SHA-256 differs from {manifest.SUMS}")
            bad += 1
    for name in sorted(set(reader.infos) - set(sums) - {manifest.SUMS}):
        report.failed.append(f"{name}: not listed in {manifest.SUMS}")
        bad += 1
    if not bad:
        report.passed.append(f"{manifest.SUMS}: {len(sums)} files match")


def _signature(reader: _Reader, signed: bytes, files: list[dict[str, Any]] | None,
               report: BundleReport, expected: str | None) -> None:
    pem = reader.small(manifest.PUBLIC_KEY)
    signature = reader.small(manifest.SIGNATURE)
    for name, value in ((manifest.PUBLIC_KEY, pem), (manifest.SIGNATURE, signature)):
        if isinstance(value, str):
            report.failed.append(f"{name}: {value}")
    if isinstance(pem, str) or isinstance(signature, str):
        return
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        report.failed.append(f"{manifest.PUBLIC_KEY}: not a public key ({exc})")
        return
    if not isinstance(key, Ed25519PublicKey):
        report.failed.append(f"{manifest.PUBLIC_KEY}: not an Ed25519 key")
        return
    printed = fingerprint_of(key)
    report.fingerprint = printed
    try:
        key.verify(signature, signed)
    except InvalidSignature:
        report.failed.append(f"{manifest.SIGNATURE}: signature of {manifest.MANIFEST} is not "
                             "valid for signature/public_key.pem")
    else:
        report.passed.append(f"{manifest.SIGNATURE}: valid Ed25519 signature of "
                             f"{manifest.MANIFEST}, key {printed}")
    stated = reader.small(manifest.FINGERPRINT)
    if isinstance(stated, str) or stated.decode("utf-8", "replace").strip() != printed:
        report.failed.append(f"{manifest.FINGERPRINT}: does not match signature/public_key.pem")
    try:
        in_manifest = json.loads(signed).get("signature", {}).get("fingerprint")
    except (ValueError, AttributeError):
        in_manifest = None
    if files is not None and in_manifest != printed:
        report.failed.append(f"{manifest.MANIFEST}: names another key fingerprint than "
                             "signature/public_key.pem")
    if expected is not None:
        if _plain(expected) == _plain(printed):
            report.passed.append("the key is the one expected (--fingerprint)")
        else:
            report.failed.append(f"{manifest.PUBLIC_KEY}: fingerprint {printed} is not the one "
                                 f"expected ({expected})")


def _plain(text: str) -> str:
    return re.sub(r"[^0-9a-f]", "", text.lower())
