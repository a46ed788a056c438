"""What the sync and async transports share: headers, query encoding, reading an answer, mapping
failures to errors, parsing server-sent events, and the retry policy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import httpx

from ._ops import Call, Query
from .errors import FastGPUError, InternalError, NetworkError, Timeout, error_from_response

#: How long a follow or a wait keeps retrying while the server is unreachable (it may be restarting).
RECONNECT_S = 60.0
RETRY_PAUSE_S = 0.3
#: One long-poll of /wait; the server answers earlier when the task ends.
WAIT_POLL_S = 20.0
#: Attempts of a call that carries an Idempotency-Key when the network fails.
SUBMIT_TRIES = 3
DEFAULT_TIMEOUT_S = 30.0

USER_AGENT = "fastgpu-sdk-python/0.1.0"


def headers(token: Optional[str], accept: str = "application/json") -> Dict[str, str]:
    h = {"accept": accept, "user-agent": USER_AGENT}
    if token is not None:
        h["authorization"] = f"Bearer {token}"
    return h


def params(q: Query) -> Dict[str, str]:
    return {k: str(v) for k, v in q.items() if v is not None}


def request_args(call: Call[Any], token: Optional[str], default_timeout: float) -> Dict[str, Any]:
    h = headers(token)
    kw: Dict[str, Any] = {"params": params(call.query), "timeout": call.timeout if call.timeout is not None else default_timeout}
    if call.idempotency_key is not None:
        h["idempotency-key"] = call.idempotency_key
    if call.body is not None:
        kw["json"] = call.body
    kw["headers"] = h
    return kw


def read_answer(call: Call[Any], res: httpx.Response) -> Any:
    """The parsed result of a call, or the error its answer carries."""
    text = res.text
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = None
    if res.status_code >= 400:
        raise error_from_response(res.status_code, body, text, res.headers)
    if body is None and text != "":
        raise InternalError(f"server answered {call.method} {call.path} with something that is not JSON", status=res.status_code)
    try:
        return call.parse(body)
    except (KeyError, TypeError, ValueError) as e:
        raise InternalError(f"cannot read the answer to {call.method} {call.path}: {e!r}", status=res.status_code) from e


def transport_error(e: Exception, base_url: str, what: str) -> FastGPUError:
    """A FastGPUError for an httpx failure (no answer, or a connection that broke)."""
    if isinstance(e, httpx.TimeoutException):
        return Timeout(f"{what}: no answer from {base_url} in time ({type(e).__name__})")
    return NetworkError(f"cannot reach the FastGPU server at {base_url} ({type(e).__name__}: {e}); is it running?")


@dataclass
class SseEvent:
    event: str
    data: str
    id: Optional[str]


class SseParser:
    """Server-sent events from lines (text/event-stream): one event per blank line."""

    def __init__(self) -> None:
        self._event = "message"
        self._data: List[str] = []
        self._id: Optional[str] = None

    def feed(self, line: str) -> Optional[SseEvent]:
        line = line.rstrip("\r\n")
        if line == "":
            if not self._data and self._event == "message":
                return None
            ev = SseEvent(self._event, "\n".join(self._data), self._id)
            self._event, self._data = "message", []
            return ev
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            self._id = value
        return None


def parse_events(lines: Iterable[str]) -> Iterator[SseEvent]:
    p = SseParser()
    for line in lines:
        ev = p.feed(line)
        if ev is not None:
            yield ev


def log_chunk_of(ev: SseEvent, after: Optional[int]) -> Tuple[Optional[Dict[str, Any]], bool]:
    """(the chunk in a `log` event, unless already seen; whether the stream has ended)."""
    if ev.event == "end":
        return None, True
    if ev.event != "log":
        return None, False
    try:
        chunk = json.loads(ev.data)
    except ValueError:
        return None, False
    if not isinstance(chunk, dict) or not isinstance(chunk.get("data"), str):
        return None, False
    pos = chunk.get("pos")
    if isinstance(pos, int) and after is not None and pos <= after:
        return None, False  # a resend after reconnecting
    return chunk, False


def pool_event_of(ev: SseEvent) -> Optional[Dict[str, Any]]:
    """The PoolEvent JSON of an /v1/events message; None for anything else."""
    try:
        data = json.loads(ev.data)
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("seq"), int) else None
