"""Fetching one URL for a capture, safely (see collector/capture.py for what is kept).

* only http and https; no user names or passwords in the URL;
* every host is resolved here and refused when any of its addresses is
  private, loopback, link-local, shared, reserved, multicast or unspecified
  (unless the store's configuration admits it), on every redirect hop; the
  connection is then made to the address that was checked (no second look-up
  that DNS rebinding could answer differently), and the connected peer is
  checked again;
* a total time limit (a watchdog closes the connection), per-operation
  timeouts, a body size limit (the body is streamed to the blob store and cut
  there: the part received is kept and the record says it was cut, because
  what a page began with is still what the server returned), at most
  ``max_redirects`` redirects, each recorded;
* no cookies are sent or kept, no proxy from the environment is used, nothing
  on the page is fetched or run (no scripts, images or frames);
* the TLS certificate the server presented is summarised.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import ssl
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpcore
import httpx

from collector.capture_policy import (
    Allowance,
    CaptureConfig,
    CaptureConfigError,
    CaptureError,
    CaptureFailed,
    CaptureRefused,
    address_refusal,
)
from evidence_store.blobs import BlobStore, StoredBlob

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
NETWORK_ERRORS = (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
                  httpcore.UnsupportedProtocol, httpx.HTTPError, ssl.SSLError, OSError)


class _Guard:
    """Resolves and checks every host, remembers what was connected, enforces the deadline."""

    def __init__(self, allowance: Allowance) -> None:
        self.allowance = allowance
        self.expired = False
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None

    def addresses(self, host: str, port: int) -> list[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise CaptureFailed(f"cannot resolve {host}: {exc}") from exc
        found = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not found:
            raise CaptureFailed(f"{host} has no address")
        for address in found:
            kind = address_refusal(address, self.allowance)
            if kind is not None:
                said = (f"{host} is {kind}" if address == host
                        else f"{host} resolves to {address}, {kind}")
                raise CaptureRefused(f"{said}; private, loopback and link-local addresses are "
                                     "not captured unless the store's conduct.toml allows them")
        return found

    def connected(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._socket = sock
            expired = self.expired
        if expired:
            self._shut()

    def expire(self) -> None:
        with self._lock:
            self.expired = True
        self._shut()

    def _shut(self) -> None:
        with self._lock:
            sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


class _GuardedBackend(httpcore.SyncBackend):
    """Connects to an address checked by the guard, never to a name resolved again."""

    def __init__(self, guard: _Guard) -> None:
        self.guard = guard

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        error: Exception | None = None
        for address in self.guard.addresses(host, port):
            try:
                stream = super().connect_tcp(address, port, timeout, local_address,
                                             socket_options)
            except httpcore.ConnectError as exc:
                error = exc
                continue
            self.guard.connected(stream.get_extra_info("socket"))
            return stream
        raise error or httpcore.ConnectError(f"cannot connect to {host}")


class _Stream(httpx.SyncByteStream):
    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class _GuardedTransport(httpx.BaseTransport):
    """httpx over an httpcore pool with the guarded backend: one connection per hop."""

    def __init__(self, guard: _Guard, context: ssl.SSLContext) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=context, max_connections=1, max_keepalive_connections=0,
            http1=True, http2=False, retries=0, network_backend=_GuardedBackend(guard))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, Iterable)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream,
            extensions=request.extensions)
        response = self._pool.handle_request(core)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_Stream(response.stream), extensions=response.extensions)

    def close(self) -> None:
        self._pool.close()


# -- fetching --------------------------------------------------------------------------


def validated_url(text: str) -> httpx.URL:
    try:
        url = httpx.URL(text.strip())
    except (httpx.InvalidURL, TypeError) as exc:
        raise CaptureRefused(f"not a usable address: {text!r} ({exc})") from exc
    if url.scheme not in ("http", "https"):
        raise CaptureRefused(f"only http and https addresses are captured, not "
                             f"{url.scheme + ':' if url.scheme else 'an address without a scheme'}"
                             f" ({text})")
    if not url.host:
        raise CaptureRefused(f"no host in {text!r}")
    if url.userinfo:
        raise CaptureRefused("addresses carrying a user name or password are not captured")
    return url


def _next_url(current: httpx.URL, location: str) -> httpx.URL:
    try:
        joined = current.join(location)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise CaptureRefused(f"redirect to an unusable address {location!r} ({exc})") from exc
    return validated_url(str(joined))


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(UTC)


def _headers(pairs: Iterable[tuple[bytes, bytes]]) -> list[list[str]]:
    # latin-1 maps every byte to one character: the header bytes can be recovered exactly.
    return [[name.decode("latin-1"), value.decode("latin-1")] for name, value in pairs]


def _ssl_context(config: CaptureConfig) -> ssl.SSLContext:
    if not config.verify_tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        import certifi

        context = ssl.create_default_context(cafile=certifi.where())
    except ImportError:
        context = ssl.create_default_context()
    if config.ca_bundle is not None:
        try:
            context.load_verify_locations(cafile=str(config.ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise CaptureConfigError(f"ca_bundle {config.ca_bundle}: {exc}") from exc
    return context


def tls_summary(ssl_object: Any) -> dict[str, Any] | None:
    """The certificate the server presented: who for, who by, when valid, its fingerprint."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(True)  # the C-level object takes no keywords
    cipher = ssl_object.cipher()
    summary: dict[str, Any] = {
        "protocol": ssl_object.version(), "cipher": cipher[0] if cipher else None,
    }
    if not der:
        return summary
    summary["certificate_sha256"] = hashlib.sha256(der).hexdigest()
    summary["certificate_der_base64"] = base64.b64encode(der).decode("ascii")
    try:
        from cryptography import x509
    except ImportError:
        summary.update(_decoded_by_ssl(ssl_object.getpeercert()))
        return summary
    try:
        cert = x509.load_der_x509_certificate(der)
        names: list[str] = []
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = [*san.get_values_for_type(x509.DNSName),
                     *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]
        except x509.ExtensionNotFound:
            pass
        summary.update({
            "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "serial_number": format(cert.serial_number, "x"),
            "not_before": stamp(cert.not_valid_before_utc),
            "not_after": stamp(cert.not_valid_after_utc),
            "subject_alt_names": names,
        })
    except ValueError as exc:
        summary["decode_error"] = str(exc)
    return summary


