"""Train a tiny model on the task's slice and checkpoint when preempted.

Run it as a FastGPU task; it resumes from its checkpoint when it is started again after a
preemption (same task, next attempt)::

    import fastgpu
    t = fastgpu.Client().tasks.submit(fastgpu.Task(
        command=["python3", "examples/train_tiny.py", "--checkpoint", "/tmp/tiny.json"],
        gpu=0.25, preemptible=True, workdir="/path/to/fastgpu/python"))

The model is a logistic regression on a fixed synthetic data set. It uses PyTorch on the slice's
GPU when torch with CUDA is installed, else numpy on the CPU, else pure Python: nothing beyond
the standard library is needed. ``--pace`` slows each step down so a demo run lasts long enough
to watch (and to preempt).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import fastgpu

N, DIM = 256, 4
TRUE_W = [1.5, -2.0, 0.5, 1.0]


def dataset() -> Tuple[List[List[float]], List[float]]:
    rng = random.Random(7)
    xs = [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(N)]
    ys = [1.0 if sum(w * x for w, x in zip(TRUE_W, row)) > 0 else 0.0 for row in xs]
    return xs, ys


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def step_python(w: List[float], xs: List[List[float]], ys: List[float], lr: float) -> Tuple[List[float], float]:
    grad = [0.0] * DIM
    loss = 0.0
    for row, y in zip(xs, ys):
        p = sigmoid(sum(a * b for a, b in zip(w, row)))
        loss -= y * math.log(p + 1e-12) + (1 - y) * math.log(1 - p + 1e-12)
        for i in range(DIM):
            grad[i] += (p - y) * row[i]
    return [wi - lr * g / N for wi, g in zip(w, grad)], loss / N


def make_stepper(device_hint: str) -> Tuple[str, Any]:
    """(backend name, step function) for the best backend installed."""
    xs, ys = dataset()
    try:
        import torch  # type: ignore[import-not-found, unused-ignore]

        dev = "cuda" if device_hint and torch.cuda.is_available() else "cpu"
        X = torch.tensor(xs, device=dev)
        Y = torch.tensor(ys, device=dev)

        def step_torch(w: List[float], lr: float) -> Tuple[List[float], float]:
            wt = torch.tensor(w, device=dev, requires_grad=True)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(X @ wt, Y)
            loss.backward()
            return (wt - lr * wt.grad).detach().cpu().tolist(), float(loss)

        return f"torch on {dev}", step_torch
    except ImportError:
        pass
    try:
        import numpy as np  # type: ignore[import-not-found, unused-ignore]

        Xn, Yn = np.array(xs), np.array(ys)

        def step_numpy(w: List[float], lr: float) -> Tuple[List[float], float]:
            wn = np.array(w)
            p = 1 / (1 + np.exp(-(Xn @ wn)))
            loss = float(-np.mean(Yn * np.log(p + 1e-12) + (1 - Yn) * np.log(1 - p + 1e-12)))
            return list(map(float, wn - lr * (Xn.T @ (p - Yn)) / N)), loss

        return "numpy on cpu", step_numpy
    except ImportError:
        return "python on cpu", lambda w, lr: step_python(w, xs, ys, lr)


def load(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            data: Dict[str, Any] = json.load(f)
            return data
    except FileNotFoundError:
        return None


def save(path: str, state: Dict[str, Any]) -> None:
    """Written whole, then renamed: a kill mid-write never leaves half a checkpoint."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--pace", type=float, default=0.0, help="seconds to pause per step (demo)")
    ap.add_argument("--checkpoint", default=None, help="checkpoint file (default: ./checkpoints/<task id>.json)")
    args = ap.parse_args(argv)

    ctx = fastgpu.current()
    task_id = ctx.task_id if ctx else "local"
    path = args.checkpoint or os.path.join("checkpoints", f"{task_id}.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    backend, step = make_stepper((ctx.cuda_visible_devices or "") if ctx else "")
    print(f"task {task_id}, attempt {ctx.attempt if ctx else 0}: {ctx!r}" if ctx else "not inside a FastGPU task", flush=True)
    print(f"backend: {backend}", flush=True)

    state = load(path) or {"step": 0, "w": [0.0] * DIM, "loss": None}
    if state["step"]:
        print(f"resumed from step {state['step']} (loss {state['loss']:.4f})", flush=True)
    fastgpu.catch_sigterm()  # a preemption's SIGTERM becomes should_stop(), so we checkpoint first
    while state["step"] < args.steps:
        state["w"], state["loss"] = step(state["w"], args.lr)
        state["step"] += 1
        if state["step"] % 20 == 0:
            print(f"step {state['step']}: loss {state['loss']:.4f}", flush=True)
        if fastgpu.should_stop():
            save(path, state)
            why = "preempted" if fastgpu.preempted() else "stopped"
            print(f"{why} at step {state['step']}: checkpoint saved to {path}", flush=True)
            return 0
        if args.pace:
            time.sleep(args.pace)
    save(path, state)
    print(f"done: {state['step']} steps, loss {state['loss']:.4f}, weights {[round(x, 2) for x in state['w']]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
