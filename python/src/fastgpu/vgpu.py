"""``VirtualGPU``: a slice of one GPU reserved ahead, that tasks are submitted into. Tasks in a
vGPU run in its slice one after another, in submit order.

>>> with fastgpu.VirtualGPU.create(0.5) as vgpu:      # released on leaving the block
...     vgpu.submit_task(fastgpu.Task(command="python eval.py"))
...     vgpu.wait()
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Union

from ._default import default_async_client, default_client
from .aio import AsyncClient
from .client import Client, Seconds
from .errors import InvalidArgument
from .models import TaskInfo, VGPUInfo
from .task import SpecLike, Task

UNITS = ("gpu", "tflops", "memory", "GiB")


def _size(amount: Union[float, str, None], unit: str, tflops: Optional[float], memory: Union[str, int, None]) -> Dict[str, Any]:
    out: Dict[str, Any] = {"gpu": None, "tflops": tflops, "memory": memory}
    if amount is None:
        return out
    if unit == "gpu":
        out["gpu"] = amount
    elif unit == "tflops":
        if isinstance(amount, str):
            raise InvalidArgument(f"tflops: {amount!r} must be a number", field="tflops")
        out["tflops"] = amount
    elif unit in ("memory", "GiB"):
        out["memory"] = amount if isinstance(amount, str) else f"{amount}GiB"
    else:
        raise InvalidArgument(f"unit: {unit!r} is not one of {', '.join(UNITS)}", field="unit")
    return out


def _check_fits(task: SpecLike, info: VGPUInfo) -> None:
    """A Task sized in TFLOPS must fit the vGPU's TFLOPS: the slice is all it gets."""
    if isinstance(task, Task) and task.tflops is not None and info.tflops is not None and task.tflops > info.tflops:
        raise InvalidArgument(f"tflops: the task asks for {task.tflops:g} TFLOPS but vGPU {info.id} has {info.tflops:g}", field="tflops")


class VirtualGPU:
    """A reserved slice of one GPU.

    ``VirtualGPU.create(20, 'tflops')``, ``VirtualGPU.create(0.5)`` (half a GPU),
    ``VirtualGPU.create(memory="20GiB", model="H100")``. Use it as a context manager to release
    it on exit, or call :meth:`delete`."""

    def __init__(self, client: Client, info: VGPUInfo) -> None:
        self.client = client
        self.info = info
        self._submitted: List[str] = []
        self._lock = threading.Lock()

    @classmethod
    def create(
        cls,
        amount: Union[float, str, None] = None,
        unit: str = "gpu",
        *,
        tflops: Optional[float] = None,
        memory: Union[str, int, None] = None,
        model: Optional[str] = None,
        name: Optional[str] = None,
        client: Optional[Client] = None,
    ) -> "VirtualGPU":
        c = client or default_client()
        return cls(c, c.vgpus.create(model=model, name=name, **_size(amount, unit, tflops, memory)))

    @classmethod
    def get(cls, vgpu_id: str, *, client: Optional[Client] = None) -> "VirtualGPU":
        """An existing reservation (e.g. from another process)."""
        c = client or default_client()
        return cls(c, c.vgpus.get(vgpu_id))

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def tasks(self) -> List[str]:
        """Ids of the tasks submitted through this object, in order."""
        return list(self._submitted)

    def refresh(self) -> VGPUInfo:
        self.info = self.client.vgpus.get(self.id)
        return self.info

    def submit_task(self, task: SpecLike) -> TaskInfo:
        """Runs a task inside this slice (queued behind the ones before it)."""
        _check_fits(task, self.info)
        made = self.client.tasks.create(task, vgpu=self.id)
        with self._lock:
            self._submitted.extend(t.id for t in made)
        return made[0]

    submit = submit_task

    def wait(self, *, timeout: Seconds = None, progress: Optional[bool] = None) -> List[TaskInfo]:
        """Waits for every task submitted through this object; returns them finished, in order."""
        return self.client.tasks.wait_all(self.tasks, timeout=timeout, progress=progress, label=f"vGPU {self.id}")

    def delete(self) -> VGPUInfo:
        """Releases the slice; unfinished tasks in it are cancelled."""
        self.info = self.client.vgpus.delete(self.id)
        return self.info

    release = delete

    def __enter__(self) -> "VirtualGPU":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.info.state != "RELEASED":
            self.delete()

    def __repr__(self) -> str:
        return f"<VirtualGPU {repr(self.info)[len('<VGPU ') : -1]} tasks={len(self._submitted)}>"


class AsyncVirtualGPU:
    """:class:`VirtualGPU` for asyncio: ``async with await AsyncVirtualGPU.create(0.5) as vgpu:``."""

    def __init__(self, client: AsyncClient, info: VGPUInfo) -> None:
        self.client = client
        self.info = info
        self._submitted: List[str] = []

    @classmethod
    async def create(
        cls,
        amount: Union[float, str, None] = None,
        unit: str = "gpu",
        *,
        tflops: Optional[float] = None,
        memory: Union[str, int, None] = None,
        model: Optional[str] = None,
        name: Optional[str] = None,
        client: Optional[AsyncClient] = None,
    ) -> "AsyncVirtualGPU":
        c = client or default_async_client()
        return cls(c, await c.vgpus.create(model=model, name=name, **_size(amount, unit, tflops, memory)))

    @classmethod
    async def get(cls, vgpu_id: str, *, client: Optional[AsyncClient] = None) -> "AsyncVirtualGPU":
        c = client or default_async_client()
        return cls(c, await c.vgpus.get(vgpu_id))

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def tasks(self) -> List[str]:
        return list(self._submitted)

    async def refresh(self) -> VGPUInfo:
        self.info = await self.client.vgpus.get(self.id)
        return self.info

    async def submit_task(self, task: SpecLike) -> TaskInfo:
        _check_fits(task, self.info)
        made = await self.client.tasks.create(task, vgpu=self.id)
        self._submitted.extend(t.id for t in made)
        return made[0]

    submit = submit_task

    async def wait(self, *, timeout: Seconds = None, progress: Optional[bool] = None) -> List[TaskInfo]:
        return await self.client.tasks.wait_all(self.tasks, timeout=timeout, progress=progress, label=f"vGPU {self.id}")

    async def delete(self) -> VGPUInfo:
        self.info = await self.client.vgpus.delete(self.id)
        return self.info

    release = delete

    async def __aenter__(self) -> "AsyncVirtualGPU":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.info.state != "RELEASED":
            await self.delete()

    def __repr__(self) -> str:
        return f"<AsyncVirtualGPU {repr(self.info)[len('<VGPU ') : -1]} tasks={len(self._submitted)}>"
