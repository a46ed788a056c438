"""Typed results. Each is a frozen dataclass built from the server's JSON view: times are
timezone-aware datetimes, durations timedeltas, money Decimal. ``raw`` keeps the JSON as sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Dict, List, Optional, Tuple

from ._convert import Json, dec, dt, micros, ms, opt_int, opt_str, req_dt, str_map, strs

TERMINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED", "TIMEOUT")


def _short(d: Optional[timedelta]) -> str:
    if d is None:
        return "-"
    s = d.total_seconds()
    return f"{s:.1f}s" if s < 120 else f"{s / 60:.1f}min" if s < 7200 else f"{s / 3600:.1f}h"


@dataclass(frozen=True)
class Placement:
    """Where an attempt or a vGPU runs: node, GPU indices, the slice (milli-GPU and MiB)."""

    node: str
    node_id: str
    gpus: Tuple[int, ...]
    gpu_uuids: Tuple[str, ...]
    gpu_milli: int
    memory_mib: int
    cpu_milli: int
    host_memory_mib: int
    sharing: str
    vgpu_id: Optional[str] = None

    @staticmethod
    def from_json(j: Json) -> "Placement":
        return Placement(
            node=str(j["node"]),
            node_id=str(j["nodeId"]),
            gpus=tuple(int(g) for g in j.get("gpus", [])),
            gpu_uuids=tuple(str(u) for u in j.get("gpuUuids", [])),
            gpu_milli=int(j.get("gpuMilli", 0)),
            memory_mib=int(j.get("memoryMiB", 0)),
            cpu_milli=int(j.get("cpuMilli", 0)),
            host_memory_mib=int(j.get("hostMemoryMiB", 0)),
            sharing=str(j.get("sharing", "")),
            vgpu_id=opt_str(j.get("vgpuId")),
        )

    @staticmethod
    def maybe(j: Any) -> Optional["Placement"]:
        return Placement.from_json(j) if isinstance(j, dict) else None

    @property
    def gpu_fraction(self) -> float:
        """The compute share of each GPU, 0–1 (milli-GPU / 1000)."""
        return self.gpu_milli / 1000

    def __repr__(self) -> str:
        gpus = ",".join(str(g) for g in self.gpus) or "cpu"
        vg = f" in {self.vgpu_id}" if self.vgpu_id else ""
        return f"<Placement {self.node}:{gpus} {self.gpu_milli}m {self.memory_mib}MiB{vg}>"


@dataclass(frozen=True)
class TaskInput:
    """A data input as the server pinned it at submit: the version every attempt reads."""

    dataset: str
    version: Optional[int]
    #: Relative to the task's working directory.
    path: str
    #: The variable holding its absolute path on the node (``FASTGPU_INPUT_<NAME>``).
    env: str

    @staticmethod
    def from_json(j: Json) -> "TaskInput":
        return TaskInput(dataset=str(j.get("dataset", "")), version=opt_int(j.get("version")), path=str(j.get("path", "")), env=str(j.get("env", "")))


@dataclass(frozen=True)
class TaskOutput:
    """A data output: after a successful exit, ``path`` is uploaded as a new version of ``dataset``."""

    #: Relative to the task's working directory: a folder or one file.
    path: str
    dataset: str
    #: On a task's detail (:meth:`Tasks.get`): the version its upload made; None until then, or when it failed.
    version: Optional[int] = None

    @staticmethod
    def from_json(j: Json) -> "TaskOutput":
        return TaskOutput(path=str(j.get("path", "")), dataset=str(j.get("dataset", "")), version=opt_int(j.get("version")))


@dataclass(frozen=True)
class TaskSpec:
    """A task's spec as the server normalised it."""

    name: str
    command: Tuple[str, ...]
    env: Dict[str, str]
    gpu: Optional[Dict[str, Any]]
    cpu_milli: int
    memory_mib: int
    priority: int
    retries: int
    preemptible: bool
    gang: int
    tenant: str
    time_limit: Optional[timedelta]
    vgpu_id: Optional[str]
    workdir: Optional[str]
    #: Its data inputs (datasets staged before it starts), versions pinned at submit.
    inputs: Tuple[TaskInput, ...] = ()
    #: Its data outputs (uploaded as new dataset versions after a successful exit).
    outputs: Tuple[TaskOutput, ...] = ()

    @staticmethod
    def from_json(j: Json) -> "TaskSpec":
        res = j.get("resources") or {}
        return TaskSpec(
            name=str(j.get("name", "")),
            command=tuple(strs(j.get("command"))),
            env=str_map(j.get("env")),
            gpu=res.get("gpu") if isinstance(res.get("gpu"), dict) else None,
            cpu_milli=int(res.get("cpuMilli", 0)),
            memory_mib=int(res.get("memoryMiB", 0)),
            priority=int(j.get("priority", 0)),
            retries=int(j.get("retries", 0)),
            preemptible=bool(j.get("preemptible", False)),
            gang=int(j.get("gang", 1)),
            tenant=str(j.get("tenant", "")),
            time_limit=ms(j.get("timeLimitMs")),
            vgpu_id=opt_str(j.get("vgpuId")),
            workdir=opt_str(j.get("workdir")),
            inputs=tuple(TaskInput.from_json(x) for x in (j.get("inputs") or []) if isinstance(x, dict)),
            outputs=tuple(TaskOutput.from_json(x) for x in (j.get("outputs") or []) if isinstance(x, dict)),
        )


