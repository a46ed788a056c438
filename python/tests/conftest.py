"""A real `fastgpu up` (server, SQLite, local agent, two simulated H100s) for the whole session,
with its own FASTGPU_HOME. Nothing here mocks HTTP: every test talks to that server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Iterator, Sequence, Type

import pytest

import fastgpu

REPO = Path(__file__).resolve().parents[2]
PYTHON_DIR = REPO / "python"
START_TIMEOUT_S = 90


@dataclass
class Server:
    url: str
    token: str
    home: Path
    proc: "subprocess.Popen[bytes]"

    def env(self, **extra: str) -> Dict[str, str]:
        """An environment that finds this server only through FASTGPU_HOME, as a user's would."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FASTGPU_")}
        env["FASTGPU_HOME"] = str(self.home)
        env.update(extra)
        return env

    def client(self, token: str = "") -> fastgpu.Client:
        # env: the CA a `--tls-self-signed` server saved is found as a user's client finds it.
        return fastgpu.Client(self.url, token or self.token, env=self.env())


def start_up(root: Path, port: int = 0, extra: Sequence[str] = ()) -> Server:
    """`fastgpu up` with its data and FASTGPU_HOME under ``root``, once it answers and its
    node has registered. A second start on the same ``root`` re-attaches the running tasks."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.json"
    if config.exists():
        config.unlink()
    log = open(root / "up.log", "ab")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTGPU_")}
    env["FASTGPU_HOME"] = str(home)
    # Run as root here, `up` would run each task as a uid of its own (the agent's default), which
    # cannot reach the test's private temp folders: the tasks run as the agent, as before.
    env["FASTGPU_RUN_AS"] = "root"
    cmd = ["node", str(REPO / "bin" / "fastgpu"), "up", "--data-dir", str(root / "data"), "--port", str(port), "--gpus", "2xH100", "--name", "pytest-node", *extra]
    proc = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"fastgpu up exited {proc.returncode}:\n{(root / 'up.log').read_text()}")
            if config.exists():
                saved = json.loads(config.read_text())
                srv = Server(saved["url"], saved["token"], home, proc)
                with srv.client() as c:
                    if c.healthy() and any(n.state == "READY" for n in c.nodes()):
                        return srv
            time.sleep(0.1)
        raise RuntimeError(f"fastgpu up did not come up in {START_TIMEOUT_S} s:\n{(root / 'up.log').read_text()}")
    except BaseException:
        stop_up(proc)
        raise


def stop_up(proc: "subprocess.Popen[bytes]") -> None:
    """Ctrl-C, as a user stops it (its tasks keep running)."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_up(tmp_path_factory.mktemp("fastgpu"))
    try:
        yield srv
    finally:
        _clean(srv)
        stop_up(srv.proc)


def _clean(srv: Server) -> None:
    """Cancels every live task and releases every vGPU, so one test's leftovers never hold the
    GPUs another test needs (tasks outlive the server: they must be stopped through it)."""
    with srv.client() as c:
        for v in c.vgpus.list():
            c.vgpus.delete(v.id)
        live = [t for t in c.tasks.list(state=["PENDING", "SCHEDULED", "RUNNING"]) if not t.done]
        for t in live:
            try:
                c.tasks.cancel(t.id)
            except fastgpu.Conflict:
                pass
        for t in live:
            c.tasks.wait(t.id, timeout=30, progress=False)


@pytest.fixture
def client(server: Server) -> Iterator[fastgpu.Client]:
    c = server.client()
    yield c
    c.close()
    _clean(server)


def run_python(args: "list[str]", env: Dict[str, str], timeout: float = 60) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=str(PYTHON_DIR))


@contextmanager
def local_http(handler: Type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A small HTTP server on loopback with ``handler``, for what the real server cannot be made
    to do (drop an answer, answer 503); yields its base URL."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
