"""backend="optuna" and Python function trials against a real `fastgpu up` and a real Optuna: the
driver asks Optuna for each trial, the server runs it as a task (the function on a 0.25 slice),
reported points reach trial.report(), a pruned trial is stopped on the server, every trial ends
in the study, which users' own Optuna code opens from its journal file."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
import pytest

import fastgpu
from fastgpu.sweep_optuna import distributions, drive, pruner_for, storage_for

if TYPE_CHECKING:
    from conftest import Server

SRC = Path(__file__).resolve().parents[1] / "src"


def quadratic(x: float, opt: str) -> float:
    """A trial: reports three points, returns its final loss (reported as the last point)."""
    for step in range(1, 4):
        fastgpu.report(step=step, loss=(x - 2) ** 2 + 1.0 / step)
    return (x - 2) ** 2 + (0.0 if opt == "adam" else 0.5)


def slow(x: float) -> float:
    """A trial long enough for the driver to see it run: a point every 0.2 s for 6 s."""
    for step in range(1, 31):
        fastgpu.report(step=step, loss=x)
        time.sleep(0.2)
    return x


class PruneFromThirdTrial(optuna.pruners.BasePruner):
    """Prunes trials 2 and later at their first point: deterministic, to test the prune path."""

    def prune(self, study: "optuna.study.Study", trial: "optuna.trial.FrozenTrial") -> bool:
        return trial.number >= 2


def test_optuna_drives_a_sweep_of_function_trials(client: fastgpu.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTGPU_HOME", str(tmp_path))
    sweep = fastgpu.Sweep(
        quadratic,
        space={"x": {"uniform": [0, 4]}, "opt": ["adam", "sgd"]},
        metric="loss",
        trials=6,
        max_concurrent=3,
        gpu=0.25,
        seed=7,
        backend="optuna",
        env={"PYTHONPATH": str(SRC)},
        client=client,
    )
    study = drive(sweep, poll=0.2, timeout=150)
    assert sweep.id is not None and study.study_name == sweep.id
    st = sweep.status()
    assert st["backend"] == "optuna"
    assert st["sweep"]["state"] == "SUCCEEDED", st
    assert st["counts"] == {"SUCCEEDED": 6}
    done = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    assert len(done) == 6
    for t in done:
        # The function's return value, reported as its last point, is what Optuna was told.
        assert t.value == pytest.approx((t.params["x"] - 2) ** 2 + (0.0 if t.params["opt"] == "adam" else 0.5))
        assert sorted(t.intermediate_values) == [1, 2, 3, 4]
    # The server ran exactly the parameters Optuna chose, one trial each.
    assert sorted(round(t["params"]["x"], 9) for t in st["trials"]) == sorted(round(t.params["x"], 9) for t in done)
    # Users' Optuna code opens the study unchanged, from the journal file FastGPU keeps.
    assert (tmp_path / "optuna" / f"{sweep.id}.journal").exists()
    again = optuna.load_study(study_name=sweep.id, storage=storage_for(sweep.id))
    assert again.best_value == pytest.approx(min(t.value for t in done if t.value is not None))


def test_a_pruned_trial_is_stopped_on_the_server(client: fastgpu.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTGPU_HOME", str(tmp_path))
    sweep = fastgpu.Sweep(slow, space={"x": {"uniform": [0, 1]}}, metric="loss", trials=4, max_concurrent=4, gpu=0.25, backend="optuna", env={"PYTHONPATH": str(SRC)}, client=client)
    study = sweep_study = drive(sweep, pruner=PruneFromThirdTrial(), poll=0.2, timeout=150)
    assert study is sweep_study
    states = sorted(t.state.name for t in study.trials)
    assert states == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED"]
    st = sweep.status()
    assert st["counts"] == {"SUCCEEDED": 2, "PRUNED": 2}
    pruned = [t for t in st["trials"] if t["state"] == "PRUNED"]
    # Stopped early: far fewer than its 30 points, and its task cancelled.
    assert all(t["points"] < 30 and t["taskState"] == "CANCELLED" for t in pruned)


def test_function_trials_on_the_native_backend(client: fastgpu.Client) -> None:
    st = fastgpu.Sweep(quadratic, space={"x": [1, 2, 3], "opt": ["adam"]}, metric="loss", gpu=0.25, env={"PYTHONPATH": str(SRC)}, client=client).run(timeout=120, poll=0.2)
    assert st["sweep"]["state"] == "SUCCEEDED", st
    assert st["best"]["params"] == {"x": 2, "opt": "adam"}
    assert st["best"]["best"] == {"value": 0.0, "step": 4}


def test_space_maps_to_optuna_and_bad_uses_are_named() -> None:
    d = distributions({"a": [1, 2], "b": {"choice": ["x"]}, "c": {"uniform": [0.5, 3.5], "int": True}, "lr": {"loguniform": [1e-5, 1e-1]}})
    assert d["a"] == optuna.distributions.CategoricalDistribution([1, 2])
    assert d["c"] == optuna.distributions.IntDistribution(1, 3)
    assert d["lr"] == optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True)
    assert isinstance(pruner_for({"rule": "median", "min_trials": 2}), optuna.pruners.MedianPruner)
    assert isinstance(pruner_for(None), optuna.pruners.NopPruner)
    with pytest.raises(fastgpu.InvalidArgument) as e:
        fastgpu.Sweep(lambda x: x, space={"x": [1]}, metric="loss")
    assert e.value.field == "command"
    with pytest.raises(fastgpu.InvalidArgument) as e2:
        drive(fastgpu.Sweep("true", space={"x": [1]}, metric="loss"))
    assert e2.value.field == "backend"
    assert os.environ.get("FASTGPU_OPTUNA_STORAGE") is None or storage_for("s") == os.environ["FASTGPU_OPTUNA_STORAGE"]


def test_a_sweep_file_runs_with_python_m(server: "Server", tmp_path: Path) -> None:
    from conftest import run_python

    trial = "import fastgpu; p = fastgpu.params(); [fastgpu.report(step=s, loss=abs(p['x'] - 1) + 1.0 / s) for s in range(1, 3)]"
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "name: file-optuna\n"
        f"command: [{json.dumps(sys.executable)}, -c, {json.dumps(trial)}]\n"
        "space:\n  x: [0, 1, 2]\n"
        "metric: loss\ntrials: 3\nmax_concurrent: 3\ngpu: 0.25\nbackend: optuna\nseed: 3\n"
        f"env: {{PYTHONPATH: {json.dumps(str(SRC))}}}\n",
        encoding="utf-8",
    )
    r = run_python(["-m", "fastgpu.sweep_optuna", str(path)], server.env(), timeout=150)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("sw_")
    best = json.loads(lines[-1])
    # The last reported point (step 2) of the best trial: |x - 1| + 1/2.
    assert best["value"] == pytest.approx(abs(best["params"]["x"] - 1) + 0.5)