@dataclass(frozen=True)
class TaskInfo:
    """A task as the server shows it. ``attempts`` is how many attempts were made."""

    id: str
    name: str
    state: str
    reason: Optional[str]
    reason_message: Optional[str]
    priority: int
    exit_code: Optional[int]
    attempts: int
    tenant: str
    created_at: Optional[datetime]
    scheduled_at: Optional[datetime]
    started_at: Optional[datetime]
    finished_at: Optional[datetime]
    spec: TaskSpec
    placement: Optional[Placement]
    gang_id: Optional[str]
    gang_index: int
    vgpu_id: Optional[str]
    raw: Json = field(repr=False, compare=False)

    @staticmethod
    def from_json(j: Json) -> "TaskInfo":
        attempts = j.get("attempts")
        count = attempts if isinstance(attempts, int) else int(j.get("attempt") or 0)
        return TaskInfo(
            id=str(j["id"]),
            name=str(j.get("name", "")),
            state=str(j["state"]),
            reason=opt_str(j.get("reason")),
            reason_message=opt_str(j.get("reasonMessage")),
            priority=int(j.get("priority", 0)),
            exit_code=opt_int(j.get("exitCode")),
            attempts=count,
            tenant=str(j.get("tenant", "")),
            created_at=dt(j.get("createdAt")),
            scheduled_at=dt(j.get("scheduledAt")),
            started_at=dt(j.get("startedAt")),
            finished_at=dt(j.get("finishedAt")),
            spec=TaskSpec.from_json(j.get("spec") or {}),
            placement=Placement.maybe(j.get("placement")),
            gang_id=opt_str(j.get("gangId")),
            gang_index=int(j.get("gangIndex", 0)),
            vgpu_id=opt_str(j.get("vgpuId")),
            raw=j,
        )

    @property
    def done(self) -> bool:
        """True once the task has ended (SUCCEEDED, FAILED, CANCELLED or TIMEOUT)."""
        return self.state in TERMINAL_STATES

    @property
    def succeeded(self) -> bool:
        return self.state == "SUCCEEDED"

    @property
    def duration(self) -> Optional[timedelta]:
        """How long the last attempt ran (so far, while it runs: None until it starts or ends)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def __repr__(self) -> str:
        parts = [f"<Task {self.id} {self.name!r} {self.state}"]
        if self.reason:
            parts.append(f"({self.reason})")
        if self.exit_code is not None:
            parts.append(f"exit={self.exit_code}")
        if self.placement is not None:
            parts.append(repr(self.placement)[len("<Placement ") : -1].split(" in ")[0])
        if self.vgpu_id:
            parts.append(f"in {self.vgpu_id}")
        if self.duration is not None:
            parts.append(_short(self.duration))
        return " ".join(parts) + ">"


@dataclass(frozen=True)
class Attempt:
    """One try at running a task."""

    attempt: int
    node_id: str
    node: str
    placement: Optional[Placement]
    scheduled_at: Optional[datetime]
    started_at: Optional[datetime]
    ended_at: Optional[datetime]
    outcome: Optional[str]
    exit_code: Optional[int]

    @staticmethod
    def from_json(j: Json) -> "Attempt":
        return Attempt(
            attempt=int(j["attempt"]),
            node_id=str(j.get("nodeId", "")),
            node=str(j.get("node", "")),
            placement=Placement.maybe(j.get("placement")),
            scheduled_at=dt(j.get("scheduledAt")),
            started_at=dt(j.get("startedAt")),
            ended_at=dt(j.get("endedAt")),
            outcome=opt_str(j.get("outcome")),
            exit_code=opt_int(j.get("exitCode")),
        )

    def __repr__(self) -> str:
        ran = self.ended_at - self.started_at if self.started_at and self.ended_at else None
        return f"<Attempt {self.attempt} on {self.node} {self.outcome or 'running'} exit={self.exit_code} {_short(ran)}>"


@dataclass(frozen=True, repr=False)
class TaskDetail(TaskInfo):
    """A task with its attempt history (``history``, oldest first)."""

    history: Tuple[Attempt, ...] = ()
    #: Its ``outputs`` with the dataset version each made (``version`` None until uploaded, or when it failed).
    outputs: Tuple[TaskOutput, ...] = ()

    @staticmethod
    def from_json(j: Json) -> "TaskDetail":
        base = TaskInfo.from_json(j)
        listed = j.get("attempts")
        history = tuple(Attempt.from_json(a) for a in listed) if isinstance(listed, list) else ()
        outs = j.get("outputs")
        outputs = tuple(TaskOutput.from_json(o) for o in outs if isinstance(o, dict)) if isinstance(outs, list) else ()
        kw = {f: getattr(base, f) for f in base.__dataclass_fields__}
        return TaskDetail(**kw, history=history, outputs=outputs)


@dataclass(frozen=True)
class Event:
    """One entry of a task's history (submitted, scheduled, started, waiting, finished…)."""

    seq: int
    at: datetime
    type: str
    data: Dict[str, Any]
    task_id: Optional[str]
    node_id: Optional[str]

    @staticmethod
    def from_json(j: Json) -> "Event":
        return Event(
            seq=int(j["seq"]),
            at=req_dt(j["at"]),
            type=str(j["type"]),
            data=dict(j.get("data") or {}),
            task_id=opt_str(j.get("taskId")),
            node_id=opt_str(j.get("nodeId")),
        )

    def __repr__(self) -> str:
        return f"<Event {self.seq} {self.at.isoformat(timespec='milliseconds')} {self.type} {self.data}>"


