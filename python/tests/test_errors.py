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


def test_rate_limited_reads_retry_after() -> None:
    from fastgpu.errors import error_from_response, retry_after_seconds

    body = {"error": {"code": "RESOURCE_EXHAUSTED", "message": "this token already holds 32 open streams"}}
    e = error_from_response(429, body, "", {"Retry-After": "1"})
    assert isinstance(e, fastgpu.RateLimited) and isinstance(e, fastgpu.FastGPUError)
    assert (e.code, e.status, e.retry_after) == ("RESOURCE_EXHAUSTED", 429, 1.0)
    # No body the SDK can read, no header: still a RateLimited, from the status.
    bare = error_from_response(429, None, "slow down")
    assert isinstance(bare, fastgpu.RateLimited) and bare.retry_after is None
    # The HTTP-date form counts from now; an unreadable value is None, not an error.
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0) == 10.0
    assert retry_after_seconds("soon") is None


def test_method_not_allowed_lists_allow(server: Server) -> None:
    import httpx

    from fastgpu._http import read_answer
    from fastgpu._ops import Call

    # The SDK itself never sends an undeclared method; a caller going through its plumbing
    # (or a server older than the SDK) gets a typed error with the methods the path has.
    res = httpx.put(f"{server.url}/v1/tasks", headers={"authorization": f"Bearer {server.token}"})
    with pytest.raises(fastgpu.MethodNotAllowed) as e:
        read_answer(Call("PUT", "/v1/tasks", lambda j: j), res)
    assert (e.value.code, e.value.status) == ("METHOD_NOT_ALLOWED", 405)
    assert e.value.allow == ["GET", "HEAD", "POST"]


def test_revoking_the_own_token_needs_force(client: fastgpu.Client, server: Server) -> None:
    # A second admin token, so that revoking it never leaves the pool without one.
    second = client.admin.tokens.create("default", role="admin", name="revoke-self")
    mine = server.client(second.token)
    with pytest.raises(fastgpu.Conflict) as e:
        mine.admin.tokens.revoke(second.id)
    assert "force" in e.value.message
    assert mine.admin.tokens.revoke(second.id, force=True).revoked_at is not None
    with pytest.raises(fastgpu.Unauthenticated):
        mine.admin.tokens.list()
