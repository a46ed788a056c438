"""A real `fastgpu up` (server, SQLite, local agent, two simulated H100s) for the whole session,
with its own FASTGPU_HOME. Nothing here mocks HTTP: every test talks to that server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator

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
        return fastgpu.Client(self.url, token or self.token)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("fastgpu")
    home = root / "home"
    home.mkdir()
    log = open(root / "up.log", "wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTGPU_")}
    env["FASTGPU_HOME"] = str(home)
    cmd = ["node", str(REPO / "bin" / "fastgpu"), "up", "--data-dir", str(root / "data"), "--port", "0", "--gpus", "2xH100", "--name", "pytest-node"]
    proc = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    config = home / "config.json"
    deadline = time.monotonic() + START_TIMEOUT_S
    srv = None
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"fastgpu up exited {proc.returncode}:\n{(root / 'up.log').read_text()}")
            if config.exists():
                saved = json.loads(config.read_text())
                srv = Server(saved["url"], saved["token"], home, proc)
                c = srv.client()
                if c.healthy() and c.nodes():
                    c.close()
                    break
                c.close()
            time.sleep(0.1)
        else:
            raise RuntimeError(f"fastgpu up did not come up in {START_TIMEOUT_S} s:\n{(root / 'up.log').read_text()}")
        assert srv is not None
        yield srv
    finally:
        if srv is not None:
            _clean(srv)
        # Ctrl-C, as a user stops it.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


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
