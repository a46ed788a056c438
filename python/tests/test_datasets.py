"""Datasets through the Python SDK against the real server: push, a second push that moves
nothing, reading the manifest, removal, the quota, and bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import fastgpu
from fastgpu.datasets import CHUNK_BYTES, encode_chunk


def _folder(root: Path) -> Path:
    d = root / "train"
    (d / "img").mkdir(parents=True)
    for i in range(3):
        (d / "img" / f"{i}.bin").write_bytes(os.urandom(CHUNK_BYTES + 100))
    (d / "labels.txt").write_text("cat\ndog\n" * 10_000)
    return d


def test_push_again_moves_nothing_and_reads_back(client: fastgpu.Client, tmp_path: Path) -> None:
    d = _folder(tmp_path)
    seen: "list[int]" = []
    v1 = client.datasets.push(str(d), "py-pets", on_progress=lambda phase, done, total: seen.append(done))
    assert (v1.version, v1.file_count, v1.chunk_count, v1.uploaded_chunks) == (1, 4, 7, 7)
    assert v1.uploaded_bytes == v1.bytes and v1.sent_bytes < v1.bytes
    assert seen and seen[-1] == v1.bytes
    v2 = client.datasets.push(str(d), "py-pets")
    assert (v2.version, v2.uploaded_chunks, v2.uploaded_bytes) == (2, 0, 0)
    full = client.datasets.get("py-pets@1")
    assert [f.path for f in full.files] == ["img/0.bin", "img/1.bin", "img/2.bin", "labels.txt"]
    assert [n for _, n in full.files[0].chunks] == [CHUNK_BYTES, 100]
    assert [v.version for v in client.datasets.list() if v.name == "py-pets"] == [1, 2]
    assert client.datasets.remove("py-pets")["versions"] == [1, 2]
    with pytest.raises(fastgpu.NotFound, match="dataset py-pets"):
        client.datasets.get("py-pets")


def test_quota_and_bad_input(client: fastgpu.Client, tmp_path: Path) -> None:
    d = _folder(tmp_path)
    q = client.datasets.set_quota("default", CHUNK_BYTES)
    assert (q.tenant, q.max_bytes) == ("default", CHUNK_BYTES)
    try:
        with pytest.raises(fastgpu.QuotaExceeded, match="dataset quota of tenant default exceeded"):
            client.datasets.push(str(d), "py-big")
    finally:
        client.datasets.set_quota("default", None)
    assert client.datasets.quota("default").max_bytes is None
    with pytest.raises(fastgpu.InvalidArgument, match="not a folder"):
        client.datasets.push(str(tmp_path / "nope"), "x")
    with pytest.raises(fastgpu.InvalidArgument, match="not a dataset name"):
        client.datasets.push(str(d), "Bad Name")
    with pytest.raises(fastgpu.InvalidArgument, match="not a version number"):
        client.datasets.get("x@y")
    with pytest.raises(fastgpu.NotFound, match="has no version 9"):
        client.datasets.push(str(d), "py-v")
        client.datasets.get("py-v@9")


def test_encoding_skips_what_does_not_shrink() -> None:
    assert encode_chunk(os.urandom(100_000))[1] == "identity"
    data, enc = encode_chunk(b"abc" * 100_000)
    assert enc == "gzip" and len(data) < 10_000


def test_task_inputs_are_typed_and_staged(client: fastgpu.Client, tmp_path: Path) -> None:
    d = _folder(tmp_path)
    client.datasets.push(str(d), "py-in")
    task = fastgpu.Task(
        command='test -f data/labels.txt && test "$FASTGPU_INPUT_LABELS" = "$PWD/data"',
        inputs=[fastgpu.DataInput("py-in", path="data", name="labels")],
    )
    info = client.tasks.submit(task)
    # The server pinned the newest version at submit; the spec reads back typed.
    assert info.spec.inputs == (fastgpu.TaskInput(dataset="py-in", version=1, path="data", env="FASTGPU_INPUT_LABELS"),)
    assert client.tasks.wait(info.id, timeout=120).state == "SUCCEEDED"
    # A plain reference and the mapping form are inputs too.
    spec = fastgpu.Task(command="true", inputs=["py-in@1", {"dataset": "py-in", "path": "b"}]).to_spec()
    assert spec["inputs"] == [{"dataset": "py-in@1"}, {"dataset": "py-in", "path": "b"}]
    # Bad input: caught where it is written, or named by the server.
    with pytest.raises(fastgpu.InvalidArgument, match="must be relative"):
        fastgpu.Task(command="true", inputs=[fastgpu.DataInput("py-in", path="/etc")])
    with pytest.raises(fastgpu.InvalidArgument, match="unknown field 'url'"):
        fastgpu.Task(command="true", inputs=[{"dataset": "py-in", "url": "x"}])
    with pytest.raises(fastgpu.InvalidArgument, match="inputs is a list"):
        fastgpu.Task(command="true", inputs="py-in")  # a str is a Sequence to the type checker: refused at run time
    with pytest.raises(fastgpu.InvalidArgument, match="dataset nope not found"):
        client.tasks.submit(fastgpu.Task(command="true", inputs=["nope"]))
    client.datasets.remove("py-in")


def test_pull_writes_a_version_whole_or_not_at_all(client: fastgpu.Client, tmp_path: Path) -> None:
    d = _folder(tmp_path)
    (d / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(d / "run.sh", 0o755)
    (d / "empty.txt").write_bytes(b"")
    v = client.datasets.push(str(d), "py-pull")
    out = tmp_path / "pulled" / "here"
    got = client.datasets.pull(f"py-pull@{v.version}", str(out), parallel=3)
    assert (got.name, got.version) == ("py-pull", v.version)
    for rel in ["img/0.bin", "img/2.bin", "labels.txt", "run.sh", "empty.txt"]:
        assert (out / rel).read_bytes() == (d / rel).read_bytes(), rel
    assert (out / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (out / "labels.txt").stat().st_mode & 0o777 == 0o644
    with pytest.raises(fastgpu.InvalidArgument, match="exists and is not empty"):
        client.datasets.pull("py-pull", str(out))
    with pytest.raises(fastgpu.NotFound, match="has no version 99"):
        client.datasets.pull("py-pull@99", str(tmp_path / "never"))
    assert not (tmp_path / "never").exists()
    assert [n for n in os.listdir(tmp_path) if n.startswith(".never")] == []
    client.datasets.remove("py-pull")


def test_task_outputs_become_a_version_named_by_the_task(client: fastgpu.Client) -> None:
    script = "mkdir -p out && printf 'loss=0.1\\n' > out/metrics.txt"
    t = client.tasks.submit(fastgpu.Task(command=script, cpu="100m", outputs=[fastgpu.DataOutput("out/", "py-out")]))
    assert t.spec.outputs == (fastgpu.TaskOutput(path="out", dataset="py-out"),)
    assert client.tasks.wait(t.id, timeout=60).state == "SUCCEEDED"
    detail = client.tasks.get(t.id)
    assert detail.outputs == (fastgpu.TaskOutput(path="out", dataset="py-out", version=1),)
    v = client.datasets.get("py-out")
    assert (v.version, v.task_id, [f.path for f in v.files], v.bytes) == (1, t.id, ["metrics.txt"], len("loss=0.1\n"))
    assert [x.task_id for x in client.datasets.list() if x.name == "py-out"] == [t.id]
    client.datasets.remove("py-out")
    with pytest.raises(fastgpu.InvalidArgument, match=r"outputs\.0\.path: .* must be relative"):
        client.tasks.submit({"command": "true", "outputs": [{"path": "/abs", "dataset": "x"}]})
    with pytest.raises(fastgpu.InvalidArgument, match="must be a relative path"):
        fastgpu.Task(command="true", outputs=[fastgpu.DataOutput("/abs", "x")])
