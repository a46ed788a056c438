#!/usr/bin/env python3
"""Turns bench/gpu/run.sh's results.jsonl (+ /v1/nodes and `nvidia-smi -q`) into the issue's
table: metric, measured, target, verdict. A step that did not run says why instead of a number."""
from __future__ import annotations

import argparse
import json
import re
import sys


def load(path: str) -> dict:
    steps = {}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                s = json.loads(line)
            except ValueError:
                continue
            steps[s.get("step", "?")] = s
    return steps


def why_not(s: dict | None) -> str:
    if s is None:
        return "did not run"
    if "skipped" in s:
        return "skipped: " + s["skipped"]
    for r in s.get("results", []):
        if r.get("error"):
            return "%s: %s" % (r.get("outcome", "error"), r["error"])
    tail = [t for t in s.get("tail", []) if t.strip()]
    return "exit %s%s" % (s.get("exit"), (": " + tail[-1][:160]) if tail else "")


def tflops(steps: dict, name: str) -> float | None:
    s = steps.get(name)
    if not s or s.get("exit") != 0:
        return None
    vals = [r["tflops"] for r in s.get("results", []) if r.get("outcome") == "DONE" and isinstance(r.get("tflops"), (int, float))]
    return vals[0] if vals else None


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def fmt(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "-"
    if abs(x) < 0.01:
        return "%.3g" % x
    return f"{x:.{digits}f}"


def smi_q(path: str) -> dict:
    out = {}
    try:
        text = open(path, errors="replace").read()
    except OSError:
        return out
    m = re.search(r"^\s*Product Name\s*:\s*(.+?)\s*$", text, re.M)
    if m:
        out["name"] = m.group(1)
    m = re.search(r"^\s*GPU UUID\s*:\s*(\S+)", text, re.M)
    if m:
        out["uuid"] = m.group(1)
    m = re.search(r"FB Memory Usage\s*\n\s*Total\s*:\s*(\d+)\s*MiB", text)
    if m:
        out["memory_mib"] = int(m.group(1))
    m = re.search(r"^Driver Version\s*:\s*(\S+)", text, re.M)
    if m:
        out["driver"] = m.group(1)
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--results", required=True)
    p.add_argument("--nodes")
    p.add_argument("--smi-q")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--duration", default="?")
    p.add_argument("--big", default="?")
    p.add_argument("--small", default="?")
    p.add_argument("--cap-mib", default="?")
    a = p.parse_args(argv)
    steps = load(a.results)
    rows: list[tuple[str, str, str, str]] = []

    def row(metric: str, measured: str, target: str, verdict: str) -> None:
        rows.append((metric, measured, target, verdict))

    # Overhead
    bare = mean([tflops(steps, "bare-1"), tflops(steps, "bare-2")])
    one = mean([tflops(steps, "slice-1.0-1"), tflops(steps, "slice-1.0-2")])
    mpsc = tflops(steps, "mps-client")
    row(f"workload bare (bf16 matmul n={a.big}, {a.duration} s), TFLOPS", fmt(bare) if bare else why_not(steps.get("bare-1")), "", "")
    row("as an MPS client outside FastGPU, TFLOPS", fmt(mpsc) if mpsc else why_not(steps.get("mps-client")), "", "")
    row("as a 1.0 slice, TFLOPS", fmt(one) if one else why_not(steps.get("slice-1.0-1")), "", "")
    if bare and one:
        ov = (bare - one) / bare * 100
        row("overhead of a 1.0 slice against bare", f"{ov:+.2f} %", "< 2 %", "met" if ov < 2 else "MISSED")
    else:
        row("overhead of a 1.0 slice against bare", "-", "< 2 %", "not measured")

    # Packing
    seq = mean([tflops(steps, "pack-seq-1"), tflops(steps, "pack-seq-2")])
    p1, p2 = tflops(steps, "pack-par-1"), tflops(steps, "pack-par-2")
    late = [r.get("late_s", 0) for n in ("pack-par-1", "pack-par-2") for r in steps.get(n, {}).get("results", [])]
    if seq and p1 and p2:
        gain = (p1 + p2) / seq
        lateness = max(late) if late else 0
        note = f" (a task reached the start {lateness:.1f} s late: overlap incomplete)" if lateness > 1 else ""
        row(f"two 0.5 slices at once vs one after the other (n={a.small})", f"{fmt(p1 + p2)} vs {fmt(seq)} TFLOPS = {gain:.2f}×{note}", "≥ 1.3×", "met" if gain >= 1.3 else "MISSED")
    else:
        row(f"two 0.5 slices at once vs one after the other (n={a.small})", why_not(steps.get("pack-par-1") if seq else steps.get("pack-seq-1")), "≥ 1.3×", "not measured")

    # SM-limit accuracy
    worst = None
    for share in ("0.25", "0.5", "0.75"):
        t = tflops(steps, f"slice-{share}")
        if t and one:
            achieved = t / one
            err = abs(achieved / float(share) - 1) * 100
            worst = err if worst is None else max(worst, err)
            row(f"slice {share}: achieved share of the 1.0 slice", f"{achieved:.3f} ({fmt(t)} TFLOPS), off by {err:.1f} %", "within 5 %", "met" if err <= 5 else "MISSED")
        else:
            row(f"slice {share}: achieved share of the 1.0 slice", why_not(steps.get(f"slice-{share}")), "within 5 %", "not measured")
    if worst is not None:
        row("SM-limit accuracy (worst of the three)", f"{100 - worst:.1f} %", "≥ 95 %", "met" if worst <= 5 else "MISSED")

    # Memory cap
    def outcomes(name: str) -> list[tuple[str, str, object]]:
        # Processes report in the order they finish; the table lists them by role (child before
        # grandchild) so that two runs of the same outcome print the same row.
        rank = {"main": 0, "child": 1, "grandchild": 2}
        got = [(r.get("role", "?"), r.get("outcome", "?"), r.get("allocated_mib")) for r in steps.get(name, {}).get("results", []) if r.get("mode") != "oom-tree" and r.get("outcome") != "TREE_DONE"]
        return sorted(got, key=lambda t: rank.get(str(t[0]), 3))

    mt = steps.get("mem-task")
    if mt and mt.get("exit") == 0 and any(o == "CUDA_OOM" for _, o, _ in outcomes("mem-task")):
        got = [m for _, o, m in outcomes("mem-task") if o == "CUDA_OOM"][0]
        row(f"memory cap {a.cap_mib} MiB: the task allocating past it", f"CUDA OOM after {got} MiB", "fails cleanly", "met")
    else:
        row(f"memory cap {a.cap_mib} MiB: the task allocating past it", ", ".join(f"{r}: {o} at {m} MiB" for r, o, m in outcomes("mem-task")) or why_not(mt), "fails cleanly", "MISSED" if mt and "skipped" not in mt else "not measured")
    tree = outcomes("mem-tree")
    mtree = steps.get("mem-tree")
    if tree:
        ok = mtree.get("exit") == 0 and {r for r, o, _ in tree if o == "CUDA_OOM"} >= {"child", "grandchild"}
        row("memory cap: child and setsid grandchild allocating past it", ", ".join(f"{r}: {o} at {m} MiB" for r, o, m in tree), "each fails cleanly", "met" if ok else "MISSED")
    else:
        row("memory cap: child and setsid grandchild allocating past it", why_not(mtree), "each fails cleanly", "not measured")
    share = outcomes("mem-share")
    if share:
        held = [m for _, o, m in share if o == "HELD"]
        if len(held) == 2:
            row("memory cap: child + grandchild each holding 0.75 of it at once", f"both held: {sum(held)} MiB together, {sum(held) / float(a.cap_mib):.2f}× the cap", "(finding)", "cap is per process, not per task")
        else:
            row("memory cap: child + grandchild each holding 0.75 of it at once", ", ".join(f"{r}: {o} at {m} MiB" for r, o, m in share), "(finding)", "cap covers the task's processes together")
    for form in ("ordinal", "uuid"):
        o = outcomes(f"memlimit-{form}")
        if o:
            row(f"CUDA_MPS_PINNED_DEVICE_MEM_LIMIT, {form} form (outside FastGPU)", f"{o[0][1]} at {o[0][2]} MiB", "(finding)", "applied" if o[0][1] == "CUDA_OOM" else "NOT applied")

    # Discovery and MPS health
    smi = smi_q(a.smi_q) if a.smi_q else {}
    node = None
    if a.nodes:
        try:
            nodes = json.load(open(a.nodes)).get("nodes", [])
            node = next((n for n in nodes if n.get("name") == "gpu-node"), nodes[0] if nodes else None)
        except (OSError, ValueError, AttributeError):
            node = None
    if node and node.get("gpus") and smi:
        g = node["gpus"][0]
        same_uuid = g.get("uuid") == smi.get("uuid")
        same_mem = g.get("memoryMiB") == smi.get("memory_mib")
        row("nvidia-smi discovery: model", f"{g.get('model')} (nvidia-smi: {smi.get('name')})", "known model", "met" if g.get("tflops", 0) > 0 else "MISSED (unknown model)")
        row("nvidia-smi discovery: memory", f"{g.get('memoryMiB')} MiB (nvidia-smi -q: {smi.get('memory_mib')} MiB)", "equal", "met" if same_mem else "MISSED")
        row("nvidia-smi discovery: UUID", f"{g.get('uuid')} ({'same as' if same_uuid else 'differs from'} nvidia-smi -q)", "equal", "met" if same_uuid else "MISSED")
        row("nvidia-smi discovery: sharing", str(g.get("sharing")), "mps", "met" if g.get("sharing") == "mps" else "MISSED")
    else:
        row("nvidia-smi discovery", "no node view or no nvidia-smi -q", "equal", "not measured")
    mps = node.get("mps") if node else None
    row("MPS daemon health in the node view", json.dumps(mps) if mps else "absent", "state ok", "met" if mps and mps.get("state") == "ok" else "MISSED")
    stop = steps.get("mps-stop", {}).get("stopped", "unknown")
    row("MPS daemon stopped when FastGPU stopped", stop, "yes", "met" if stop == "yes" else "MISSED")

    title = "FastGPU on a real GPU (bench/gpu/run.sh)"
    if a.dry_run:
        title += " — DRY RUN: no GPU, CPU workload and fake MPS; numbers are not measurements"
    print(f"## {title}\n")
    device = smi.get("name", "?") + (f", driver {smi['driver']}" if smi.get("driver") else "")
    print(f"Device: {device}. Workload: bench/gpu/workload.py, {a.duration} s per timed run.\n")
    print("| metric | measured | target | verdict |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(c.replace("|", "/") for c in r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
