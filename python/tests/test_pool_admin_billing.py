"""The pool (nodes, GPUs, drain, samples), admin (tenants, tokens) and billing (prices,
promotions, quotes, usage, settings) calls, with their typed results."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import fastgpu
import pytest


def test_nodes_and_gpus(client: fastgpu.Client) -> None:
    assert client.healthy()
    nodes = client.nodes()
    assert [n.name for n in nodes] == ["pytest-node"]
    node = nodes[0]
    assert node.state == "READY" and node.simulated and not node.drained
    assert [(g.index, g.model) for g in node.gpus] == [(0, "H100-80GB"), (1, "H100-80GB")]
    assert node.last_heartbeat_at is not None and node.last_heartbeat_at.tzinfo is not None
    gpus = client.gpus()
    assert len(gpus) == 2 and gpus[0].tflops > 0 and gpus[0].node == "pytest-node"
    vg = client.vgpus.create(0.5, name="pool-half")
    try:
        placed = client.vgpus.get(vg.id)
        assert placed.state in ("PENDING", "ACTIVE")
        slices = [s for g in client.gpus() for s in g.slices]
        if placed.state == "ACTIVE":
            assert any(s.vgpu_id == vg.id and s.milli == 500 for s in slices)
    finally:
        client.vgpus.delete(vg.id)
    assert "pytest-node" in repr(node)


def test_drain_and_resume(client: fastgpu.Client) -> None:
    drained = client.drain_node("pytest-node")
    try:
        assert drained["evicted"] == 0 and drained["node"].drained
        t = client.tasks.submit(fastgpu.Task(command="true", cpu="100m"))
        # It waits, with a reason, once the scheduler has looked at it.
        seen = client.tasks.get(t.id)
        deadline = time.monotonic() + 30
        while seen.reason is None and time.monotonic() < deadline:
            seen = client.tasks.get(t.id)
        assert seen.state == "PENDING" and seen.reason is not None, seen
    finally:
        resumed = client.resume_node("pytest-node")
    assert not resumed.drained
    assert client.tasks.wait(t.id, timeout=60).state == "SUCCEEDED"


def test_samples(client: fastgpu.Client) -> None:
    s = client.samples(detail="pool", buckets=4)
    assert s.end > s.start and s.bucket > timedelta(0) and s.samples == []
    assert all(p.capacity_milli >= 0 and p.at.tzinfo is not None for p in s.allocation)


def test_tenants_and_tokens(client: fastgpu.Client) -> None:
    t = client.admin.tenants.create("adm-research", guarantee=1, limit="1.5", weight=2, budget=Decimal("500.25"))
    assert (t.guarantee, t.limit, t.weight, t.budget) == (Decimal(1), Decimal("1.5"), Decimal(2), Decimal("500.25"))
    assert t.created_at is not None and t.created_at.tzinfo is not None
    assert "adm-research" in [x.name for x in client.admin.tenants.list()]
    assert client.admin.tenants.get("adm-research").budget == Decimal("500.25")
    assert t.default_time_limit is None
    # An update changes only what it names; None resets a field (here: back to the pool's default).
    u = client.admin.tenants.update("adm-research", default_time_limit="1h30m")
    assert u.default_time_limit == timedelta(minutes=90) and (u.guarantee, u.limit, u.budget) == (Decimal(1), Decimal("1.5"), Decimal("500.25"))
    assert client.admin.tenants.update("adm-research", default_time_limit=timedelta(minutes=5), limit=None).default_time_limit == timedelta(minutes=5)
    assert client.admin.tenants.get("adm-research").limit is None
    assert client.admin.tenants.update("adm-research", default_time_limit=None).default_time_limit is None
    with pytest.raises(fastgpu.InvalidArgument) as e:
        client.admin.tenants.update("adm-research", default_time_limit="soon")
    assert e.value.field == "body.defaultTimeLimit"
    tok = client.admin.tokens.create("adm-research", role="viewer", name="adm-viewer")
    assert tok.token.startswith("fgp_") and tok.role == "viewer" and tok.token not in repr(tok)
    listed = client.admin.tokens.list(tenant="adm-research")
    assert [x.id for x in listed] == [tok.id] and not hasattr(listed[0], "token")
    revoked = client.admin.tokens.revoke(tok.id)
    assert revoked.revoked_at is not None
    assert client.admin.tenants.delete("adm-research") == 0


def test_prices_promotions_quote_and_usage(client: fastgpu.Client) -> None:
    book = client.billing.set_price("H100", Decimal("2.50"))
    assert book.prices["H100-80GB"] == Decimal("2.5")
    assert client.billing.prices().prices["H100-80GB"] == Decimal("2.5")
    now = datetime.now(timezone.utc)
    promo = client.billing.create_promotion("py-spring", "30%", now - timedelta(days=1), now + timedelta(days=1), budget=Decimal("100"))
    assert promo.status == "active" and promo.budget == Decimal("100") and promo.spent == Decimal(0)
    assert promo.percent_off == Decimal(30) and promo.fixed_price_per_hour is None
    assert promo.end - promo.start == timedelta(days=2)
    assert "py-spring" in [p.name for p in client.billing.promotions()]
    q = client.billing.quote(fastgpu.Task(command="x", gpu=0.5, time_limit="1h"))
    assert q is not None and q.gpu_model == "H100-80GB" and q.unit_price == Decimal("2.5")
    assert q.list_per_hour == Decimal("1.25")
    assert q.promotion is not None and q.promotion.name == "py-spring" and q.promotion.price_per_hour == Decimal("0.875")
    assert q.estimate_time_limit == timedelta(hours=1) and q.estimate_charged == Decimal("0.875")
    assert client.billing.quote("echo cpu only") is None

    t = client.tasks.submit(fastgpu.Task(command="sleep 0.3", gpu=1, cpu="100m"))
    client.tasks.wait(t.id, timeout=60)
    report = client.usage(start=now - timedelta(days=1))
    row = next(r for r in report.rows if r.task_id == t.id)
    assert row.gpu_model == "H100-80GB" and row.gpu_time > timedelta(0)
    assert isinstance(row.charged_amount, Decimal) and row.list_amount > 0
    assert row.charged_amount == row.list_amount - row.discount_amount and "py-spring" in row.promotions
    assert report.totals.charged_amount == sum((r.charged_amount for r in report.rows), Decimal(0))
    assert report.start is not None and report.start.tzinfo is not None
    client.billing.set_price("H100", 0)


def test_billing_settings(client: fastgpu.Client) -> None:
    before = client.billing.settings()
    assert before.budget_period in ("all", "month", "week", "day")
    after = client.billing.set_settings(budget_period="month")
    assert after.budget_period == "month"
    client.billing.set_settings(budget_period=before.budget_period, budget_policy=before.budget_policy)
    assert client.billing.settings() == before


def test_pool_events_history_then_live(client: fastgpu.Client) -> None:
    t = client.tasks.submit(fastgpu.Task(command="true", cpu="100m"))
    seen = []
    for e in client.pool_events(after=0):
        if e.task_id == t.id:
            seen.append(e.type)
            if e.type == "task.finished":
                break
    assert seen[0] == "task.submitted" and "task.started" in seen
    assert client.tasks.get(t.id).state == "SUCCEEDED"
