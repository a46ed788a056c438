"""Progress during waits: tqdm when installed (the test extras install it), plain lines
otherwise, silent unless a terminal or the caller asks."""

from __future__ import annotations

import pytest

import fastgpu
from fastgpu import _progress


def test_mode_follows_the_argument_then_the_environment_then_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTGPU_PROGRESS", "1")
    assert _progress.mode(None) == "full" and _progress.mode(False) == "off"
    monkeypatch.setenv("FASTGPU_PROGRESS", "0")
    assert _progress.mode(None) == "off" and _progress.mode(True) == "full"
    monkeypatch.delenv("FASTGPU_PROGRESS")
    assert _progress.mode(None) == "ends"  # pytest's stderr is not a terminal


def test_by_default_off_a_terminal_one_line_per_task_that_ends(client: fastgpu.Client, capsys: pytest.CaptureFixture[str]) -> None:
    t = client.tasks.submit(fastgpu.Task(command="true", cpu="100m", name="quiet"))
    client.tasks.wait(t.id)
    err = capsys.readouterr().err
    assert err.startswith(f"task {t.id} (quiet) completed in ") and err.count("\n") == 1, err


def test_tqdm_bar_and_one_line_per_finished_task(client: fastgpu.Client, capsys: pytest.CaptureFixture[str]) -> None:
    assert type(_progress.make(True, 1, "x")).__name__ == "_Tqdm"
    ok = client.tasks.submit(fastgpu.Task(command="true", cpu="100m", name="ok"))
    bad = client.tasks.submit(fastgpu.Task(command="exit 4", cpu="100m", name="bad"))
    client.tasks.wait_all([ok.id, bad.id], progress=True, label="two")
    err = capsys.readouterr().err
    assert f"task {ok.id} (ok) completed in" in err
    assert f"task {bad.id} (bad) ended FAILED, exit code 4" in err
    assert "two" in err and "2/2" in err  # the bar


def test_plain_lines_without_tqdm_or_rich(client: fastgpu.Client, capsys: pytest.CaptureFixture[str]) -> None:
    t = client.tasks.submit(fastgpu.Task(command="true", cpu="100m", name="plain"))
    done = client.tasks.wait(t.id, progress=False)
    plain = _progress.Progress(1, "plain")
    plain.update([fastgpu.TaskInfo.from_json({**done.raw, "state": "PENDING", "reason": "Resources"})])
    plain.finished(done)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"plain: {t.id} PENDING (Resources)")
    assert err[1].startswith(f"task {t.id} (plain) completed in")
