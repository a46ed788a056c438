"""Arrays, dependencies and map (issue 14) against the real server: fastgpu.map with a Python
function and with a command returns results in input order; an array with %N never runs more
than N at once; an afterok chain; a failed dependency cancels its dependent; bad input is named."""

from __future__ import annotations

import time
from typing import Any

import pytest

import fastgpu


def square(x: int) -> int:
    """Runs on the node (fastgpu._map_worker loads this file by its path)."""
    return x * x


def test_map_a_function_returns_results_in_input_order(client: fastgpu.Client) -> None:
    inputs = [5, 1, 4, 2, 3]
    assert fastgpu.map(square, inputs, gpu=0.25, client=client, timeout=120) == [25, 1, 16, 4, 9]


def total(xs: "list[int]") -> int:
    return sum(xs)


def test_map_with_a_reduce_step(client: fastgpu.Client) -> None:
    assert client.arrays.map(square, [1, 2, 3], reduce=total, timeout=120) == 14
    summed = client.arrays.map(["sh", "-c", 'echo $((FASTGPU_INPUT + 1)) > "$FASTGPU_RESULT"'], [1, 2], reduce=["sh", "-c", 'echo "{\\"all\\": $FASTGPU_RESULTS}" > "$FASTGPU_RESULT"'], timeout=120)
    assert summed == {"all": [2, 3]}


def test_map_a_command(client: fastgpu.Client) -> None:
    cmd = ["sh", "-c", 'x=$FASTGPU_INPUT; echo "{\\"twice\\": $((x * 2))}" > "$FASTGPU_RESULT"']
    assert client.arrays.map(cmd, [3, 1, 2], gpu=0.25, max_concurrent=2, timeout=120) == [{"twice": 6}, {"twice": 2}, {"twice": 4}]


def test_map_raises_when_an_element_fails(client: fastgpu.Client) -> None:
    with pytest.raises(fastgpu.MapError) as err:
        client.arrays.map(["sh", "-c", 'test "$FASTGPU_INPUT" != 2 && echo 1 > "$FASTGPU_RESULT"'], [1, 2, 3], timeout=120)
    assert [f.index for f in err.value.failures] == [1]
    assert [r.result for r in err.value.results] == [1, None, 1]


def test_array_cap_and_status(client: fastgpu.Client) -> None:
    arr = client.arrays.submit({"command": ["sh", "-c", "sleep 0.2"], "resources": {"gpu": 0.25}, "array": "0-11%3", "name": "capped"})
    assert arr.size == 12 and arr.max == 3
    most = 0
    while True:
        a = client.arrays.get(arr.id)
        most = max(most, a.counts.get("RUNNING", 0) + a.counts.get("SCHEDULED", 0))
        if a.done:
            break
        time.sleep(0.1)
    assert most <= 3
    assert a.ok and a.counts == {"SUCCEEDED": 12}
    assert a.gpu_seconds > 0


def test_dependencies_chain_and_cancel(client: fastgpu.Client) -> None:
    a = client.tasks.submit({"command": "sleep 0.2", "name": "first"})
    b = client.tasks.submit({"command": "true", "name": "second", "after": a.id})
    bad = client.tasks.submit({"command": "exit 4", "name": "bad"})
    dep = client.tasks.submit({"command": "true", "name": "never", "after": f"{bad.id}:ok"})
    assert client.tasks.wait(b.id, timeout=120).state == "SUCCEEDED"
    never = client.tasks.wait(dep.id, timeout=120)
    assert never.state == "CANCELLED" and never.reason == "Dependency"
    assert never.reason_message is not None and f"task {bad.id} ended FAILED" in never.reason_message


@pytest.mark.parametrize(
    "spec, field, text",
    [
        ({"command": "true", "array": "0-9%0"}, "array", '"%0" would let no element run'),
        ({"command": "true", "array": "1-x"}, "array", 'cannot read "1-x"'),
        ({"command": "true", "after": "t_nosuchtask9"}, "after.0", "is not a known task id"),
    ],
)
def test_bad_input_is_named(client: fastgpu.Client, spec: Any, field: str, text: str) -> None:
    with pytest.raises(fastgpu.InvalidArgument) as err:
        client.tasks.submit(spec)
    assert text in str(err.value)


def test_map_refuses_a_lambda(client: fastgpu.Client) -> None:
    fn: Any = lambda x: x  # noqa: E731
    with pytest.raises(ValueError, match="not a lambda"):
        client.arrays.map(fn, [1])




def test_usage_totals_per_map(client: fastgpu.Client) -> None:
    before = {g.id for g in client.usage().groups}
    assert fastgpu.map(square, [1, 2, 3], gpu=0.25, client=client, timeout=120) == [1, 4, 9]
    new = [g for g in client.usage().groups if g.id not in before]
    assert len(new) == 1
    g = new[0]
    assert (g.kind, g.name, g.size, g.counts, g.tasks) == ("map", "map-square", 3, {"SUCCEEDED": 3}, 3)
    assert g.gpu_time.total_seconds() > 0
    assert g.charged_amount == g.list_amount - g.discount_amount
