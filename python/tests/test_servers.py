"""Several servers in one URL, and TLS trust (issues 10 and 11). The failover tests put a small
local HTTP server that answers 503 (a server stopping, or a follower with no leader) in front of
the real ``fastgpu up``; the TLS tests start a real ``fastgpu up --tls-self-signed``."""

from __future__ import annotations

import asyncio
import json
import socket
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import pytest

import fastgpu
from fastgpu._config import normalise_url, resolve_connection
from fastgpu._ops import Call

from conftest import Server, local_http, start_up, stop_up


class Busy(BaseHTTPRequestHandler):
    hits: List[str] = []

    def _answer(self) -> None:
        Busy.hits.append(f"{self.command} {self.path}")
        body = json.dumps({"error": {"code": "UNAVAILABLE", "message": "stopping"}}).encode()
        self.send_response(503)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def busy() -> Iterator[str]:
    Busy.hits = []
    with local_http(Busy) as url:
        yield url


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def test_lists_are_normalised_each_and_an_empty_item_is_named() -> None:
    assert normalise_url("a:1, https://b:2/") == "http://a:1,https://b:2"
    with pytest.raises(fastgpu.InvalidArgument, match="empty server address"):
        fastgpu.Client("http://a:1,,http://b:2", "t")


def test_a_call_moves_past_a_server_that_cannot_be_reached(server: Server) -> None:
    with fastgpu.Client(f"http://127.0.0.1:{closed_port()},{server.url}", server.token) as c:
        assert any(n.state == "READY" for n in c.nodes())
        t = c.tasks.submit(fastgpu.Task(command="true"))
        assert c.tasks.get(t.id).id == t.id


def test_a_503_moves_on_and_the_server_that_answered_is_tried_first_next(server: Server, busy: str) -> None:
    with fastgpu.Client(f"{busy},{server.url}", server.token) as c:
        assert c.healthy()
        c.nodes()
        c.tasks.list()
    # The first call met the 503; the next ones went straight to the server that answered.
    assert len(Busy.hits) == 1


def test_a_stream_opens_on_the_next_server_after_a_503(server: Server, busy: str) -> None:
    with fastgpu.Client(f"{busy},{server.url}", server.token) as c:
        events = c.pool_events(after=0)
        first = next(events)
    assert first.seq >= 1
    assert Busy.hits == ["GET /v1/events?after=0"]


def test_when_every_server_answers_503_the_error_is_the_last_answer(busy: str) -> None:
    with fastgpu.Client(f"{busy},{busy}", "t", failover_wait=0) as c:
        with pytest.raises(fastgpu.FastGPUError) as e:
            c.nodes()
    assert e.value.status == 503
    assert len(Busy.hits) == 2


def test_saved_ca_goes_only_to_the_saved_server(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"url": "https://127.0.0.1:7070", "token": "s", "ca": "/x/ca.pem"}))
    home = {"FASTGPU_HOME": str(tmp_path)}
    assert resolve_connection(None, None, home).ca == "/x/ca.pem"
    assert resolve_connection("https://elsewhere:7070", "t", home).ca is None
    assert resolve_connection(None, None, {**home, "FASTGPU_CA": "/env.pem"}).ca == "/env.pem"
    assert resolve_connection(None, None, {**home, "FASTGPU_CA": "/env.pem"}, "/arg.pem").ca == "/arg.pem"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_up(tmp_path_factory.mktemp("tls"), extra=["--tls-self-signed"])
    try:
        yield srv
    finally:
        stop_up(srv.proc)


def saved_ca(srv: Server) -> str:
    ca = json.loads((srv.home / "config.json").read_text())["ca"]
    assert isinstance(ca, str)
    return ca


