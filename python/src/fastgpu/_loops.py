"""The logic of the long-running calls, kept apart from their I/O so the sync and async clients
share it: how long to ride out an unreachable server, and what a wait for several tasks does
next."""

from __future__ import annotations

import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from ._http import RECONNECT_S, WAIT_POLL_S
from ._progress import make as make_progress
from .errors import FastGPUError, NetworkError, Timeout, retriable
from .models import TaskInfo


def reattach_hint(ids: Sequence[str]) -> str:
    """What Ctrl-C during a wait prints: the tasks keep running, and how to get back to them."""
    one = ids[0] if ids else "ID"
    which = f"task {one} keeps" if len(ids) == 1 else f"tasks {', '.join(ids)} keep"
    return (
        f"\nfastgpu: stopped waiting; {which} running on the pool.\n"
        f"  reattach: fastgpu.Client().tasks.wait({one!r})   or   fastgpu wait {one}\n"
        f"  follow its output: fastgpu logs -f {one}   stop it: fastgpu cancel {' '.join(ids) or one}"
    )


class Outage:
    """How long the server has been unreachable (it may be restarting); gives up after a minute."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.since: Optional[float] = None

    def ok(self) -> None:
        self.since = None

    def failed(self, e: FastGPUError) -> None:
        """Re-raises ``e`` unless it is worth retrying and the minute has not passed."""
        if not retriable(e):
            raise e
        self.since = self.since or time.monotonic()
        if time.monotonic() - self.since > RECONNECT_S:
            raise NetworkError(f"{self.what}: the server has been unreachable for over {RECONNECT_S:.0f} s ({e.message})") from e


class Waiting:
    """A wait for several tasks: long-poll the first unfinished one, report progress, give up
    at the deadline."""

    def __init__(self, task_ids: Sequence[str], timeout: Optional[float], progress: Optional[bool], label: str) -> None:
        self.ids = list(task_ids)
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.bar = make_progress(progress, len(self.ids), label)
        # With a bar, poll briefly so state changes show; otherwise long-poll.
        self.poll = 1.0 if self.bar.visible else WAIT_POLL_S
        self.done: Dict[str, TaskInfo] = {}

    def next(self) -> Optional[Tuple[str, float]]:
        """(the task to long-poll, for how many seconds), or None when all have ended."""
        pending = [i for i in self.ids if i not in self.done]
        if not pending:
            return None
        left = None if self.deadline is None else self.deadline - time.monotonic()
        if left is not None and left <= 0:
            raise Timeout(f"task {pending[0]} has not finished within the time given")
        return pending[0], self.poll if left is None else max(0.001, min(self.poll, left))

    def seen(self, t: TaskInfo) -> None:
        if t.done:
            self.done[t.id] = t
            self.bar.finished(t)
        else:
            self.bar.update([t])

    def interrupted(self) -> None:
        print(reattach_hint([i for i in self.ids if i not in self.done]), file=sys.stderr, flush=True)

    def close(self) -> None:
        self.bar.close()

    def result(self) -> List[TaskInfo]:
        return [self.done[i] for i in self.ids]
