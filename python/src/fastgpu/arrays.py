"""Task arrays and map (issue 14).

>>> arr = fg.arrays.submit({"command": "python eval.py", "resources": {"gpu": 0.25}, "array": "0-99%8"})
>>> fg.arrays.wait(arr.id).counts
{'SUCCEEDED': 100}
>>> fastgpu.map(square, [1, 2, 3], gpu=0.25)
[1, 4, 9]

An element of an array is an ordinary task with ``FASTGPU_ARRAY_ID``, ``FASTGPU_ARRAY_INDEX`` and
``FASTGPU_ARRAY_SIZE`` in its environment; ``map`` also gives each its input as JSON in
``FASTGPU_INPUT``, and takes as its result what it wrote to ``$FASTGPU_RESULT`` (JSON).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from ._ops import Call, seg

if TYPE_CHECKING:
    from .client import Client

Json = Any
POLL_START_S = 0.2
POLL_MAX_S = 2.0


@dataclass
class ArrayInfo:
    """An array's status: elements counted by state, whether all are done, and its usage."""

    id: str
    name: str
    tenant: str
    size: int
    max: Optional[int]
    counts: Dict[str, int]
    done: bool
    ok: bool
    gpu_seconds: float
    charged: float
    currency: str
    raw: Json = field(repr=False, compare=False)

    @staticmethod
    def from_json(j: Json) -> "ArrayInfo":
        u = j.get("usage") or {}
        return ArrayInfo(
            id=str(j["id"]),
            name=str(j.get("name", "")),
            tenant=str(j.get("tenant", "")),
            size=int(j["size"]),
            max=None if j.get("max") is None else int(j["max"]),
            counts={str(k): int(v) for k, v in (j.get("counts") or {}).items()},
            done=bool(j.get("done")),
            ok=bool(j.get("ok")),
            gpu_seconds=float(u.get("gpuSeconds", 0.0)),
            charged=float(u.get("chargedAmount", 0.0)),
            currency=str(u.get("currency", "")),
            raw=j,
        )


@dataclass
class ElementResult:
    """One element's outcome: its state and what it wrote to ``$FASTGPU_RESULT`` (None if nothing)."""

    index: int
    task_id: str
    state: str
    exit_code: Optional[int]
    result: Any
    message: Optional[str]


class MapError(Exception):
    """Some elements of a map did not succeed; ``failures`` names them, ``results`` has all."""

    def __init__(self, array_id: str, failures: List[ElementResult], results: List[ElementResult]) -> None:
        first = failures[0]
        why = f": {first.message}" if first.message else ""
        super().__init__(f"map {array_id}: {len(failures)} of {len(results)} elements did not succeed (first: element {first.index} {first.state}{why}); see fastgpu logs {first.task_id}")
        self.array_id = array_id
        self.failures = failures
        self.results = results


def _results(j: Json) -> List[ElementResult]:
    return [ElementResult(int(r["index"]), str(r["taskId"]), str(r["state"]), r.get("exitCode"), r.get("result"), r.get("reasonMessage")) for r in j["results"]]


