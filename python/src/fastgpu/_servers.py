"""Several servers (``http://a:7070,http://b:7070``, in ``url`` or ``FASTGPU_URL``), and the TLS
trust for them. A call goes to one server and moves to the next when that one cannot be reached
or answers 503 (a server stopping, or a follower with no leader to forward to). Any server
answers the whole API, so the order is only a preference: the one that last answered is tried
first next time. The TypeScript SDK does the same (``src/util/server-list.ts``)."""

from __future__ import annotations

import math
import os
import ssl
from typing import List, Optional, Union

import httpx

from .errors import InvalidArgument

Verify = Union[bool, str, "os.PathLike[str]", ssl.SSLContext, None]


def split_urls(raw: str) -> List[str]:
    """The servers of a comma-separated list; an empty item is an error naming the list."""
    parts = [p.strip() for p in raw.split(",")]
    if any(p == "" for p in parts):
        raise InvalidArgument(f"url: {raw!r} has an empty server address (separate several with commas, no empty items)", field="url")
    return parts


class Servers:
    """The servers one client uses, with the one to try first."""

    def __init__(self, url: str) -> None:
        self.urls = split_urls(url)
        self._first = 0

    def rotation(self) -> List[int]:
        """Indexes of ``urls`` in the order to try them: the last good one first."""
        n = len(self.urls)
        return [(self._first + k) % n for k in range(n)]

    def answered(self, i: int) -> None:
        self._first = i


def moves_on(e: Exception, method: str) -> bool:
    """Whether a failed try may go to the next server. A connection that was never made is safe
    to try elsewhere; a timeout is ambiguous for a write (it may have been done), so only reads
    move on after one."""
    if isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout)):
        return True
    return method == "GET" and isinstance(e, httpx.TransportError)


DEFAULT_FAILOVER_WAIT_S = 20.0
"""How long a call keeps asking while the pool says "not now" (a failover, a load balancer whose
servers are down); ``failover_wait`` on a client."""


def retry_wait(res: httpx.Response, method: str, keyed: bool, pause: float) -> Optional[float]:
    """Seconds to wait before asking again after ``res``, or None when it is the answer. Asked
    again: a 503 (FastGPU's 503 means nothing was done: a failover under way, a store that cannot
    be written), and a 502 or 504 from a proxy in front, which may come after the request reached
    a server that then died, so only for reads and keyed writes (submits). The server's
    Retry-After is followed, up to 2 s. The TypeScript SDK does the same (``retryWait``)."""
    s = res.status_code
    if not (s == 503 or (s in (502, 504) and (method == "GET" or keyed))):
        return None
    try:
        seconds = float(res.headers.get("retry-after", "").strip())
    except ValueError:
        return pause
    return min(seconds, 2.0) if math.isfinite(seconds) and seconds >= 0 else pause


def ssl_verify(verify: Verify, ca: Optional[str]) -> Union[bool, ssl.SSLContext]:
    """What httpx should verify with. ``verify`` (a CA file, a context, or a bool) wins; else the
    connection's CA file (``FASTGPU_CA``, or the one ``fastgpu up --tls-self-signed`` saved);
    else the system's trust store. ``False`` turns verification off: only on request."""
    if isinstance(verify, (bool, ssl.SSLContext)):
        return verify
    path = os.fspath(verify) if verify is not None else ca
    if path is None:
        return True
    try:
        with open(path, encoding="utf-8") as f:
            pem = f.read()
    except OSError as e:
        raise InvalidArgument(f"verify: cannot read the CA file {path} ({e.strerror or e})", field="verify") from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise InvalidArgument(f'verify: {path} is not a PEM certificate (no "BEGIN CERTIFICATE" block)', field="verify")
    return ssl.create_default_context(cadata=pem)
