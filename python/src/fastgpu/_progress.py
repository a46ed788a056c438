"""Progress for long waits: a tqdm bar when tqdm is installed, else a rich one, else plain lines.

``progress=None`` (the default): the bar when stderr is a terminal; otherwise (a pipe, a log
file, a notebook) just one line per task that ends. ``progress=True`` or ``FASTGPU_PROGRESS=1``:
the bar always. ``progress=False`` or ``FASTGPU_PROGRESS=0``: nothing."""

from __future__ import annotations

import importlib
import os
import sys
import time
from typing import Any, Dict, Optional, Sequence

from .models import TaskInfo


def mode(progress: Optional[bool]) -> str:
    """``full`` (a bar and state changes), ``ends`` (a line per task that ends) or ``off``."""
    if progress is not None:
        return "full" if progress else "off"
    env = os.environ.get("FASTGPU_PROGRESS", "").strip().lower()
    if env in ("1", "true", "yes", "on"):
        return "full"
    if env in ("0", "false", "no", "off"):
        return "off"
    try:
        return "full" if sys.stderr.isatty() else "ends"
    except (AttributeError, ValueError):
        return "ends"


def describe_end(t: TaskInfo) -> str:
    took = f" in {t.duration.total_seconds():.1f} s" if t.duration is not None else ""
    if t.state == "SUCCEEDED":
        return f"task {t.id} ({t.name}) completed{took}"
    code = f", exit code {t.exit_code}" if t.exit_code is not None else ""
    why = f": {t.reason_message}" if t.reason_message else ""
    return f"task {t.id} ({t.name}) ended {t.state}{code}{took}{why}"


def describe_state(t: TaskInfo) -> str:
    if t.state == "PENDING" and t.reason:
        return f"{t.id} PENDING ({t.reason})"
    return f"{t.id} {t.state}"


class Progress:
    """Plain lines on stderr: each state change, and one line per task that ends."""

    visible = True

    def __init__(self, total: int, label: str) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self._last: Dict[str, str] = {}
        self._start = time.monotonic()

    def _write(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def update(self, tasks: Sequence[TaskInfo]) -> None:
        for t in tasks:
            now = describe_state(t)
            if self._last.get(t.id) != now and not t.done:
                self._last[t.id] = now
                self._status(f"{self.label}: {now} ({time.monotonic() - self._start:.0f} s)")

    def _status(self, line: str) -> None:
        self._write(line)

    def finished(self, t: TaskInfo) -> None:
        self.done += 1
        self._write(describe_end(t))
        self._advance()

    def _advance(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Tqdm(Progress):
    def __init__(self, total: int, label: str, tqdm: Any) -> None:
        super().__init__(total, label)
        self._tqdm = tqdm
        self._bar = tqdm.tqdm(total=total, desc=label, unit="task", file=sys.stderr, leave=True)

    def _status(self, line: str) -> None:
        self._bar.set_postfix_str(line.split(": ", 1)[-1], refresh=True)

    def _write(self, line: str) -> None:
        self._tqdm.tqdm.write(line, file=sys.stderr)

    def _advance(self) -> None:
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


class _Rich(Progress):
    def __init__(self, total: int, label: str, rich_progress: Any) -> None:
        super().__init__(total, label)
        self._p = rich_progress.Progress(transient=False)
        self._p.start()
        self._id = self._p.add_task(label, total=total)

    def _status(self, line: str) -> None:
        self._p.update(self._id, description=f"{self.label}: {line.split(': ', 1)[-1]}")

    def _write(self, line: str) -> None:
        self._p.console.print(line, markup=False, highlight=False)

    def _advance(self) -> None:
        self._p.advance(self._id)

    def close(self) -> None:
        self._p.stop()


class _Silent(Progress):
    visible = False

    def _write(self, line: str) -> None:
        pass


class _Ends(Progress):
    """Only the line for each task that ends: for logs, pipes and notebooks."""

    visible = False

    def _status(self, line: str) -> None:
        pass


def make(progress: Optional[bool], total: int, label: str) -> Progress:
    m = mode(progress)
    if m == "off":
        return _Silent(total, label)
    if m == "ends":
        return _Ends(total, label)
    for name in ("tqdm", "rich.progress"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        return _Tqdm(total, label, mod) if name == "tqdm" else _Rich(total, label, mod)
    return Progress(total, label)
