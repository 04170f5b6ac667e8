"""Serve a FastAPI app with uvicorn on a free 127.0.0.1 port in a thread, for tests over real HTTP."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests


def free_port() -> int:
    """A localhost port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def uvicorn_thread(app: Any) -> Iterator[str]:
    """Run ``app`` until the block ends; yield its base URL (``http://127.0.0.1:PORT``)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def wait_for(base: str, job_id: str, timeout: float = 120, **kwargs: Any) -> dict:
    """Poll a job until it finished; return its last state."""
    deadline = time.monotonic() + timeout
    while True:
        state = requests.get(f"{base}/abysz-lab/v1/jobs/{job_id}", timeout=10, **kwargs).json()
        if state["state"] in ("done", "failed", "cancelled"):
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {state['state']} after {timeout} s")
        time.sleep(0.05)