def _decoded_by_ssl(decoded: dict[str, Any] | None) -> dict[str, Any]:
    # Without cryptography: ssl decodes the certificate only when it verified it.
    if not decoded:
        return {}

    def name(parts: Any) -> str:
        return ",".join(f"{k}={v}" for rdn in parts for k, v in rdn)

    return {
        "subject": name(decoded.get("subject", ())), "issuer": name(decoded.get("issuer", ())),
        "serial_number": str(decoded.get("serialNumber", "")).lower(),
        "not_before": decoded.get("notBefore"), "not_after": decoded.get("notAfter"),
        "subject_alt_names": [value for _, value in decoded.get("subjectAltName", ())],
    }


class _Body:
    """The response body as a readable stream for the blob store, cut at the size limit
    (only once bytes beyond it actually arrive) or where the connection ends early."""

    def __init__(self, chunks: Iterator[bytes], limit: int, guard: _Guard,
                 timeout: float) -> None:
        self._chunks = chunks
        self.limit = limit
        self.size = 0
        self.cut: str | None = None
        self._guard = guard
        self._timeout = timeout
        self._done = False

    def read(self, _size: int = -1) -> bytes:
        while not self._done:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._done = True
                break
            except NETWORK_ERRORS as exc:
                self._done = True
                self.cut = (f"total time limit of {self._timeout:g} s reached"
                            if self._guard.expired else f"connection ended early ({_why(exc)})")
                break
            if not chunk:
                continue
            room = self.limit - self.size
            if len(chunk) > room:
                chunk, self._done = chunk[:room], True
                self.cut = f"size limit of {self.limit} bytes reached"
            self.size += len(chunk)
            if chunk:
                return chunk
        return b""


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class Fetched:
    request_url: str
    final_url: str
    status: int
    reason: str
    http_version: str
    headers: list[list[str]]
    request_headers: list[list[str]]
    redirects: list[dict[str, Any]]
    peer: dict[str, Any]
    tls: dict[str, Any] | None
    started_at: datetime
    response_at: datetime
    finished_at: datetime
    blob: StoredBlob
    cut: str | None
    content_type: str | None
    content_encoding: str | None
    content_length: str | None


