"""The asyncio client: ``fastgpu.AsyncClient()``, the same calls as :class:`fastgpu.Client` with
``await``; log follows and event histories are async iterators."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any, AsyncIterator, Dict, List, Mapping, Optional, Sequence, TypeVar, Union

import httpx

from . import _ops as ops
from ._config import resolve_connection
from ._servers import DEFAULT_FAILOVER_WAIT_S, Servers, Verify, moves_on, retry_wait, ssl_verify
from ._http import (
    DEFAULT_TIMEOUT_S,
    RETRY_PAUSE_S,
    SUBMIT_TRIES,
    headers,
    log_chunk_of,
    params,
    pool_event_of,
    read_answer,
    request_args,
    SseParser,
    transport_error,
)
from ._ops import Call
from ._loops import Outage, Waiting
from .client import Seconds, seconds_of
from .errors import FastGPUError, NetworkError
from .models import (
    GPU,
    BillingSettings,
    CreatedToken,
    Event,
    EventPage,
    LogChunk,
    LogPage,
    Node,
    PriceBook,
    Promotion,
    Quote,
    Samples,
    TaskDetail,
    TaskInfo,
    Tenant,
    Token,
    UsageReport,
    VGPUInfo,
)
from .task import SpecLike, Task, idempotency_key, spec_of

T = TypeVar("T")


class AsyncClient:
    """The asyncio FastGPU client.

    >>> async with fastgpu.AsyncClient() as fg:
    ...     t = await fg.tasks.submit(fastgpu.Task(command="python train.py", gpu=0.5))
    ...     async for text in fg.tasks.logs(t.id, follow=True): print(text, end="")
    """

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, *, timeout: float = DEFAULT_TIMEOUT_S, env: Optional[Mapping[str, str]] = None, verify: Verify = None, failover_wait: float = DEFAULT_FAILOVER_WAIT_S) -> None:
        conn = resolve_connection(url, token, env, verify if isinstance(verify, str) else None)
        self.url = conn.url
        self._token = conn.token
        self.timeout = timeout
        self.failover_wait = failover_wait
        self._servers = Servers(self.url)
        self._http = httpx.AsyncClient(verify=ssl_verify(verify, conn.ca))
        self.tasks = AsyncTasks(self)
        self.vgpus = AsyncVGPUs(self)
        self.admin = AsyncAdmin(self)
        self.billing = AsyncBilling(self)

    def __repr__(self) -> str:
        return f"<fastgpu.AsyncClient {self.url}>"

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def call(self, call: Call[T]) -> T:
        """Sends one call. A call with an Idempotency-Key is retried when the network fails, and
        any call while the pool answers "not now" (``retry_wait``) for up to ``failover_wait`` s."""
        keyed = call.idempotency_key is not None
        tries = SUBMIT_TRIES if keyed else 1
        deadline = time.monotonic() + self.failover_wait
        pause = 0.2
        n = 0
        while True:
            try:
                res = await self.send(call.method, call.path, **request_args(call, self._token, self.timeout))
            except FastGPUError:
                n += 1
                if n >= tries:
                    raise
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            wait = retry_wait(res, call.method, keyed, pause)
            if wait is None or time.monotonic() + wait > deadline:
                return read_answer(call, res)  # type: ignore[no-any-return]
            await asyncio.sleep(wait)
            pause = min(2 * pause, 1.0)

    async def send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One request, to the servers in turn while one cannot be reached or answers 503."""
        order = self._servers.rotation()
        for k, i in enumerate(order):
            base = self._servers.urls[i]
            last = k + 1 == len(order)
            try:
                res = await self._http.request(method, base + path, **kw)
            except httpx.HTTPError as e:
                if not last and moves_on(e, method):
                    continue
                raise transport_error(e, base, f"{method} {path}") from e
            if res.status_code == 503 and not last:
                continue
            self._servers.answered(i)
            return res
        raise AssertionError("unreachable")

    async def stream_lines(self, path: str, query: ops.Query) -> AsyncIterator[str]:
        timeout = httpx.Timeout(self.timeout, read=60.0)  # the server sends a keep-alive every 15 s
        order = self._servers.rotation()
        for k, i in enumerate(order):
            base = self._servers.urls[i]
            last = k + 1 == len(order)
            started = False
            try:
                async with self._http.stream("GET", base + path, params=params(query), headers=headers(self._token, "text/event-stream"), timeout=timeout) as res:
                    if res.status_code == 503 and not last:
                        continue
                    if res.status_code >= 400:
                        await res.aread()
                        read_answer(Call("GET", path, lambda j: j), res)
                    self._servers.answered(i)
                    started = True
                    async for line in res.aiter_lines():
                        yield line
                    return
            except httpx.HTTPError as e:
                if not started and not last and moves_on(e, "GET"):
                    continue
                raise transport_error(e, base, f"GET {path}") from e

    async def nodes(self) -> List[Node]:
        return await self.call(ops.nodes())

    async def gpus(self) -> List[GPU]:
        return await self.call(ops.gpus())

    async def drain_node(self, node: str, *, evict: bool = False) -> Dict[str, Any]:
        return await self.call(ops.drain_node(node, evict))

    async def resume_node(self, node: str) -> Node:
        return await self.call(ops.resume_node(node))

    async def samples(self, *, start: Union[datetime, str, None] = None, end: Union[datetime, str, None] = None, buckets: Optional[int] = None, node: Optional[str] = None, detail: Optional[str] = None) -> Samples:
        return await self.call(ops.samples(start, end, buckets, node, detail))

    async def pool_events(self, *, after: Optional[int] = None) -> AsyncIterator[Event]:
        """See :meth:`fastgpu.Client.pool_events`."""
        outage = Outage("the event stream")
        while True:
            try:
                parser = SseParser()
                async for line in self.stream_lines("/v1/events", {"after": after}):
                    ev = parser.feed(line)
                    if ev is None:
                        continue
                    outage.ok()
                    raw = pool_event_of(ev)
                    if raw is None or (after is not None and raw["seq"] <= after):
                        continue
                    after = raw["seq"]
                    yield Event.from_json(raw)
            except FastGPUError as e:
                outage.failed(e)
            else:
                outage.failed(NetworkError("the event stream broke off"))
            await asyncio.sleep(RETRY_PAUSE_S)

    async def healthy(self) -> bool:
        try:
            return await self.call(ops.health())
        except FastGPUError:
            return False

    async def usage(self, *, tenant: Optional[str] = None, start: Union[datetime, str, None] = None, end: Union[datetime, str, None] = None) -> UsageReport:
        return await self.billing.usage(tenant=tenant, start=start, end=end)


