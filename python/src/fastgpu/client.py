"""The synchronous client: ``fastgpu.Client()``. Every call of the REST API, typed results,
errors as exceptions with the server's code. ``fastgpu.AsyncClient`` is the same with ``await``."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, TypeVar, Union

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
    parse_events,
    params,
    pool_event_of,
    read_answer,
    request_args,
    transport_error,
)
from .arrays import Arrays
from ._ops import Call
from ._loops import Outage, Waiting
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
from .datasets import Datasets

T = TypeVar("T")
Seconds = Union[float, timedelta, None]


def seconds_of(v: Seconds) -> Optional[float]:
    return v.total_seconds() if isinstance(v, timedelta) else v


class Client:
    """A FastGPU client.

    The server and token come from the arguments, then ``FASTGPU_URL``/``FASTGPU_TOKEN``, then
    ``$FASTGPU_HOME/config.json`` (saved by ``fastgpu up``). ``url`` may list several servers of
    one pool, comma-separated: a call moves to the next when one cannot be reached or answers 503,
    and while every one answers 503 (a failover; a proxy in front: 502 or 504 for reads and
    submits) it asks again for up to ``failover_wait`` seconds.
    ``verify`` is a CA file (PEM) or an ``ssl.SSLContext`` to trust for ``https://`` (default:
    ``FASTGPU_CA``, then the CA ``fastgpu up --tls-self-signed`` saved, then the system's).

    >>> fg = fastgpu.Client()
    >>> t = fg.tasks.submit(fastgpu.Task(command="nvidia-smi", gpu=0.5))
    >>> for text in fg.tasks.logs(t.id, follow=True): print(text, end="")
    """

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, *, timeout: float = DEFAULT_TIMEOUT_S, env: Optional[Mapping[str, str]] = None, verify: Verify = None, failover_wait: float = DEFAULT_FAILOVER_WAIT_S) -> None:
        conn = resolve_connection(url, token, env, verify if isinstance(verify, str) else None)
        self.url = conn.url
        self._token = conn.token
        self.timeout = timeout
        self.failover_wait = failover_wait
        self._servers = Servers(self.url)
        self._http = httpx.Client(verify=ssl_verify(verify, conn.ca))
        self.tasks = Tasks(self)
        self.vgpus = VGPUs(self)
        self.arrays = Arrays(self)
        self.admin = Admin(self)
        self.billing = Billing(self)
        self.datasets = Datasets(self)

    def __repr__(self) -> str:
        return f"<fastgpu.Client {self.url}>"

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- transport ---------------------------------------------------------------------------

    def call(self, call: Call[T]) -> T:
        """Sends one call. A call with an Idempotency-Key is retried when the network fails, and
        any call while the pool answers "not now" (``retry_wait``) for up to ``failover_wait`` s."""
        keyed = call.idempotency_key is not None
        tries = SUBMIT_TRIES if keyed else 1
        deadline = time.monotonic() + self.failover_wait
        pause = 0.2
        n = 0
        while True:
            try:
                res = self.send(call.method, call.path, **request_args(call, self._token, self.timeout))
            except FastGPUError:
                n += 1
                if n >= tries:
                    raise
                time.sleep(RETRY_PAUSE_S)
                continue
            wait = retry_wait(res, call.method, keyed, pause)
            if wait is None or time.monotonic() + wait > deadline:
                return read_answer(call, res)  # type: ignore[no-any-return]
            time.sleep(wait)
            pause = min(2 * pause, 1.0)

    def send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One request, to the servers in turn while one cannot be reached or answers 503."""
        order = self._servers.rotation()
        for k, i in enumerate(order):
            base = self._servers.urls[i]
            last = k + 1 == len(order)
            try:
                res = self._http.request(method, base + path, **kw)
            except httpx.HTTPError as e:
                if not last and moves_on(e, method):
                    continue
                raise transport_error(e, base, f"{method} {path}") from e
            if res.status_code == 503 and not last:
                continue
            self._servers.answered(i)
            return res
        raise AssertionError("unreachable")

    def stream_lines(self, path: str, query: ops.Query) -> Iterator[str]:
        """The lines of a text/event-stream answer; errors as for :meth:`call`."""
        timeout = httpx.Timeout(self.timeout, read=60.0)  # the server sends a keep-alive every 15 s
        order = self._servers.rotation()
        for k, i in enumerate(order):
            base = self._servers.urls[i]
            last = k + 1 == len(order)
            started = False
            try:
                with self._http.stream("GET", base + path, params=params(query), headers=headers(self._token, "text/event-stream"), timeout=timeout) as res:
                    if res.status_code == 503 and not last:
                        continue
                    if res.status_code >= 400:
                        res.read()
                        read_answer(Call("GET", path, lambda j: j), res)
                    self._servers.answered(i)
                    started = True
                    yield from res.iter_lines()
                    return
            except httpx.HTTPError as e:
                if not started and not last and moves_on(e, "GET"):
                    continue
                raise transport_error(e, base, f"GET {path}") from e

    # --- pool --------------------------------------------------------------------------------

    def nodes(self) -> List[Node]:
        """Every node with its state and GPUs."""
        return self.call(ops.nodes())

    def gpus(self) -> List[GPU]:
        """Every GPU of the pool with the slices allocated on it."""
        return self.call(ops.gpus())

    def drain_node(self, node: str, *, evict: bool = False) -> Dict[str, Any]:
        """(admins) No new work goes to ``node`` until :meth:`resume_node`; ``evict`` also stops
        and requeues its tasks. Answers ``{"node": Node, "evicted": n}``."""
        return self.call(ops.drain_node(node, evict))

    def resume_node(self, node: str) -> Node:
        return self.call(ops.resume_node(node))

    def samples(self, *, start: Union[datetime, str, None] = None, end: Union[datetime, str, None] = None, buckets: Optional[int] = None, node: Optional[str] = None, detail: Optional[str] = None) -> Samples:
        """Measured utilisation and allocation over time (default: the last hour)."""
        return self.call(ops.samples(start, end, buckets, node, detail))

    def pool_events(self, *, after: Optional[int] = None) -> Iterator[Event]:
        """The pool's live event stream (tasks, nodes, vGPUs), for as long as you read it; with
        ``after`` (an event ``seq``, 0 for all), the stored history from there first. Members see
        their tenant's events and the pool's. Reconnects after the last event seen."""
        outage = Outage("the event stream")
        while True:
            try:
                for ev in parse_events(self.stream_lines("/v1/events", {"after": after})):
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
            time.sleep(RETRY_PAUSE_S)

    def healthy(self) -> bool:
        """True when the server answers ``/healthz``."""
        try:
            return self.call(ops.health())
        except FastGPUError:
            return False

    def usage(self, *, tenant: Optional[str] = None, start: Union[datetime, str, None] = None, end: Union[datetime, str, None] = None) -> UsageReport:
        """Usage and cost (see :meth:`Billing.usage`)."""
        return self.billing.usage(tenant=tenant, start=start, end=end)


