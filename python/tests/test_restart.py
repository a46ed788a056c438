"""A log follow and a wait ride out a restart of `fastgpu up` (same data dir and port): the
task keeps running, and the SDK reconnects and resumes after the last chunk it saw."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import List

import fastgpu

from conftest import start_up, stop_up


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_follow_and_wait_survive_a_server_restart(tmp_path: Path) -> None:
    port = free_port()
    srv = start_up(tmp_path / "up", port)
    gate = tmp_path / "gate"
    try:
        with srv.client() as c:
            t = c.tasks.submit(fastgpu.Task(command='echo one; while [ ! -e "$GATE" ]; do sleep 0.05; done; echo two', env={"GATE": str(gate)}, cpu="100m"))
            seen: List[str] = []
            restarted = threading.Event()

            def restart() -> None:
                nonlocal srv
                stop_up(srv.proc)
                srv = start_up(tmp_path / "up", port)
                gate.touch()  # only now may the task end
                restarted.set()

            worker = None
            for text in c.tasks.logs(t.id, follow=True):
                seen.append(text)
                if worker is None:
                    worker = threading.Thread(target=restart)
                    worker.start()
            assert worker is not None
            worker.join()
            assert restarted.is_set()
            assert "".join(seen) == "one\ntwo\n"
            assert c.tasks.wait(t.id, timeout=60).state == "SUCCEEDED"
    finally:
        stop_up(srv.proc)
