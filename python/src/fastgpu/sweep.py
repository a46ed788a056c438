"""Hyper-parameter sweeps on fractional GPUs.

A sweep runs many trials of one command, each an ordinary task on its own slice; the server
samples the parameters, keeps ``max_concurrent`` trials going, stops losers early (median rule
or ASHA) and stops everything at a cost cap::

    sweep = fastgpu.Sweep(
        "python train.py --lr {lr} --layers {layers}",
        space={"lr": {"loguniform": [1e-5, 1e-1]}, "layers": [2, 4, 8]},
        metric="loss", trials=32, max_concurrent=8, gpu=0.25, memory="10GiB",
        early_stopping={"rule": "median", "min_steps": 3}, cost_cap="25.00",
    ).start()
    print(sweep.wait()["best"])

Inside a trial, :func:`params` reads its parameters and :func:`report` sends metrics::

    p = fastgpu.params()
    for step in range(100):
        loss = train_one(p["lr"])
        fastgpu.report(step=step, loss=loss)
"""

from __future__ import annotations

import json
import math
import os
import time
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Union

from ._default import default_client
from ._ops import Call, seg
from .client import Client
from .errors import InvalidArgument, Timeout

if TYPE_CHECKING:
    import optuna

Json = Dict[str, Any]


def _function_command(fn: Callable[..., Any], metric: str) -> List[str]:
    """The trial command that runs ``fn(**params)`` on a node (fastgpu._sweep_worker)."""
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    path = getattr(module, "__file__", None)
    qualname = getattr(fn, "__qualname__", "")
    if path is None or not qualname or "<" in qualname:
        raise InvalidArgument(f"Sweep: {fn!r} cannot be run on a node: give a function defined at the top level of a module or script (not a lambda or a nested function), or a command", field="command")
    return [sys.executable, "-m", "fastgpu._sweep_worker", metric, f"{os.path.abspath(path)}:{qualname}"]

#: Same bounds as the server's (core/sweep/metrics.ts): longer lines are skipped by the agent.
MAX_METRIC_LINE_BYTES = 4096
MAX_METRICS_PER_POINT = 32


def params() -> Dict[str, Union[str, float, int, bool]]:
    """This trial's parameters (``$FASTGPU_PARAMS``); empty outside a sweep."""
    raw = os.environ.get("FASTGPU_PARAMS")
    if not raw:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise InvalidArgument("FASTGPU_PARAMS is not a JSON object")
    return value


def report(step: Optional[float] = None, **metrics: float) -> bool:
    """Reports metrics of this trial at ``step``: one JSON line appended to ``$FASTGPU_METRICS``,
    which the agent ships to the server (early stopping judges on them). Returns False outside a
    FastGPU task (nothing to report to), so a script runs the same on a laptop.

    >>> fastgpu.report(step=3, loss=0.25, acc=0.91)
    """
    if not metrics:
        raise InvalidArgument("report: give at least one metric, e.g. report(step=1, loss=0.5)")
    if len(metrics) > MAX_METRICS_PER_POINT:
        raise InvalidArgument(f"report: {len(metrics)} metrics; at most {MAX_METRICS_PER_POINT} a call")
    line: Dict[str, float] = {}
    if step is not None:
        if not isinstance(step, (int, float)) or isinstance(step, bool) or not math.isfinite(step) or step < 0:
            raise InvalidArgument(f"report: step {step!r} must be a finite number >= 0")
        line["step"] = step
    for k, v in metrics.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            try:
                v = float(v)  # numpy scalars, tensors with __float__
            except (TypeError, ValueError):
                raise InvalidArgument(f"report: {k}={v!r} is not a number") from None
        if not math.isfinite(v):
            raise InvalidArgument(f"report: {k}={v!r} is not finite")
        line[k] = v
    text = json.dumps(line, separators=(",", ":"))
    if len(text) + 1 > MAX_METRIC_LINE_BYTES:
        raise InvalidArgument(f"report: the line is longer than {MAX_METRIC_LINE_BYTES} bytes")
    path = os.environ.get("FASTGPU_METRICS")
    if not path:
        return False
    # One write of a whole line in append mode: lines of concurrent writers never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)
    return True