class AsyncTasks:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def submit(self, task: SpecLike, *, tenant: Optional[str] = None) -> TaskInfo:
        return (await self.create(task, tenant=tenant))[0]

    async def create(self, task: SpecLike, *, dry_run: bool = False, tenant: Optional[str] = None, vgpu: Optional[str] = None) -> List[TaskInfo]:
        made = await self._c.call(ops.submit(spec_of(task, vgpu), idempotency_key(), dry_run, tenant))
        if isinstance(task, Task) and not dry_run and made:
            task.id = made[0].id
        return made

    async def list(
        self,
        *,
        state: Union[str, Sequence[str], None] = None,
        name: Optional[str] = None,
        node: Optional[str] = None,
        vgpu: Optional[str] = None,
        gang: Optional[str] = None,
        tenant: Optional[str] = None,
        limit: Optional[int] = None,
        before: Optional[str] = None,
        all: bool = False,
    ) -> List[TaskInfo]:
        """Tasks, newest first; without ``limit`` every page the server cuts is followed."""
        page = await self._c.call(ops.list_tasks(state, name, node, vgpu, gang, tenant, limit, before, all))
        out = list(page.tasks)
        while limit is None and page.next is not None:
            page = await self._c.call(ops.list_tasks(state, name, node, vgpu, gang, tenant, limit, page.next, all))
            out.extend(page.tasks)
        return out

    async def get(self, task_id: str) -> TaskDetail:
        return await self._c.call(ops.get_task(task_id))

    async def cancel(self, task_id: str) -> TaskInfo:
        return await self._c.call(ops.cancel_task(task_id))

    async def wait(self, task_id: str, *, timeout: Seconds = None, progress: Optional[bool] = None) -> TaskInfo:
        return (await self.wait_all([task_id], timeout=timeout, progress=progress))[0]

    async def wait_all(self, task_ids: Sequence[str], *, timeout: Seconds = None, progress: Optional[bool] = None, label: str = "waiting") -> List[TaskInfo]:
        """Waits for every task and returns them finished, in order. Cancelling the waiting
        coroutine (or Ctrl-C under ``asyncio.run``) leaves the tasks running and says how to reattach."""
        w = Waiting(task_ids, seconds_of(timeout), progress, label)
        outage = Outage("waiting")
        try:
            while True:
                nxt = w.next()
                if nxt is None:
                    return w.result()
                try:
                    w.seen(await self._c.call(ops.wait_task(*nxt)))
                    outage.ok()
                except FastGPUError as e:
                    outage.failed(e)
                    await asyncio.sleep(RETRY_PAUSE_S)
        except (KeyboardInterrupt, asyncio.CancelledError):
            w.interrupted()
            raise
        finally:
            w.close()

    async def log_page(self, task_id: str, *, after: Optional[int] = None, limit: Optional[int] = None, attempt: Optional[int] = None, stream: Optional[str] = None) -> LogPage:
        return await self._c.call(ops.logs(task_id, after, limit, attempt, stream))

    async def log_chunks(self, task_id: str, *, follow: bool = False, after: Optional[int] = None) -> AsyncIterator[LogChunk]:
        if not follow:
            while True:
                page = await self.log_page(task_id, after=after)
                for c in page.chunks:
                    yield c
                if not page.chunks or page.next is None or page.next == after:
                    return
                after = page.next
        outage = Outage(f"the log stream of task {task_id}")
        while True:
            try:
                parser = SseParser()
                async for line in self._c.stream_lines(f"/v1/tasks/{ops.seg(task_id)}/logs", ops.follow_query(after)):
                    ev = parser.feed(line)
                    if ev is None:
                        continue
                    outage.ok()
                    raw, ended = log_chunk_of(ev, after)
                    if ended:
                        return
                    if raw is not None:
                        chunk = LogChunk.from_json(raw)
                        after = chunk.pos
                        yield chunk
            except FastGPUError as e:
                outage.failed(e)
            else:
                outage.failed(NetworkError("the log stream broke off"))
            await asyncio.sleep(RETRY_PAUSE_S)

    async def logs(self, task_id: str, *, follow: bool = False, after: Optional[int] = None) -> AsyncIterator[str]:
        async for chunk in self.log_chunks(task_id, follow=follow, after=after):
            yield chunk.data

    async def events(self, task_id: str, *, after: Optional[int] = None, limit: Optional[int] = None) -> EventPage:
        return await self._c.call(ops.events(task_id, after, limit))

    async def event_history(self, task_id: str, *, page_size: int = 1000) -> AsyncIterator[Event]:
        after: Optional[int] = None
        while True:
            page = await self.events(task_id, after=after, limit=page_size)
            for e in page.events:
                yield e
            if page.next is None or page.next == after:
                return
            after = page.next