@dataclass(frozen=True)
class TaskPage:
    """One page of tasks, newest first."""

    tasks: List[TaskInfo]
    #: Pass as ``before`` to read the next (older) page; None when this is the last.
    next: Optional[str]


@dataclass(frozen=True)
class EventPage:
    events: List[Event]
    #: Pass as ``after`` to read the next page; None when this is the last.
    next: Optional[int]


@dataclass(frozen=True)
class LogChunk:
    """A piece of a task's output. ``pos`` orders chunks across streams and attempts."""

    pos: int
    attempt: int
    stream: str
    data: str
    at: Optional[datetime] = None

    @staticmethod
    def from_json(j: Json) -> "LogChunk":
        return LogChunk(pos=int(j["pos"]), attempt=int(j.get("attempt", 0)), stream=str(j.get("stream", "stdout")), data=str(j["data"]), at=dt(j.get("at")))


@dataclass(frozen=True)
class LogPage:
    chunks: List[LogChunk]
    #: Pass as ``after`` to read on.
    next: Optional[int]
    #: When log retention deleted the (finished) task's logs, on a first empty page.
    pruned_at: Optional[datetime] = None

    @property
    def text(self) -> str:
        return "".join(c.data for c in self.chunks)


@dataclass(frozen=True)
class VGPUInfo:
    """A vGPU reservation: a slice of one GPU that tasks are submitted into."""

    id: str
    name: str
    tenant: str
    state: str
    reason: Optional[str]
    request: Dict[str, Any]
    placement: Optional[Placement]
    created_at: Optional[datetime]
    released_at: Optional[datetime]
    #: Tasks inside it, by state (counts).
    tasks: Dict[str, int]
    raw: Json = field(repr=False, compare=False)

    @staticmethod
    def from_json(j: Json) -> "VGPUInfo":
        tasks = j.get("tasks")
        return VGPUInfo(
            id=str(j["id"]),
            name=str(j.get("name", "")),
            tenant=str(j.get("tenant", "")),
            state=str(j["state"]),
            reason=opt_str(j.get("reason")),
            request=dict(j.get("request") or {}),
            placement=Placement.maybe(j.get("placement")),
            created_at=dt(j.get("createdAt")),
            released_at=dt(j.get("releasedAt")),
            tasks={str(k): int(v) for k, v in tasks.items()} if isinstance(tasks, dict) else {},
            raw=j,
        )

    @property
    def tflops(self) -> Optional[float]:
        """The compute asked for in TFLOPS, when it was sized that way."""
        share = self.request.get("share")
        if isinstance(share, dict) and share.get("kind") == "tflops":
            return float(share["tflops"])
        return None

    def __repr__(self) -> str:
        where = f" {repr(self.placement)[len('<Placement ') : -1]}" if self.placement else ""
        why = f" ({self.reason})" if self.reason else ""
        return f"<VGPU {self.id} {self.state}{why}{where}>"


