"""javascript/abysz_lab.js in a browser, on a stand-in of A1111's img2img batch page built with real gradio.

The stand-in page (tests/a1111_standin/webui_page.py) selects img2img's batch
mode the way A1111 1.10 does (a sub-tab's select event), so these tests see
what an img2img batch run would receive after "Send to img2img batch".
"""

from __future__ import annotations

import contextlib
import json
import sys
import time

import pytest
from ui_support import REPO, STANDIN, chromium_page, free_port, needs_browser, needs_gradio, screenshot_folder, serving

pytestmark = [pytest.mark.ui, needs_gradio, *needs_browser]

SOURCE = "/clips/walk/source"
OUTPUT = "/clips/walk/stabilised/"


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    work = tmp_path_factory.mktemp("webui")
    port = free_port()
    command = [sys.executable, str(STANDIN / "webui_page.py"), str(port), SOURCE, OUTPUT]
    address = f"http://127.0.0.1:{port}/"
    with serving(command, work / "server.log", address):
        yield address


@contextlib.contextmanager
def _page_with_extension_js(url, load_times: int = 1):
    """The page with A1111's helpers and our script injected the way the WebUI does, then 'UI loaded'."""
    with chromium_page(url) as page:
        page.wait_for_selector("#abysz_dfi_send_img2img", state="attached", timeout=60_000)
        page.add_style_tag(path=str(REPO / "style.css"))  # A1111 adds every extension's style.css
        page.add_script_tag(path=str(STANDIN / "host.js"))
        for _ in range(load_times):
            page.add_script_tag(path=str(REPO / "javascript" / "abysz_lab.js"))
        page.evaluate("standinUiLoaded.forEach(function (callback) { callback(); })")
        yield page


def _received(page, expected: dict, timeout_s: float = 20) -> dict:
    """What img2img's Python side receives; asks again while select/blur events are still on their way."""
    box = page.locator("#standin_received textarea")
    deadline = time.monotonic() + timeout_s
    while True:
        page.evaluate("document.querySelector('#standin_received textarea').value = ''")
        page.click("#standin_check")
        page.wait_for_function("document.querySelector('#standin_received textarea').value.length > 0")
        received = json.loads(box.input_value())
        if received == expected or time.monotonic() > deadline:
            return received
        page.wait_for_timeout(250)


def _open_abysz_tab(page) -> None:
    page.locator("#tabs button", has_text="Abysz LAB").first.click()


def test_send_fills_img2img_batch_from_directory_and_controlnet(url):
    expected = {
        "mode": "from dir",
        "input": OUTPUT,
        "output": "/clips/walk/stabilised_pass2",
        "controlnet": SOURCE,
        "controlnet_mode": "batch",
    }
    with _page_with_extension_js(url) as page:
        _open_abysz_tab(page)
        page.locator("#abysz_dfi_send_img2img").click()
        page.wait_for_function(
            "document.querySelector('#img2img_batch_output_dir textarea').value.length > 0", timeout=30_000
        )
        page.screenshot(path=str(screenshot_folder() / "4-sent-to-img2img-batch.png"), full_page=True)
        received = _received(page, expected)
    assert received == expected


def test_send_says_what_it_filled_in_the_dfi_status(url):
    with _page_with_extension_js(url) as page:
        _open_abysz_tab(page)
        page.locator("#abysz_dfi_send_img2img").click()
        page.wait_for_function(
            "document.querySelector('#img2img_batch_output_dir textarea').value.length > 0", timeout=30_000
        )
        _open_abysz_tab(page)
        status = page.locator("#abysz_dfi_status .abysz-msg-ok")
        status.wait_for(timeout=10_000)
        text = status.inner_text()
    assert "img2img batch input: " + OUTPUT in text
    assert "ControlNet unit 0 batch input: " + SOURCE in text


def test_send_button_starts_hidden_until_the_script_finds_the_batch_fields(url):
    with chromium_page(url) as page:
        page.wait_for_selector("#abysz_dfi_send_img2img", state="attached", timeout=60_000)
        page.add_style_tag(path=str(REPO / "style.css"))  # A1111 adds every extension's style.css
        _open_abysz_tab(page)
        visible = page.locator("#abysz_dfi_send_img2img").is_visible()
    assert visible is False


def test_send_button_is_shown_when_the_batch_fields_exist(url):
    with _page_with_extension_js(url) as page:
        hidden = page.evaluate("document.querySelector('#abysz_dfi_send_img2img').classList.contains('abysz-hidden')")
    assert hidden is False


def test_send_button_is_hidden_without_img2img_batch_fields(url):
    with _page_with_extension_js(url) as page:
        page.evaluate(
            "document.querySelector('#img2img_batch_input_dir').remove();"
            "standinUiLoaded.forEach(function (callback) { callback(); })"
        )
        hidden = page.evaluate("document.querySelector('#abysz_dfi_send_img2img').classList.contains('abysz-hidden')")
    assert hidden is True


def test_loading_the_script_twice_sends_once(url):
    with _page_with_extension_js(url, load_times=2) as page:
        page.evaluate(
            "window.standinInputs = 0;"
            "document.querySelector('#img2img_batch_input_dir textarea')"
            ".addEventListener('input', function () { window.standinInputs += 1; });"
        )
        _open_abysz_tab(page)
        page.locator("#abysz_dfi_send_img2img").click()
        page.wait_for_timeout(600)
        count = page.evaluate("window.standinInputs")
    assert count == 1
