"""FastGPU's Python SDK.

>>> import fastgpu
>>> vgpu = fastgpu.VirtualGPU.create(20, 'tflops')   # a vGPU of 20 TFLOPS
>>> vgpu.submit_task(fastgpu.Task(20, 5))            # the built-in synthetic load, 5 s
>>> vgpu.wait()

``fastgpu.Client()`` / ``fastgpu.AsyncClient()`` cover the whole API; inside a task,
``fastgpu.current()`` and ``fastgpu.preempted()`` read its slice and preemption notice.
"""

from ._default import configure, default_client
from .aio import AsyncClient
from .arrays import ArrayInfo, Arrays, ElementResult, MapError, map
from .client import Client
from .errors import (
    Conflict,
    FastGPUError,
    Forbidden,
    InternalError,
    InvalidArgument,
    MethodNotAllowed,
    NetworkError,
    NotConfigured,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    RateLimited,
    Timeout,
    Unauthenticated,
    Unavailable,
    Unschedulable,
)
from .inside import TaskContext, catch_sigterm, current, preempted, should_stop
from .models import (
    GPU,
    Attempt,
    BillingSettings,
    CreatedToken,
    Event,
    EventPage,
    GPUDevice,
    LogChunk,
    LogPage,
    Node,
    Placement,
    PriceBook,
    Promotion,
    Quote,
    Samples,
    Slice,
    TaskDetail,
    TaskInfo,
    TaskPage,
    TaskInput,
    TaskOutput,
    TaskSpec,
    Tenant,
    Token,
    UsageGroup,
    UsageReport,
    UsageRow,
    VGPUInfo,
)
from .sweep import Sweep, params, report
from . import sweep_optuna
from .task import DataInput, DataOutput, Task, synthetic_load_command
from .vgpu import AsyncVirtualGPU, VirtualGPU

__version__ = "0.1.0"

__all__ = [
    "ArrayInfo",
    "Arrays",
    "DataInput",
    "DataOutput",
    "ElementResult",
    "MapError",
    "map",
    "AsyncClient",
    "AsyncVirtualGPU",
    "Attempt",
    "BillingSettings",
    "Client",
    "Sweep",
    "sweep_optuna",
    "params",
    "report",
    "Conflict",
    "CreatedToken",
    "Event",
    "EventPage",
    "FastGPUError",
    "Forbidden",
    "GPU",
    "GPUDevice",
    "InternalError",
    "InvalidArgument",
    "LogChunk",
    "LogPage",
    "NetworkError",
    "Node",
    "NotConfigured",
    "NotFound",
    "MethodNotAllowed",
    "PayloadTooLarge",
    "RateLimited",
    "Placement",
    "PriceBook",
    "Promotion",
    "QuotaExceeded",
    "Quote",
    "Samples",
    "Slice",
    "Task",
    "TaskContext",
    "TaskDetail",
    "TaskInfo",
    "TaskPage",
    "TaskSpec",
    "TaskInput",
    "TaskOutput",
    "Tenant",
    "Timeout",
    "Token",
    "Unauthenticated",
    "Unavailable",
    "Unschedulable",
    "UsageGroup",
    "UsageReport",
    "UsageRow",
    "VGPUInfo",
    "VirtualGPU",
    "catch_sigterm",
    "configure",
    "current",
    "default_client",
    "preempted",
    "should_stop",
    "synthetic_load_command",
]