@dataclass(frozen=True)
class GPUDevice:
    """A physical GPU as a node declares it."""

    index: int
    uuid: str
    model: str
    memory_mib: int
    tflops: float
    sharing: str

    @staticmethod
    def from_json(j: Json) -> "GPUDevice":
        return GPUDevice(int(j["index"]), str(j.get("uuid", "")), str(j.get("model", "")), int(j.get("memoryMiB", 0)), float(j.get("tflops", 0)), str(j.get("sharing", "")))


@dataclass(frozen=True)
class Node:
    """A machine running an agent."""

    id: str
    name: str
    state: str
    drained: bool
    cpu_milli: int
    memory_mib: int
    gpus: List[GPUDevice]
    simulated: bool
    labels: Dict[str, str]
    agent_version: Optional[str]
    registered_at: Optional[datetime]
    last_heartbeat_at: Optional[datetime]
    #: Running tasks.
    tasks: int
    raw: Json = field(repr=False, compare=False)

    @staticmethod
    def from_json(j: Json) -> "Node":
        return Node(
            id=str(j["id"]),
            name=str(j["name"]),
            state=str(j["state"]),
            drained=bool(j.get("drained", False)),
            cpu_milli=int(j.get("cpuMilli", 0)),
            memory_mib=int(j.get("memoryMiB", 0)),
            gpus=[GPUDevice.from_json(g) for g in j.get("gpus", []) if isinstance(g, dict)],
            simulated=bool(j.get("simulated", False)),
            labels=str_map(j.get("labels")),
            agent_version=opt_str(j.get("agentVersion")),
            registered_at=dt(j.get("registeredAt")),
            last_heartbeat_at=dt(j.get("lastHeartbeatAt")),
            tasks=int(j.get("tasks", 0)),
            raw=j,
        )

    def __repr__(self) -> str:
        models = ",".join(g.model for g in self.gpus) or "no GPUs"
        return f"<Node {self.name} {self.state}{' drained' if self.drained else ''} {len(self.gpus)} GPUs ({models}) tasks={self.tasks}>"


@dataclass(frozen=True)
class Slice:
    """What is allocated on a GPU: a task's or a vGPU's share."""

    name: str
    tenant: str
    milli: int
    memory_mib: int
    task_id: Optional[str] = None
    vgpu_id: Optional[str] = None


