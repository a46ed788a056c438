"""Every API call as data: method, path, query, body and how to read the answer. The sync and
async clients both send these, so paths and parsing live in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, Generic, List, Mapping, Optional, Sequence, TypeVar, Union
from urllib.parse import quote

from ._convert import Json, duration, iso
from .models import (
    BillingSettings,
    CreatedToken,
    Event,
    EventPage,
    GPU,
    LogChunk,
    LogPage,
    Node,
    PriceBook,
    Promotion,
    Quote,
    Samples,
    TaskDetail,
    TaskInfo,
    TaskPage,
    Tenant,
    Token,
    UsageReport,
    VGPUInfo,
)

T = TypeVar("T")
Query = Dict[str, Union[str, int, None]]


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any], T]
    query: Query = field(default_factory=dict)
    body: Any = None
    #: Sent as Idempotency-Key: the call may be retried on a network failure.
    idempotency_key: Optional[str] = None
    timeout: Optional[float] = None


def seg(s: str) -> str:
    """One path segment, escaped."""
    if not isinstance(s, str) or s == "":
        raise ValueError(f"an id must be a non-empty string, got {s!r}")
    return quote(s, safe="")


def _tasks(j: Json) -> List[TaskInfo]:
    return [TaskInfo.from_json(t) for t in j["tasks"]]


def _opt_bool(v: Optional[bool]) -> Optional[str]:
    return None if v is None else ("true" if v else "false")


# --- tasks -----------------------------------------------------------------------------------


def submit(spec: Mapping[str, Any], key: str, dry_run: bool = False, tenant: Optional[str] = None) -> Call[List[TaskInfo]]:
    return Call("POST", "/v1/tasks", _tasks, {"dryRun": "true" if dry_run else None, "tenant": tenant}, dict(spec), idempotency_key=key)


def list_tasks(
    state: Union[str, Sequence[str], None] = None,
    name: Optional[str] = None,
    node: Optional[str] = None,
    vgpu: Optional[str] = None,
    gang: Optional[str] = None,
    tenant: Optional[str] = None,
    limit: Optional[int] = None,
    before: Optional[str] = None,
    all: bool = False,
) -> Call[TaskPage]:
    states = state if state is None or isinstance(state, str) else ",".join(state)
    q: Query = {"state": states, "name": name, "node": node, "vgpu": vgpu, "gang": gang, "tenant": tenant, "limit": limit, "before": before, "all": "true" if all else None}

    def parse(j: Json) -> TaskPage:
        nxt = j.get("next")
        return TaskPage(_tasks(j), str(nxt) if nxt is not None else None)

    return Call("GET", "/v1/tasks", parse, q)


def get_task(task_id: str) -> Call[TaskDetail]:
    return Call("GET", f"/v1/tasks/{seg(task_id)}", TaskDetail.from_json)


def cancel_task(task_id: str) -> Call[TaskInfo]:
    return Call("POST", f"/v1/tasks/{seg(task_id)}/cancel", TaskInfo.from_json)


def wait_task(task_id: str, poll_s: float) -> Call[TaskInfo]:
    return Call("GET", f"/v1/tasks/{seg(task_id)}/wait", TaskInfo.from_json, {"timeoutMs": max(1, int(poll_s * 1000))}, timeout=poll_s + 10)


def events(task_id: str, after: Optional[int] = None, limit: Optional[int] = None) -> Call[EventPage]:
    def parse(j: Json) -> EventPage:
        nxt = j.get("next")
        return EventPage([Event.from_json(e) for e in j["events"]], int(nxt) if nxt is not None else None)

    return Call("GET", f"/v1/tasks/{seg(task_id)}/events", parse, {"after": after, "limit": limit})


def logs(task_id: str, after: Optional[int] = None, limit: Optional[int] = None, attempt: Optional[int] = None, stream: Optional[str] = None) -> Call[LogPage]:
    def parse(j: Json) -> LogPage:
        from ._convert import dt

        nxt = j.get("next")
        return LogPage([LogChunk.from_json(c) for c in j["chunks"]], int(nxt) if nxt is not None else None, dt(j.get("prunedAt")))

    return Call("GET", f"/v1/tasks/{seg(task_id)}/logs", parse, {"after": after, "limit": limit, "attempt": attempt, "stream": stream})


def follow_query(after: Optional[int], attempt: Optional[int] = None, stream: Optional[str] = None) -> Query:
    return {"follow": "true", "after": after, "attempt": attempt, "stream": stream}


# --- vGPUs -----------------------------------------------------------------------------------


def create_vgpu(body: Mapping[str, Any], key: str, tenant: Optional[str] = None) -> Call[VGPUInfo]:
    return Call("POST", "/v1/vgpus", VGPUInfo.from_json, {"tenant": tenant}, dict(body), idempotency_key=key)


def list_vgpus(all: bool = False, tenant: Optional[str] = None) -> Call[List[VGPUInfo]]:
    return Call("GET", "/v1/vgpus", lambda j: [VGPUInfo.from_json(v) for v in j["vgpus"]], {"all": "true" if all else None, "tenant": tenant})


def get_vgpu(vgpu_id: str) -> Call[VGPUInfo]:
    return Call("GET", f"/v1/vgpus/{seg(vgpu_id)}", VGPUInfo.from_json)


def delete_vgpu(vgpu_id: str) -> Call[VGPUInfo]:
    return Call("DELETE", f"/v1/vgpus/{seg(vgpu_id)}", VGPUInfo.from_json)


# --- pool ------------------------------------------------------------------------------------


def nodes() -> Call[List[Node]]:
    return Call("GET", "/v1/nodes", lambda j: [Node.from_json(n) for n in j["nodes"]])


def drain_node(node: str, evict: bool) -> Call[Dict[str, Any]]:
    return Call("POST", f"/v1/nodes/{seg(node)}/drain", lambda j: {"node": Node.from_json(j["node"]), "evicted": int(j["evicted"])}, body={"evict": True} if evict else {})


def resume_node(node: str) -> Call[Node]:
    return Call("POST", f"/v1/nodes/{seg(node)}/resume", Node.from_json)


def gpus() -> Call[List[GPU]]:
    return Call("GET", "/v1/gpus", lambda j: [GPU.from_json(g) for g in j["gpus"]])


def samples(start: Union[datetime, str, None], end: Union[datetime, str, None], buckets: Optional[int], node: Optional[str], detail: Optional[str]) -> Call[Samples]:
    return Call("GET", "/v1/samples", Samples.from_json, {"from": iso(start), "to": iso(end), "buckets": buckets, "node": node, "detail": detail})


def health() -> Call[bool]:
    return Call("GET", "/healthz", lambda j: True, timeout=5)


# --- admin -----------------------------------------------------------------------------------


def create_tenant(body: Mapping[str, Any]) -> Call[Tenant]:
    return Call("POST", "/v1/admin/tenants", Tenant.from_json, body=dict(body))


def update_tenant(name: str, body: Mapping[str, Any]) -> Call[Tenant]:
    return Call("PATCH", f"/v1/admin/tenants/{seg(name)}", Tenant.from_json, body=dict(body))


def list_tenants() -> Call[List[Tenant]]:
    return Call("GET", "/v1/admin/tenants", lambda j: [Tenant.from_json(t) for t in j["tenants"]])


def get_tenant(name: str) -> Call[Tenant]:
    return Call("GET", f"/v1/admin/tenants/{seg(name)}", Tenant.from_json)


def delete_tenant(name: str) -> Call[int]:
    """Answers how many tokens were revoked with it."""
    return Call("DELETE", f"/v1/admin/tenants/{seg(name)}", lambda j: int(j["revokedTokens"]))


def create_token(tenant: str, role: Optional[str], name: Optional[str]) -> Call[CreatedToken]:
    body = {k: v for k, v in (("tenant", tenant), ("role", role), ("name", name)) if v is not None}
    return Call("POST", "/v1/admin/tokens", CreatedToken.from_json, body=body)


def list_tokens(tenant: Optional[str]) -> Call[List[Token]]:
    return Call("GET", "/v1/admin/tokens", lambda j: [Token.from_json(t) for t in j["tokens"]], {"tenant": tenant})


def revoke_token(token_id: str, force: bool = False) -> Call[Token]:
    # The server refuses to revoke the token a request is made with unless forced (409 otherwise).
    return Call("POST", f"/v1/admin/tokens/{seg(token_id)}/revoke", Token.from_json, {"force": "1" if force else None})


# --- billing ---------------------------------------------------------------------------------


def billing_settings() -> Call[BillingSettings]:
    return Call("GET", "/v1/billing/settings", BillingSettings.from_json)


def set_billing_settings(budget_policy: Optional[str], budget_period: Optional[str]) -> Call[BillingSettings]:
    body = {k: v for k, v in (("budgetPolicy", budget_policy), ("budgetPeriod", budget_period)) if v is not None}
    return Call("POST", "/v1/billing/settings", BillingSettings.from_json, body=body)


def prices() -> Call[PriceBook]:
    return Call("GET", "/v1/prices", PriceBook.from_json)


def set_price(model: str, price: Any, currency: Optional[str]) -> Call[PriceBook]:
    body: Dict[str, Any] = {"model": model, "price": str(price)}
    if currency is not None:
        body["currency"] = currency
    return Call("POST", "/v1/prices", PriceBook.from_json, body=body)


def promotions() -> Call[List[Promotion]]:
    return Call("GET", "/v1/promotions", lambda j: [Promotion.from_json(p) for p in j["promotions"]])


def create_promotion(body: Mapping[str, Any]) -> Call[Promotion]:
    return Call("POST", "/v1/promotions", Promotion.from_json, body=dict(body))


def quote_spec(spec: Mapping[str, Any]) -> Call[Optional[Quote]]:
    return Call("POST", "/v1/quote", lambda j: Quote.from_json(j["quote"]) if isinstance(j.get("quote"), dict) else None, body=dict(spec))


def usage(tenant: Optional[str], start: Union[datetime, str, None], end: Union[datetime, str, None]) -> Call[UsageReport]:
    return Call("GET", "/v1/usage", UsageReport.from_json, {"tenant": tenant, "from": iso(start), "to": iso(end)})


def promotion_body(
    name: str,
    discount: str,
    start: Union[datetime, str],
    end: Union[datetime, str],
    priority: Optional[int],
    models: Optional[Sequence[str]],
    tenants: Optional[Sequence[str]],
    hours: Optional[str],
    budget: Any,
) -> Dict[str, Any]:
    body: Dict[str, Any] = {"name": name, "discount": discount, "from": iso(start), "to": iso(end)}
    for k, v in (("priority", priority), ("models", list(models) if models is not None else None), ("tenants", list(tenants) if tenants is not None else None), ("hours", hours), ("budget", None if budget is None else str(budget))):
        if v is not None:
            body[k] = v
    return body


def tenant_body(name: str, guarantee: Any, limit: Any, weight: Any, budget: Any, default_time_limit: Any = None) -> Dict[str, Any]:
    body: Dict[str, Any] = {"name": name}
    for k, v in (("guarantee", guarantee), ("limit", limit), ("weight", weight), ("budget", budget)):
        if v is not None:
            # Decimals travel as strings, exactly.
            body[k] = v if isinstance(v, (int, float, str)) and not isinstance(v, bool) else str(v)
    if default_time_limit is not None:
        body["defaultTimeLimit"] = duration(default_time_limit)
    return body


#: "Leave this field as it is" in a tenant update (None resets a field to its default).
KEEP: Any = type("Keep", (), {"__repr__": lambda self: "KEEP"})()


def tenant_patch(guarantee: Any, limit: Any, weight: Any, budget: Any, default_time_limit: Any) -> Dict[str, Any]:
    """The fields of a tenant update that are not KEEP; None is sent as null (back to the default)."""
    body: Dict[str, Any] = {}
    for k, v in (("guarantee", guarantee), ("limit", limit), ("weight", weight), ("budget", budget)):
        if v is not KEEP:
            body[k] = v if v is None or (isinstance(v, (int, float, str)) and not isinstance(v, bool)) else str(v)
    if default_time_limit is not KEEP:
        body["defaultTimeLimit"] = None if default_time_limit is None else duration(default_time_limit)
    return body


def vgpu_body(gpu: Any, tflops: Optional[float], memory: Optional[Union[str, int]], model: Optional[str], name: Optional[str]) -> Dict[str, Any]:
    body = {k: v for k, v in (("gpu", gpu), ("tflops", tflops), ("memory", memory), ("model", model), ("name", name)) if v is not None}
    if not any(k in body for k in ("gpu", "tflops", "memory")):
        from .errors import InvalidArgument

        raise InvalidArgument("vgpu: say how big: gpu (a fraction), tflops or memory", field="gpu")
    return body
