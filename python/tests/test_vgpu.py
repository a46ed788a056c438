"""VirtualGPU (sync): the context manager, sizes, reattaching, client.vgpus, configure()."""

from __future__ import annotations

import pytest

import fastgpu

from conftest import Server


def test_with_block_releases_the_slice(server: Server, client: fastgpu.Client) -> None:
    with fastgpu.VirtualGPU.create(0.5, client=client) as vgpu:
        assert vgpu.id.startswith("vg_")
        t = vgpu.submit_task(fastgpu.Task(command='echo "$FASTGPU_GPU_MILLI $FASTGPU_VGPU_ID"', cpu="100m"))
        [done] = vgpu.wait(progress=False)
        assert done.id == t.id and done.state == "SUCCEEDED"
        assert "".join(client.tasks.logs(t.id)) == f"500 {vgpu.id}\n"
        info = vgpu.refresh()
        assert info.state == "ACTIVE" and info.placement is not None and info.placement.gpu_milli == 500
        assert repr(vgpu).startswith(f"<VirtualGPU {vgpu.id} ACTIVE pytest-node:")
        assert vgpu.tasks == [t.id]
    assert vgpu.info.state == "RELEASED" and vgpu.info.released_at is not None
    assert client.vgpus.get(vgpu.id).state == "RELEASED"
    assert vgpu.id not in [v.id for v in client.vgpus.list()]
    assert vgpu.id in [v.id for v in client.vgpus.list(all=True)]


def test_leaving_the_block_on_an_error_releases_too(client: fastgpu.Client) -> None:
    with pytest.raises(RuntimeError):
        with fastgpu.VirtualGPU.create(memory="10GiB", client=client) as vgpu:
            raise RuntimeError("boom")
    assert client.vgpus.get(vgpu.id).state == "RELEASED"


def test_sizes_names_and_reattach(client: fastgpu.Client) -> None:
    vg = fastgpu.VirtualGPU.create(20, "tflops", name="py-tflops", model="H100", client=client)
    assert vg.info.name == "py-tflops" and vg.info.tflops == 20
    with pytest.raises(fastgpu.InvalidArgument, match="25 TFLOPS but vGPU"):
        vg.submit_task(fastgpu.Task(25, 1))
    same = fastgpu.VirtualGPU.get(vg.id, client=client)
    assert same.id == vg.id
    released = same.delete()
    assert released.state == "RELEASED"
    by_mem = client.vgpus.create(memory=4096)
    assert by_mem.request["share"] == {"kind": "memory", "memoryMiB": 4096}
    client.vgpus.delete(by_mem.id)
    with pytest.raises(fastgpu.InvalidArgument, match="unit"):
        fastgpu.VirtualGPU.create(1, "furlongs", client=client)
    with pytest.raises(fastgpu.InvalidArgument, match="say how big"):
        client.vgpus.create()
    with pytest.raises(fastgpu.Unschedulable):
        client.vgpus.create(tflops=5000)


def test_configure_finds_the_server_as_the_cli_does(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("FASTGPU_URL", "FASTGPU_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("FASTGPU_HOME", str(server.home))
    c = fastgpu.configure()
    assert c.url == server.url and fastgpu.default_client() is c
    with fastgpu.VirtualGPU.create(0.1) as vg:
        assert vg.client is c
    explicit = fastgpu.configure(url=server.url, token=server.token)
    assert explicit.healthy() and fastgpu.default_client() is explicit
