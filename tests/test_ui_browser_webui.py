"""javascript/abysz_lab.js in a browser, on a stand-in of A1111's img2img batch page built with real gradio.

The stand-in page (tests/a1111_standin/webui_page.py) selects img2img's batch
mode the way A1111 1.10 does (a sub-tab's select event) and lays out ControlNet
unit 0 as the real sd-webui-controlnet (A1111, gradio 3.41 environment) or
Forge's built-in ControlNet (gradio 4 environments) do (closed accordion,
hidden panel, the checkbox that empties the box, tab labels, blur sync), so
these tests see what an img2img batch run would receive after "Send to img2img
batch".
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


def _host() -> str:
    """The host whose ControlNet layout the stand-in takes: Mikubill's runs in A1111 (gradio 3.41), the
    built-in one in Forge (gradio 4); one per environment keeps CI time down."""
    import gradio

    return "a1111" if gradio.__version__.startswith("3.") else "forge"


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    work = tmp_path_factory.mktemp("webui")
    port = free_port()
    command = [sys.executable, str(STANDIN / "webui_page.py"), str(port), SOURCE, OUTPUT, _host()]
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


def _received(page, expected: dict | None, timeout_s: float = 20) -> dict:
    """What img2img's Python side receives; asks again while select/blur events are still on their way."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    answered = "document.querySelector('#standin_received textarea').value.length > 0"
    box = page.locator("#standin_received textarea")
    deadline = time.monotonic() + timeout_s
    received = None
    while True:
        page.evaluate("document.querySelector('#standin_received textarea').value = ''")
        page.click("#standin_check")
        try:
            page.wait_for_function(answered, timeout=10_000)
        except PlaywrightTimeout:  # gradio leaves the box alone when the answer equals its last value
            if time.monotonic() > deadline:
                if received is None:
                    raise
                return received  # the same answer as last time
            continue
        received = json.loads(box.input_value())
        if expected is None or received == expected or time.monotonic() > deadline:
            return received
        page.wait_for_timeout(250)


def _open_abysz_tab(page) -> None:
    page.locator("#tabs button", has_text="Abysz LAB").first.click()


UNIT_BOX = "#img2img_controlnet_ControlNet-0_batch_image_dir textarea"
INDEPENDENT = "#img2img_controlnet_ControlNet-0_controlnet_same_img2img_checkbox input"


def _send(page) -> None:
    _open_abysz_tab(page)
    page.locator("#abysz_dfi_send_img2img").click()
    page.wait_for_function(
        "document.querySelector('#img2img_batch_output_dir textarea').value.length > 0", timeout=30_000
    )


def _dfi_status(page, kind: str) -> str:
    _open_abysz_tab(page)
    status = page.locator(f"#abysz_dfi_status .abysz-msg-{kind}")
    status.wait_for(timeout=10_000)
    return status.inner_text()


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
    assert "Still to do: tick Enable on ControlNet unit 0, pick its preprocessor and model" in text


def test_send_opens_controlnets_hidden_panel_and_its_batch_tab_first(url):
    """ControlNet's accordion starts closed, and in img2img the unit's input tabs are hidden until "Upload
    independent control image" is ticked."""
    with _page_with_extension_js(url) as page:
        assert page.locator(UNIT_BOX).is_visible() is False
        _send(page)
        page.wait_for_function(f"document.querySelector('{UNIT_BOX}').value.length > 0", timeout=10_000)
        assert page.locator(INDEPENDENT).is_checked()
        assert page.locator(UNIT_BOX).is_visible()
        assert page.locator(UNIT_BOX).input_value() == SOURCE
        note = page.locator("#abysz_cn_note").inner_text()
    assert SOURCE in note


def test_unticking_and_ticking_upload_independent_again_refills_the_original_frames(url):
    """ControlNet empties the box when the checkbox changes; the user must not end up with the DFI output."""
    expected = {
        "mode": "from dir",
        "input": OUTPUT,
        "output": "/clips/walk/stabilised_pass2",
        "controlnet": SOURCE,
        "controlnet_mode": "batch",
    }
    with _page_with_extension_js(url) as page:
        _send(page)
        page.wait_for_function(f"document.querySelector('{UNIT_BOX}').value.length > 0", timeout=10_000)
        page.locator(INDEPENDENT).click()  # off: panel hidden, box emptied
        page.wait_for_function("document.querySelector('#abysz_cn_note').textContent.includes('is off')")
        warning = page.locator("#abysz_cn_note").inner_text()
        page.locator(INDEPENDENT).click()  # on again: box emptied again, then refilled by us
        page.wait_for_function(f"document.querySelector('{UNIT_BOX}').value === '{SOURCE}'", timeout=10_000)
        received = _received(page, expected)
        status = _dfi_status(page, "ok")
    assert "uses the img2img frames (the DFI output)" in warning
    assert received == expected
    assert "filled in again: " + SOURCE in status


def test_a_batch_tab_that_cannot_be_found_is_reported_not_ignored(url):
    """If the fill cannot be confirmed, the status says so (ControlNet would silently use the DFI output)."""
    with _page_with_extension_js(url) as page:
        page.evaluate(
            "document.querySelectorAll('button').forEach(function (b) {"
            "  if (['Batch', 'Batch Folder'].indexOf(b.textContent.trim()) >= 0 &&"
            "      b.closest('.tabs').querySelector('#img2img_controlnet_ControlNet-0_batch_image_dir')) {"
            "    b.textContent = 'Renamed'; } })"
        )
        _send(page)
        text = _dfi_status(page, "warning")
    assert "were NOT set" in text
    assert SOURCE in text


def test_standin_controlnet_takes_the_folder_on_blur_not_from_the_box(url):
    """Stand-in behaviour of the real hosts: Generate sends the unit's state, which only a blur updates."""
    with _page_with_extension_js(url) as page:
        page.locator("#tabs button", has_text="img2img").first.click()
        page.locator("#mode_img2img button", has_text="Batch").first.click()
        page.locator("#controlnet .label-wrap").first.click()
        page.locator(INDEPENDENT).click()
        page.wait_for_timeout(500)
        page.evaluate(
            "document.querySelectorAll('button').forEach(function (b) {"
            "  if (['Batch', 'Batch Folder'].indexOf(b.textContent.trim()) >= 0 &&"
            "      b.closest('.tabs').querySelector('#img2img_controlnet_ControlNet-0_batch_image_dir')) {"
            "    b.click(); } })"
        )
        page.locator(UNIT_BOX).wait_for(state="visible")
        page.evaluate(f"var el = document.querySelector('{UNIT_BOX}'); el.value = '/typed/no/blur'; updateInput(el);")
        without_blur = _received(page, None)["controlnet"]
        page.evaluate(f"document.querySelector('{UNIT_BOX}').dispatchEvent(new Event('blur'))")
        page.wait_for_timeout(1000)
        with_blur = _received(page, None)["controlnet"]
    assert without_blur != "/typed/no/blur"
    assert with_blur == "/typed/no/blur"


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
        page.wait_for_function(
            "document.querySelector('#img2img_batch_output_dir textarea').value.length > 0", timeout=30_000
        )
        page.wait_for_timeout(600)
        count = page.evaluate("window.standinInputs")
    assert count == 1