@dataclass(frozen=True)
class GPU:
    """A GPU of the pool with what is allocated on it."""

    node: str
    node_id: str
    node_state: Optional[str]
    index: int
    uuid: str
    model: str
    memory_mib: int
    tflops: float
    sharing: str
    allocated_milli: int
    allocated_memory_mib: int
    slices: List[Slice]
    util_percent: Optional[float]

    @staticmethod
    def from_json(j: Json) -> "GPU":
        return GPU(
            node=str(j["node"]),
            node_id=str(j.get("nodeId", "")),
            node_state=opt_str(j.get("nodeState")),
            index=int(j["index"]),
            uuid=str(j.get("uuid", "")),
            model=str(j.get("model", "")),
            memory_mib=int(j.get("memoryMiB", 0)),
            tflops=float(j.get("tflops", 0)),
            sharing=str(j.get("sharing", "")),
            allocated_milli=int(j.get("allocatedMilli", 0)),
            allocated_memory_mib=int(j.get("allocatedMemoryMiB", 0)),
            slices=[
                Slice(str(s.get("name", "")), str(s.get("tenant", "")), int(s.get("milli", 0)), int(s.get("memoryMiB", 0)), opt_str(s.get("taskId")), opt_str(s.get("vgpuId")))
                for s in j.get("slices", [])
            ],
            util_percent=None if j.get("utilPercent") is None else float(j["utilPercent"]),
        )

    def __repr__(self) -> str:
        return f"<GPU {self.node}:{self.index} {self.model} {self.allocated_milli}/1000m {len(self.slices)} slices>"


@dataclass(frozen=True)
class AllocationPoint:
    at: datetime
    allocated_milli: float
    capacity_milli: float
    util_percent: float


@dataclass(frozen=True)
class Samples:
    """Utilisation and allocation over time, bucketed (``GET /v1/samples``)."""

    start: datetime
    end: datetime
    bucket: timedelta
    allocation: List[AllocationPoint]
    #: Per GPU and bucket (empty for ``detail="pool"``), as the server sent them.
    samples: List[Dict[str, Any]]

    @staticmethod
    def from_json(j: Json) -> "Samples":
        return Samples(
            start=req_dt(j["from"]),
            end=req_dt(j["to"]),
            bucket=timedelta(milliseconds=float(j["bucketMs"])),
            allocation=[AllocationPoint(req_dt(a["at"]), float(a["allocatedMilli"]), float(a["capacityMilli"]), float(a["utilPercent"])) for a in j.get("allocation", [])],
            samples=list(j.get("samples", [])),
        )


@dataclass(frozen=True)
class Tenant:
    """A tenant: GPUs as numbers (2.5), its weight, its budget (None: unlimited)."""

    name: str
    guarantee: Decimal
    limit: Optional[Decimal]
    weight: Decimal
    budget: Optional[Decimal]
    created_at: Optional[datetime]
    #: Time limit of its tasks that set none; None: the pool's ``--default-time-limit``.
    default_time_limit: Optional[timedelta] = None

    @staticmethod
    def from_json(j: Json) -> "Tenant":
        g = j.get("guaranteeMilli")
        lim = j.get("limitMilli")
        return Tenant(
            name=str(j["name"]),
            guarantee=Decimal(int(g)) / 1000 if g is not None else Decimal(str(j.get("guarantee", 0))),
            limit=(Decimal(int(lim)) / 1000) if lim is not None else dec(j.get("limit")),
            weight=Decimal(str(j.get("weight", 1))),
            budget=dec(j.get("budget")),
            created_at=dt(j.get("createdAt")),
            default_time_limit=ms(j.get("defaultTimeLimitMs")),
        )


@dataclass(frozen=True)
class Token:
    """An API token without its secret."""

    id: str
    name: str
    tenant: str
    role: str
    created_at: Optional[datetime]
    revoked_at: Optional[datetime]

    @staticmethod
    def from_json(j: Json) -> "Token":
        return Token(str(j["id"]), str(j.get("name", "")), str(j.get("tenant", "")), str(j.get("role", "")), dt(j.get("createdAt")), dt(j.get("revokedAt")))


