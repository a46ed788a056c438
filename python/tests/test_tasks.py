"""client.tasks against the real server: submit, list, get, cancel, wait, logs (pages, history,
live follow), events, gangs, dry runs, and Ctrl-C during a wait."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta, timezone
from pathlib import Path

import pytest

import fastgpu

from conftest import PYTHON_DIR, Server

# A task that waits for a file the test creates, so the test decides when it ends (no sleeps).
GATED = 'echo started; while [ ! -e "$GATE" ]; do sleep 0.05; done; echo "gate open"'


def test_submit_get_wait_and_typed_fields(client: fastgpu.Client) -> None:
    task = fastgpu.Task(command=["sh", "-c", 'echo "milli=$FASTGPU_GPU_MILLI"; exit 3'], gpu=0.25, memory="256MiB", cpu="200m", priority=70, time_limit=timedelta(minutes=5), retries=1, name="typed", env={"A": "1"})
    info = client.tasks.submit(task)
    assert task.id == info.id and info.id.startswith("t_")
    assert info.name == "typed" and info.priority == 70 and info.state in ("PENDING", "SCHEDULED", "RUNNING")
    assert info.spec.time_limit == timedelta(minutes=5) and info.spec.retries == 1 and info.spec.env == {"A": "1"}
    assert info.spec.cpu_milli == 200 and info.spec.memory_mib == 256
    assert info.created_at is not None and info.created_at.tzinfo is not None
    done = client.tasks.wait(info.id, timeout=60)
    assert done.state == "FAILED" and done.exit_code == 3 and done.done and not done.succeeded
    assert done.placement is not None and done.placement.gpu_milli == 250 and done.placement.gpu_fraction == 0.25
    assert done.started_at is not None and done.started_at.tzinfo == timezone.utc
    assert isinstance(done.duration, timedelta)
    detail = client.tasks.get(info.id)
    assert isinstance(detail, fastgpu.TaskDetail) and detail.attempts == 1
    assert [(a.attempt, a.outcome, a.exit_code) for a in detail.history] == [(1, "FAILED", 3)]
    assert "".join(client.tasks.logs(info.id)) == "milli=250\n"
    assert repr(done).startswith(f"<Task {info.id} 'typed' FAILED exit=3")


def test_list_filters(client: fastgpu.Client) -> None:
    a = client.tasks.submit(fastgpu.Task(command="true", name="list-a", cpu="100m"))
    b = client.tasks.submit({"command": "true", "name": "list-b", "resources": {"cpu": "100m"}})
    client.tasks.wait_all([a.id, b.id], timeout=60)
    named = client.tasks.list(name="list-", all=True)
    assert [t.id for t in named][:2] == [b.id, a.id]  # newest first
    assert [t.id for t in client.tasks.list(name="list-a", state="SUCCEEDED")] == [a.id]
    assert client.tasks.list(name="list-a", state=["PENDING", "RUNNING"]) == []
    assert len(client.tasks.list(name="list-", all=True, limit=1)) == 1
    assert [t.id for t in client.tasks.list(name="list-", all=True, before=b.id)] == [a.id]


def test_list_follows_the_pages_the_server_cuts(client: fastgpu.Client) -> None:
    # 1,005 cancelled elements of one array: the server cuts a list of finished tasks at 1,000.
    arr = client.arrays.submit({"command": "sleep 600", "resources": {"cpu": "100m"}, "array": "0-1004%1", "name": "paged"})
    client.arrays.cancel(arr.id)
    client.arrays.wait(arr.id, timeout=60)  # the one element running ends once its agent stopped it
    ids = [t.id for t in client.tasks.list(name="paged", state="CANCELLED")]
    assert len(ids) == 1005 and len(set(ids)) == 1005
    assert len(client.tasks.list(name="paged", state="CANCELLED", limit=300)) == 300


def test_cancel_and_conflict(client: fastgpu.Client, tmp_path: Path) -> None:
    t = client.tasks.submit(fastgpu.Task(command="sleep 600", cpu="100m"))
    cancelled = client.tasks.cancel(t.id)
    assert cancelled.id == t.id
    assert client.tasks.wait(t.id, timeout=60).state == "CANCELLED"
    with pytest.raises(fastgpu.Conflict) as e:
        client.tasks.cancel(t.id)
    assert e.value.status == 409 and e.value.code == "CONFLICT"


def test_wait_timeout_raises_timeout(client: fastgpu.Client) -> None:
    t = client.tasks.submit(fastgpu.Task(command="sleep 600", cpu="100m"))
    with pytest.raises(fastgpu.Timeout):
        client.tasks.wait(t.id, timeout=0.5, progress=False)
    assert client.tasks.get(t.id).state in ("SCHEDULED", "RUNNING", "PENDING")


def test_logs_follow_live_until_the_end(client: fastgpu.Client, tmp_path: Path) -> None:
    gate = f"{tmp_path}/gate"
    t = client.tasks.submit(fastgpu.Task(command=GATED, env={"GATE": gate}, cpu="100m"))
    seen = []
    for text in client.tasks.logs(t.id, follow=True):
        seen.append(text)
        if "started" in "".join(seen) and not Path(gate).exists():
            # The follow is live: only now does the task go on.
            Path(gate).touch()
    assert "".join(seen) == "started\ngate open\n"
    assert client.tasks.get(t.id).state == "SUCCEEDED"
    chunks = list(client.tasks.log_chunks(t.id))
    assert [c.stream for c in chunks] == ["stdout"] * len(chunks) and chunks[0].attempt == 1
    page = client.tasks.log_page(t.id, limit=1)
    assert len(page.chunks) == 1 and page.next == page.chunks[0].pos
    rest = list(client.tasks.log_chunks(t.id, after=page.next))
    assert page.text + "".join(c.data for c in rest) == "started\ngate open\n"
    # Following a finished task gives its output and ends.
    assert "".join(client.tasks.logs(t.id, follow=True)) == "started\ngate open\n"


def test_events_pages_and_history(client: fastgpu.Client) -> None:
    t = client.tasks.submit(fastgpu.Task(command="echo hi", cpu="100m"))
    client.tasks.wait(t.id, timeout=60)
    history = list(client.tasks.event_history(t.id, page_size=1))
    types = [e.type for e in history]
    assert types[0] == "task.submitted" and types[-1] == "task.finished"
    assert "task.started" in types
    assert all(e.at.tzinfo is not None and e.task_id == t.id for e in history)
    assert [e.seq for e in history] == sorted(e.seq for e in history)
    first = client.tasks.events(t.id, limit=1)
    assert len(first.events) == 1 and first.next == first.events[0].seq
    assert history[-1].data["state"] == "SUCCEEDED"


def test_gang_and_dry_run(client: fastgpu.Client) -> None:
    dry = client.tasks.create(fastgpu.Task(command="true", gpu=1, gang=2), dry_run=True)
    assert len(dry) == 2 and client.tasks.list(gang=dry[0].gang_id, all=True) == []
    gang = client.tasks.create(fastgpu.Task(command="true", gpu=1, gang=2, cpu="100m"))
    assert len(gang) == 2 and gang[0].gang_id is not None and [t.gang_index for t in gang] == [0, 1]
    done = client.tasks.wait_all([t.id for t in gang], timeout=60)
    assert [t.state for t in done] == ["SUCCEEDED", "SUCCEEDED"]


def test_ctrl_c_during_wait_leaves_the_task_running_and_says_how_to_reattach(server: Server, client: fastgpu.Client) -> None:
    t = client.tasks.submit(fastgpu.Task(command="sleep 600", cpu="100m"))
    # Plain progress lines (as without tqdm or rich) say when the wait is under way.
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["tqdm"] = None
        sys.modules["rich.progress"] = None
        import fastgpu
        fastgpu.Client().tasks.wait({t.id!r}, progress=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=server.env(), stderr=subprocess.PIPE, text=True, cwd=str(PYTHON_DIR))
    assert proc.stderr is not None
    lines: "queue.Queue[str]" = queue.Queue()
    def read() -> None:
        for line in proc.stderr or []:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    err = ""
    try:
        while not (t.id in err and "RUNNING" in err):
            err += lines.get(timeout=60)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(10)
    while not lines.empty():
        err += lines.get()
    assert f"task {t.id} keeps running" in err, err
    assert f"fastgpu wait {t.id}" in err and f"fastgpu.Client().tasks.wait({t.id!r})" in err
    assert client.tasks.get(t.id).state == "RUNNING"
