"""The shared job queue as a user sees it in a real browser (Debian's chromium driven by Playwright).

The UI is served in this process, so a test can hold the process's job queue
with a job exactly as the HTTP API submits one (``job_on_the_shared_queue``):
a click on Analyze then shows "Queued behind 1 job" in the page and runs once
that job ends; a click on Cancel while it waits drops it. Screenshots go to
test-output/browser-gradio-<version>/.
"""

from __future__ import annotations

import pytest
from ui_support import (
    chromium_page,
    free_port,
    job_on_the_shared_queue,
    needs_browser,
    needs_gradio,
    screenshot_folder,
    small_clip,
)

pytestmark = [pytest.mark.ui, needs_gradio, *needs_browser]

QUEUED = "document.body.innerText.includes('Queued behind 1 job')"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The standalone UI served by this process, on a queue of its own: yields (url, demo clip)."""
    from abysz_lab import access, jobqueue
    from abysz_lab.ui import UISettings, build_ui, compat

    # A fresh process-wide queue: jobs other tests of this session left on it (an API job still finishing
    # its frame after a cancel) would make the count read "behind 2 jobs" or keep the run waiting.
    previous, jobqueue._default = jobqueue._default, jobqueue.JobQueue()  # noqa: SLF001
    # Likewise the folder policy: an earlier test's confined server may have left one set in this process.
    previous_policy = access.set_policy(access.AccessPolicy())
    clip = small_clip(tmp_path_factory.mktemp("queue") / "clip", frames=10)
    blocks = build_ui(UISettings())
    compat.enable_queue(blocks, 4)
    port = free_port()
    blocks.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, show_api=False)
    try:
        yield f"http://127.0.0.1:{port}/", clip
    finally:
        blocks.close()
        jobqueue._default = previous  # noqa: SLF001
        access.set_policy(previous_policy)


@pytest.fixture
def page(server):
    url, _ = server
    with chromium_page(url) as page:
        page.wait_for_selector("#abysz_lab_tabs", timeout=120_000)
        page.locator("#abysz_lab_tabs button", has_text="Analyze").first.click()
        yield page


def _fill(page, elem_id: str, text) -> None:
    box = page.locator(f"#{elem_id} textarea, #{elem_id} input[type=text]").first
    box.fill(str(text))
    box.press("Tab")


def _wait_until_queued(page, shot: str) -> None:
    """Wait for "Queued behind 1 job" in the page; keep a screenshot of what it showed instead."""
    answered = "document.querySelector('#abysz_an_status .abysz-msg') !== null"
    page.wait_for_function(f"{QUEUED} || {answered}", timeout=120_000)
    page.screenshot(path=str(screenshot_folder() / shot))
    assert page.evaluate(QUEUED), f"the run answered without waiting: {_status(page)!r}"


def _status(page) -> str:
    return page.locator("#abysz_an_status").first.inner_text()


def test_analyze_behind_a_job_writing_its_folder_shows_queued_then_runs(page, server):
    _, clip = server
    _fill(page, "abysz_an_source", clip.source)
    _fill(page, "abysz_an_generated", clip.generated)
    with job_on_the_shared_queue("dfi", writes=[clip.generated]) as api_job:
        page.click("#abysz_an_run")
        _wait_until_queued(page, "queue-analyze-waiting.png")
        assert api_job.state == "running"
    page.wait_for_selector("#abysz_an_status .abysz-msg-ok", timeout=120_000)
    assert "10 frames" in _status(page)


def test_cancel_while_queued_drops_the_analysis(page, server):
    _, clip = server
    _fill(page, "abysz_an_source", clip.source)
    _fill(page, "abysz_an_generated", clip.generated)
    with job_on_the_shared_queue("dfi", writes=[clip.generated]) as api_job:
        page.click("#abysz_an_run")
        _wait_until_queued(page, "queue-analyze-waiting-to-cancel.png")
        page.click("#abysz_an_cancel")
        # The Cancel button's answer and the dropped run's answer land in either order: both say so.
        page.wait_for_function(
            "document.querySelector('#abysz_an_status').innerText.includes('nothing was written')", timeout=120_000
        )
        assert api_job.state == "running"  # the other client's job is not the tab's to cancel
    assert "before it started; nothing was written" in _status(page)
