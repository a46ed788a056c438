"""fastgpu.AsyncClient and AsyncVirtualGPU against the real server (asyncio.run per test: no
plugin needed)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import List

import pytest

import fastgpu

from conftest import Server


def test_async_submit_wait_logs_events(server: Server, client: fastgpu.Client, tmp_path: Path) -> None:
    gate = tmp_path / "gate"

    async def main() -> None:
        async with fastgpu.AsyncClient(server.url, server.token) as fg:
            t = await fg.tasks.submit(fastgpu.Task(command='echo one; while [ ! -e "$GATE" ]; do sleep 0.05; done; echo two', env={"GATE": str(gate)}, cpu="100m"))
            seen: List[str] = []
            async for text in fg.tasks.logs(t.id, follow=True):
                seen.append(text)
                if not gate.exists():
                    gate.touch()  # the follow is live: only now does the task go on
            assert "".join(seen) == "one\ntwo\n"
            done = await fg.tasks.wait(t.id, timeout=60)
            assert done.state == "SUCCEEDED" and done.exit_code == 0
            assert (await fg.tasks.get(t.id)).history[0].outcome == "SUCCEEDED"
            assert "".join([c async for c in fg.tasks.logs(t.id)]) == "one\ntwo\n"
            assert (await fg.tasks.log_page(t.id)).text == "one\ntwo\n"
            types = [e.type async for e in fg.tasks.event_history(t.id, page_size=2)]
            assert types[0] == "task.submitted" and types[-1] == "task.finished"
            assert (await fg.tasks.events(t.id, limit=1)).next is not None
            async for e in fg.pool_events(after=0):
                if e.task_id == t.id and e.type == "task.finished":
                    assert e.data["state"] == "SUCCEEDED"
                    break
            assert t.id in [x.id for x in await fg.tasks.list(all=True, limit=10)]
            with pytest.raises(fastgpu.Conflict):
                await fg.tasks.cancel(t.id)
            with pytest.raises(fastgpu.NotFound):
                await fg.tasks.get("t_missing")

    asyncio.run(main())


def test_async_pool_admin_billing(server: Server, client: fastgpu.Client) -> None:
    async def main() -> None:
        async with fastgpu.AsyncClient(server.url, server.token) as fg:
            assert await fg.healthy()
            nodes, gpus = await asyncio.gather(fg.nodes(), fg.gpus())
            assert nodes[0].name == "pytest-node" and len(gpus) == 2
            assert (await fg.samples(detail="pool")).end is not None
            drained = await fg.drain_node("pytest-node")
            assert drained["node"].drained
            assert not (await fg.resume_node("pytest-node")).drained
            tenant = await fg.admin.tenants.create("async-t", budget="12.5")
            assert tenant.budget == Decimal("12.5") and (await fg.admin.tenants.get("async-t")).name == "async-t"
            assert "async-t" in [x.name for x in await fg.admin.tenants.list()]
            tok = await fg.admin.tokens.create("async-t", role="member")
            assert [x.id for x in await fg.admin.tokens.list(tenant="async-t")] == [tok.id]
            assert (await fg.admin.tokens.revoke(tok.id)).revoked_at is not None
            assert await fg.admin.tenants.delete("async-t") == 0  # its one token was revoked already
            settings = await fg.billing.settings()
            assert await fg.billing.set_settings(budget_policy=settings.budget_policy) == settings
            assert (await fg.billing.set_price("H100", "1.00")).prices["H100-80GB"] == Decimal(1)
            assert (await fg.billing.prices()).currency
            promo = await fg.billing.create_promotion("async-nights", "1.50/h", "2030-01-01", "2031-01-01", hours="22-06", models=["H100"], priority=5)  # in the future: other tests see no change
            assert promo.fixed_price_per_hour == Decimal("1.5") and promo.percent_off is None
            assert promo.hours is not None and promo.priority == 5 and promo.status == "scheduled"
            assert promo.start.tzinfo is not None and promo.models
            assert "async-nights" in [p.name for p in await fg.billing.promotions()]
            q = await fg.billing.quote({"command": "x", "resources": {"gpu": 1}})
            assert q is not None and q.list_per_hour == Decimal(1)
            await fg.billing.set_price("H100", "0")
            report = await fg.usage()
            assert isinstance(report.totals.charged_amount, Decimal)
            vgs = await fg.vgpus.list(all=True)
            assert isinstance(vgs, list)

    asyncio.run(main())


def test_async_virtual_gpu_in_turn_and_released_on_exit(server: Server, client: fastgpu.Client) -> None:
    async def main() -> str:
        fg = fastgpu.AsyncClient(server.url, server.token)
        async with await fastgpu.AsyncVirtualGPU.create(10, "tflops", client=fg) as vgpu:
            await vgpu.submit_task(fastgpu.Task(10, 1))
            await vgpu.submit_task(fastgpu.Task(command="echo second", cpu="100m"))
            done = await vgpu.wait(progress=False)
            assert [t.state for t in done] == ["SUCCEEDED", "SUCCEEDED"]
            assert done[1].started_at is not None and done[0].finished_at is not None and done[1].started_at >= done[0].finished_at
            with pytest.raises(fastgpu.InvalidArgument, match="TFLOPS"):
                await vgpu.submit_task(fastgpu.Task(20, 1))
            again = await fastgpu.AsyncVirtualGPU.get(vgpu.id, client=fg)
            assert (await again.refresh()).state == "ACTIVE"
        await fg.close()
        return vgpu.id

    vgpu_id = asyncio.run(main())
    assert client.vgpus.get(vgpu_id).state == "RELEASED"


def test_cancelling_an_async_wait_leaves_the_task_and_says_how_to_reattach(server: Server, client: fastgpu.Client, capsys: pytest.CaptureFixture[str]) -> None:
    t = client.tasks.submit(fastgpu.Task(command="sleep 600", cpu="100m"))

    async def main() -> None:
        async with fastgpu.AsyncClient(server.url, server.token) as fg:
            waiting = asyncio.ensure_future(fg.tasks.wait(t.id, progress=False))
            # Let the wait's long-poll start, then cancel it.
            while not (await fg.tasks.get(t.id)).state == "RUNNING":
                await asyncio.sleep(0.05)
            await asyncio.sleep(0)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting

    asyncio.run(main())
    assert f"task {t.id} keeps running" in capsys.readouterr().err
    assert client.tasks.get(t.id).state == "RUNNING"
