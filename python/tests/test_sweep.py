"""Sweeps through the Python SDK against a real `fastgpu up` (two simulated H100s): trials are real
processes that call fastgpu.report(), the agent ships the lines, the server picks the best."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

import fastgpu

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"

TRIAL = (
    "import fastgpu; p = fastgpu.params(); "
    "[fastgpu.report(step=s, loss=abs(p['x'] - 2) + 1.0 / s) for s in range(1, 4)]"
)


def test_sweep_runs_trials_that_report_and_finds_the_best(client: fastgpu.Client) -> None:
    sweep = fastgpu.Sweep(
        [sys.executable, "-c", TRIAL],
        space={"x": [0, 1, 2, 3], "lr": {"loguniform": [1e-4, 1e-1]}},
        trials=4,
        metric="loss",
        gpu=0.25,
        memory="10GiB",
        max_concurrent=4,
        env={"PYTHONPATH": str(SRC)},
        client=client,
    ).start()
    assert sweep.id is not None and sweep.id.startswith("sw_")
    st = sweep.wait(timeout=120, poll=0.2)
    assert st["sweep"]["state"] == "SUCCEEDED", st
    assert [t["points"] for t in st["trials"]] == [3, 3, 3, 3]
    assert all(t["slice"]["gpuMilli"] == 250 and t["slice"]["memoryMiB"] == 10240 for t in st["trials"])
    best = sweep.best()
    assert best is not None
    assert best["params"]["x"] == 2
    assert best["best"] == {"value": pytest.approx(1 / 3), "step": 3}
    assert 1e-4 <= best["params"]["lr"] <= 1e-1


def test_a_space_that_cannot_be_sampled_is_refused(client: fastgpu.Client) -> None:
    with pytest.raises(fastgpu.InvalidArgument) as e:
        fastgpu.Sweep("train", space={"lr": {"uniform": [1, 0]}}, metric="loss", trials=2, client=client).start()
    assert e.value.field == "space.lr.uniform"
    assert "low must be below high" in str(e.value)


def test_report_appends_lines_and_refuses_bad_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FASTGPU_METRICS", raising=False)
    assert fastgpu.report(step=1, loss=0.5) is False
    path = tmp_path / "m.jsonl"
    monkeypatch.setenv("FASTGPU_METRICS", str(path))
    assert fastgpu.report(step=2, loss=0.25, acc=1) is True
    assert fastgpu.report(loss=0.125) is True
    assert [json.loads(x) for x in path.read_text().splitlines()] == [{"step": 2, "loss": 0.25, "acc": 1}, {"loss": 0.125}]
    with pytest.raises(fastgpu.InvalidArgument):
        fastgpu.report(step=1, loss=float("nan"))
    with pytest.raises(fastgpu.InvalidArgument):
        fastgpu.report(step=-1, loss=1.0)
    with pytest.raises(fastgpu.InvalidArgument):
        fastgpu.report(step=1)
    monkeypatch.setenv("FASTGPU_PARAMS", '{"lr": 0.5}')
    assert fastgpu.params() == {"lr": 0.5}
    assert os.environ["FASTGPU_METRICS"] == str(path)
