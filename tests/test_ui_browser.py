"""The standalone web UI in a real browser (Debian's chromium driven by Playwright).

Starts ``python -m abysz_lab ui --demo`` on a free localhost port, fills the
folders, previews masks, runs DFI while watching the progress bar move, and
checks the result. Screenshots go to test-output/browser-gradio-<version>/.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from ui_support import REPO, needs_gradio

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
DEMO_FRAMES = 60

pytestmark = [
    pytest.mark.ui,
    pytest.mark.browser,
    needs_gradio,
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="playwright (python) is not installed"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no chromium at {CHROMIUM} (apt install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def shots() -> Path:
    import gradio

    folder = REPO / "test-output" / f"browser-gradio-{gradio.__version__}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The standalone UI with the demo clip, in a subprocess; yields (url, demo folder)."""
    work = tmp_path_factory.mktemp("ui")
    port = _free_port()
    log_path = work / "server.log"
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    command = [sys.executable, "-m", "abysz_lab", "ui", "--port", str(port), "--demo"]
    command += ["--demo-dir", str(work / "demo"), "--demo-frames", str(DEMO_FRAMES)]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the UI exited with {proc.returncode}:\n{log_path.read_text()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"the UI did not answer within 120 s:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield url, work / "demo"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    url, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.wait_for_selector("#abysz_dfi_run", timeout=60_000)
            yield page
        finally:
            browser.close()


def _fill(page, elem_id: str, text) -> None:
    box = page.locator(f"#{elem_id} textarea, #{elem_id} input[type=text]").first
    box.fill(str(text))
    box.press("Tab")


def _set_slider(page, elem_id: str, value) -> None:
    number = page.locator(f"#{elem_id} input[type=number]").first
    number.fill(str(value))
    number.press("Enter")
    number.press("Tab")


def _status(page) -> str:
    # gradio 3.41 repeats an HTML component's elem_id on its inner element: the outer block has both.
    return page.locator("#abysz_dfi_status").first.inner_text()


def _fill_folders(page, demo: Path, output: Path) -> None:
    _fill(page, "abysz_dfi_source", demo / "source")
    _fill(page, "abysz_dfi_generated", demo / "generated")
    _fill(page, "abysz_dfi_output", output)


def test_preview_masks_show_in_the_gallery(page, server, shots, tmp_path):
    _, demo = server
    _fill_folders(page, demo, tmp_path / "unused")
    _fill(page, "abysz_dfi_preview_frames", "10, 30")
    page.click("#abysz_dfi_preview")
    page.wait_for_function("document.querySelectorAll('#abysz_dfi_preview_gallery img').length >= 4", timeout=60_000)
    page.locator("#abysz_dfi_preview_gallery").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "1-preview-masks.png"), full_page=True)
    assert "Masks for frames 10, 30" in _status(page)
    assert not (tmp_path / "unused").exists()


def test_run_shows_a_moving_progress_bar_then_the_result(page, server, shots, tmp_path):
    _, demo = server
    out = tmp_path / "stabilised"
    _fill_folders(page, demo, out)
    # Slow settings (large bilateral filters on every frame) so the progress can be watched.
    for elem_id, value in [
        ("abysz_dfi_map_denoise", 30),
        ("abysz_dfi_inter_denoise", 25),
        ("abysz_dfi_inter_denoise_size", 25),
        ("abysz_dfi_inter_denoise_every", 1),
    ]:
        _set_slider(page, elem_id, value)
    page.click("#abysz_dfi_run")
    seen: list[int] = []
    mid_run_shot = False
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        text = _status(page)
        if "DFI finished" in text:
            break
        match = re.search(rf"(\d+)\s*/\s*{DEMO_FRAMES}", text)
        if match:
            seen.append(int(match.group(1)))
            if not mid_run_shot and int(match.group(1)) >= DEMO_FRAMES // 3:
                page.screenshot(path=str(shots / "2-dfi-running.png"), full_page=True)
                mid_run_shot = True
        time.sleep(0.1)
    page.wait_for_selector("#abysz_dfi_last_frame img", timeout=60_000)
    page.locator("#abysz_dfi_last_frame").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "3-dfi-finished.png"), full_page=True)
    status = _status(page)
    assert "DFI finished" in status
    assert f"{DEMO_FRAMES} of {DEMO_FRAMES}" in status
    assert len(set(seen)) >= 3, f"progress values seen: {sorted(set(seen))}"
    assert seen == sorted(seen)
    assert len(list(out.glob("*.png"))) == DEMO_FRAMES
    assert page.locator("#abysz_dfi_first_frame img").count() == 1
    assert page.locator("#abysz_dfi_first_frame img").count() == 1
    assert page.locator("#abysz_dfi_last_output textarea").input_value() == str(out)
