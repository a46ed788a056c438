"""Finding the server: arguments, then FASTGPU_URL/FASTGPU_TOKEN, then $FASTGPU_HOME/config.json
(the CLI's order), and the conversions from the wire (pure functions, no server needed)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

import fastgpu
from fastgpu._config import resolve_connection
from fastgpu._convert import dt, duration, iso, micros
from fastgpu._http import SseParser


def write(home: Path, url: str, token: str) -> None:
    (home / "config.json").write_text(json.dumps({"url": url, "token": token}))


def test_order_explicit_then_env_then_saved(tmp_path: Path) -> None:
    write(tmp_path, "http://127.0.0.1:7070/", "saved")
    home = {"FASTGPU_HOME": str(tmp_path)}
    assert resolve_connection(None, None, home) == resolve_connection(None, None, {**home})
    c = resolve_connection(None, None, home)
    assert (c.url, c.token) == ("http://127.0.0.1:7070", "saved")
    c = resolve_connection(None, None, {**home, "FASTGPU_URL": "127.0.0.1:9000", "FASTGPU_TOKEN": "env"})
    assert (c.url, c.token) == ("http://127.0.0.1:9000", "env")
    c = resolve_connection("https://gpu.example:443", "arg", {**home, "FASTGPU_TOKEN": "env"})
    assert (c.url, c.token) == ("https://gpu.example:443", "arg")
    assert "arg" not in repr(c)


def test_the_saved_token_only_goes_to_the_saved_server(tmp_path: Path) -> None:
    write(tmp_path, "http://127.0.0.1:7070", "saved")
    home = {"FASTGPU_HOME": str(tmp_path)}
    assert resolve_connection("127.0.0.1:7070", None, home).token == "saved"
    assert resolve_connection("http://elsewhere:7070", None, home).token is None


def test_broken_config_and_bad_urls_are_named(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(fastgpu.NotConfigured, match="config.json is not valid JSON"):
        resolve_connection(None, None, {"FASTGPU_HOME": str(tmp_path)})
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(fastgpu.NotConfigured, match='lacks "url" and "token"'):
        resolve_connection(None, None, {"FASTGPU_HOME": str(tmp_path)})
    with pytest.raises(fastgpu.InvalidArgument, match="http:// or https://"):
        resolve_connection("ftp://x", "t", {})
    with pytest.raises(fastgpu.InvalidArgument, match="bad port"):
        resolve_connection("http://x:99999", "t", {})


def test_wire_conversions() -> None:
    assert dt("2026-03-01T22:00:00.5Z") == datetime(2026, 3, 1, 22, 0, 0, 500000, tzinfo=timezone.utc)
    assert dt(1_000) == datetime(1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc)
    assert micros("1250000") == Decimal("1.25") and micros(1) == Decimal("0.000001")
    assert duration(timedelta(minutes=2)) == "120000ms" and duration(1.5) == "1500ms" and duration("2h") == "2h"
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 678901)) == "2026-01-02T03:04:05.678Z"


def test_sse_parser() -> None:
    p = SseParser()
    events = [p.feed(line) for line in [": keep-alive", "", "event: log", "id: 3", 'data: {"a":', "data: 1}", "", "event: end", "data: {}", ""]]
    got = [e for e in events if e is not None]
    assert [(e.event, e.data, e.id) for e in got] == [("log", '{"a":\n1}', "3"), ("end", "{}", "3")]


def test_task_specs() -> None:
    t = fastgpu.Task(20, 5)
    spec = t.to_spec("vg_x")
    assert spec["command"][:2] == ["sh", "-c"] and spec["name"] == "synthetic-20tflops-5s" and spec["vgpu"] == "vg_x"
    assert spec["resources"] == {"gpu": {"tflops": 20}, "cpu": "100m", "memory": "64MiB"}
    assert t.synthetic and "synthetic load 5s" in repr(t)
    s = fastgpu.Task(command="python train.py", gpu=0.5, gpu_memory="20GiB", seconds=90).to_spec()
    assert s == {"command": "python train.py", "timeLimit": "90000ms", "resources": {"gpu": {"fraction": 0.5, "memory": "20GiB"}}}
    assert fastgpu.Task(command=["a", "b"], gpu="A100:0.5", preemptible=True, gang=2).to_spec() == {"command": ["a", "b"], "resources": {"gpu": "A100:0.5"}, "preemptible": True, "gang": 2}


def test_times_with_any_fraction_and_offset() -> None:
    # Python 3.9 and 3.10 read only 3 or 6 fraction digits; the SDK reads any.
    assert dt("2026-12-07T02:15:05.594Z") == datetime(2026, 12, 7, 2, 15, 5, 594000, tzinfo=timezone.utc)
    assert dt("2026-12-07T02:15:05.5941234+01:00") == datetime(2026, 12, 7, 1, 15, 5, 594123, tzinfo=timezone.utc)
    assert dt("2026-12-07T02:15:05Z") == datetime(2026, 12, 7, 2, 15, 5, tzinfo=timezone.utc)
