"""Every failure is an exception carrying the server's code, status, message and field."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import fastgpu

from conftest import Server


def test_not_found(client: fastgpu.Client) -> None:
    with pytest.raises(fastgpu.NotFound) as e:
        client.tasks.get("t_doesnotexist")
    assert (e.value.code, e.value.status) == ("NOT_FOUND", 404)
    assert "t_doesnotexist" in e.value.message
    assert isinstance(e.value, LookupError) and isinstance(e.value, fastgpu.FastGPUError)
    with pytest.raises(fastgpu.NotFound):
        client.vgpus.get("vg_nope")
    with pytest.raises(fastgpu.NotFound):
        client.admin.tenants.get("nobody-here")


def test_invalid_argument_names_the_field(client: fastgpu.Client) -> None:
    with pytest.raises(fastgpu.InvalidArgument) as e:
        client.tasks.submit({"command": "true", "resources": {"gpu": -1}})
    assert e.value.status == 400 and e.value.field == "resources.gpu"
    assert "resources.gpu" in str(e.value)
    assert isinstance(e.value, ValueError)
    with pytest.raises(fastgpu.InvalidArgument) as e2:
        client.tasks.submit({"command": "true", "colour": "red"})
    assert e2.value.field is not None and "colour" in e2.value.message


def test_unschedulable(client: fastgpu.Client) -> None:
    with pytest.raises(fastgpu.Unschedulable) as e:
        client.tasks.submit(fastgpu.Task(command="true", gpu=8))
    assert e.value.status == 422 and e.value.code == "UNSCHEDULABLE"


def test_client_side_checks_fail_before_any_call() -> None:
    with pytest.raises(fastgpu.InvalidArgument, match="tflops"):
        fastgpu.Task(-1, 5)
    with pytest.raises(fastgpu.InvalidArgument, match="seconds"):
        fastgpu.Task(20, 0)
    with pytest.raises(fastgpu.InvalidArgument, match="say what to run"):
        fastgpu.Task(20)
    with pytest.raises(fastgpu.InvalidArgument, match="either tflops or gpu"):
        fastgpu.Task(20, 5, gpu=0.5)


def test_unauthenticated_and_forbidden(server: Server, client: fastgpu.Client) -> None:
    with fastgpu.Client(server.url, "fgp_not_a_real_token") as bad:
        with pytest.raises(fastgpu.Unauthenticated) as e:
            bad.tasks.list()
        assert e.value.status == 401
    client.admin.tenants.create("err-viewers")
    viewer = client.admin.tokens.create("err-viewers", role="viewer")
    with fastgpu.Client(server.url, viewer.token) as v:
        assert v.tasks.list() == []
        with pytest.raises(fastgpu.Forbidden) as f:
            v.tasks.submit("true")
        assert f.value.status == 403 and not isinstance(f.value, fastgpu.QuotaExceeded)
        with pytest.raises(fastgpu.Forbidden):
            v.admin.tenants.list()
    client.admin.tokens.revoke(viewer.id)
    with fastgpu.Client(server.url, viewer.token) as v:
        with pytest.raises(fastgpu.Unauthenticated, match="revoked"):
            v.tasks.list()
    client.admin.tenants.delete("err-viewers")


def test_quota_exceeded_when_the_budget_is_spent(server: Server, client: fastgpu.Client) -> None:
    client.admin.tenants.create("err-broke", budget="0")
    member = client.admin.tokens.create("err-broke")
    with fastgpu.Client(server.url, member.token) as m:
        with pytest.raises(fastgpu.QuotaExceeded) as e:
            m.tasks.submit(fastgpu.Task(command="true"))
    assert (e.value.code, e.value.status, e.value.field) == ("FORBIDDEN", 403, "budget")
    assert isinstance(e.value, fastgpu.Forbidden) and "budget" in e.value.message
    client.admin.tenants.delete("err-broke")


def test_not_configured_says_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("FASTGPU_URL", "FASTGPU_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("FASTGPU_HOME", str(tmp_path))
    with pytest.raises(fastgpu.NotConfigured) as e:
        fastgpu.configure()
    assert "fastgpu up" in str(e.value) and str(tmp_path / "config.json") in str(e.value)
    assert "FASTGPU_URL" in str(e.value) and "fastgpu.configure(url=" in str(e.value)
    with pytest.raises(fastgpu.NotConfigured):
        fastgpu.Client()


def test_network_error_when_nothing_listens() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with fastgpu.Client(f"127.0.0.1:{port}", "x") as c:
        with pytest.raises(fastgpu.NetworkError) as e:
            c.tasks.list()
        assert "is it running?" in str(e.value) and isinstance(e.value, ConnectionError)
        assert c.healthy() is False
