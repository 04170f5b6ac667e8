"""The Tools and Analyze sub-tabs in a real browser (Debian's chromium driven by Playwright).

Starts ``python -m abysz_lab ui --demo``, makes a comparison video of the demo
clip in the Tools tab and checks that the browser actually plays it (the
served copy loads: readyState >= 2, a duration), then analyses the clip in the
Analyze tab and checks the plot and heat map show. Screenshots go to
test-output/browser-gradio-<version>/.
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
    """The standalone UI with the demo clip and a DFI run of it: yields (url, demo folder, DFI output)."""
    from abysz_lab.dfi import DFIParams, run_dfi

    work = tmp_path_factory.mktemp("ui_tools")
    with demo_ui(work, DEMO_FRAMES) as url:
        run_dfi(work / "demo" / "source", work / "demo" / "generated", work / "stabilised", DFIParams())
        yield url, work / "demo", work / "stabilised"


@pytest.fixture
def page(server):
    url, *_ = server
    with chromium_page(url) as page:
        page.wait_for_selector("#abysz_lab_tabs", timeout=60_000)
        yield page


def _open_tab(page, title: str) -> None:
    page.locator("#abysz_lab_tabs button", has_text=title).first.click()


def _fill(page, elem_id: str, text) -> None:
    box = page.locator(f"#{elem_id} textarea, #{elem_id} input[type=text]").first
    box.fill(str(text))
    box.press("Tab")


def _status(page, elem_id: str) -> str:
    # gradio 3.41 repeats an HTML component's elem_id on its inner element: the outer block has both.
    return page.locator(f"#{elem_id}").first.inner_text()


PLAYING = """(selector) => {
    const v = document.querySelector(selector);
    return v !== null && v.readyState >= 2 && v.duration > 0;
}"""


def test_compare_video_plays_in_the_tools_tab(page, server, shots, tmp_path):
    _, demo, stabilised = server
    _open_tab(page, "Tools")
    page.get_by_text("Compare video", exact=True).first.click()
    _fill(page, "abysz_tools_compare_original", demo / "source")
    _fill(page, "abysz_tools_compare_generated", demo / "generated")
    _fill(page, "abysz_tools_compare_stabilised", stabilised)
    _fill(page, "abysz_tools_compare_output", tmp_path / "compare.mp4")
    page.click("#abysz_tools_compare_run")
    page.wait_for_function(PLAYING, arg="#abysz_tools_compare_video video", timeout=120_000)
    facts = page.evaluate(
        """() => { const v = document.querySelector('#abysz_tools_compare_video video');
                   return {ready: v.readyState, duration: v.duration, width: v.videoWidth, src: v.currentSrc}; }"""
    )
    page.locator("#abysz_tools_compare_video").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "tools-1-compare-video.png"), full_page=True)
    assert "Comparison video finished" in _status(page, "abysz_tools_compare_status")
    assert facts["ready"] >= 2
    assert facts["duration"] == pytest.approx(DEMO_FRAMES / 24, abs=0.1)
    assert facts["width"] == 3 * 384  # the demo is 384 px wide: three panels
    assert (tmp_path / "compare.mp4").is_file()


def test_assembled_mp4_plays_in_the_tools_tab(page, server, shots, tmp_path):
    _, demo, _ = server
    _open_tab(page, "Tools")
    page.get_by_text("Frames to video / GIF", exact=True).first.click()
    _fill(page, "abysz_tools_assemble_frames", demo / "generated")
    _fill(page, "abysz_tools_assemble_output", tmp_path / "generated.mp4")
    page.click("#abysz_tools_assemble_run")
    page.wait_for_function(PLAYING, arg="#abysz_tools_assemble_video video", timeout=120_000)
    page.locator("#abysz_tools_assemble_video").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "tools-2-assembled-video.png"), full_page=True)
    assert "Assemble MP4 finished" in _status(page, "abysz_tools_assemble_status")


def test_assembled_gif_shows_as_an_image_in_place_of_the_player(page, server, shots, tmp_path):
    _, demo, _ = server
    _open_tab(page, "Tools")
    page.get_by_text("Frames to video / GIF", exact=True).first.click()
    _fill(page, "abysz_tools_assemble_frames", demo / "generated")
    _fill(page, "abysz_tools_assemble_output", tmp_path / "loop.gif")
    page.click("#abysz_tools_assemble_run")
    page.wait_for_function(
        "() => { const i = document.querySelector('#abysz_tools_assemble_gif img');"
        " return i !== null && i.complete && i.naturalWidth > 0; }",
        timeout=120_000,
    )
    page.locator("#abysz_tools_assemble_gif").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "tools-3-assembled-gif.png"), full_page=True)
    assert "Assemble GIF finished" in _status(page, "abysz_tools_assemble_status")
    assert page.evaluate("() => document.querySelector('#abysz_tools_assemble_gif img').naturalWidth") == 384
    assert not page.locator("#abysz_tools_assemble_video").is_visible()


def test_analyze_shows_summary_plot_and_heat_map(page, server, shots):
    _, demo, stabilised = server
    _open_tab(page, "Analyze")
    _fill(page, "abysz_an_output", stabilised)
    page.click("#abysz_an_run")
    page.wait_for_selector("#abysz_an_plot img", timeout=120_000)
    page.wait_for_selector("#abysz_an_heatmap img", timeout=60_000)
    page.locator("#abysz_an_plot").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "analyze-1-plot.png"), full_page=True)
    status = _status(page, "abysz_an_status")
    assert "flicker -" in status
    assert "dB" in status
    assert "ghosting" in status
    size = page.evaluate("() => document.querySelector('#abysz_an_plot img').naturalWidth")
    assert size >= 800
    assert page.locator("#abysz_an_table").inner_text().count(".png") >= 5
    number = page.locator("#abysz_an_heatmap_frame input[type=number]").first
    number.fill("7")
    number.press("Enter")
    page.click("#abysz_an_heatmap_show")
    page.wait_for_function(
        "() => document.querySelector('#abysz_an_heatmap_caption').innerText.includes('frame 7 ')", timeout=60_000
    )
    page.locator("#abysz_an_heatmap").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "analyze-2-heatmap-frame-7.png"), full_page=True)
