"""Errors the SDK raises.

Every failure from the server or the network is a :class:`FastGPUError` carrying the server's
stable ``code`` (``NOT_FOUND``, ``CONFLICT``…), its message, the HTTP status and, for bad input,
the dotted ``field`` it is about. Each code has its own subclass, so callers write
``except fastgpu.NotFound:`` rather than compare strings.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any, Dict, List, Mapping, Optional, Type


class FastGPUError(Exception):
    """A failed call. ``code`` is the server's error code (or a client-side one: ``NETWORK``,
    ``TIMEOUT``, ``NOT_CONFIGURED``, ``INTERNAL``); ``status`` is 0 when no answer came."""

    code: str = "INTERNAL"

    def __init__(self, message: str, *, code: Optional[str] = None, status: int = 0, field: Optional[str] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.status = status
        self.field = field

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        extra = f", field={self.field!r}" if self.field else ""
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, status={self.status}{extra})"


class InvalidArgument(FastGPUError, ValueError):
    """400: a field of the request is wrong; ``field`` names it."""

    code = "INVALID_ARGUMENT"


class Unschedulable(FastGPUError, ValueError):
    """422: valid, but it can never fit any node of the pool, even an empty one."""

    code = "UNSCHEDULABLE"


class Unauthenticated(FastGPUError):
    """401: no token, an unknown one, or a revoked one."""

    code = "UNAUTHENTICATED"


class Forbidden(FastGPUError, PermissionError):
    """403: the token's role may not do this."""

    code = "FORBIDDEN"


class QuotaExceeded(Forbidden):
    """403 with ``field == "budget"``: the tenant has spent its budget, so new tasks are refused
    (the message says until when). A tenant at its GPU *limit* is not refused: its tasks wait
    with reason ``Quota``."""


class NotFound(FastGPUError, LookupError):
    """404: no such task, vGPU, tenant, token or node (another tenant's count as none)."""

    code = "NOT_FOUND"


class Conflict(FastGPUError):
    """409: e.g. cancelling a task that has already finished."""

    code = "CONFLICT"


class MethodNotAllowed(FastGPUError):
    """405: the path exists, but not with this method; ``allow`` lists the methods it has (from
    the ``Allow`` header)."""

    code = "METHOD_NOT_ALLOWED"

    def __init__(self, message: str, *, code: Optional[str] = None, status: int = 0, field: Optional[str] = None, allow: Optional[List[str]] = None) -> None:
        super().__init__(message, code=code, status=status, field=field)
        self.allow: List[str] = list(allow or [])


class RateLimited(FastGPUError):
    """429: a per-caller limit is reached (e.g. the open event and log streams of one token).
    ``retry_after`` is the server's ``Retry-After`` in seconds, or None when it sent none."""

    code = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, *, code: Optional[str] = None, status: int = 0, field: Optional[str] = None, retry_after: Optional[float] = None) -> None:
        super().__init__(message, code=code, status=status, field=field)
        self.retry_after = retry_after


class PayloadTooLarge(FastGPUError):
    """413: the request body is too big."""

    code = "PAYLOAD_TOO_LARGE"


class Unavailable(FastGPUError):
    """503: the server is shutting down or its store cannot be written."""

    code = "UNAVAILABLE"


class NotConfigured(FastGPUError):
    """No server address: nothing passed, no ``FASTGPU_URL``, no config saved by ``fastgpu up``."""

    code = "NOT_CONFIGURED"


class NetworkError(FastGPUError, ConnectionError):
    """The server could not be reached, or the connection broke."""

    code = "NETWORK"


class Timeout(FastGPUError, TimeoutError):
    """A wait or a request ran past its time limit."""

    code = "TIMEOUT"


class InternalError(FastGPUError):
    """A 500 from the server, or an answer the SDK cannot read."""

    code = "INTERNAL"


_BY_CODE: Dict[str, Type[FastGPUError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        Unschedulable,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        MethodNotAllowed,
        RateLimited,
        PayloadTooLarge,
        Unavailable,
        NotConfigured,
        NetworkError,
        Timeout,
        InternalError,
    )
}

_BY_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    422: "UNSCHEDULABLE",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}


def retry_after_seconds(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """``Retry-After`` in seconds: delay-seconds, or an HTTP date (counted from ``now``, epoch
    seconds, default the current time); None when absent or unreadable."""
    if value is None or value.strip() == "":
        return None
    v = value.strip()
    if v.isdigit():
        return float(int(v))
    try:
        when = parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _header(headers: Optional[Mapping[str, str]], name: str) -> Optional[str]:
    if headers is None:
        return None
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return None


def error_from_response(status: int, body: Any, text: str, headers: Optional[Mapping[str, str]] = None) -> FastGPUError:
    """The exception for a non-2xx answer, from its ``{"error": {code, message, field}}`` body
    (and, for 405 and 429, its ``Allow`` and ``Retry-After`` headers)."""
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    raw_code = err.get("code")
    code = raw_code if isinstance(raw_code, str) and raw_code in _BY_CODE else _BY_STATUS.get(status, "INTERNAL")
    message = err.get("message")
    if not isinstance(message, str) or message == "":
        message = f"server answered {status}" + (f": {text[:200]}" if text else "")
    field = err.get("field") if isinstance(err.get("field"), str) else None
    if code == "METHOD_NOT_ALLOWED":
        allow = [m.strip() for m in (_header(headers, "allow") or "").split(",") if m.strip() != ""]
        return MethodNotAllowed(message, code=code, status=status, field=field, allow=allow)
    if code == "RESOURCE_EXHAUSTED":
        return RateLimited(message, code=code, status=status, field=field, retry_after=retry_after_seconds(_header(headers, "retry-after")))
    cls = _BY_CODE[code]
    if code == "FORBIDDEN" and field == "budget":
        cls = QuotaExceeded
    return cls(message, code=code, status=status, field=field)


def retriable(e: FastGPUError) -> bool:
    """Worth trying again: the server is unreachable or restarting."""
    return e.code in ("NETWORK", "UNAVAILABLE", "TIMEOUT") or e.status in (502, 504)
