"""Datasets (``client.datasets``): push a folder as a versioned, content-addressed dataset, list,
show, remove, and per-tenant byte quotas. Mirrors the TS SDK's ``fg.datasets``.

A push hashes every file in 4 MiB chunks (sha256), asks the server which chunks it lacks,
uploads those in parallel (gzip level 1 when a chunk shrinks by a tenth, else as is) and commits
the manifest. Running the same push again after a cut uploads only what is still missing.

>>> v = client.datasets.push("./data", "imagenet-mini")
>>> v.version, v.uploaded_bytes
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from ._http import headers, params, read_answer
from ._ops import Call, seg
from .errors import FastGPUError, InvalidArgument, QuotaExceeded

if TYPE_CHECKING:
    from .client import Client

#: As the server's CHUNK_BYTES.
CHUNK_BYTES = 4 * 1024 * 1024
_PROBE = 64 * 1024
_WORTH = 0.9


@dataclass(frozen=True)
class DatasetVersion:
    """One version of a dataset (without its file list)."""

    tenant: str
    name: str
    version: int
    bytes: int
    file_count: int
    chunk_count: int
    created_at: int
    #: The task whose ``outputs`` made this version; None for a push.
    task_id: Optional[str]

    @staticmethod
    def from_json(j: Dict[str, Any]) -> "DatasetVersion":
        task = j.get("taskId")
        return DatasetVersion(j["tenant"], j["name"], int(j["version"]), int(j["bytes"]), int(j["fileCount"]), int(j["chunkCount"]), int(j["createdAt"]), task if isinstance(task, str) else None)


@dataclass(frozen=True)
class DatasetFile:
    path: str
    size: int
    executable: bool
    chunks: List[Tuple[str, int]]


@dataclass(frozen=True)
class Dataset(DatasetVersion):
    files: List[DatasetFile]

    @staticmethod
    def of(j: Dict[str, Any]) -> "Dataset":
        v = DatasetVersion.from_json(j)
        files = [DatasetFile(f["path"], int(f["size"]), bool(f["executable"]), [(c["hash"], int(c["size"])) for c in f["chunks"]]) for f in j["manifest"]["files"]]
        return Dataset(v.tenant, v.name, v.version, v.bytes, v.file_count, v.chunk_count, v.created_at, v.task_id, files)


@dataclass(frozen=True)
class PushResult(DatasetVersion):
    uploaded_chunks: int
    uploaded_bytes: int
    sent_bytes: int


@dataclass(frozen=True)
class DatasetQuota:
    tenant: str
    used_bytes: int
    max_bytes: Optional[int]


def encode_chunk(raw: bytes) -> Tuple[bytes, str]:
    """The chunk as sent: gzip when it pays, else the bytes themselves (as the TS SDK)."""
    probe = raw[:_PROBE]
    if len(gzip.compress(probe, compresslevel=1)) > len(probe) * _WORTH:
        return raw, "identity"
    z = gzip.compress(raw, compresslevel=1)
    return (z, "gzip") if len(z) <= len(raw) * _WORTH else (raw, "identity")


def _walk(root: str) -> List[Tuple[str, str, int, bool]]:
    """(absolute path, relative '/' path, size, executable) of every regular file, sorted."""
    if not os.path.isdir(root):
        raise InvalidArgument(f"{root}: not a folder")
    out: List[Tuple[str, str, int, bool]] = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            p = os.path.join(d, name)
            st = os.stat(p)
            rel = os.path.relpath(p, root).replace(os.sep, "/")
            if not stat.S_ISREG(st.st_mode):
                raise InvalidArgument(f"{rel}: only regular files and folders can be pushed")
            out.append((p, rel, st.st_size, bool(st.st_mode & 0o100)))
    return sorted(out, key=lambda f: f[1])


def _chunks_of(path: str) -> List[Tuple[str, int]]:
    out: List[Tuple[str, int]] = []
    with open(path, "rb") as f:
        while True:
            b = f.read(CHUNK_BYTES)
            if not b:
                return out
            out.append((hashlib.sha256(b).hexdigest(), len(b)))


def _quota(j: Dict[str, Any]) -> DatasetQuota:
    m = j["maxBytes"]
    return DatasetQuota(j["tenant"], int(j["usedBytes"]), None if m is None else int(m))


def _ref(ref: str) -> Tuple[str, Optional[int]]:
    name, at, v = ref.partition("@")
    if not at:
        return name, None
    if not v.isdigit() or v.startswith("0"):
        raise InvalidArgument(f'dataset: version "{v}" is not a version number (1, 2, …): write NAME or NAME@VERSION')
    return name, int(v)


class Datasets:
    """``client.datasets``."""

    def __init__(self, client: "Client") -> None:
        self._c = client

    def _call(self, call: "Call[Any]") -> Any:
        try:
            return self._c.call(call)
        except FastGPUError as e:
            # 429 from a dataset commit is the tenant's byte quota.
            if e.status == 429:
                raise QuotaExceeded(e.message, code="RESOURCE_EXHAUSTED", status=429) from e
            raise

    def push(self, folder: str, name: str, *, tenant: Optional[str] = None, parallel: int = 8, on_progress: Optional[Callable[[str, int, int], None]] = None) -> PushResult:
        """Uploads ``folder`` as the next version of ``name``; only chunks the server lacks move."""
        files = _walk(folder)
        sources: Dict[str, Tuple[str, int, int]] = {}
        manifest: List[Dict[str, Any]] = []
        for path, rel, size, exe in files:
            chunks = _chunks_of(path)
            off = 0
            for h, n in chunks:
                sources.setdefault(h, (path, off, n))
                off += n
            if off != size:
                raise FastGPUError(f"{path} changed while it was read; push again", code="CONFLICT")
            manifest.append({"path": rel, "size": size, "executable": exe, "chunks": [{"hash": h, "size": n} for h, n in chunks]})
        body_tenant = {"tenant": tenant} if tenant is not None else {}
        missing: List[str] = self._call(Call("POST", "/v1/missing-chunks", lambda j: list(j["missing"]), body={**body_tenant, "hashes": list(sources)}))
        total = sum(sources[h][2] for h in missing)
        done = [0, 0]
        lock = threading.Lock()

        def upload(h: str) -> None:
            path, off, n = sources[h]
            with open(path, "rb") as f:
                f.seek(off)
                raw = f.read(n)
            if hashlib.sha256(raw).hexdigest() != h:
                raise FastGPUError(f"{path} changed while it was pushed; push again", code="CONFLICT")
            data, enc = encode_chunk(raw)
            hd = headers(self._c._token)
            hd.update({"content-type": "application/octet-stream", "x-fastgpu-encoding": enc})
            path_ = f"/v1/chunks/{h}"
            res = self._c.send("POST", path_, content=data, headers=hd, params=params({"tenant": tenant}), timeout=self._c.timeout)
            read_answer(Call("POST", path_, lambda j: j), res)
            with lock:
                done[0] += n
                done[1] += len(data)
                now = done[0]
            if on_progress is not None:
                on_progress("upload", now, total)

        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            for fut in [pool.submit(upload, h) for h in missing]:
                fut.result()
        v = self._call(Call("POST", "/v1/datasets", lambda j: DatasetVersion.from_json(j), body={**body_tenant, "name": name, "manifest": {"files": manifest}}))
        return PushResult(v.tenant, v.name, v.version, v.bytes, v.file_count, v.chunk_count, v.created_at, v.task_id, len(missing), done[0], done[1])

    def read_chunk(self, chunk_hash: str, *, tenant: Optional[str] = None) -> bytes:
        """One chunk's bytes, decoded and checked against its hash (a mismatch raises)."""
        path_ = f"/v1/chunks/{chunk_hash}"
        res = self._c.send("GET", path_, headers=headers(self._c._token, "application/octet-stream"), params=params({"tenant": tenant}), timeout=self._c.timeout)
        if res.status_code >= 400:
            read_answer(Call("GET", path_, lambda j: j), res)
        data = res.content
        if res.headers.get("x-fastgpu-encoding") == "gzip":
            data = gzip.decompress(data)
        if len(data) > CHUNK_BYTES or hashlib.sha256(data).hexdigest() != chunk_hash:
            raise FastGPUError(f"chunk {chunk_hash} arrived corrupt (its bytes do not hash to its name); pull again", code="DATA_LOSS")
        return data

    def pull(self, ref: str, folder: str, *, tenant: Optional[str] = None, parallel: int = 8) -> Dataset:
        """Writes ``NAME`` (the newest) or ``NAME@VERSION`` into ``folder``, which must be absent or
        empty. Every chunk is checked by hash; the folder is built beside it and renamed into place
        only once whole, so a failed pull leaves nothing. Returns the version pulled."""
        dest = os.path.abspath(folder)
        existed = os.path.lexists(dest)
        if existed:
            if not os.path.isdir(dest):
                raise InvalidArgument(f"{dest}: exists and is not a folder; give a new folder to pull into")
            if os.listdir(dest):
                raise InvalidArgument(f"{dest}: exists and is not empty; give a new (or empty) folder to pull into")
        d = self.get(ref, tenant=tenant)
        for f in d.files:
            parts = f.path.split("/")
            if f.path.startswith("/") or "\\" in f.path or any(p in ("", ".", "..") for p in parts):
                raise InvalidArgument(f"the server sent an unsafe path: {f.path!r}")
        parent = os.path.dirname(dest)
        os.makedirs(parent, exist_ok=True)
        tmp = os.path.join(parent, f".{os.path.basename(dest)}.pull-{os.urandom(6).hex()}")
        os.mkdir(tmp)
        try:
            units: List[Tuple[str, str, int, int]] = []
            for f in d.files:
                p = os.path.join(tmp, *f.path.split("/"))
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "wb") as out:
                    out.truncate(f.size)
                off = 0
                for h, n in f.chunks:
                    units.append((p, h, n, off))
                    off += n

            def fetch(u: Tuple[str, str, int, int]) -> None:
                p, h, n, off = u
                data = self.read_chunk(h, tenant=tenant)
                if len(data) != n:
                    raise FastGPUError(f"chunk {h} has {len(data)} bytes, the manifest says {n}", code="INTERNAL")
                with open(p, "r+b") as out:
                    out.seek(off)
                    out.write(data)

            with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
                for fut in [pool.submit(fetch, u) for u in units]:
                    fut.result()
            for f in d.files:
                os.chmod(os.path.join(tmp, *f.path.split("/")), 0o755 if f.executable else 0o644)
            if existed:
                os.rmdir(dest)
            os.rename(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return d

    def list(self, *, tenant: Optional[str] = None) -> List[DatasetVersion]:
        return self._call(Call("GET", "/v1/datasets", lambda j: [DatasetVersion.from_json(d) for d in j["datasets"]], query={"tenant": tenant}))  # type: ignore[no-any-return]

    def get(self, ref: str, *, tenant: Optional[str] = None) -> Dataset:
        """``NAME`` (the newest version) or ``NAME@VERSION``, with its files."""
        name, version = _ref(ref)
        return self._call(Call("GET", f"/v1/datasets/{seg(name)}", Dataset.of, query={"tenant": tenant, "version": version}))  # type: ignore[no-any-return]

    def remove(self, ref: str, *, tenant: Optional[str] = None) -> Dict[str, Any]:
        """Removes ``NAME@VERSION`` or every version of ``NAME``; ``{"versions": [...], "freedChunks": n}``."""
        name, version = _ref(ref)
        return self._call(Call("DELETE", f"/v1/datasets/{seg(name)}", lambda j: dict(j), query={"tenant": tenant, "version": version}))  # type: ignore[no-any-return]

    def quota(self, tenant: str) -> DatasetQuota:
        return self._call(Call("GET", f"/v1/tenants/{seg(tenant)}/dataset-quota", _quota))  # type: ignore[no-any-return]

    def set_quota(self, tenant: str, max_bytes: Optional[int]) -> DatasetQuota:
        """(admins) The tenant's dataset byte limit; None removes it."""
        return self._call(Call("POST", f"/v1/tenants/{seg(tenant)}/dataset-quota", _quota, body={"maxBytes": max_bytes}))  # type: ignore[no-any-return]
