#!/usr/bin/env python3
"""A GPU workload that tells the truth, run as a FastGPU task by bench/gpu/run.sh.

Modes:
  matmul      a bf16 matrix-product loop for --duration seconds; reports achieved TFLOPS and
              peak allocated memory.
  oom         allocates past its cap (FASTGPU_GPU_MEMORY_MIB, or --cap-mib) in chunks; a CUDA
              out-of-memory error at or below the cap is the expected outcome.
  oom-tree    starts a child process that starts a `setsid` grandchild (its own session, as a
              daemon would); each does what `oom` does. The caps must hold for descendants too.
  share-tree  the child and grandchild each hold --hold-fraction of the cap at the same time:
              says whether the cap is per process or for the task as a whole.

Every process prints one line `WORKLOAD_RESULT {json}` and exits with:
  0  done (matmul), or the cap held (oom: CUDA OOM at or below the cap)
  10 CAP_NOT_ENFORCED: allocated past the cap without an error
  11 OOM_BELOW_EXPECTED: out of memory well below the cap (the GPU was full of something else)
  12 ERROR: anything else failed (the message says what)
  13 NO_GPU: --backend cuda asked for, but torch or a CUDA device is missing
oom-tree exits 0 only when every process of the tree exits 0.

--backend cpu (or auto without torch+CUDA) runs the same flow without a GPU: a pure-Python
matrix product, and a cap that this script enforces itself (`"simulated": true` in the result).
That exists so the flow, the arguments and the output can be tested on a machine with no GPU;
its numbers are not measurements of anything.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

EXIT_OK = 0
EXIT_CAP_NOT_ENFORCED = 10
EXIT_OOM_BELOW_EXPECTED = 11
EXIT_ERROR = 12
EXIT_NO_GPU = 13

MiB = 1024 * 1024


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="workload.py", description="FastGPU's GPU workload (bench/gpu).")
    # `hold` is share-tree's leaf: hold --hold-fraction of the cap for a few seconds.
    p.add_argument("--mode", choices=["matmul", "oom", "oom-tree", "share-tree", "hold"], default="matmul")
    p.add_argument("--backend", choices=["auto", "cuda", "cpu"], default="auto")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of matrix products (matmul)")
    p.add_argument("--size", type=int, default=8192, help="matrix side n (n×n @ n×n, bf16)")
    p.add_argument("--cap-mib", type=int, default=None, help="memory cap; default $FASTGPU_GPU_MEMORY_MIB")
    p.add_argument("--chunk-mib", type=int, default=256, help="allocation step (oom)")
    p.add_argument("--past", type=float, default=1.25, help="oom: try to allocate this multiple of the cap")
    p.add_argument("--hold-fraction", type=float, default=0.75, help="share-tree: each process holds this share of the cap")
    p.add_argument("--start-at", type=float, default=None, help="matmul: after warm-up, wait until this Unix time (lines up concurrent runs)")
    p.add_argument("--role", default="main", help=argparse.SUPPRESS)
    p.add_argument("--spawn-grandchild", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--hold-seconds", type=float, default=3.0, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.duration <= 0 or a.duration > 3600:
        p.error(f"--duration must be in (0, 3600] seconds, got {a.duration}")
    if a.size < 1 or a.size > 65536:
        p.error(f"--size must be 1..65536, got {a.size}")
    if a.chunk_mib < 1:
        p.error(f"--chunk-mib must be at least 1, got {a.chunk_mib}")
    if a.past <= 1.0:
        p.error(f"--past must be more than 1 (past the cap), got {a.past}")
    if not 0 < a.hold_fraction < 1:
        p.error(f"--hold-fraction must be in (0, 1), got {a.hold_fraction}")
    if a.mode != "matmul" and a.cap_mib is None:
        env = os.environ.get("FASTGPU_GPU_MEMORY_MIB", "")
        if not env.isdigit() or int(env) == 0:
            p.error("--mode %s needs a cap: --cap-mib, or FASTGPU_GPU_MEMORY_MIB (set in a FastGPU task)" % a.mode)
        a.cap_mib = int(env)
    if a.cap_mib is not None and a.cap_mib < 1:
        p.error(f"--cap-mib must be at least 1, got {a.cap_mib}")
    return a


def result(fields: dict) -> None:
    fields.setdefault("pid", os.getpid())
    fields.setdefault("sid", os.getsid(0))
    for k in ("CUDA_VISIBLE_DEVICES", "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE", "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT", "FASTGPU_GPU_MILLI"):
        if k in os.environ:
            fields.setdefault("env", {})[k] = os.environ[k]
    print("WORKLOAD_RESULT " + json.dumps(fields, sort_keys=True), flush=True)


def pick_backend(want: str):
    """Returns (name, torch or None, why-not)."""
    if want == "cpu":
        return "cpu", None, None
    try:
        import torch  # noqa: PLC0415 (optional: absent on machines with no GPU)
    except Exception as e:  # ImportError, or a broken install
        return ("cpu", None, None) if want == "auto" else (None, None, f"torch is not importable: {e}")
    if not torch.cuda.is_available():
        return ("cpu", None, None) if want == "auto" else (None, None, "torch sees no CUDA device")
    return "cuda", torch, None


# ---------------------------------------------------------------- matmul

def wait_for_start(a: argparse.Namespace) -> dict:
    """Sleeps until --start-at; says how late this process was when it got there."""
    if a.start_at is None:
        return {}
    late = time.time() - a.start_at
    if late < 0:
        time.sleep(-late)
    return {"late_s": round(max(0.0, late), 3)}


def matmul_cuda(torch, a: argparse.Namespace) -> dict:
    n = a.size
    dev = torch.device("cuda")
    torch.cuda.reset_peak_memory_stats()
    x = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    y = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    out = torch.empty(n, n, device=dev, dtype=torch.bfloat16)
    for _ in range(3):  # warm-up: cuBLAS picks its kernel, clocks rise
        torch.matmul(x, y, out=out)
    torch.cuda.synchronize()
    # Time a batch first, then size batches so that a sync happens about every 0.2 s.
    t = time.perf_counter()
    for _ in range(10):
        torch.matmul(x, y, out=out)
    torch.cuda.synchronize()
    per = max((time.perf_counter() - t) / 10, 1e-7)
    batch = max(1, int(0.2 / per))
    waited = wait_for_start(a)
    iters = 0
    start = time.perf_counter()
    deadline = start + a.duration
    while True:
        for _ in range(batch):
            torch.matmul(x, y, out=out)
        torch.cuda.synchronize()
        iters += batch
        if time.perf_counter() >= deadline:
            break
    elapsed = time.perf_counter() - start
    return {
        "tflops": 2.0 * n * n * n * iters / elapsed / 1e12,
        "iters": iters,
        "elapsed_s": elapsed,
        "peak_mib": torch.cuda.max_memory_allocated() / MiB,
        "device": torch.cuda.get_device_name(0),
        "sm_count": torch.cuda.get_device_properties(0).multi_processor_count,
        **waited,
    }


def matmul_cpu(a: argparse.Namespace) -> dict:
    # Pure Python so it needs nothing installed; sizes above 64 would only be slow.
    n = min(a.size, 64)
    x = [[(i * 7 + j * 3) % 11 / 11.0 for j in range(n)] for i in range(n)]
    yt = [[(i * 5 + j) % 13 / 13.0 for j in range(n)] for i in range(n)]
    waited = wait_for_start(a)
    iters = 0
    start = time.perf_counter()
    deadline = start + a.duration
    while time.perf_counter() < deadline:
        [[sum(p * q for p, q in zip(row, col)) for col in yt] for row in x]
        iters += 1
    elapsed = time.perf_counter() - start
    return {
        "tflops": 2.0 * n * n * n * iters / elapsed / 1e12,
        "iters": iters,
        "elapsed_s": elapsed,
        "peak_mib": 2 * n * n * 8 / MiB,
        "device": "cpu (pure Python, n=%d)" % n,
        "simulated": True,
        **waited,
    }


# ---------------------------------------------------------------- oom

def is_cuda_oom(torch, e: BaseException) -> bool:
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(e, oom):
        return True
    return "out of memory" in str(e).lower()


def allocate_past_cap(a: argparse.Namespace, torch, hold_mib: float | None = None) -> tuple[int, dict]:
    """Allocates in chunks towards `past × cap` (or holds `hold_mib`); returns (exit code, fields)."""
    cap = a.cap_mib
    target = hold_mib if hold_mib is not None else cap * a.past
    held = []
    got = 0
    fields = {"cap_mib": cap, "target_mib": round(target, 1)}
    try:
        while got < target:
            step = min(a.chunk_mib, max(1, int(target - got + 0.999)))
            if torch is not None:
                held.append(torch.empty(step * MiB, dtype=torch.uint8, device="cuda"))
                held[-1].fill_(1)  # touch it: the driver may be lazy
            else:
                # The simulated cap: this script stands in for MPS's limit.
                if got + step > cap:
                    raise MemoryError("simulated CUDA out of memory: would pass the %d MiB cap" % cap)
                held.append(bytearray(step * MiB))
            got += step
    except Exception as e:  # noqa: BLE001 (sorted below)
        oom = (torch is not None and is_cuda_oom(torch, e)) or (torch is None and isinstance(e, MemoryError))
        fields.update({"allocated_mib": got, "error": str(e).splitlines()[0][:300] if str(e) else type(e).__name__})
        if not oom:
            return EXIT_ERROR, {**fields, "outcome": "ERROR"}
        if hold_mib is not None:
            return EXIT_OOM_BELOW_EXPECTED, {**fields, "outcome": "OOM_WHILE_HOLDING"}
        # What MPS counts includes the CUDA context; an OOM within a chunk and 15 % of the cap
        # below it still counts as the cap holding.
        if got + a.chunk_mib < cap * 0.85:
            return EXIT_OOM_BELOW_EXPECTED, {**fields, "outcome": "OOM_BELOW_EXPECTED"}
        return EXIT_OK, {**fields, "outcome": "CUDA_OOM"}
    fields["allocated_mib"] = got
    if hold_mib is not None:
        time.sleep(a.hold_seconds)  # hold it while the sibling holds its own
        return EXIT_OK, {**fields, "outcome": "HELD"}
    return EXIT_CAP_NOT_ENFORCED, {**fields, "outcome": "CAP_NOT_ENFORCED"}


def run_tree(a: argparse.Namespace, argv: list[str]) -> int:
    """Parent of a child that starts a setsid grandchild; exit 0 only if all of them did."""
    leaf = "oom" if a.mode == "oom-tree" else "hold"
    base = [sys.executable, os.path.abspath(__file__)] + [x for x in argv if x not in ("--mode", a.mode)]
    child = subprocess.run(base + ["--mode", leaf, "--role", "child", "--spawn-grandchild"], check=False)
    result({"mode": a.mode, "role": a.role, "outcome": "TREE_DONE", "child_exit": child.returncode})
    return child.returncode


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    hold = a.mode == "hold"
    if a.mode in ("oom-tree", "share-tree"):
        return run_tree(a, argv)

    grandchild = None
    if a.spawn_grandchild:
        # setsid: a new session and process group, as a daemonising process would make.
        cmd = ["setsid", sys.executable, os.path.abspath(__file__)] + [x for x in argv if x not in ("--spawn-grandchild",)]
        cmd[cmd.index("--role") + 1] = "grandchild"
        grandchild = subprocess.Popen(cmd)

    backend, torch, why = pick_backend(a.backend)
    code = EXIT_OK
    if backend is None:
        result({"mode": a.mode, "role": a.role, "outcome": "NO_GPU", "error": why})
        code = EXIT_NO_GPU
    else:
        try:
            if a.mode == "matmul":
                fields = matmul_cuda(torch, a) if torch is not None else matmul_cpu(a)
                result({"mode": a.mode, "role": a.role, "backend": backend, "size": a.size, "outcome": "DONE", **fields})
            else:
                hold_mib = a.cap_mib * a.hold_fraction if hold else None
                code, fields = allocate_past_cap(a, torch, hold_mib)
                if torch is None:
                    fields["simulated"] = True
                result({"mode": a.mode, "role": a.role, "backend": backend, **fields})
        except Exception as e:  # noqa: BLE001 (reported, with a distinct exit code)
            result({"mode": a.mode, "role": a.role, "backend": backend, "outcome": "ERROR", "error": f"{type(e).__name__}: {e}"[:300]})
            code = EXIT_ERROR
    if grandchild is not None:
        g = grandchild.wait()
        if code == EXIT_OK and g != EXIT_OK:
            code = g
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
