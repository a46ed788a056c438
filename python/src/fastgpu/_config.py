"""Where the server is and which token to use, found the way the CLI finds them: explicit
arguments, then ``FASTGPU_URL``/``FASTGPU_TOKEN``, then ``$FASTGPU_HOME/config.json`` (written by
``fastgpu up``; ``FASTGPU_HOME`` defaults to ``~/.fastgpu``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional
from urllib.parse import urlsplit

from ._servers import split_urls
from .errors import InvalidArgument, NotConfigured

NOT_CONFIGURED_MESSAGE = (
    "no FastGPU server configured: start one with `fastgpu up` (it saves its address and token in "
    "{path}), or set FASTGPU_URL and FASTGPU_TOKEN, or call fastgpu.configure(url=..., token=...)"
)


@dataclass(frozen=True)
class Connection:
    url: str
    token: Optional[str]
    ca: Optional[str] = None

    def __repr__(self) -> str:
        # Never print the secret.
        return f"Connection(url={self.url!r}, token={'***' if self.token else None})"


def fastgpu_home(env: Mapping[str, str]) -> Path:
    home = env.get("FASTGPU_HOME", "")
    return Path(home) if home.strip() else Path.home() / ".fastgpu"


def config_path(env: Mapping[str, str]) -> Path:
    return fastgpu_home(env) / "config.json"


def read_config(env: Mapping[str, str]) -> Optional[Connection]:
    """The saved ``{url, token}``, or None when there is none; a broken file is an error naming it."""
    path = config_path(env)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise NotConfigured(f"cannot read {path}: {e}") from e
    try:
        data = json.loads(text)
    except ValueError:
        raise NotConfigured(f"{path} is not valid JSON; delete it and run `fastgpu up` again") from None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str) or not isinstance(data.get("token"), str):
        raise NotConfigured(f'{path} lacks "url" and "token"; delete it and run `fastgpu up` again')
    ca = data.get("ca")
    return Connection(url=data["url"], token=data["token"], ca=ca if isinstance(ca, str) and ca.strip() else None)


def normalise_url(raw: str) -> str:
    """``host:port`` gets ``http://``; a trailing slash goes. A malformed URL names itself.
    Several servers, comma-separated, are normalised each (the client fails over among them)."""
    if "," in raw:
        return ",".join(_normalise_one(one) for one in split_urls(raw))
    return _normalise_one(raw)


def _normalise_one(raw: str) -> str:
    s = raw.strip()
    with_scheme = s if "://" in s else f"http://{s}"
    parts = urlsplit(with_scheme)
    if parts.scheme not in ("http", "https"):
        raise InvalidArgument(f"url: {raw!r} must be an http:// or https:// URL", field="url")
    if not parts.hostname:
        raise InvalidArgument(f"url: {raw!r} is not a URL; use e.g. http://127.0.0.1:7070", field="url")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise InvalidArgument(f"url: {raw!r} has a bad port", field="url") from None
    return with_scheme.rstrip("/")


def _non_empty(s: Optional[str]) -> Optional[str]:
    return s.strip() if s is not None and s.strip() != "" else None


def resolve_connection(url: Optional[str], token: Optional[str], env: Optional[Mapping[str, str]] = None, ca: Optional[str] = None) -> Connection:
    """The address, token and CA file to use. The saved token (and CA) only go to the saved
    address, so a URL pointing elsewhere never receives the token."""
    e: Mapping[str, str] = os.environ if env is None else env
    conn = _url_token(url, token, e)
    trust = _non_empty(ca) or _non_empty(e.get("FASTGPU_CA"))
    if trust is None:
        saved = read_config(e)
        if saved is not None and saved.ca is not None and normalise_url(saved.url) == conn.url:
            trust = saved.ca
    return Connection(conn.url, conn.token, trust)


def _url_token(url: Optional[str], token: Optional[str], e: Mapping[str, str]) -> Connection:
    u = _non_empty(url) or _non_empty(e.get("FASTGPU_URL"))
    t = _non_empty(token) or _non_empty(e.get("FASTGPU_TOKEN"))
    if u is not None and t is not None:
        return Connection(normalise_url(u), t)
    saved = read_config(e)
    if u is None:
        if saved is None:
            raise NotConfigured(NOT_CONFIGURED_MESSAGE.format(path=config_path(e)))
        return Connection(normalise_url(saved.url), t or saved.token)
    same = saved is not None and normalise_url(saved.url) == normalise_url(u)
    return Connection(normalise_url(u), t or (saved.token if same and saved else None))