@dataclass(frozen=True)
class CreatedToken(Token):
    """A new token; ``token`` is the secret, shown this once (hidden from repr)."""

    token: str = field(default="", repr=False)

    @staticmethod
    def from_json(j: Json) -> "CreatedToken":
        t = Token.from_json(j)
        return CreatedToken(t.id, t.name, t.tenant, t.role, t.created_at, t.revoked_at, token=str(j["token"]))


@dataclass(frozen=True)
class PriceBook:
    """Prices per GPU-hour by canonical model; ``default`` for models it does not list."""

    currency: str
    default: Decimal
    prices: Dict[str, Decimal]

    @staticmethod
    def from_json(j: Json) -> "PriceBook":
        return PriceBook(str(j.get("currency", "")), Decimal(str(j.get("default", "0"))), {str(k): Decimal(str(v)) for k, v in (j.get("prices") or {}).items()})


@dataclass(frozen=True)
class Promotion:
    name: str
    #: "30%" or a fixed price per GPU-hour such as "1.50/h".
    discount: str
    start: datetime
    end: datetime
    priority: int
    status: str
    #: Discount given so far.
    spent: Decimal
    budget: Optional[Decimal]
    models: List[str]
    tenants: List[str]
    hours: Optional[str]

    @staticmethod
    def from_json(j: Json) -> "Promotion":
        return Promotion(
            name=str(j["name"]),
            discount=str(j["discount"]),
            start=req_dt(j["from"]),
            end=req_dt(j["to"]),
            priority=int(j.get("priority", 0)),
            status=str(j.get("status", "")),
            spent=Decimal(str(j.get("spent", "0"))),
            budget=dec(j.get("budget")),
            models=strs(j.get("models")),
            tenants=strs(j.get("tenants")),
            hours=opt_str(j.get("hours")),
        )

    @property
    def percent_off(self) -> Optional[Decimal]:
        """The discount in percent ("30%" → 30), or None for a fixed price."""
        return Decimal(self.discount[:-1]) if self.discount.endswith("%") else None

    @property
    def fixed_price_per_hour(self) -> Optional[Decimal]:
        """The fixed price per GPU-hour ("1.50/h" → 1.50), or None for a percentage."""
        return Decimal(self.discount[:-2]) if self.discount.endswith("/h") else None


@dataclass(frozen=True)
class QuotePromotion:
    name: str
    discount: str
    ends_at: datetime
    price_per_hour: Decimal
    budget_left: Optional[Decimal]


@dataclass(frozen=True)
class Quote:
    """What a task spec would cost: list price per hour, the promotion in force, an estimate."""

    gpu_model: str
    gpu_milli: int
    gpu_count: int
    currency: str
    unit_price: Decimal
    list_per_hour: Decimal
    promotion: Optional[QuotePromotion]
    #: The time limit the estimate covers, and what it would charge; None without a time limit.
    estimate_time_limit: Optional[timedelta]
    estimate_charged: Optional[Decimal]
    estimate_list: Optional[Decimal]
    estimate_discount: Optional[Decimal]

    @staticmethod
    def from_json(j: Json) -> "Quote":
        p = j.get("promotion")
        e = j.get("estimate")
        promo = None
        if isinstance(p, dict):
            promo = QuotePromotion(str(p["name"]), str(p["discount"]), req_dt(p["endsAt"]), Decimal(str(p.get("pricePerHourExact", p.get("pricePerHour")))), dec(p.get("budgetLeft")))
        return Quote(
            gpu_model=str(j["gpuModel"]),
            gpu_milli=int(j["gpuMilli"]),
            gpu_count=int(j["gpuCount"]),
            currency=str(j["currency"]),
            unit_price=Decimal(str(j["unitPrice"])),
            list_per_hour=Decimal(str(j.get("listPerHourExact", j.get("listPerHour")))),
            promotion=promo,
            estimate_time_limit=ms(e["timeLimitMs"]) if isinstance(e, dict) else None,
            estimate_charged=Decimal(str(e.get("chargedExact", e.get("chargedAmount")))) if isinstance(e, dict) else None,
            estimate_list=dec(e.get("listAmount")) if isinstance(e, dict) else None,
            estimate_discount=dec(e.get("discountAmount")) if isinstance(e, dict) else None,
        )


