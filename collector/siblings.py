"""Finding the files an export refers to among the files delivered with it.

Exports name their media in different ways: a bare name beside the chat
(WhatsApp), a path from the export's root (Facebook, Telegram), or a path
whose leading folders differ from how the archive was packed. Look-ups try,
in order: the name beside the referring file, the exact path from the root,
a path that ends with the name, and a base name that is unique in the delivery.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from evidence_store.blobs import BlobStore


def _clean(name: str) -> str:
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


class SiblingIndex:
    """All files of one delivery (archive or folder tree), by path from its root."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = {_clean(path): sha for path, sha in files.items()}
        self._by_base: dict[str, list[str]] = defaultdict(list)
        for path in self.files:
            self._by_base[posixpath.basename(path)].append(path)

    def beside(self, path: str) -> Siblings:
        """The view a parser of the file at ``path`` gets."""
        return Siblings(self, posixpath.dirname(_clean(path)))

    def find(self, name: str, here: str) -> str | None:
        name = _clean(name)
        if not name:
            return None
        for candidate in (posixpath.join(here, name) if here else name, name):
            if candidate in self.files:
                return self.files[candidate]
        paths = self._by_base.get(posixpath.basename(name), [])
        suffix = [p for p in paths if p.endswith("/" + name)]
        matches = {self.files[p] for p in (suffix or paths)}
        return matches.pop() if len(matches) == 1 else None


class Siblings(Mapping[str, str]):
    """Name -> sha256 of delivered files, resolved relative to one file."""

    def __init__(self, index: SiblingIndex, here: str) -> None:
        self._index = index
        self._here = here

    def __getitem__(self, name: str) -> str:
        found = self._index.find(name, self._here)
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._index.files)

    def __len__(self) -> int:
        return len(self._index.files)


@dataclass(frozen=True)
class SiblingReader:
    """SourceFile.read_sibling for stored files: picklable, so a parsing process
    (collector.offload) can read siblings from the blob folder itself."""

    siblings: Mapping[str, str]
    blob_root: Path

    def __call__(self, name: str, limit: int) -> bytes | None:
        sha256 = self.siblings.get(name)
        if sha256 is None:
            return None
        try:
            with BlobStore(self.blob_root).open(sha256) as handle:
                data = handle.read(limit + 1)
        except OSError:
            return None
        return data if len(data) <= limit else None