class AsyncVGPUs:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create(self, gpu: Union[float, str, None] = None, *, tflops: Optional[float] = None, memory: Union[str, int, None] = None, model: Optional[str] = None, name: Optional[str] = None, tenant: Optional[str] = None) -> VGPUInfo:
        return await self._c.call(ops.create_vgpu(ops.vgpu_body(gpu, tflops, memory, model, name), idempotency_key(), tenant))

    async def list(self, *, all: bool = False, tenant: Optional[str] = None) -> List[VGPUInfo]:
        return await self._c.call(ops.list_vgpus(all, tenant))

    async def get(self, vgpu_id: str) -> VGPUInfo:
        return await self._c.call(ops.get_vgpu(vgpu_id))

    async def delete(self, vgpu_id: str) -> VGPUInfo:
        return await self._c.call(ops.delete_vgpu(vgpu_id))


class AsyncAdmin:
    def __init__(self, client: AsyncClient) -> None:
        self.tenants = AsyncTenants(client)
        self.tokens = AsyncTokens(client)


class AsyncTenants:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create(self, name: str, *, guarantee: Any = None, limit: Any = None, weight: Any = None, budget: Any = None, default_time_limit: Any = None) -> Tenant:
        return await self._c.call(ops.create_tenant(ops.tenant_body(name, guarantee, limit, weight, budget, default_time_limit)))

    async def update(self, name: str, *, guarantee: Any = ops.KEEP, limit: Any = ops.KEEP, weight: Any = ops.KEEP, budget: Any = ops.KEEP, default_time_limit: Any = ops.KEEP) -> Tenant:
        return await self._c.call(ops.update_tenant(name, ops.tenant_patch(guarantee, limit, weight, budget, default_time_limit)))

    async def list(self) -> List[Tenant]:
        return await self._c.call(ops.list_tenants())

    async def get(self, name: str) -> Tenant:
        return await self._c.call(ops.get_tenant(name))

    async def delete(self, name: str) -> int:
        return await self._c.call(ops.delete_tenant(name))