class Sweep:
    """A sweep: build it with the search space and options, then :meth:`start` it.

    ``space`` maps each parameter to a list (grid), ``{"grid": [...]}``, ``{"choice": [...]}``,
    ``{"uniform": [lo, hi]}`` or ``{"loguniform": [lo, hi]}`` (``"int": True`` for integers).
    ``{name}`` in the command is replaced by the value; trials also get ``FASTGPU_PARAM_<NAME>``.
    """

    def __init__(
        self,
        command: Union[str, List[str], Callable[..., Any]],
        space: Optional[Mapping[str, Any]] = None,
        *,
        metric: str,
        goal: str = "minimize",
        trials: Optional[int] = None,
        max_concurrent: Optional[int] = None,
        gpu: Union[float, str, Mapping[str, Any], None] = None,
        memory: Union[str, int, None] = None,
        early_stopping: Optional[Mapping[str, Any]] = None,
        cost_cap: Union[str, float, None] = None,
        seed: Optional[int] = None,
        name: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        time_limit: Union[str, int, None] = None,
        client: Optional[Client] = None,
        backend: Optional[str] = None,
    ) -> None:
        if callable(command):
            command = _function_command(command, metric)
        spec: Json = {"command": command, "metric": {"name": metric, "goal": goal}}
        optional = {
            "space": dict(space) if space is not None else None,
            "trials": trials,
            "max_concurrent": max_concurrent,
            "gpu": gpu,
            "memory": memory,
            "early_stopping": dict(early_stopping) if early_stopping is not None else None,
            "cost_cap": cost_cap,
            "seed": seed,
            "name": name,
            "env": dict(env) if env is not None else None,
            "time_limit": time_limit,
            "backend": backend,
        }
        spec.update({k: v for k, v in optional.items() if v is not None})
        self.spec = spec
        self._client = client
        self.id: Optional[str] = None

    @property
    def client(self) -> Client:
        return self._client if self._client is not None else default_client()

    def _need_id(self) -> str:
        if self.id is None:
            raise InvalidArgument("the sweep has not started: call start() first")
        return self.id

    def start(self) -> "Sweep":
        """Sends the sweep to the server; its first trials are submitted when this returns.
        A bad search space raises :class:`InvalidArgument` naming the field."""
        detail = self.client.call(Call("POST", "/v1/sweeps", lambda j: j, body=self.spec))
        self.id = str(detail["sweep"]["id"])
        return self

    @classmethod
    def attach(cls, sweep_id: str, client: Optional[Client] = None) -> "Sweep":
        """A handle on a sweep started elsewhere (``fastgpu sweep FILE``)."""
        s = cls("", metric="_", client=client)
        s.id = sweep_id
        return s

    def status(self) -> Json:
        """The sweep, its trials (state, slice, cost, best value) and the best trial."""
        return self.client.call(Call("GET", f"/v1/sweeps/{seg(self._need_id())}", lambda j: j))

    def best(self) -> Optional[Json]:
        """The best trial so far (its params and best value), or None before any report."""
        best: Optional[Json] = self.status()["best"]
        return best

    def metrics(self) -> Json:
        """Every trial's reported points by step."""
        return self.client.call(Call("GET", f"/v1/sweeps/{seg(self._need_id())}/metrics", lambda j: j))

    def cancel(self) -> Json:
        return self.client.call(Call("POST", f"/v1/sweeps/{seg(self._need_id())}/cancel", lambda j: j))

    def wait(self, timeout: Optional[float] = None, poll: float = 1.0) -> Json:
        """Blocks until the sweep ends (every trial done, cancelled or capped); returns its status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            st = self.status()
            if st["sweep"]["state"] != "RUNNING":
                return st
            if deadline is not None and time.monotonic() >= deadline:
                raise Timeout(f"sweep {self.id} still running after {timeout} s")
            time.sleep(poll)

    def run(
        self,
        *,
        sampler: "Optional[optuna.samplers.BaseSampler]" = None,
        pruner: "Optional[optuna.pruners.BasePruner]" = None,
        storage: "Union[str, optuna.storages.BaseStorage, None]" = None,
        timeout: Optional[float] = None,
        poll: float = 1.0,
    ) -> Json:
        """Starts the sweep (if it has not started) and blocks until it ends; returns its status.

        With ``backend="optuna"`` this process drives it: Optuna's sampler picks each trial's
        parameters and its pruner stops losers, while FastGPU runs the trials on their slices (see
        :func:`fastgpu.sweep_optuna.drive`, which also returns the Optuna study). Otherwise the
        server samples and this only waits.
        """
        if self.spec.get("backend") == "optuna":
            from .sweep_optuna import drive

            drive(self, sampler=sampler, pruner=pruner, storage=storage, timeout=timeout, poll=poll)
            return self.status()
        if sampler is not None or pruner is not None or storage is not None:
            raise InvalidArgument("sampler, pruner and storage are for backend='optuna'", field="backend")
        if self.id is None:
            self.start()
        return self.wait(timeout=timeout, poll=poll)