def test_https_with_the_ca_that_up_saved(tls_server: Server) -> None:
    assert tls_server.url.startswith("https://")
    with fastgpu.Client(env=tls_server.env()) as c:
        assert any(n.state == "READY" for n in c.nodes())
    with fastgpu.Client(tls_server.url, tls_server.token, verify=saved_ca(tls_server), env={}) as c:
        assert c.healthy()
    with fastgpu.Client(tls_server.url, tls_server.token, env={"FASTGPU_CA": saved_ca(tls_server)}) as c:
        assert c.nodes()


def test_a_private_certificate_is_refused_without_its_ca(tls_server: Server) -> None:
    with fastgpu.Client(tls_server.url, tls_server.token, env={}) as c:
        with pytest.raises(fastgpu.NetworkError, match="CERTIFICATE_VERIFY_FAILED|certificate"):
            c.nodes()


def test_a_bad_ca_file_is_named(tls_server: Server, tmp_path: Path) -> None:
    with pytest.raises(fastgpu.InvalidArgument, match="cannot read the CA file /nonexistent/ca.pem"):
        fastgpu.Client(tls_server.url, tls_server.token, verify="/nonexistent/ca.pem", env={})
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    with pytest.raises(fastgpu.InvalidArgument, match="not a PEM certificate"):
        fastgpu.Client(tls_server.url, tls_server.token, verify=str(junk), env={})


def test_the_async_client_fails_over_and_trusts_the_ca(server: Server, tls_server: Server, busy: str) -> None:
    async def go() -> None:
        async with fastgpu.AsyncClient(f"{busy},{server.url}", server.token, env={}) as c:
            assert await c.nodes()
            assert await c.nodes()
        assert len(Busy.hits) == 1
        async with fastgpu.AsyncClient(tls_server.url, tls_server.token, verify=saved_ca(tls_server), env={}) as c:
            assert await c.nodes()

    asyncio.run(go())


class Failover(BaseHTTPRequestHandler):
    """Answers the scripted statuses (with their Retry-After) first, then as a pool would."""

    script: List[Tuple[int, Optional[str]]] = []
    seen: List[Tuple[str, Optional[str]]] = []

    def _answer(self) -> None:
        Failover.seen.append((f"{self.command} {self.path}", self.headers.get("idempotency-key")))
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if Failover.script:
            status, after = Failover.script.pop(0)
            body = json.dumps({"error": {"code": "UNAVAILABLE", "message": f"scripted {status}"}}).encode()
        else:
            status, after = (201 if self.command == "POST" else 200), None
            body = json.dumps({"nodes": []} if self.command == "GET" else {"node": {}, "evicted": 0}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        if after is not None:
            self.send_header("retry-after", after)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def failover() -> Iterator[str]:
    Failover.script, Failover.seen = [], []
    with local_http(Failover) as url:
        yield url


def test_a_failover_is_waited_out_after_503s_and_a_proxys_502_for_a_keyed_submit(failover: str) -> None:
    with fastgpu.Client(failover, "t", env={}) as c:
        Failover.script = [(503, "0"), (503, "0")]
        assert c.nodes() == []
        assert len(Failover.seen) == 3
        Failover.script, Failover.seen = [(502, None), (504, "0")], []
        # A keyed write, as a submit is (the transport alone: this server makes no real task).
        c.call(Call("POST", "/v1/tasks", lambda j: j, body={}, idempotency_key="k-1"))
        keys = {k for _, k in Failover.seen}
        assert len(Failover.seen) == 3 and keys == {"k-1"}
        # A write without a key is not sent again after a 502: it may have been done.
        Failover.script, Failover.seen = [(502, "0")], []
        with pytest.raises(fastgpu.FastGPUError) as e:
            c.drain_node("n")
        assert e.value.status == 502 and len(Failover.seen) == 1

    async def go() -> None:
        Failover.script, Failover.seen = [(503, "0"), (503, "0")], []
        async with fastgpu.AsyncClient(failover, "t", env={}) as c:
            assert await c.nodes() == []
        assert len(Failover.seen) == 3

    asyncio.run(go())
