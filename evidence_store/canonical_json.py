"""Canonical JSON for hashing: one byte string per value, unknown types refused.

Silently stringifying an unexpected object (as ``default=str`` would) could make
two different values hash alike, or make a hash depend on a repr; so anything
outside plain JSON types is an error.
"""

from __future__ import annotations

import json
from typing import Any


class CanonicalJSONError(TypeError):
    pass


def _refuse(value: Any) -> Any:
    raise CanonicalJSONError(f"canonical JSON refuses {type(value).__name__}: {value!r}")


def _check(value: Any) -> None:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise CanonicalJSONError("canonical JSON refuses NaN and infinities")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(
                    f"canonical JSON keys must be str, not {type(key).__name__}")
            _check(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item)


def dumps(value: Any) -> str:
    _check(value)
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
        default=_refuse,
    )


def dumps_bytes(value: Any) -> bytes:
    return dumps(value).encode("utf-8")
