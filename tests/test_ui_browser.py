"""The standalone web UI in a real browser (Debian's chromium driven by Playwright).

Starts ``python -m abysz_lab ui --demo`` on a free localhost port, fills the
folders, previews masks, runs DFI while watching the progress bar move, and
checks the result. Screenshots go to test-output/browser-gradio-<version>/.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from ui_support import chromium_page, demo_ui, needs_browser, needs_gradio, screenshot_folder

DEMO_FRAMES = 60

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
        yield page


def _fill(page, elem_id: str, text) -> None:
    box = page.locator(f"#{elem_id} textarea, #{elem_id} input[type=text]").first
    box.fill(str(text))
    box.press("Tab")


def _set_slider(page, elem_id: str, value) -> None:
    number = page.locator(f"#{elem_id} input[type=number]").first
    number.fill(str(value))
    number.press("Enter")
    number.press("Tab")


def _status(page, box: str = "abysz_dfi_status") -> str:
    """The text of a status line (the run's by default; the preview has its own, under its button)."""
    # gradio 3.41 repeats an HTML component's elem_id on its inner element: the outer block has both.
    return page.locator(f"#{box}").first.inner_text()


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
    assert "Masks for frames 10, 30" in _status(page, "abysz_dfi_preview_status")
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
        # Only the DFI phase's counts: the comparison and analysis phases count the frames again.
        in_dfi_phase = "DFI (step" in text and not re.search("Comparison video|Analysis", text)
        match = re.search(rf"(\d+)\s*/\s*{DEMO_FRAMES}", text)
        if match and in_dfi_phase:
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
    assert page.locator("#abysz_dfi_last_frame img").count() == 1
    assert page.locator("#abysz_dfi_last_output textarea").input_value() == str(out)

    # After DFI: the comparison video plays in the page, and the flicker summary and plot show.
    page.wait_for_selector("#abysz_dfi_compare_video video", timeout=120_000)
    page.wait_for_selector("#abysz_dfi_analysis_plot img", timeout=120_000)
    playing = page.evaluate(
        """async () => {
            const video = document.querySelector('#abysz_dfi_compare_video video');
            video.muted = true;
            if (video.readyState < 2) {
                await new Promise((done) => {
                    video.addEventListener('loadeddata', done, {once: true});
                    setTimeout(done, 20000);
                });
            }
            await video.play();
            await new Promise((done) => setTimeout(done, 500));
            return {ready: video.readyState, duration: video.duration, time: video.currentTime, src: video.src};
        }"""
    )
    assert playing["ready"] >= 2, playing
    assert playing["duration"] > 0, playing
    assert playing["time"] > 0, playing
    summary = page.locator("#abysz_dfi_analysis").first
    assert re.search(r"flicker [+-]\d+ %, fidelity [\d.]+ dB, ghosting [\d.]+ %", summary.inner_text())
    assert page.locator("#abysz_dfi_analysis_plot img").first.is_visible()
    assert (tmp_path / "stabilised_compare.mp4").is_file()
    page.locator("#abysz_dfi_compare_video").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "4-dfi-comparison-and-analysis.png"), full_page=True)
