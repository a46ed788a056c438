"""The module-level client that ``fastgpu.configure()`` sets and ``VirtualGPU.create`` uses."""

from __future__ import annotations

import threading
from typing import Optional, Tuple

from .aio import AsyncClient
from .client import Client

_lock = threading.Lock()
_client: Optional[Client] = None
_settings: Tuple[Optional[str], Optional[str]] = (None, None)


def configure(url: Optional[str] = None, token: Optional[str] = None) -> Client:
    """Sets up the default client and returns it. The server is found as the CLI finds it:
    ``url``/``token``, then ``FASTGPU_URL``/``FASTGPU_TOKEN``, then the config ``fastgpu up`` saved.
    With no server anywhere, raises :class:`fastgpu.NotConfigured` saying what to run."""
    global _client, _settings
    client = Client(url, token)
    with _lock:
        old, _client, _settings = _client, client, (url, token)
    if old is not None:
        old.close()
    return client


def default_client() -> Client:
    """The configured client, or one made from the environment on first use."""
    global _client
    with _lock:
        if _client is None:
            _client = Client(*_settings)
        return _client


def default_async_client() -> AsyncClient:
    """A new AsyncClient with the configured settings (an async client belongs to one event loop)."""
    return AsyncClient(*_settings)
