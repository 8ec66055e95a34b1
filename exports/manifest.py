"""manifest.json (every file with its size and SHA-256) and SHA256SUMS.

The manifest is the document that is signed; SHA256SUMS is for checking an
unpacked bundle with ``sha256sum -c`` alone. Both are written with a fixed key
order and line ending so that the same case gives the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

FORMAT = "conduct-case-bundle/1"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
SIGNATURE = "signature/manifest.sig"
PUBLIC_KEY = "signature/public_key.pem"
FINGERPRINT = "signature/fingerprint.txt"
#: Members that the manifest cannot list because they are made from it.
UNLISTED = frozenset({MANIFEST, SUMS, SIGNATURE, PUBLIC_KEY, FINGERPRINT})


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str
    #: "original" (an exhibit, byte for byte), "document" (derived by Conduct), "readme".
    role: str
    exhibit: str | None = None
    redacted: bool = False

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "size": self.size, "sha256": self.sha256,
                                 "role": self.role}
        if self.role == "original":
            # An original is never redacted, even in a bundle whose documents are.
            entry["exhibit"] = self.exhibit
            entry["unredacted"] = True
        else:
            entry["redacted"] = self.redacted
        return entry


def manifest_bytes(header: dict[str, Any], files: list[FileEntry]) -> bytes:
    body = {**header, "format": FORMAT, "files": [f.as_json() for f in files]}
    return (json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def sums_bytes(digests: dict[str, str]) -> bytes:
    """``sha256sum`` format: two spaces, then the name; sorted by name."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(digests.items())).encode()
