"""The Deflicker playground sub-tab in a real browser (Debian's chromium driven by Playwright).

Starts ``python -m abysz_lab ui --demo`` on a free localhost port, opens the
playground, previews a preset (stills and the animated GIF), applies it to the
demo clip and checks the figures, the flicker plot and the written frames.
Screenshots go to test-output/browser-gradio-<version>/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_support import chromium_page, demo_ui, needs_browser, needs_gradio, screenshot_folder

DEMO_FRAMES = 24

pytestmark = [pytest.mark.ui, needs_gradio, *needs_browser]


@pytest.fixture(scope="module")
def shots() -> Path:
    return screenshot_folder()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The standalone UI with the demo clip, in a subprocess; yields (url, demo folder)."""
    work = tmp_path_factory.mktemp("ui")
    with demo_ui(work, DEMO_FRAMES) as url:
        yield url, work / "demo"


@pytest.fixture
def page(server):
    url, _ = server
    with chromium_page(url) as page:
        page.wait_for_selector("#abysz_dfi_run", timeout=60_000)
        page.locator("button", has_text="Deflicker playground").first.click()
        page.wait_for_selector("#abysz_pg_preview", state="visible", timeout=30_000)
        yield page


def _fill(page, elem_id: str, text) -> None:
    box = page.locator(f"#{elem_id} textarea, #{elem_id} input[type=text]").first
    box.fill(str(text))
    box.press("Tab")


def _status(page, box: str = "abysz_pg_status") -> str:
    """The text of a status line (the run's by default; the preview has its own, under its button)."""
    # gradio 3.41 repeats an HTML component's elem_id on its inner element: the outer block has both.
    return page.locator(f"#{box}").first.inner_text()


def test_playground_preview_shows_before_after_stills_and_the_animation(page, server, shots):
    _, demo = server
    assert page.locator("#abysz_pg_input textarea, #abysz_pg_input input").first.input_value() == str(
        demo / "generated"
    )
    assert "ImageMagick" in page.locator("#abysz_pg_engine_status").first.inner_text()
    page.click("#abysz_pg_preview")
    page.wait_for_function("document.querySelectorAll('#abysz_pg_preview_gallery img').length >= 8", timeout=60_000)
    page.wait_for_selector("#abysz_pg_preview_animation img", timeout=60_000)
    page.locator("#abysz_pg_preview_gallery").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "pg-1-preview.png"), full_page=True)
    # Frames count from 1, like the files: the box starts at 1 and the first eight are frames 1 to 8.
    assert page.locator("#abysz_pg_preview_start input").first.input_value() == "1"
    assert "frames 1 to 8" in _status(page, "abysz_pg_preview_status")
    source = page.locator("#abysz_pg_preview_animation img").first.get_attribute("src")
    assert source.startswith("data:image/gif") or ".gif" in source


def test_playground_apply_writes_the_folder_and_shows_figures_and_plot(page, server, shots, tmp_path):
    _, demo = server
    out = tmp_path / "steady"
    _fill(page, "abysz_pg_output", out)
    page.locator("#abysz_pg_options").first.click()
    page.wait_for_selector("#abysz_pg_original", state="visible", timeout=10_000)
    _fill(page, "abysz_pg_original", demo / "source")
    page.click("#abysz_pg_apply")
    page.wait_for_function(
        "document.querySelector('#abysz_pg_status').innerText.includes('Flicker figure')", timeout=120_000
    )
    page.wait_for_selector("#abysz_pg_plot img", timeout=60_000)
    page.locator("#abysz_pg_status").first.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "pg-2-applied.png"), full_page=True)
    status = _status(page)
    assert "Deflicker finished" in status
    assert f"{DEMO_FRAMES} of {DEMO_FRAMES}" in status
    assert "Brightness pumping" in status
    assert len(list(out.glob("*.png"))) == DEMO_FRAMES
    assert page.locator("#abysz_pg_last_output textarea").input_value() == str(out)