@dataclass(frozen=True)
class UsageRow:
    """Usage of one tenant × task (or vGPU) × GPU model. Amounts are exact (from micro-units)."""

    tenant: str
    task_id: str
    gpu_model: str
    gpu_time: timedelta
    list_amount: Decimal
    discount_amount: Decimal
    charged_amount: Decimal
    promotions: List[str]

    @staticmethod
    def from_json(j: Json) -> "UsageRow":
        return UsageRow(
            tenant=str(j.get("tenant", "")),
            task_id=str(j.get("taskId", "")),
            gpu_model=str(j.get("gpuModel", "")),
            gpu_time=timedelta(seconds=float(j.get("gpuSeconds", 0))),
            list_amount=micros(j["listMicros"]),
            discount_amount=micros(j["discountMicros"]),
            charged_amount=micros(j["chargedMicros"]),
            promotions=strs(j.get("promotions")),
        )


@dataclass(frozen=True)
class UsageGroup:
    """Usage of one task array, map or sweep over the report's period, with its elements counted by state."""

    #: ``array``, ``map`` or ``sweep``.
    kind: str
    #: ``a_…`` (array, map) or ``sw_…`` (sweep).
    id: str
    name: str
    tenant: str
    created_at: Optional[datetime]
    #: Elements of an array; trials made so far of a sweep.
    size: int
    #: Elements by task state, or trials by trial state (``PRUNED`` included).
    counts: Dict[str, int]
    #: Its tasks with usage in the period.
    tasks: int
    gpu_time: timedelta
    list_amount: Decimal
    discount_amount: Decimal
    charged_amount: Decimal
    promotions: List[str]

    @staticmethod
    def from_json(j: Json) -> "UsageGroup":
        counts = j.get("counts")
        return UsageGroup(
            kind=str(j.get("kind", "")),
            id=str(j.get("id", "")),
            name=str(j.get("name", "")),
            tenant=str(j.get("tenant", "")),
            created_at=dt(j.get("createdAt")),
            size=int(j.get("size", 0)),
            counts={str(k): int(v) for k, v in counts.items()} if isinstance(counts, dict) else {},
            tasks=int(j.get("tasks", 0)),
            gpu_time=timedelta(seconds=float(j.get("gpuSeconds", 0))),
            list_amount=micros(j["listMicros"]),
            discount_amount=micros(j["discountMicros"]),
            charged_amount=micros(j["chargedMicros"]),
            promotions=strs(j.get("promotions")),
        )


@dataclass(frozen=True)
class UsageReport:
    start: Optional[datetime]
    end: Optional[datetime]
    currency: str
    rows: List[UsageRow]
    totals: UsageRow
    #: Per array, map and sweep with usage in the period; tasks in none are only in ``rows``.
    groups: List[UsageGroup] = field(default_factory=list)

    @staticmethod
    def from_json(j: Json) -> "UsageReport":
        return UsageReport(
            dt(j.get("from")),
            dt(j.get("to")),
            str(j.get("currency", "")),
            [UsageRow.from_json(r) for r in j.get("rows", [])],
            UsageRow.from_json(j["totals"]),
            [UsageGroup.from_json(g) for g in j.get("groups", [])],
        )


@dataclass(frozen=True)
class BillingSettings:
    #: Running tasks of a tenant whose budget is spent: ``continue`` or ``stop``.
    budget_policy: str
    #: What budgets count: ``all``, ``month``, ``week`` or ``day``.
    budget_period: str

    @staticmethod
    def from_json(j: Json) -> "BillingSettings":
        return BillingSettings(str(j["budgetPolicy"]), str(j["budgetPeriod"]))
