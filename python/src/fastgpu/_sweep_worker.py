"""Runs one trial of ``fastgpu.Sweep(fn, ...)`` on a node: loads ``fn`` from its file and calls it
with the trial's parameters as keyword arguments (``fn(lr=0.01, layers=4)``).

What ``fn`` returns is reported as the trial's last point: a number as the sweep's metric, a dict
as those metrics (numbers only), one step after the last one ``fn`` reported itself (step 1 when
it reported none). It is also written to ``$FASTGPU_RESULT`` when it is JSON.

Usage: ``python -m fastgpu._sweep_worker METRIC /path/to/module.py:qualname``.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Dict

from ._map_worker import load
from .sweep import params, report


def last_step() -> float:
    """The highest step this trial has reported so far (0 when none)."""
    path = os.environ.get("FASTGPU_METRICS")
    best = 0.0
    if not path or not os.path.exists(path):
        return best
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                step = json.loads(line).get("step")
            except (ValueError, AttributeError):
                continue
            if isinstance(step, (int, float)) and not isinstance(step, bool) and math.isfinite(step):
                best = max(best, float(step))
    return best


def final_metrics(metric: str, value: Any) -> Dict[str, float]:
    if isinstance(value, bool) or value is None:
        return {}
    if isinstance(value, (int, float)):
        return {metric: float(value)}
    if isinstance(value, dict):
        return {str(k): float(v) for k, v in value.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
    try:
        return {metric: float(value)}  # numpy scalars, 0-d tensors
    except (TypeError, ValueError):
        return {}


def main(argv: "list[str]") -> int:
    if len(argv) != 2:
        print("usage: python -m fastgpu._sweep_worker METRIC FILE.py:FUNCTION", file=sys.stderr)
        return 2
    metric, ref = argv
    fn = load(ref)
    value = fn(**params())
    metrics = final_metrics(metric, value)
    if metrics:
        step = last_step() + 1
        report(step=step, **metrics)
    out = os.environ.get("FASTGPU_RESULT")
    if out and value is not None:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            text = None
        if text is not None:
            with open(out, "w", encoding="utf-8") as f:
                f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
