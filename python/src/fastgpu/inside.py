"""Inside a task: what slice it runs on and whether it is about to be preempted.

The agent starts every task with ``FASTGPU_*`` variables (task id, attempt, the slice) and, before
a preemption's SIGTERM, writes ``FASTGPU_PREEMPTED=1`` into ``$FASTGPU_SIGNAL_FILE``. A training
loop checks :func:`should_stop` (or :func:`preempted`) between steps and checkpoints::

    fastgpu.catch_sigterm()
    for step in range(start, steps):
        train_one(step)
        if fastgpu.should_stop():
            save_checkpoint(step); sys.exit(0)
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

_sigterm = False


@dataclass(frozen=True)
class TaskContext:
    """The slice and attempt of the task this process runs in."""

    task_id: str
    attempt: int
    name: Optional[str]
    node: Optional[str]
    #: Compute share per GPU in milli-GPU (1000 = a whole GPU); 0 for a CPU-only task.
    gpu_milli: int
    gpu_memory_mib: int
    #: GPU indices on the node.
    gpus: Tuple[int, ...]
    sharing: Optional[str]
    vgpu_id: Optional[str]
    cuda_visible_devices: Optional[str]
    signal_file: Optional[str]

    @property
    def gpu_fraction(self) -> float:
        return self.gpu_milli / 1000

    @property
    def preempted(self) -> bool:
        """True once the agent has announced a preemption (before its SIGTERM)."""
        return _signalled(self.signal_file)

    def __repr__(self) -> str:
        gpus = ",".join(str(g) for g in self.gpus) or "none"
        vg = f" in {self.vgpu_id}" if self.vgpu_id else ""
        return f"<TaskContext {self.task_id} attempt {self.attempt} GPU {gpus} {self.gpu_milli}m {self.gpu_memory_mib}MiB {self.sharing}{vg}>"


def _int(v: Optional[str]) -> int:
    try:
        return int(v) if v else 0
    except ValueError:
        return 0


def current(env: Optional[Mapping[str, str]] = None) -> Optional[TaskContext]:
    """The task this process runs in, from its ``FASTGPU_*`` environment; None outside a task."""
    e = os.environ if env is None else env
    task_id = e.get("FASTGPU_TASK_ID")
    if not task_id:
        return None
    gpus = tuple(int(g) for g in e.get("FASTGPU_GPUS", "").split(",") if g.strip().isdigit())
    return TaskContext(
        task_id=task_id,
        attempt=_int(e.get("FASTGPU_ATTEMPT")),
        name=e.get("FASTGPU_TASK_NAME"),
        node=e.get("FASTGPU_NODE"),
        gpu_milli=_int(e.get("FASTGPU_GPU_MILLI")),
        gpu_memory_mib=_int(e.get("FASTGPU_GPU_MEMORY_MIB")),
        gpus=gpus,
        sharing=e.get("FASTGPU_SHARING"),
        vgpu_id=e.get("FASTGPU_VGPU_ID"),
        cuda_visible_devices=e.get("CUDA_VISIBLE_DEVICES"),
        signal_file=e.get("FASTGPU_SIGNAL_FILE"),
    )


def _signalled(path: Optional[str]) -> bool:
    if not path:
        return False
    try:
        with open(path, encoding="utf-8") as f:
            return any(line.strip() == "FASTGPU_PREEMPTED=1" for line in f)
    except OSError:
        return False


def preempted(env: Optional[Mapping[str, str]] = None) -> bool:
    """True when the agent has announced that this task is being preempted (it will get SIGTERM,
    then SIGKILL after the grace period, and go back to the queue). False outside a task."""
    e = os.environ if env is None else env
    return _signalled(e.get("FASTGPU_SIGNAL_FILE"))


def _on_sigterm(signum: int, frame: Any) -> None:
    global _sigterm
    _sigterm = True


def catch_sigterm() -> None:
    """Turns SIGTERM (a preemption, a cancel or the time limit) into a flag that
    :func:`should_stop` reports, instead of ending the process at once, so the loop can
    checkpoint first. Call it from the main thread."""
    signal.signal(signal.SIGTERM, _on_sigterm)


def should_stop() -> bool:
    """True once SIGTERM came (after :func:`catch_sigterm`) or a preemption is announced."""
    return _sigterm or preempted()
