"""The store's Ed25519 key that signs every bundle's manifest.

One key per store, made on the first export and kept in the store directory
(``signing/bundle-ed25519.pem``, mode 0600, never exported). The bundle carries
the public key and its fingerprint; the witness statement quotes the
fingerprint, so a bundle re-signed with another key is caught by comparing
the fingerprint on paper. Ed25519 signatures are deterministic, so signing the
same manifest twice gives the same bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_DIR = "signing"
KEY_FILE = "bundle-ed25519.pem"
ALGORITHM = "Ed25519"


class SigningKeyError(PermissionError):
    """The key file is missing, unreadable, not Ed25519 or open to other users."""


def fingerprint(public: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex in groups of four for reading aloud."""
    digest = hashlib.sha256(public.public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)).hexdigest()
    return " ".join(digest[i:i + 4] for i in range(0, len(digest), 4))


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    path: Path
    created: bool

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    @property
    def public_pem(self) -> bytes:
        return public_pem(self.public)

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


def key_path(store_root: Path) -> Path:
    return store_root / KEY_DIR / KEY_FILE


def load_or_create(store_root: Path) -> SigningKey:
    """The store's key; made (once, even with two exports racing) when there is none."""
    path = key_path(store_root)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)  # fails if another export made the key first
                return SigningKey(key, path, created=True)
            except FileExistsError:
                pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return _load(path)


def _load(path: Path) -> SigningKey:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(f"signing key {path} is open to other users "
                              f"(mode {stat.S_IMODE(mode):04o}); run chmod 600 on it")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"signing key {path} is unreadable: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"signing key {path} is not an Ed25519 key")
    return SigningKey(key, path, created=False)
