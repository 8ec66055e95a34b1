"""Multipart uploads streamed straight into the blob store.

The request body is fed to python-multipart's push parser a network chunk at a
time; file parts go to a BlobWriter (hashed while written, committed under
their SHA-256), small text fields are collected. Nothing is buffered whole, so
memory stays flat however large the upload. A check (the CSRF token, the
provenance fields) runs on the fields that came before the first file, so a
bad form is refused before its files are stored.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread
from fastapi import HTTPException, Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from evidence_store.blobs import BlobSizeExceeded, BlobStore, BlobWriter, StoredBlob

MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 50
#: Headers and boundaries around the files: allowed beyond the files' own limit.
_ENVELOPE = 1024 * 1024


class UploadTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The upload is larger than allowed ({limit // (1024 * 1024)} MB "
                              "in all). Nothing from it was kept.")


class BadUpload(HTTPException):
    def __init__(self, message: str) -> None:
        super().__init__(400, message)


@dataclass(frozen=True)
class ReceivedFile:
    name: str
    blob: StoredBlob


@dataclass
class StreamedForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[ReceivedFile] = field(default_factory=list)


def safe_file_name(raw: str) -> str:
    # Browsers send a base name; older ones a whole Windows path. Keep the last part.
    name = posixpath.basename(raw.replace("\\", "/")).strip().replace("\x00", "")
    return name[:255] or "upload"


class _Events:
    """Collects parser callbacks so they are handled outside the parser (async, limits)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []
        self._name = b""
        self._value = b""

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": lambda: self.items.append(("begin", b"")),
            "on_part_data": lambda d, s, e: self.items.append(("data", bytes(d[s:e]))),
            "on_part_end": lambda: self.items.append(("end", b"")),
            "on_header_field": self._field,
            "on_header_value": self._value_part,
            "on_header_end": self._header_end,
        }

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _value_part(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._name.lower() == b"content-disposition":
            self.items.append(("disposition", self._value))
        self._name = self._value = b""


def is_multipart(request: Request) -> bool:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    return content_type == b"multipart/form-data" and b"boundary" in params


async def receive(request: Request, blobs: BlobStore, *, max_bytes: int, max_files: int,
                  before_files: Callable[[dict[str, str]], None] | None = None,
                  ) -> StreamedForm:
    """Read a multipart/form-data request; every file part is stored as a blob."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise BadUpload("The upload was not sent as a file form.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + _ENVELOPE:
        raise UploadTooLarge(max_bytes)
    events = _Events()
    parser = MultipartParser(params[b"boundary"], events.callbacks())  # type: ignore[arg-type]
    form = StreamedForm()
    state = _State(form, blobs, max_bytes, max_files, before_files)
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise BadUpload("The upload was damaged in transit; try again.") from exc
            await state.handle(events.items)
            events.items.clear()
        try:
            parser.finalize()
        except MultipartParseError as exc:
            raise BadUpload("The upload ended early; try again.") from exc
        await state.handle(events.items)
        if state.writer is not None:
            raise BadUpload("The upload ended early; try again.")
    finally:
        state.abort()
    if not state.checked and before_files is not None:
        before_files(form.fields)
    return form


class _State:
    def __init__(self, form: StreamedForm, blobs: BlobStore, max_bytes: int, max_files: int,
                 before_files: Callable[[dict[str, str]], None] | None) -> None:
        self.form = form
        self.blobs = blobs
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.before_files = before_files
        self.checked = False
        self.used = 0
        self.writer: BlobWriter | None = None
        self.file_name = ""
        self.field_name: str | None = None
        self.field_value = bytearray()
        self.skipping = False

    async def handle(self, items: list[tuple[str, bytes]]) -> None:
        pending: list[bytes] = []
        for kind, data in items:
            if kind == "begin":
                self.field_name, self.skipping = None, False
                self.field_value.clear()
            elif kind == "disposition":
                self._start_part(data)
            elif kind == "data":
                if self.writer is not None:
                    pending.append(data)
                elif not self.skipping:
                    self.field_value += data
                    if len(self.field_value) > MAX_FIELD_BYTES:
                        raise BadUpload("A form field was too long.")
            elif kind == "end":
                if self.writer is not None:
                    await self._write(pending)
                    pending = []
                    await self._commit()
                elif self.field_name is not None and not self.skipping:
                    if len(self.form.fields) >= MAX_FIELDS:
                        raise BadUpload("The form had too many fields.")
                    self.form.fields.setdefault(
                        self.field_name, self.field_value.decode("utf-8", "replace"))
        await self._write(pending)

    def _start_part(self, disposition: bytes) -> None:
        _, options = parse_options_header(disposition)
        self.field_name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            return
        raw_name = options[b"filename"].decode("utf-8", "replace")
        if not raw_name:
            # A file input left empty still sends an empty part.
            self.skipping = True
            return
        if not self.checked:
            self.checked = True
            if self.before_files is not None:
                self.before_files(self.form.fields)
        if len(self.form.files) >= self.max_files:
            raise BadUpload(f"At most {self.max_files} files can be sent at once.")
        self.file_name = safe_file_name(raw_name)
        self.writer = self.blobs.writer(limit=self.max_bytes - self.used)

    async def _write(self, pending: list[bytes]) -> None:
        if self.writer is None or not pending:
            return
        data = b"".join(pending)
        try:
            # Hashing and disk writes off the event loop (hashlib releases the GIL).
            await anyio.to_thread.run_sync(self.writer.write, data)
        except BlobSizeExceeded as exc:
            self.writer = None
            raise UploadTooLarge(self.max_bytes) from exc

    async def _commit(self) -> None:
        writer, self.writer = self.writer, None
        assert writer is not None
        blob = await anyio.to_thread.run_sync(writer.commit)
        self.used += blob.size
        self.form.files.append(ReceivedFile(self.file_name, blob))

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None