class Tasks:
    """``client.tasks``: submit, list, get, cancel, wait, logs, events."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def submit(self, task: SpecLike, *, tenant: Optional[str] = None) -> TaskInfo:
        """Submits a task and returns it (the first replica of a gang: :meth:`create` returns all).

        ``task`` is a :class:`fastgpu.Task`, a spec mapping (the YAML's JSON form), a command
        string (run with ``sh -c``) or an argv list."""
        return self.create(task, tenant=tenant)[0]

    def create(self, task: SpecLike, *, dry_run: bool = False, tenant: Optional[str] = None, vgpu: Optional[str] = None) -> List[TaskInfo]:
        """Submits and returns every task made (a gang of N makes N; an array, its first element:
        see :attr:`arrays`). ``dry_run`` creates nothing."""
        made = self._c.call(ops.submit(spec_of(task, vgpu), idempotency_key(), dry_run, tenant))
        if isinstance(task, Task) and not dry_run and made:
            task.id = made[0].id
        return made

    def list(
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
        """Tasks, newest first: live ones and the last 100 finished, or every one with ``all``.

        Without ``limit`` the whole list: the pages the server cuts are followed to the end.
        """
        page = self._c.call(ops.list_tasks(state, name, node, vgpu, gang, tenant, limit, before, all))
        out = list(page.tasks)
        while limit is None and page.next is not None:
            page = self._c.call(ops.list_tasks(state, name, node, vgpu, gang, tenant, limit, page.next, all))
            out.extend(page.tasks)
        return out

    def get(self, task_id: str) -> TaskDetail:
        """The task with its attempt history (``.history``)."""
        return self._c.call(ops.get_task(task_id))

    def cancel(self, task_id: str) -> TaskInfo:
        """Cancels a task; a finished one raises :class:`fastgpu.Conflict`."""
        return self._c.call(ops.cancel_task(task_id))

    def wait(self, task_id: str, *, timeout: Seconds = None, progress: Optional[bool] = None) -> TaskInfo:
        """Waits until the task has ended and returns it; rides out a server restart.

        Raises :class:`fastgpu.Timeout` when ``timeout`` passes first. Ctrl-C stops waiting,
        leaves the task running and prints how to reattach."""
        return self.wait_all([task_id], timeout=timeout, progress=progress)[0]

    def wait_all(self, task_ids: Sequence[str], *, timeout: Seconds = None, progress: Optional[bool] = None, label: str = "waiting") -> List[TaskInfo]:
        """Waits for every task and returns them finished, in order (see :meth:`wait`)."""
        w = Waiting(task_ids, seconds_of(timeout), progress, label)
        outage = Outage("waiting")
        try:
            while True:
                nxt = w.next()
                if nxt is None:
                    return w.result()
                try:
                    w.seen(self._c.call(ops.wait_task(*nxt)))
                    outage.ok()
                except FastGPUError as e:
                    outage.failed(e)
                    time.sleep(RETRY_PAUSE_S)
        except KeyboardInterrupt:
            w.interrupted()
            raise
        finally:
            w.close()

    def log_page(self, task_id: str, *, after: Optional[int] = None, limit: Optional[int] = None, attempt: Optional[int] = None, stream: Optional[str] = None) -> LogPage:
        """One page of the recorded output; pass ``page.next`` as ``after`` to read on."""
        return self._c.call(ops.logs(task_id, after, limit, attempt, stream))

    def log_chunks(self, task_id: str, *, follow: bool = False, after: Optional[int] = None) -> Iterator[LogChunk]:
        """The output as chunks (stream, attempt, position). With ``follow``, live until the
        task has ended and its output is drained, reconnecting across a server restart."""
        if not follow:
            while True:
                page = self.log_page(task_id, after=after)
                yield from page.chunks
                if not page.chunks or page.next is None or page.next == after:
                    return
                after = page.next
        outage = Outage(f"the log stream of task {task_id}")
        while True:
            try:
                for ev in parse_events(self._c.stream_lines(f"/v1/tasks/{ops.seg(task_id)}/logs", ops.follow_query(after))):
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
                # It closed without `end`: the server went away; reconnect after `after`.
                outage.failed(NetworkError("the log stream broke off"))
            time.sleep(RETRY_PAUSE_S)

    def logs(self, task_id: str, *, follow: bool = False, after: Optional[int] = None) -> Iterator[str]:
        """The task's output as text pieces: everything recorded, or with ``follow=True`` live
        until it ends. ``"".join(client.tasks.logs(id))`` is the whole output."""
        for chunk in self.log_chunks(task_id, follow=follow, after=after):
            yield chunk.data

    def events(self, task_id: str, *, after: Optional[int] = None, limit: Optional[int] = None) -> EventPage:
        """One page of the task's history, oldest first; ``page.next`` while more follow."""
        return self._c.call(ops.events(task_id, after, limit))

    def event_history(self, task_id: str, *, page_size: int = 1000) -> Iterator[Event]:
        """Every event of the task's history so far, oldest first, page after page."""
        after: Optional[int] = None
        while True:
            page = self.events(task_id, after=after, limit=page_size)
            yield from page.events
            if page.next is None or page.next == after:
                return
            after = page.next


class VGPUs:
    """``client.vgpus``: reserve, list, get and release vGPUs (see also :class:`fastgpu.VirtualGPU`)."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def create(self, gpu: Union[float, str, None] = None, *, tflops: Optional[float] = None, memory: Union[str, int, None] = None, model: Optional[str] = None, name: Optional[str] = None, tenant: Optional[str] = None) -> VGPUInfo:
        """Reserves a slice of one GPU: ``gpu`` (a fraction), ``tflops`` or ``memory`` ("20GiB")."""
        return self._c.call(ops.create_vgpu(ops.vgpu_body(gpu, tflops, memory, model, name), idempotency_key(), tenant))

    def list(self, *, all: bool = False, tenant: Optional[str] = None) -> List[VGPUInfo]:
        """Live reservations; with ``all``, released ones too."""
        return self._c.call(ops.list_vgpus(all, tenant))

    def get(self, vgpu_id: str) -> VGPUInfo:
        return self._c.call(ops.get_vgpu(vgpu_id))

    def delete(self, vgpu_id: str) -> VGPUInfo:
        """Releases the slice and cancels the reservation's unfinished tasks."""
        return self._c.call(ops.delete_vgpu(vgpu_id))


class Admin:
    """``client.admin``: tenants and tokens (admin tokens only)."""

    def __init__(self, client: Client) -> None:
        self.tenants = Tenants(client)
        self.tokens = Tokens(client)


class Tenants:
    def __init__(self, client: Client) -> None:
        self._c = client

    def create(self, name: str, *, guarantee: Any = None, limit: Any = None, weight: Any = None, budget: Any = None, default_time_limit: Any = None) -> Tenant:
        """Creates the tenant, or replaces the quota, weight, budget and default time limit of an
        existing one. ``default_time_limit`` ("2h", seconds or a timedelta) is the time limit of its
        tasks that set none, over the pool's ``--default-time-limit``."""
        return self._c.call(ops.create_tenant(ops.tenant_body(name, guarantee, limit, weight, budget, default_time_limit)))

    def update(self, name: str, *, guarantee: Any = ops.KEEP, limit: Any = ops.KEEP, weight: Any = ops.KEEP, budget: Any = ops.KEEP, default_time_limit: Any = ops.KEEP) -> Tenant:
        """Changes only the fields given; None resets one to its default (no limit, no budget, the
        pool's default time limit). ``update("research", default_time_limit="2h")``."""
        return self._c.call(ops.update_tenant(name, ops.tenant_patch(guarantee, limit, weight, budget, default_time_limit)))

    def list(self) -> List[Tenant]:
        return self._c.call(ops.list_tenants())

    def get(self, name: str) -> Tenant:
        return self._c.call(ops.get_tenant(name))

    def delete(self, name: str) -> int:
        """Deletes a tenant with no unfinished tasks or vGPUs; answers how many tokens it revoked."""
        return self._c.call(ops.delete_tenant(name))


class Tokens:
    def __init__(self, client: Client) -> None:
        self._c = client

    def create(self, tenant: str, *, role: Optional[str] = None, name: Optional[str] = None) -> CreatedToken:
        """A new token (role ``member`` by default); ``.token`` is the secret, shown this once."""
        return self._c.call(ops.create_token(tenant, role, name))

    def list(self, *, tenant: Optional[str] = None) -> List[Token]:
        return self._c.call(ops.list_tokens(tenant))

    def revoke(self, token_id: str, *, force: bool = False) -> Token:
        """Revoke a token. The token this client uses is refused (:class:`Conflict`) unless
        ``force=True``; the last live admin token always is."""
        return self._c.call(ops.revoke_token(token_id, force))


class Billing:
    """``client.billing``: prices, promotions, quotes, usage and cost."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def settings(self) -> BillingSettings:
        return self._c.call(ops.billing_settings())

    def set_settings(self, *, budget_policy: Optional[str] = None, budget_period: Optional[str] = None) -> BillingSettings:
        return self._c.call(ops.set_billing_settings(budget_policy, budget_period))

    def prices(self) -> PriceBook:
        return self._c.call(ops.prices())

    def set_price(self, model: str, price: Any, *, currency: Optional[str] = None) -> PriceBook:
        """(admins) The price per GPU-hour of ``model``, e.g. ``set_price("H100", Decimal("2.50"))``."""
        return self._c.call(ops.set_price(model, price, currency))

    def promotions(self) -> List[Promotion]:
        return self._c.call(ops.promotions())

    def create_promotion(
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
        """(admins) A discount ("30%" or "1.50/h") from ``start`` to ``end``."""
        return self._c.call(ops.create_promotion(ops.promotion_body(name, discount, start, end, priority, models, tenants, hours, budget)))

    def quote(self, task: SpecLike) -> Optional[Quote]:
        """What a task would cost; None for a CPU-only task."""
        return self._c.call(ops.quote_spec(spec_of(task)))

    def usage(self, *, tenant: Optional[str] = None, start: Union[datetime, str, None] = None, end: Union[datetime, str, None] = None) -> UsageReport:
        """Usage per tenant × task × GPU model over a period (members: their own tenant)."""
        return self._c.call(ops.usage(tenant, start, end))