class AsyncTokens:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create(self, tenant: str, *, role: Optional[str] = None, name: Optional[str] = None) -> CreatedToken:
        return await self._c.call(ops.create_token(tenant, role, name))

    async def list(self, *, tenant: Optional[str] = None) -> List[Token]:
        return await self._c.call(ops.list_tokens(tenant))

    async def revoke(self, token_id: str, *, force: bool = False) -> Token:
        """As :meth:`fastgpu.client.Tokens.revoke`."""
        return await self._c.call(ops.revoke_token(token_id, force))


class AsyncBilling:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def settings(self) -> BillingSettings:
        return await self._c.call(ops.billing_settings())

    async def set_settings(self, *, budget_policy: Optional[str] = None, budget_period: Optional[str] = None) -> BillingSettings:
        return await self._c.call(ops.set_billing_settings(budget_policy, budget_period))

    async def prices(self) -> PriceBook:
        return await self._c.call(ops.prices())

    async def set_price(self, model: str, price: Any, *, currency: Optional[str] = None) -> PriceBook:
        return await self._c.call(ops.set_price(model, price, currency))

    async def promotions(self) -> List[Promotion]:
        return await self._c.call(ops.promotions())

    async def create_promotion(
        self,
        name: str,
        discount: str,
        start: Union[datetime, str],
        end: Union[datetime, str],
        *,
        priority: Optional[int] = None,
        models: Optional[Sequence[str]] = None,
        tenants: Optional[Sequence[str]] = None,
        hours: Optional[str] = None,
        budget: Any = None,
    ) -> Promotion:
        return await self._c.call(ops.create_promotion(ops.promotion_body(name, discount, start, end, priority, models, tenants, hours, budget)))

    async def quote(self, task: SpecLike) -> Optional[Quote]:
        return await self._c.call(ops.quote_spec(spec_of(task)))

    async def usage(self, *, tenant: Optional[str] = None, start: Union[datetime, str, None] = None, end: Union[datetime, str, None] = None) -> UsageReport:
        return await self._c.call(ops.usage(tenant, start, end))