class Arrays:
    """``client.arrays``: submit, get, results, cancel, wait, map."""

    def __init__(self, client: "Client") -> None:
        self._c = client

    def submit(self, spec: Mapping[str, Any]) -> ArrayInfo:
        """Submits a spec with ``array`` (a Slurm range such as ``"0-99%8"``, or a size) and
        optionally ``after`` and ``inputs``; returns the array's status."""
        made = self._c.call(Call("POST", "/v1/tasks", lambda j: j["tasks"], {}, dict(spec), idempotency_key=str(uuid.uuid4())))
        first = made[0] if made else None
        array = first.get("array") if isinstance(first, dict) else None
        if not isinstance(array, dict):
            raise ValueError("the spec made no array: give array (a range such as '0-99%8') or inputs")
        return self.get(str(array["id"]))

    def get(self, array_id: str) -> ArrayInfo:
        return self._c.call(Call("GET", f"/v1/arrays/{seg(array_id)}", ArrayInfo.from_json))

    def results(self, array_id: str) -> List[ElementResult]:
        """Each element's state and result, by index."""
        return self._c.call(Call("GET", f"/v1/arrays/{seg(array_id)}/results", _results))

    def cancel(self, array_id: str) -> int:
        """Cancels every element not finished yet; returns how many."""
        return self._c.call(Call("POST", f"/v1/arrays/{seg(array_id)}/cancel", lambda j: int(j["cancelled"])))

    def wait(self, array_id: str, *, timeout: Optional[float] = None) -> ArrayInfo:
        """Waits until every element has finished. Raises TimeoutError when ``timeout`` passes first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = POLL_START_S
        while True:
            a = self.get(array_id)
            if a.done:
                return a
            if deadline is not None and time.monotonic() + pause > deadline:
                raise TimeoutError(f"array {array_id} has not finished after {timeout} s ({a.counts})")
            time.sleep(pause)
            pause = min(POLL_MAX_S, pause * 1.5)

    def map(
        self,
        fn_or_command: Union[Callable[[Any], Any], str, Sequence[str]],
        inputs: Sequence[Any],
        *,
        gpu: Union[float, str, None] = None,
        max_concurrent: Optional[int] = None,
        name: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        retries: Optional[int] = None,
        timeout: Optional[float] = None,
        reduce: Union[Callable[[List[Any]], Any], str, Sequence[str], None] = None,
    ) -> Any:
        """Runs ``fn_or_command`` once per input, each as an element of one array, and returns the
        results in input order. A function runs as ``fn(input)`` in a Python on the node (it must be
        defined at the top level of a module or script, and the node must see this directory); a
        command reads ``$FASTGPU_INPUT`` and writes its result to ``$FASTGPU_RESULT``. Raises
        :class:`MapError` when an element does not succeed.

        With ``reduce`` (a function of the list of results, or a command reading the JSON list in
        ``$FASTGPU_RESULTS``), one more task runs once every element has succeeded, and what it
        returns (writes to ``$FASTGPU_RESULT``) is returned instead of the list."""
        items = list(inputs)
        if not items:
            return []
        spec: Dict[str, Any] = {"command": _command_of(fn_or_command), "inputs": items, "name": name or _name_of(fn_or_command)}
        if max_concurrent is not None:
            spec["array"] = f"0-{len(items) - 1}%{max_concurrent}"
        if gpu is not None:
            spec["resources"] = {"gpu": gpu}
        task_env: Dict[str, str] = dict(env or {})
        if callable(fn_or_command):
            spec["workdir"] = os.getcwd()
            task_env["PYTHONPATH"] = os.pathsep.join(p for p in [_package_root(), os.getcwd(), task_env.get("PYTHONPATH", "")] if p)
        if task_env:
            spec["env"] = task_env
        if retries is not None:
            spec["retries"] = retries
        arr = self.submit(spec)
        step: Optional[str] = None
        if reduce is not None:
            # Submitted now, it waits on the server (reason Dependency) until the array has succeeded.
            rspec: Dict[str, Any] = {"command": _command_of(reduce, "--reduce"), "name": f"{spec['name']}-reduce"[:128], "reduce": arr.id}
            if callable(reduce):
                rspec["workdir"] = spec["workdir"] if "workdir" in spec else os.getcwd()
                rspec["env"] = {"PYTHONPATH": os.pathsep.join(p for p in [_package_root(), os.getcwd()] if p)}
            step = self._c.tasks.submit(rspec).id
        self.wait(arr.id, timeout=timeout)
        results = self.results(arr.id)
        failures = [r for r in results if r.state != "SUCCEEDED"]
        if failures:
            raise MapError(arr.id, failures, results)
        if step is None:
            return [r.result for r in results]
        done = self._c.tasks.wait(step, timeout=timeout, progress=False)
        if done.state != "SUCCEEDED":
            raise MapError(arr.id, [ElementResult(-1, done.id, done.state, done.exit_code, None, done.reason_message)], results)
        return done.raw.get("result")


def _package_root() -> str:
    """The directory holding the ``fastgpu`` package, so the node's Python imports this SDK."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _name_of(fn_or_command: Union[Callable[[Any], Any], str, Sequence[str]]) -> str:
    if callable(fn_or_command):
        return "map-" + "".join(c if c.isalnum() or c in "._-" else "-" for c in getattr(fn_or_command, "__name__", "fn"))[:100]
    return "map"


def _command_of(fn_or_command: Union[Callable[[Any], Any], Callable[[List[Any]], Any], str, Sequence[str]], mode: str = "--map") -> Union[str, List[str]]:
    if isinstance(fn_or_command, str):
        return fn_or_command
    if not callable(fn_or_command):
        return [str(a) for a in fn_or_command]
    module = sys.modules.get(getattr(fn_or_command, "__module__", "") or "")
    path = getattr(module, "__file__", None)
    qualname = getattr(fn_or_command, "__qualname__", "")
    if path is None or not qualname or "<" in qualname:
        raise ValueError(f"map: {fn_or_command!r} cannot be run on a node: give a function defined at the top level of a module or script (not a lambda or a nested function), or a command")
    return [sys.executable, "-m", "fastgpu._map_worker", mode, f"{os.path.abspath(path)}:{qualname}"]


def map(  # noqa: A001 - the name the issue gives it: fastgpu.map(fn, inputs, gpu=0.25)
    fn_or_command: Union[Callable[[Any], Any], str, Sequence[str]],
    inputs: Sequence[Any],
    *,
    gpu: Union[float, str, None] = None,
    max_concurrent: Optional[int] = None,
    name: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    retries: Optional[int] = None,
    timeout: Optional[float] = None,
    client: Optional["Client"] = None,
    reduce: Union[Callable[[List[Any]], Any], str, Sequence[str], None] = None,
) -> Any:
    """``fastgpu.map(fn, inputs, gpu=0.25)``: :meth:`Arrays.map` on the default client (or ``client``)."""
    from ._default import default_client

    c = client or default_client()
    return c.arrays.map(fn_or_command, inputs, gpu=gpu, max_concurrent=max_concurrent, name=name, env=env, retries=retries, timeout=timeout, reduce=reduce)
