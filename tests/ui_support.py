"""Shared helpers of the UI tests (test_ui_*.py): skip without gradio, small demo clips, the A1111 stand-in."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STANDIN = Path(__file__).resolve().parent / "a1111_standin"

needs_gradio = pytest.mark.skipif(
    importlib.util.find_spec("gradio") is None,
    reason="gradio is not installed (make test runs the UI tests in the A1111 and Forge venvs)",
)


def small_clip(root: Path, frames: int = 12):
    """A short, small demo clip (source/ and generated/) under ``root``."""
    from abysz_lab.demo import make_demo_clip

    return make_demo_clip(root, frames=frames, width=128, height=96)


def dfi_values(source, generated, output="", **overrides) -> dict:
    """What the DFI tab's controls hold by default, with folders filled in."""
    from abysz_lab import params as prm
    from abysz_lab.dfi import DFIParams

    values = {s.name: float(s.default) if s.kind in (int, float) else s.default for s in prm.specs(DFIParams)}
    values.update(
        source=str(source),
        generated=str(generated),
        output=str(output),
        frames_limit=0,
        overwrite=False,
        resume=True,
        preview_frames="",
        compare=True,
        analyze=True,
    )
    values.update(overrides)
    return values


def forget_standin_modules() -> None:
    """Drop the stand-in's modules (and the loaded entry script) from sys.modules."""
    for name in list(sys.modules):
        if name in {"modules", "launch", "abysz_tab.py"} or name.startswith("modules."):
            del sys.modules[name]


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

needs_browser = [
    pytest.mark.browser,
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="playwright (python) is not installed"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no chromium at {CHROMIUM} (apt install chromium)"),
]


def free_port() -> int:
    """A localhost port nobody listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(
    command: list[str],
    log_path: Path,
    url: str,
    timeout: float = 120,
    *,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    ready_status: int = 200,
) -> Iterator[subprocess.Popen]:
    """Run a web server subprocess (in ``cwd``) until ``url`` answers ``ready_status``; stop it afterwards."""
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=str(REPO), **(env or {}))
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}:\n{log_path.read_text()}")
            if _status(url) == ready_status:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within {timeout} s:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _status(url: str) -> int | None:
    """The HTTP status ``url`` answers with (errors included), or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@contextlib.contextmanager
def demo_ui(work: Path, frames: int) -> Iterator[str]:
    """Serve the standalone UI (a subprocess) with a ``frames``-frame demo clip in ``work/demo``; yield its URL."""
    port = free_port()
    command = [sys.executable, "-m", "abysz_lab", "ui", "--port", str(port), "--demo"]
    command += ["--demo-dir", str(work / "demo"), "--demo-frames", str(frames)]
    url = f"http://127.0.0.1:{port}/"
    with serving(command, work / "server.log", url):
        yield url


@contextlib.contextmanager
def chromium_page(url: str) -> Iterator:
    """A Playwright page in Debian's chromium, opened at ``url``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            yield page
        finally:
            browser.close()


def screenshot_folder() -> Path:
    """test-output/browser-gradio-<version>/ (gitignored)."""
    import gradio

    folder = REPO / "test-output" / f"browser-gradio-{gradio.__version__}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def job_on_the_shared_queue(kind: str, *, writes=(), reads=()) -> Iterator:
    """A job another client (the HTTP API, another tab) runs on the process's queue until the block ends.

    It is submitted exactly as the API submits its jobs (``default_queue().submit``
    with the folders it writes and reads); it only holds the queue until released.
    """
    from abysz_lab.jobqueue import default_queue

    started, release = threading.Event(), threading.Event()

    def hold(job):
        started.set()
        release.wait(600)  # released when the block ends; the limit only keeps a broken test from hanging
        return {}

    job = default_queue().submit(kind, hold, writes=writes, reads=reads)
    try:
        assert started.wait(60), "the shared queue did not start the job"
        yield job
    finally:
        release.set()
        job.wait(60)


def wait_for_desc(descs: list, text: str, timeout: float = 30.0) -> None:
    """Wait until a progress description ``text`` was reported (e.g. "Queued behind 1 job")."""
    deadline = time.monotonic() + timeout
    while text not in descs:
        assert time.monotonic() < deadline, f"never reported {text!r}: {descs[-5:]}"
        time.sleep(0.05)
