"""The Idempotency-Key on submits, seen on the wire: a small local HTTP server stands in for a
network that drops the first answer (the one thing the real server cannot be made to do)."""

from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler
from typing import Dict, Iterator, List, Tuple

import pytest

import fastgpu

from conftest import local_http

TASK = {"id": "t_1", "name": "x", "state": "PENDING", "priority": 50, "attempts": 0, "tenant": "default", "spec": {"command": ["true"], "resources": {"gpu": None, "cpuMilli": 1000, "memoryMiB": 1024}}, "gangIndex": 0}


class Flaky(BaseHTTPRequestHandler):
    seen: List[Tuple[str, Dict[str, str]]] = []
    drop_first = True

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        Flaky.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        if Flaky.drop_first and len(Flaky.seen) == 1:
            # The request arrived; the answer is lost: close without a word.
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        body = json.dumps({"tasks": [TASK]}).encode()
        self.send_response(201)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[str]:
    Flaky.seen = []
    with local_http(Flaky) as url:
        yield url


def test_a_submit_retried_after_a_lost_answer_carries_the_same_key(flaky: str) -> None:
    with fastgpu.Client(flaky, "tok") as c:
        t = c.tasks.submit("true")
        assert t.id == "t_1"
        c.tasks.submit("true")
    keys = [h.get("idempotency-key") for _, h in Flaky.seen]
    assert len(keys) == 3 and keys[0] is not None
    assert keys[0] == keys[1]  # the retry of one call
    assert keys[2] != keys[0]  # a new call, a new key
    assert all(h["authorization"] == "Bearer tok" for _, h in Flaky.seen)
