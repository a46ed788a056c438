"""Inside a task: fastgpu.current() and fastgpu.preempted() in a real task, and the training
example checkpointing on a real preemption and resuming from it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import fastgpu

from conftest import PYTHON_DIR

PRINT_CONTEXT = "import fastgpu, json, dataclasses; c = fastgpu.current(); print(json.dumps(dict(dataclasses.asdict(c), preempted=fastgpu.preempted(), fraction=c.gpu_fraction)))"


def test_outside_a_task(monkeypatch: "object") -> None:
    assert fastgpu.current(env={}) is None
    assert fastgpu.preempted(env={}) is False


def test_current_reads_the_slice_inside_a_real_task(client: fastgpu.Client) -> None:
    t = client.tasks.submit(fastgpu.Task(command=[sys.executable, "-c", PRINT_CONTEXT], gpu=0.25, cpu="200m", name="ctx"))
    done = client.tasks.wait(t.id, timeout=60)
    assert done.state == "SUCCEEDED", "".join(client.tasks.logs(t.id))
    ctx = json.loads("".join(client.tasks.logs(t.id)))
    assert done.placement is not None
    assert ctx["task_id"] == t.id and ctx["attempt"] == 1 and ctx["name"] == "ctx"
    assert ctx["gpu_milli"] == 250 and ctx["fraction"] == 0.25
    assert ctx["gpus"] == list(done.placement.gpus) and ctx["node"] == "pytest-node"
    assert ctx["gpu_memory_mib"] == done.placement.memory_mib and ctx["sharing"] == "simulated"
    assert ctx["signal_file"] and ctx["preempted"] is False


def test_preempted_from_the_signal_file(tmp_path: Path) -> None:
    signal_file = tmp_path / "signal"
    env = {"FASTGPU_TASK_ID": "t_x", "FASTGPU_ATTEMPT": "2", "FASTGPU_SIGNAL_FILE": str(signal_file), "FASTGPU_GPUS": "0,1", "FASTGPU_GPU_MILLI": "1000"}
    ctx = fastgpu.current(env=env)
    assert ctx is not None and ctx.gpus == (0, 1) and ctx.attempt == 2 and not ctx.preempted
    signal_file.write_text("FASTGPU_PREEMPTED=1\n")
    assert fastgpu.preempted(env=env) and ctx.preempted


def test_training_example_checkpoints_on_preemption_and_resumes(client: fastgpu.Client, tmp_path: Path) -> None:
    ckpt = tmp_path / "tiny.json"
    train = client.tasks.submit(
        fastgpu.Task(
            command=[sys.executable, "examples/train_tiny.py", "--steps", "300", "--pace", "0.02", "--checkpoint", str(ckpt)],
            gpu=2, cpu="200m", priority=10, preemptible=True, workdir=str(PYTHON_DIR), name="tiny",
        )
    )
    # Once it is training, a higher-priority task that needs a GPU preempts it.
    for text in client.tasks.logs(train.id, follow=True):
        if "step 20:" in text:
            break
    urgent = client.tasks.submit(fastgpu.Task(command="echo urgent", gpu=1, cpu="100m", priority=90))
    assert client.tasks.wait(urgent.id, timeout=60).state == "SUCCEEDED"
    done = client.tasks.wait(train.id, timeout=90)
    out = "".join(client.tasks.logs(train.id))
    assert done.state == "SUCCEEDED", out
    detail = client.tasks.get(train.id)
    assert [a.outcome for a in detail.history] == ["PREEMPTED", "SUCCEEDED"], out
    saved_at = int(out.split("preempted at step ")[1].split(":")[0])
    assert 20 <= saved_at < 300
    assert f"resumed from step {saved_at}" in out
    assert "done: 300 steps" in out and json.loads(ckpt.read_text())["step"] == 300