def _peer(response: httpx.Response, guard: _Guard) -> tuple[dict[str, Any], Any]:
    stream = response.extensions.get("network_stream")
    if stream is None:
        raise CaptureFailed("the connection's peer address is not known; not captured")
    address = stream.get_extra_info("server_addr")
    ip, port = str(address[0]), int(address[1])
    kind = address_refusal(ip, guard.allowance)
    if kind is not None:
        raise CaptureRefused(f"the connected peer {ip} is {kind}; not captured")
    return {"ip": ip, "port": port}, stream


def fetch(blobs: BlobStore, url: httpx.URL, config: CaptureConfig, agent: str) -> Fetched:
    """GET ``url``, following redirects one checked hop at a time; the body goes to ``blobs``."""
    guard = _Guard(config.allow_private_addresses)
    started = _now()
    watchdog = threading.Timer(config.timeout_seconds, guard.expire)
    watchdog.daemon = True
    hops: list[dict[str, Any]] = []
    client = httpx.Client(
        transport=_GuardedTransport(guard, _ssl_context(config)),
        # Past the watchdog's deadline, so the watchdog decides (and the message says so);
        # these bound only what it cannot interrupt: a connection attempt in progress.
        timeout=httpx.Timeout(config.timeout_seconds + 1), follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": agent, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
                 "Accept-Encoding": "identity"})
    watchdog.start()
    try:
        current = url
        while True:
            client.cookies.clear()
            request = client.build_request("GET", current)
            requested_at = _now()
            try:
                response = client.send(request, stream=True)
            except CaptureError:
                raise
            except NETWORK_ERRORS as exc:
                if guard.expired:
                    raise CaptureFailed(f"{current}: total time limit of "
                                        f"{config.timeout_seconds:g} s reached") from exc
                raise CaptureFailed(f"{current}: {_why(exc)}") from exc
            try:
                response_at = _now()
                peer, stream = _peer(response, guard)
                hop: dict[str, Any] = {
                    "url": str(current), "requested_at": stamp(requested_at),
                    "response_at": stamp(response_at), "status": response.status_code,
                    "reason": response.reason_phrase, "http_version": response.http_version,
                    "headers": _headers(response.headers.raw), "peer": peer,
                    "tls": tls_summary(stream.get_extra_info("ssl_object")),
                }
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location:
                    hop["location"] = location
                    hops.append(hop)
                    if len(hops) > config.max_redirects:
                        raise CaptureRefused(f"more than {config.max_redirects} redirects "
                                             f"(last to {location})")
                    current = _next_url(current, location)
                    continue
                body = _Body(response.iter_raw(), config.max_bytes, guard,
                             config.timeout_seconds)
                blob = blobs.put_stream(body)  # type: ignore[arg-type]
                return Fetched(
                    request_url=str(url), final_url=str(current), status=response.status_code,
                    reason=response.reason_phrase, http_version=response.http_version,
                    headers=hop["headers"], request_headers=_headers(request.headers.raw),
                    redirects=hops, peer=peer, tls=hop["tls"], started_at=started,
                    response_at=response_at, finished_at=_now(), blob=blob, cut=body.cut,
                    content_type=response.headers.get("content-type"),
                    content_encoding=response.headers.get("content-encoding"),
                    content_length=response.headers.get("content-length"),
                )
            finally:
                with contextlib.suppress(*NETWORK_ERRORS):  # a connection already cut
                    response.close()
    except CaptureError as exc:
        exc.hops = tuple(hops)
        raise
    finally:
        watchdog.cancel()
        client.close()
