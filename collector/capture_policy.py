"""What a capture may do: the store's configuration and the addresses it may reach.

Configuration lives only in the store: ``<store>/conduct.toml``::

    [capture]
    allow_private_addresses = false  # true, or a list of addresses/networks to admit
    max_bytes = 52428800             # body bytes kept; the rest is cut
    timeout_seconds = 60             # the whole capture, redirects included
    max_redirects = 10
    verify_tls = true                # false records tls_verified = false
    ca_bundle = "path/to/ca.pem"     # extra trust anchors (relative to the store)
    contact = "digital-evidence@force.example"  # added to the User-Agent

No environment variable or command-line option can admit private addresses,
so a shell alias or a pasted command cannot turn the protection off.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

CONFIG_FILE = "conduct.toml"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class CaptureError(Exception):
    """A capture that did not happen; the message is one line for the officer."""

    #: Redirect hops answered before it stopped, for the custody log.
    hops: tuple[dict[str, Any], ...] = ()


class CaptureRefused(CaptureError):
    """Refused by policy (scheme, address, redirects): nothing was fetched from there."""


class CaptureFailed(CaptureError):
    """The network did not deliver a response (timeout, TLS failure, no such host)."""


class CaptureConfigError(CaptureError):
    """The store's conduct.toml cannot be used."""


# -- configuration ---------------------------------------------------------------------

Allowance = bool | tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


@dataclass(frozen=True)
class CaptureConfig:
    allow_private_addresses: Allowance = False
    max_bytes: int = 50 * 1024 * 1024
    timeout_seconds: float = 60.0
    max_redirects: int = 10
    verify_tls: bool = True
    ca_bundle: Path | None = None
    contact: str | None = None

    def as_record(self) -> dict[str, Any]:
        allowed = self.allow_private_addresses
        return {
            "allow_private_addresses": (allowed if isinstance(allowed, bool)
                                        else [str(net) for net in allowed]),
            "max_bytes": self.max_bytes, "timeout_seconds": self.timeout_seconds,
            "max_redirects": self.max_redirects, "verify_tls": self.verify_tls,
            "ca_bundle": str(self.ca_bundle) if self.ca_bundle else None,
        }


def load_config(store_root: Path) -> CaptureConfig:
    """The [capture] table of ``<store>/conduct.toml``; defaults when there is none."""
    path = store_root / CONFIG_FILE
    if not path.is_file():
        return CaptureConfig()
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("capture", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CaptureConfigError(f"{path}: {exc}") from exc
    if not isinstance(table, dict):
        raise CaptureConfigError(f"{path}: [capture] must be a table")
    known = set(CaptureConfig.__dataclass_fields__)
    unknown = sorted(set(table) - known)
    if unknown:
        raise CaptureConfigError(f"{path}: unknown [capture] setting {', '.join(unknown)} "
                                 f"(known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for key, value in table.items():
        values[key] = _setting(path, key, value)
    return CaptureConfig(**values)


def _setting(path: Path, key: str, value: Any) -> Any:
    def wrong(expected: str) -> CaptureConfigError:
        return CaptureConfigError(f"{path}: [capture] {key} must be {expected}, not {value!r}")

    if key == "allow_private_addresses":
        if isinstance(value, bool):
            return value
        if not isinstance(value, list):
            raise wrong("true, false or a list of addresses")
        try:
            return tuple(ipaddress.ip_network(str(v), strict=False) for v in value)
        except ValueError as exc:
            raise wrong("true, false or a list of addresses") from exc
    if key in ("max_bytes", "max_redirects"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise wrong("a whole number of 0 or more")
        return value
    if key == "timeout_seconds":
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise wrong("a number of seconds above 0")
        return float(value)
    if key == "verify_tls":
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if key == "ca_bundle":
        if not isinstance(value, str):
            raise wrong("a file path")
        bundle = Path(value)
        return bundle if bundle.is_absolute() else path.parent / bundle
    if not isinstance(value, str):
        raise wrong("text")
    return value


def user_agent(config: CaptureConfig) -> str:
    try:
        version = metadata.version("conduct")
    except metadata.PackageNotFoundError:
        version = "unknown"
    contact = f"; +{config.contact}" if config.contact else ""
    return f"Conduct/{version} evidence capture{contact}"


# -- addresses -------------------------------------------------------------------------


def address_refusal(text: str, allowance: Allowance = False) -> str | None:
    """What kind of address this is ("a loopback address") when Conduct will not
    connect to it, or None when it may. Unspecified, multicast and reserved
    addresses are refused even when the store admits private ones."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    for candidate in _embedded(address):
        if candidate.is_unspecified:
            return "an unspecified address"
        if candidate.is_multicast:
            return "a multicast address"
        if candidate.version == 4 and (candidate.is_reserved
                                       or candidate == ipaddress.IPv4Address("255.255.255.255")):
            return "a reserved address"
        if candidate.is_global:
            continue
        if allowance is True or (allowance and any(candidate in net for net in allowance)):
            continue
        return f"{_kind(candidate)} address"
    return None


def _embedded(address: ipaddress.IPv4Address | ipaddress.IPv6Address
              ) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The address and any IPv4 address it carries (mapped, 6to4, Teredo, NAT64)."""
    if address.version == 4:
        return [address]
    assert isinstance(address, ipaddress.IPv6Address)
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address]
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64:
        found = [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return found


def _kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if address.is_loopback:
        return "a loopback"
    if address.is_link_local:
        return "a link-local"
    if address.is_private:
        return "a private"
    if address.is_reserved:
        return "a reserved"
    return "a non-public"
