"""The tab as a person sees it, in a real browser (Debian's chromium through Playwright), per gradio version.

Every gallery image shows without scrolling inside its box, a failed run's
message appears in view right under its button, a second click on Run says
the run is already going, input boxes in a row line up, and no label badge
covers the comparison video's captions. Screenshots go to
test-output/browser-gradio-<version>/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_support import chromium_page, demo_ui, needs_browser, needs_gradio, screenshot_folder

DEMO_FRAMES = 24

pytestmark = [pytest.mark.ui, needs_gradio, *needs_browser]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("ui")
    with demo_ui(work, DEMO_FRAMES) as url:
        yield url, work / "demo"


@pytest.fixture
def page(server):
    url, _ = server
    with chromium_page(url) as page:
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.wait_for_selector("#abysz_dfi_run", timeout=60_000)
        yield page


def _fill(page, elem_id: str, text) -> None:
    box = page.locator(f"#{elem_id} textarea, #{elem_id} input[type=text]").first
    box.fill(str(text))
    box.press("Tab")


# For each image of a gallery: is it inside the gallery's box, and does any element inside scroll?
_GALLERY_REPORT = """(id) => {
    const gallery = document.querySelector('#' + id);
    const box = gallery.getBoundingClientRect();
    const images = [...gallery.querySelectorAll('img')].map((img) => {
        const r = img.getBoundingClientRect();
        return {top: r.top - box.top, bottom: r.bottom - box.top, width: r.width, height: r.height};
    });
    const scrolling = [...gallery.querySelectorAll('*')].filter((el) => {
        const overflow = getComputedStyle(el).overflowY;
        return el.scrollHeight > el.clientHeight + 2 && (overflow === 'auto' || overflow === 'scroll');
    }).map((el) => el.className);
    return {height: box.height, images, scrolling};
}"""


def _assert_all_images_shown(report: dict, count: int) -> None:
    assert len(report["images"]) >= count
    assert report["scrolling"] == []
    for image in report["images"]:
        assert image["height"] > 40
        assert image["top"] >= 0 and image["bottom"] <= report["height"] + 1, (image, report["height"])


def test_every_mask_preview_shows_without_scrolling_inside_the_gallery(page):
    _fill(page, "abysz_dfi_preview_frames", "2, 5, 9, 13, 17, 21")  # frames count from 1; 1 has no predecessor
    page.click("#abysz_dfi_preview")
    page.wait_for_function("document.querySelectorAll('#abysz_dfi_preview_gallery img').length >= 12", timeout=60_000)
    page.wait_for_timeout(500)
    report = page.evaluate(_GALLERY_REPORT, "abysz_dfi_preview_gallery")
    page.locator("#abysz_dfi_preview_gallery").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_folder() / "layout-dfi-preview.png"), full_page=True)
    _assert_all_images_shown(report, 12)


def test_every_before_after_pair_shows_wide_without_scrolling_inside_the_gallery(page):
    page.locator("button", has_text="Deflicker playground").first.click()
    page.click("#abysz_pg_preview")
    page.wait_for_function("document.querySelectorAll('#abysz_pg_preview_gallery img').length >= 8", timeout=60_000)
    page.wait_for_timeout(500)
    report = page.evaluate(_GALLERY_REPORT, "abysz_pg_preview_gallery")
    page.screenshot(path=str(screenshot_folder() / "layout-playground-preview.png"), full_page=True)
    _assert_all_images_shown(report, 8)
    # A pair is two frames side by side: shown as wide as it is, not shrunk into a square tile.
    assert all(image["width"] > 2 * image["height"] for image in report["images"])


def test_a_failed_runs_message_shows_in_view_right_under_its_button(page):
    _fill(page, "abysz_dfi_source", "/no/such/folder")
    # The user scrolled just far enough to see the Run button at the bottom of the window.
    page.evaluate(
        "const b = document.querySelector('#abysz_dfi_run').getBoundingClientRect();"
        "window.scrollBy(0, b.bottom - window.innerHeight + 4);"
    )
    page.click("#abysz_dfi_run")
    page.wait_for_selector("#abysz_dfi_status .abysz-msg-error", timeout=60_000)
    page.wait_for_timeout(800)  # the page may scroll the message into view
    page.screenshot(path=str(screenshot_folder() / "layout-dfi-error-in-view.png"))
    button = page.locator("#abysz_dfi_run").bounding_box()
    status = page.locator("#abysz_dfi_status .abysz-msg-error").first.bounding_box()
    height = page.evaluate("window.innerHeight")
    assert "does not exist" in page.locator("#abysz_dfi_status").first.inner_text()
    assert button["y"] >= 0, "the button scrolled out of view"
    assert status["y"] + status["height"] <= height, "the message is below the fold"
    assert 0 <= status["y"] - (button["y"] + button["height"]) < 150, "the message is not next to its button"


def test_a_second_click_on_run_says_the_run_is_already_going(page, server, tmp_path):
    _, demo = server
    _fill(page, "abysz_dfi_source", demo / "source")
    _fill(page, "abysz_dfi_generated", demo / "generated")
    _fill(page, "abysz_dfi_output", tmp_path / "out")
    page.click("#abysz_dfi_run")
    page.wait_for_timeout(700)  # an impatient second click, once the page has sent the first
    page.click("#abysz_dfi_run")
    note = page.locator("#abysz_dfi_busy .abysz-msg-warning")
    note.wait_for(timeout=30_000)
    text = note.inner_text()
    page.click("#abysz_dfi_cancel")
    page.wait_for_function(
        "!document.querySelector('#abysz_dfi_busy .abysz-msg-warning')", timeout=120_000
    )  # cleared once the run answers
    assert "A DFI run is already going" in text
    assert "press Cancel" in text


def test_input_boxes_in_a_row_line_up_when_one_help_text_wraps(page):
    for box in ("abysz_dfi_source", "abysz_dfi_generated", "abysz_dfi_output"):
        _fill(page, box, "/clips/walk")  # one line each: a long path makes its box grow, as it should
    tops = page.evaluate(
        "[...document.querySelectorAll('#abysz_dfi_folders textarea')].map((t) => t.getBoundingClientRect().top)"
    )
    assert len(tops) == 3
    assert max(tops) - min(tops) < 2, tops


def test_no_label_badge_covers_the_comparison_videos_captions(page):
    page.locator("button", has_text="Tools").first.click()
    page.wait_for_selector("#abysz_tools_extract_run", state="visible")
    for video in ("abysz_tools_compare_video", "abysz_dfi_compare_video"):
        badges = page.locator(f"#{video} [data-testid='block-label']")
        assert [badges.nth(i).is_visible() for i in range(badges.count())] in ([], [False])


@pytest.mark.parametrize("subtab", ["DFI", "Deflicker playground", "Tools", "Analyze", "Guide"])
def test_screenshot_of_every_subtab(page, subtab):
    page.locator("#abysz_lab_tabs button", has_text=subtab).first.click()
    page.wait_for_timeout(500)
    name = subtab.lower().replace(" ", "-")
    path: Path = screenshot_folder() / f"subtab-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
