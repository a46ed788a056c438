"""``Task``: what to run and on how much GPU, before it is submitted.

``Task(20, 5)`` (the seed's form: TFLOPS, seconds) with no ``command`` runs FastGPU's built-in
**synthetic load**: a POSIX shell loop that holds its slice for that many seconds and prints its
slice (GPU, milli-GPU, memory) and one progress line per second. It computes nothing: it is a
stand-in for your workload that shows placement, queueing inside a vGPU, logs and metering
end to end, and runs on any node (real or simulated GPUs) without Python or CUDA there. It asks for a tenth of a
CPU core and 64 MiB of RAM unless ``cpu=``/``memory=`` say otherwise.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ._convert import duration
from .errors import InvalidArgument

GpuRequest = Union[int, float, str, Mapping[str, Any]]
Command = Union[str, Sequence[str]]


@dataclass(frozen=True)
class DataInput:
    """A dataset the task reads: its node stages it (read-only) before the process starts.

    ``dataset`` is ``NAME`` (the newest version when you submit) or ``NAME@VERSION``; ``path``
    (default: the dataset's name) is relative to the task's working directory; ``name`` (default:
    the dataset's) names the variable ``FASTGPU_INPUT_<NAME>`` that holds the absolute path.

    >>> Task(command="python train.py --data data/imgs", gpu=1, inputs=[DataInput("imagenet-mini", path="data/imgs")])
    >>> Task(command="python tok.py", inputs=["tokenizer@3"])   # a plain reference: at ./tokenizer
    """

    dataset: str
    path: Optional[str] = None
    name: Optional[str] = None

    def to_json(self) -> Dict[str, str]:
        """The spec's form: ``{"dataset": ..., "path": ..., "name": ...}`` (unset ones left out)."""
        if not isinstance(self.dataset, str) or self.dataset.strip() == "":
            raise InvalidArgument(f"dataset: {self.dataset!r} must be a dataset reference, NAME or NAME@VERSION", field="inputs.dataset")
        if self.path is not None and (not isinstance(self.path, str) or self.path.startswith("/")):
            raise InvalidArgument(f"path: {self.path!r} must be relative: an input is staged under the task's working directory", field="inputs.path")
        out = {"dataset": self.dataset}
        if self.path is not None:
            out["path"] = self.path
        if self.name is not None:
            out["name"] = self.name
        return out


#: An input as :class:`Task` takes it: a :class:`DataInput`, a ``NAME[@VERSION]`` string, or the
#: spec's mapping form (``{"dataset": ..., "path": ...}``).
InputLike = Union[DataInput, str, Mapping[str, str]]


def _input_json(i: int, item: InputLike) -> Dict[str, str]:
    if isinstance(item, DataInput):
        return item.to_json()
    if isinstance(item, str):
        return DataInput(item).to_json()
    if isinstance(item, Mapping):
        unknown = sorted(set(item) - {"dataset", "path", "name"})
        if unknown:
            raise InvalidArgument(f"inputs[{i}]: unknown field {unknown[0]!r}; an input has dataset, path and name", field=f"inputs.{i}")
        return DataInput(str(item.get("dataset", "")), item.get("path"), item.get("name")).to_json()
    raise InvalidArgument(f"inputs[{i}]: {item!r} is not an input; give DataInput(...), 'NAME[@VERSION]' or {{'dataset': ...}}", field=f"inputs.{i}")

@dataclass(frozen=True)
class DataOutput:
    """A folder (or file) the task writes, uploaded after it exits 0 as a new version of ``dataset``
    (owned by the task's tenant, under its dataset quota). ``path`` is relative to the task's working
    directory. A task that fails uploads nothing; a missing path or a full quota fails the task.

    >>> Task(command="python train.py --out out/", gpu=1, outputs=[DataOutput("out/", "checkpoints")])
    """

    path: str
    dataset: str

    def to_json(self) -> Dict[str, str]:
        """The spec's form: ``{"path": ..., "dataset": ...}``."""
        if not isinstance(self.path, str) or self.path.strip() == "" or self.path.startswith("/"):
            raise InvalidArgument(f"path: {self.path!r} must be a relative path under the task's working directory", field="outputs.path")
        if not isinstance(self.dataset, str) or self.dataset.strip() == "":
            raise InvalidArgument(f"dataset: {self.dataset!r} must be a dataset name", field="outputs.dataset")
        return {"path": self.path, "dataset": self.dataset}


#: An output as :class:`Task` takes it: a :class:`DataOutput` or the spec's mapping form.
OutputLike = Union[DataOutput, Mapping[str, str]]


def _output_json(i: int, item: OutputLike) -> Dict[str, str]:
    if isinstance(item, DataOutput):
        return item.to_json()
    if isinstance(item, Mapping):
        unknown = sorted(set(item) - {"path", "dataset"})
        if unknown:
            raise InvalidArgument(f"outputs[{i}]: unknown field {unknown[0]!r}; an output has path and dataset", field=f"outputs.{i}")
        return DataOutput(str(item.get("path", "")), str(item.get("dataset", ""))).to_json()
    raise InvalidArgument(f"outputs[{i}]: {item!r} is not an output; give DataOutput(path, dataset) or {{'path': ..., 'dataset': ...}}", field=f"outputs.{i}")


#: The synthetic load's script: ``$1`` whole seconds, ``$2`` the remainder, ``$3`` TFLOPS, ``$4`` the length shown.
SYNTHETIC_LOAD_SCRIPT = (
    'echo "fastgpu synthetic load: $3 TFLOPS for $4 s on GPU ${CUDA_VISIBLE_DEVICES:-none}'
    ' (${FASTGPU_GPU_MILLI:-0} milli-GPU, ${FASTGPU_GPU_MEMORY_MIB:-0} MiB, ${FASTGPU_SHARING:-no GPU}), task ${FASTGPU_TASK_ID:-?}";'
    ' i=0; while [ "$i" -lt "$1" ]; do sleep 1; i=$((i+1)); echo "  $i/$4 s"; done;'
    ' [ "$2" = 0 ] || sleep "$2"; echo "synthetic load done"'
)


def synthetic_load_command(seconds: float, tflops: Optional[float] = None) -> List[str]:
    """argv of the built-in synthetic load that runs ``seconds`` (see the module's doc)."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds) or seconds <= 0:
        raise InvalidArgument(f"seconds: {seconds!r} must be a positive number of seconds", field="seconds")
    whole = int(seconds)
    rest = round(seconds - whole, 3)
    rest_s = f"{rest:.3f}".rstrip("0") if rest > 0 else "0"
    tf = "?" if tflops is None else f"{tflops:g}"
    return ["sh", "-c", SYNTHETIC_LOAD_SCRIPT, "fastgpu-synthetic-load", str(whole), rest_s, tf, f"{seconds:g}"]


class Task:
    """A task to submit.

    ``Task(tflops, seconds)`` asks for ``tflops`` of one GPU's compute and, with no ``command``,
    runs the built-in synthetic load for ``seconds`` (see :func:`synthetic_load_command`).
    With ``command`` (a string run with ``sh -c``, or an argv list), it runs that instead, and
    ``seconds`` becomes its time limit unless ``time_limit`` is given.

    >>> Task(command="python train.py", gpu=0.5, memory="8GiB", priority=70, time_limit="2h")
    >>> Task(20, 5)          # 20 TFLOPS, the synthetic load for 5 s
    """

    def __init__(
        self,
        tflops: Optional[float] = None,
        seconds: Optional[float] = None,
        *,
        command: Optional[Command] = None,
        gpu: Optional[GpuRequest] = None,
        gpu_memory: Optional[Union[str, int]] = None,
        cpu: Optional[Union[float, str]] = None,
        memory: Optional[Union[str, int]] = None,
        env: Optional[Mapping[str, str]] = None,
        workdir: Optional[str] = None,
        priority: Optional[int] = None,
        time_limit: Optional[Union[timedelta, str, float]] = None,
        retries: Optional[int] = None,
        preemptible: Optional[bool] = None,
        gang: Optional[int] = None,
        name: Optional[str] = None,
        inputs: Optional[Sequence[InputLike]] = None,
        outputs: Optional[Sequence[OutputLike]] = None,
    ) -> None:
        if tflops is not None and gpu is not None:
            raise InvalidArgument("give either tflops or gpu, not both", field="gpu")
        if tflops is not None and (isinstance(tflops, bool) or not isinstance(tflops, (int, float)) or not math.isfinite(tflops) or tflops <= 0):
            raise InvalidArgument(f"tflops: {tflops!r} must be a positive number", field="tflops")
        if command is None and seconds is None:
            raise InvalidArgument("say what to run: command=..., or seconds for the built-in synthetic load (Task(20, 5))", field="command")
        self.tflops = tflops
        self.seconds = seconds
        self.command = command
        self.gpu = gpu
        self.gpu_memory = gpu_memory
        self.cpu = cpu
        self.memory = memory
        self.env = dict(env) if env is not None else None
        self.workdir = workdir
        self.priority = priority
        self.time_limit = time_limit
        self.retries = retries
        self.preemptible = preemptible
        self.gang = gang
        self.name = name
        if isinstance(inputs, (str, DataInput)):
            raise InvalidArgument("inputs is a list: inputs=[...]", field="inputs")
        self.inputs: Optional[List[InputLike]] = list(inputs) if inputs is not None else None
        if isinstance(outputs, DataOutput):
            raise InvalidArgument("outputs is a list: outputs=[...]", field="outputs")
        self.outputs: Optional[List[OutputLike]] = list(outputs) if outputs is not None else None
        #: Set when submitted: the id of the (first) task the server made.
        self.id: Optional[str] = None
        # Validate now, so a bad Task fails where it is written, not at submit.
        self.to_spec()

    @property
    def synthetic(self) -> bool:
        """True when this task runs the built-in synthetic load."""
        return self.command is None

    def _gpu_request(self) -> Optional[Any]:
        if self.tflops is not None:
            req: Dict[str, Any] = {"tflops": self.tflops}
        elif self.gpu is not None:
            if self.gpu_memory is None:
                return dict(self.gpu) if isinstance(self.gpu, Mapping) else self.gpu
            req = dict(self.gpu) if isinstance(self.gpu, Mapping) else {"fraction": self.gpu} if isinstance(self.gpu, float) and self.gpu < 1 else {"count": self.gpu} if isinstance(self.gpu, int) else {}
            if not req:
                raise InvalidArgument("gpu_memory goes with a number or mapping gpu request, e.g. gpu=0.5", field="gpu_memory")
        elif self.gpu_memory is not None:
            req = {}
        else:
            return None
        if self.gpu_memory is not None:
            req["memory"] = self.gpu_memory
        return req

    def to_spec(self, vgpu: Optional[str] = None) -> Dict[str, Any]:
        """The JSON task spec the server takes (``POST /v1/tasks``)."""
        spec: Dict[str, Any] = {}
        if self.command is None:
            assert self.seconds is not None
            spec["command"] = synthetic_load_command(self.seconds, self.tflops)
            tf = f"{self.tflops:g}tflops-" if self.tflops is not None else ""
            spec["name"] = self.name or f"synthetic-{tf}{self.seconds:g}s".replace("+", "")
            # A generous limit so a stuck load ends: its length plus a minute.
            spec["timeLimit"] = duration(self.time_limit) if self.time_limit is not None else f"{round(self.seconds * 1000) + 60_000}ms"
        else:
            if isinstance(self.command, str):
                if self.command.strip() == "":
                    raise InvalidArgument("command is empty", field="command")
                spec["command"] = self.command
            else:
                argv = [str(a) for a in self.command]
                if not argv:
                    raise InvalidArgument("command is empty", field="command")
                spec["command"] = argv
            if self.name is not None:
                spec["name"] = self.name
            limit = self.time_limit if self.time_limit is not None else self.seconds
            if limit is not None:
                spec["timeLimit"] = duration(limit)
        resources: Dict[str, Any] = {}
        gpu = self._gpu_request()
        if gpu is not None:
            resources["gpu"] = gpu
        # The synthetic load sleeps between its progress lines: a tenth of a core and 64 MiB is
        # what it needs, so it does not hold a whole core of a small node.
        cpu, mem = (self.cpu, self.memory) if not self.synthetic else (self.cpu or "100m", self.memory or "64MiB")
        if cpu is not None:
            resources["cpu"] = cpu
        if mem is not None:
            resources["memory"] = mem
        if resources:
            spec["resources"] = resources
        for key, value in (("env", self.env), ("workdir", self.workdir), ("priority", self.priority), ("retries", self.retries), ("preemptible", self.preemptible), ("gang", self.gang)):
            if value is not None:
                spec[key] = value
        if self.inputs:
            spec["inputs"] = [_input_json(i, x) for i, x in enumerate(self.inputs)]
        if self.outputs:
            spec["outputs"] = [_output_json(i, x) for i, x in enumerate(self.outputs)]
        if vgpu is not None:
            spec["vgpu"] = vgpu
        return spec

    def __repr__(self) -> str:
        what = f"synthetic load {self.seconds:g}s" if self.command is None else repr(self.command)
        size = f"{self.tflops:g} TFLOPS" if self.tflops is not None else f"gpu={self.gpu!r}" if self.gpu is not None else "cpu"
        sub = f" id={self.id}" if self.id else ""
        return f"<fastgpu.Task {what} {size}{sub}>"


SpecLike = Union[Task, Mapping[str, Any], str, Sequence[str]]


def spec_of(task: SpecLike, vgpu: Optional[str] = None) -> Dict[str, Any]:
    """A Task, a spec mapping (the YAML's JSON form), a command string or an argv, as a spec."""
    if isinstance(task, Task):
        return task.to_spec(vgpu)
    if isinstance(task, Mapping):
        spec = dict(task)
    elif isinstance(task, str):
        spec = {"command": task}
    else:
        spec = {"command": [str(a) for a in task]}
    if vgpu is not None:
        spec["vgpu"] = vgpu
    return spec


def idempotency_key() -> str:
    """One key per submit call, reused on its retries, so a retried submit creates nothing twice."""
    return str(uuid.uuid4())
