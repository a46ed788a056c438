"""``backend="optuna"``: Optuna samples and prunes, FastGPU runs the trials on their slices.

:func:`drive` is an Optuna ask/tell loop in this process. For each free place (the sweep's
``max_concurrent``) it asks the study's sampler for parameters from the sweep's space and has
the server run that trial as a task; it feeds every metric point the trial reports
(``fastgpu.report``) to ``trial.report(value, step)``, asks ``trial.should_prune()``, and has the
server stop a pruned trial at once, which frees its slice for the next; a trial that ends is told
its last reported value (a failed one, FAIL). The study lives in an Optuna storage: the URL in
``$FASTGPU_OPTUNA_STORAGE`` (the pool's Postgres, say ``postgresql://…``), else a journal file
under ``$FASTGPU_HOME/optuna/``, so users' own Optuna code opens it unchanged::

    sweep = fastgpu.Sweep(train, space={"lr": {"loguniform": [1e-5, 1e-1]}}, metric="loss",
                          trials=64, max_concurrent=8, gpu=0.25, backend="optuna")
    study = fastgpu.sweep_optuna.drive(sweep)        # or sweep.run()
    print(study.best_params)
    optuna.load_study(study_name=sweep.id, storage=fastgpu.sweep_optuna.storage_for(sweep.id))

Needs ``pip install 'fastgpu-sdk[optuna]'``.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Set, Union

from ._ops import Call, seg
from .errors import InvalidArgument, Timeout

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

    from .sweep import Sweep

FINAL = ("SUCCEEDED", "FAILED", "PRUNED", "CANCELLED")


def _need_optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise InvalidArgument("backend='optuna' needs Optuna: pip install 'fastgpu-sdk[optuna]'", field="backend") from None


def storage_for(study_name: str) -> "Union[str, optuna.storages.BaseStorage]":
    """Where the study of sweep ``study_name`` lives: ``$FASTGPU_OPTUNA_STORAGE`` (an Optuna
    storage URL, such as the pool's Postgres), else the journal file
    ``$FASTGPU_HOME/optuna/STUDY.journal`` (``~/.fastgpu`` by default)."""
    url = os.environ.get("FASTGPU_OPTUNA_STORAGE")
    if url:
        return url
    _need_optuna()
    import optuna

    home = Path(os.environ.get("FASTGPU_HOME") or (Path.home() / ".fastgpu"))
    folder = home / "optuna"
    folder.mkdir(parents=True, exist_ok=True)
    from optuna.storages.journal import JournalFileBackend

    storage: optuna.storages.BaseStorage = optuna.storages.JournalStorage(JournalFileBackend(str(folder / f"{study_name}.journal")))
    return storage


def distributions(space: Mapping[str, Any]) -> "Dict[str, BaseDistribution]":
    """The sweep file's space as Optuna distributions (grid and choice: categorical; ``int``
    ranges: integer ones; ``loguniform``: ``log=True``)."""
    _need_optuna()
    import optuna

    d = optuna.distributions
    out: Dict[str, BaseDistribution] = {}
    for name, p in space.items():
        if isinstance(p, list):
            out[name] = d.CategoricalDistribution(p)
        elif isinstance(p, dict) and ("grid" in p or "choice" in p):
            out[name] = d.CategoricalDistribution(list(p["grid"] if "grid" in p else p["choice"]))
        elif isinstance(p, dict) and ("uniform" in p or "loguniform" in p):
            log = "loguniform" in p
            low, high = p["loguniform" if log else "uniform"]
            if p.get("int"):
                out[name] = d.IntDistribution(math.ceil(low), math.floor(high), log=log)
            else:
                out[name] = d.FloatDistribution(float(low), float(high), log=log)
        else:
            raise InvalidArgument(f"space.{name}: {p!r} is not a grid, choice, uniform or loguniform parameter", field=f"space.{name}")
    return out


def pruner_for(early_stopping: Optional[Mapping[str, Any]]) -> "optuna.pruners.BasePruner":
    """The sweep file's ``early_stopping`` as an Optuna pruner (none: Optuna's NopPruner)."""
    _need_optuna()
    import optuna

    rule = (early_stopping or {}).get("rule", "none")
    e = early_stopping or {}
    if rule == "median":
        pruner: optuna.pruners.BasePruner = optuna.pruners.MedianPruner(n_startup_trials=int(e.get("min_trials", 3)), n_warmup_steps=int(e.get("min_steps", 1)))
        return pruner
    if rule == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=int(e.get("min_step", 1)), reduction_factor=int(e.get("reduction_factor", 3)))
    return optuna.pruners.NopPruner()


class _Live:
    """A trial the server runs, with what Optuna has been told of it."""

    def __init__(self, trial: "optuna.trial.Trial") -> None:
        self.trial = trial
        self.steps: Set[int] = set()
        self.last: Optional[float] = None


def drive(
    sweep: "Sweep",
    *,
    sampler: "Optional[optuna.samplers.BaseSampler]" = None,
    pruner: "Optional[optuna.pruners.BasePruner]" = None,
    storage: "Union[str, optuna.storages.BaseStorage, None]" = None,
    timeout: Optional[float] = None,
    poll: float = 1.0,
) -> "optuna.study.Study":
    """Runs a ``backend="optuna"`` sweep to its end with Optuna's ask/tell; returns the study
    (named after the sweep's id). ``sampler`` defaults to TPE seeded with the sweep's ``seed``,
    ``pruner`` to the sweep file's ``early_stopping``. ``timeout`` (seconds): cancel the sweep
    and raise :class:`Timeout` when it runs longer."""
    _need_optuna()
    import optuna

    spec = sweep.spec
    if spec.get("backend") != "optuna":
        raise InvalidArgument("drive() runs backend='optuna' sweeps; give Sweep(..., backend='optuna')", field="backend")
    if sweep.id is None:
        sweep.start()
    sweep_id = sweep._need_id()
    m = spec["metric"]  # a name, or {name, goal} (a sweep file may give either)
    metric: str = m if isinstance(m, str) else str(m["name"])
    goal: str = (m.get("goal") if isinstance(m, dict) else None) or spec.get("goal") or "minimize"
    total = int(spec["trials"])
    max_live = int(spec.get("max_concurrent") or total)
    study = optuna.create_study(
        study_name=sweep_id,
        storage=storage if storage is not None else storage_for(sweep_id),
        sampler=sampler if sampler is not None else optuna.samplers.TPESampler(seed=spec.get("seed")),
        pruner=pruner if pruner is not None else pruner_for(spec.get("early_stopping")),
        direction="maximize" if goal == "maximize" else "minimize",
        load_if_exists=True,
    )
    dists = distributions(spec.get("space") or {})
    live: Dict[int, _Live] = {}
    asked = int(sweep.status()["sweep"]["nextTrial"])
    deadline = None if timeout is None else time.monotonic() + timeout

    def tell_failed(index: int) -> None:
        study.tell(live.pop(index).trial, state=optuna.trial.TrialState.FAIL)

    while True:
        status = sweep.status()
        series = sweep.metrics()["series"]
        states = {int(t["index"]): str(t["state"]) for t in status["trials"]}
        for s in series:
            index = int(s["index"])
            lt = live.get(index)
            if lt is None:
                continue
            for p in s["points"]:
                value = p["values"].get(metric)
                step = int(p["step"])
                if value is None or step in lt.steps:
                    continue
                lt.steps.add(step)
                lt.last = float(value)
                lt.trial.report(float(value), step)
            state = states.get(index, "PENDING")
            if state == "SUCCEEDED":
                if lt.last is None:
                    tell_failed(index)  # it reported no value of the metric: nothing to tell
                else:
                    study.tell(live.pop(index).trial, lt.last)
            elif state in FINAL:
                tell_failed(index)
            elif lt.steps and lt.trial.should_prune():
                sweep.client.call(Call("POST", f"/v1/sweeps/{seg(sweep_id)}/trials/{index}/prune", lambda j: j))
                study.tell(live.pop(index).trial, state=optuna.trial.TrialState.PRUNED)
        if status["sweep"]["state"] != "RUNNING":
            for index in list(live):
                tell_failed(index)
            return study
        running = sum(1 for st in states.values() if st not in FINAL)
        while asked < total and running < max_live:
            trial = study.ask(dists)
            made = sweep.client.call(Call("POST", f"/v1/sweeps/{seg(sweep_id)}/trials", lambda j: j, body={"params": trial.params}))
            live[int(made["index"])] = _Live(trial)
            asked += 1
            running += 1
        if asked >= total and not live:
            # The server ends the sweep once its last trial has ended; wait for that.
            status = sweep.wait(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()), poll=poll)
            return study
        if deadline is not None and time.monotonic() >= deadline:
            sweep.cancel()
            raise Timeout(f"sweep {sweep_id} still running after {timeout} s (cancelled)")
        time.sleep(poll)


def main(argv: "list[str]") -> int:
    """``python -m fastgpu.sweep_optuna FILE.yaml``: start the sweep file (``backend: optuna``) on
    the configured server and drive it to its end; prints the sweep id, then the best trial."""
    import json
    import sys

    from .sweep import Sweep

    if len(argv) != 1:
        print("usage: python -m fastgpu.sweep_optuna SWEEP_FILE.yaml", file=sys.stderr)
        return 2
    text = Path(argv[0]).read_text(encoding="utf-8")
    import importlib

    yaml: Any = importlib.import_module("yaml")  # PyYAML: a dependency of Optuna's
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict):
        print(f"{argv[0]}: a sweep file is one mapping (command, space, trials, metric, …)", file=sys.stderr)
        return 2
    doc.setdefault("backend", "optuna")
    sweep = Sweep("", metric="_")
    sweep.spec = doc
    sweep.start()
    print(sweep.id, flush=True)
    study = drive(sweep)
    done = study.get_trials(states=[optuna_complete()])
    if done:
        print(json.dumps({"value": study.best_value, "params": study.best_params}))
    else:
        print("no trial completed")
    return 0


def optuna_complete() -> "optuna.trial.TrialState":
    import optuna

    return optuna.trial.TrialState.COMPLETE


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
