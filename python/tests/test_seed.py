"""The seed snippet, verbatim (python/examples/seed.py), run as a user runs it: in a terminal,
finding the server through the config `fastgpu up` saved."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import fastgpu

from conftest import PYTHON_DIR, REPO, Server


def run_in_terminal(args: "list[str]", env: "dict[str, str]", timeout: float = 120) -> "tuple[int, str]":
    """Runs a command with a pseudo-terminal as stdout and stderr; answers (exit code, output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env, cwd=str(PYTHON_DIR))
    os.close(slave)
    out = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    os.close(master)
    return proc.wait(timeout), out.decode("utf-8", "replace").replace("\r\n", "\n")


def test_seed_snippet_runs_verbatim_and_the_three_tasks_share_one_slice_in_turn(server: Server, client: fastgpu.Client) -> None:
    code, out = run_in_terminal([sys.executable, "examples/seed.py"], server.env())
    assert code == 0, out
    # The three "completed" lines (the wait's progress in a terminal), then the seed's own.
    completed = re.findall(r"task (t_\w+) \((synthetic-[\w.-]+)\) completed in ([\d.]+) s", out)
    assert [name for _, name, _ in completed] == ["synthetic-20tflops-5s", "synthetic-15tflops-3s", "synthetic-10tflops-2s"], out
    assert out.rstrip().endswith("Task 1 completed."), out

    # What `fastgpu ps --all` shows, read through the API it reads.
    ids = [tid for tid, _, _ in completed]
    tasks = [client.tasks.get(tid) for tid in ids]
    vgpu_ids = {t.vgpu_id for t in tasks}
    assert len(vgpu_ids) == 1 and None not in vgpu_ids
    vgpu_id = vgpu_ids.pop()
    assert vgpu_id is not None
    listed = client.tasks.list(all=True, vgpu=vgpu_id)
    assert sorted(t.id for t in listed) == sorted(ids)
    vgpu = client.vgpus.get(vgpu_id)
    assert vgpu.tflops == 20
    # One slice: the same GPU and the same share, the vGPU's.
    assert vgpu.placement is not None
    for t in tasks:
        assert t.state == "SUCCEEDED" and t.exit_code == 0
        assert t.placement is not None and t.placement.vgpu_id == vgpu_id
        assert (t.placement.node, t.placement.gpus, t.placement.gpu_milli) == (vgpu.placement.node, vgpu.placement.gpus, vgpu.placement.gpu_milli)
        assert len(t.history) == 1
    # One after another, in submit order, each running its length.
    for (a, b) in zip(tasks, tasks[1:]):
        assert a.finished_at is not None and b.started_at is not None
        assert b.started_at >= a.finished_at
    for t, seconds in zip(tasks, (5, 3, 2)):
        assert t.duration is not None and t.duration.total_seconds() >= seconds
        assert t.spec.gpu == {"count": 1, "share": {"kind": "tflops", "tflops": [20, 15, 10][(5, 3, 2).index(seconds)]}}
    # The synthetic load says what it ran on.
    text = "".join(client.tasks.logs(ids[0]))
    assert f"fastgpu synthetic load: 20 TFLOPS for 5 s on GPU {vgpu.placement.gpus[0]} ({vgpu.placement.gpu_milli} milli-GPU" in text
    assert "  5/5 s\nsynthetic load done\n" in text
    # And `fastgpu ps --all` itself: one row each, the same vGPU and slice, each starting when
    # the one before it ended.
    ps = subprocess.run(
        ["node", str(REPO / "bin" / "fastgpu"), "ps", "--all", "--vgpu", vgpu_id], env=server.env(), capture_output=True, text=True, timeout=60
    )
    assert ps.returncode == 0, ps.stderr
    header, *rows = [line for line in ps.stdout.splitlines() if line]
    assert re.split(r"\s{2,}", header) == ["ID", "NAME", "STATE", "REASON", "PRI", "REQUEST", "VGPU", "PLACED", "STARTED", "ENDED", "AGE"], ps.stdout
    cells = {c[0]: c for c in (re.split(r"\s{2,}", row) for row in rows)}
    assert sorted(cells) == sorted(ids), ps.stdout
    shown = [cells[i] for i in ids]
    assert [c[5] for c in shown] == ["20TF", "15TF", "10TF"], ps.stdout
    assert {c[6] for c in shown} == {vgpu_id} and len({c[7] for c in shown}) == 1, ps.stdout
    for before, after in zip(shown, shown[1:]):
        assert after[8] >= before[9], ps.stdout  # HH:MM:SS: started no earlier than the previous ended
    client.vgpus.delete(vgpu_id)
