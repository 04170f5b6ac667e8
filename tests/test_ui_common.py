"""The shared UI helpers: widgets from ParamSpec, runs on the job queue, progress and messages."""

from __future__ import annotations

import threading
import time

import pytest
from ui_support import needs_gradio

pytestmark = [pytest.mark.ui, needs_gradio]


def test_every_dfi_field_gets_a_control_with_the_dataclass_range_and_default():
    import gradio as gr

    from abysz_lab import params as prm
    from abysz_lab.dfi import DFIParams
    from abysz_lab.ui import common

    with gr.Blocks():
        widgets = common.param_widgets(DFIParams, elem_prefix="abysz_test")
    specs = prm.specs(DFIParams)
    assert list(widgets) == [s.name for s in specs]
    for spec in specs:
        w = widgets[spec.name]
        assert (w.value, w.label) == (spec.default, spec.label)
        if spec.choices is not None:  # a dropdown offering exactly the choices
            assert isinstance(w, gr.Dropdown)
            assert [c[0] if isinstance(c, tuple) else c for c in w.choices] == list(spec.choices)
        elif spec.kind is bool:
            assert isinstance(w, gr.Checkbox)
        else:
            assert (w.minimum, w.maximum) == (spec.minimum, spec.maximum)
        assert w.elem_id == f"abysz_test_{spec.name}"


def test_help_names_the_original_control():
    from abysz_lab import params as prm
    from abysz_lab.dfi import DFIParams
    from abysz_lab.ui import common

    tolerance = next(s for s in prm.specs(DFIParams) if s.name == "tolerance")
    assert "DFI Strength" in common.help_text(tolerance)


def test_slider_floats_become_the_dataclass_types():
    from abysz_lab.dfi import DFIParams
    from abysz_lab.ui import common

    params = common.params_from_values(DFIParams, {"expand": 4.0, "tolerance": 6.5, "source": "/ignored"})
    assert params.expand == 4
    assert isinstance(params.expand, int)
    assert params.tolerance == 6.5


def test_out_of_range_value_is_an_input_error_naming_the_control():
    from abysz_lab.dfi import DFIParams
    from abysz_lab.errors import InputError
    from abysz_lab.ui import common

    with pytest.raises(InputError, match="Mask smooth"):
        common.params_from_values(DFIParams, {"smooth": 4.0})


@pytest.fixture
def queue():
    from abysz_lab.jobqueue import JobQueue

    jobs = JobQueue(workers=2)
    yield jobs
    jobs.shutdown()


def test_a_queued_run_returns_what_its_work_returned_and_frees_the_button(queue, tmp_path):
    from abysz_lab.ui import common

    runs = common.QueuedRuns("DFI", queue)
    assert runs.run("test", lambda job: (job.kind, 42), writes=[tmp_path / "out"]) == ("test", 42)
    assert not runs.busy
    [job] = queue.jobs()
    assert (job.state, job.writes) == ("done", (tmp_path / "out",))


def test_a_run_waiting_behind_another_job_says_how_many_are_ahead_then_runs(queue, tmp_path):
    from abysz_lab.ui import common

    release, started = threading.Event(), threading.Event()

    def hold(job):
        started.set()
        assert release.wait(30)
        return {}

    other = queue.submit("api dfi", hold, writes=[tmp_path / "a"], reads=[tmp_path / "in"])  # e.g. the API's job
    assert started.wait(30)
    runs, descs, results = common.QueuedRuns("Assemble", queue), [], []
    waiting = threading.Thread(
        target=lambda: results.append(
            runs.run(
                "assemble (tab)",
                lambda job: "ran",
                writes=[tmp_path / "b.mp4"],
                reads=[tmp_path / "in"],
                progress=lambda done_total, desc="", **_: descs.append(desc),
            )
        )
    )
    waiting.start()
    try:
        deadline = time.monotonic() + 30
        while "Queued behind 1 job" not in descs:
            assert time.monotonic() < deadline, descs
            time.sleep(0.05)
        assert runs.busy and results == []
        assert "already going (or waiting in the queue)" in runs.note_click()
    finally:
        release.set()
        waiting.join(30)
    assert other.state == "done"
    assert results == ["ran"]
    assert not runs.busy


def test_a_run_into_a_folder_a_running_job_writes_is_refused_naming_that_job(queue, tmp_path):
    from abysz_lab.jobqueue import JobConflictError
    from abysz_lab.ui import common

    release = threading.Event()
    other = queue.submit("dfi", lambda job: {} if release.wait(30) else {}, writes=[tmp_path / "out"])
    try:
        with pytest.raises(JobConflictError, match=f"job {other.id} \\(dfi into"):
            common.QueuedRuns("Style fuse", queue).run("fuse (tab)", lambda job: 1, writes=[tmp_path / "out" / "sub"])
    finally:
        release.set()


def test_cancel_drops_a_waiting_run_at_once_and_stops_a_running_one(queue, tmp_path):
    from abysz_lab.errors import Cancelled
    from abysz_lab.ui import common

    runs = common.QueuedRuns("DFI", queue)
    started, outcomes = threading.Event(), {}

    def frames(job):
        started.set()
        while not job.cancel.cancelled:
            time.sleep(0.01)
        raise Cancelled("Cancelled after frame 3.")

    def run(name, out):
        try:
            outcomes[name] = runs.run(name, frames, writes=[tmp_path / out], reads=[tmp_path / "in"])
        except Cancelled as exc:
            outcomes[name] = str(exc)

    threads = [threading.Thread(target=run, args=("first", "a")), threading.Thread(target=run, args=("second", "b"))]
    threads[0].start()
    assert started.wait(30)
    threads[1].start()
    deadline = time.monotonic() + 30
    while len([j for j in queue.jobs() if j.state == "queued"]) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    said = runs.cancel(stopping="Cancelling: DFI stops after the current frame.", idle="No DFI run is going.")
    for thread in threads:
        thread.join(30)
    assert "Cancelling: DFI stops" in said and "Cancelled 1 waiting run before it started" in said
    assert outcomes == {
        "first": "Cancelled after frame 3.",
        "second": "Cancelled before it started; nothing was written.",
    }
    assert not (tmp_path / "b").exists()
    assert not runs.busy
    assert "No DFI run is going" in runs.cancel(stopping="", idle="No DFI run is going.")


def test_cancel_of_one_button_leaves_the_jobs_of_others_alone(queue, tmp_path):
    from abysz_lab.ui import common

    release, started = threading.Event(), threading.Event()

    def hold(job):
        started.set()
        assert release.wait(30)
        return "done"

    mine, theirs, results = common.QueuedRuns("Extract", queue), common.QueuedRuns("Compare", queue), []
    thread = threading.Thread(target=lambda: results.append(theirs.run("compare", hold, writes=[tmp_path / "c"])))
    thread.start()
    try:
        assert started.wait(30)
        assert "No Extract run is going" in mine.cancel(stopping="", idle="No Extract run is going.")
    finally:
        release.set()
        thread.join(30)
    assert results == ["done"]


def test_a_second_click_is_noted_until_the_run_answers():
    from abysz_lab.ui import common

    runs = common.QueuedRuns("analysis")
    assert runs.note_click() == ""
    assert "An analysis run is already going" in runs.note_click()  # within the grace time of the first click
    assert runs.click_answered() == ""
    assert runs.note_click() == ""


def test_progress_reports_reach_the_gradio_progress_as_done_of_total():
    from abysz_lab.jobs import Progress
    from abysz_lab.ui import common

    calls = []
    update = common.progress_callback(lambda *a, **k: calls.append((a, k)), what="DFI")
    update(Progress(3, 10, "frame_0003.png"))
    assert calls == [(((3, 10),), {"desc": "DFI: frame_0003.png", "unit": "frames"})]


def test_error_message_is_escaped_html_with_its_kind():
    from abysz_lab.errors import Cancelled, InputError
    from abysz_lab.ui import common

    assert common.error_message(InputError("bad <dir>")) == (
        '<div class="abysz-msg abysz-msg-error">bad &lt;dir&gt;</div>'
    )
    assert "abysz-msg-warning" in common.error_message(Cancelled("stopped"))


def test_two_components_with_one_label_are_refused():
    import gradio as gr

    from abysz_lab.ui import common

    with gr.Blocks() as blocks:
        gr.Textbox(label="Output folder")
        gr.Textbox(label="Output folder")
    with pytest.raises(ValueError, match="Output folder"):
        common.check_unique_labels(blocks)


def test_two_buttons_with_one_text_are_refused():
    import gradio as gr

    from abysz_lab.ui import common

    with gr.Blocks() as blocks:
        gr.Button("Cancel")
        gr.Button("Cancel")
    assert common.duplicate_labels(blocks) == ["Cancel"]


def test_options_this_gradio_lacks_are_dropped():
    import gradio as gr

    from abysz_lab.ui import compat

    kwargs = compat.supported(gr.Textbox.__init__, label="x", no_such_option=1)
    assert kwargs == {"label": "x"}


def test_frames_are_shown_as_rgb_and_shrunk():
    import numpy as np

    from abysz_lab.ui import common

    bgr = np.zeros((100, 2000, 3), np.uint8)
    bgr[..., 0] = 255  # blue in OpenCV order
    shown = common.to_display(bgr, max_side=500)
    assert shown.shape == (25, 500, 3)
    assert tuple(shown[0, 0]) == (0, 0, 255)


def test_temporary_files_are_made_on_first_use_and_removed_when_the_process_exits(tmp_path):
    """Served copies and playground previews share one temp root that goes away at exit (nothing at import)."""
    import subprocess
    import sys
    from pathlib import Path

    temp = tmp_path / "temp"
    temp.mkdir()
    (tmp_path / "clip.mp4").write_bytes(b"video bytes")
    script = f"""
import tempfile
tempfile.tempdir = {str(temp)!r}
from abysz_lab.ui import UISettings, build_ui, compat
from abysz_lab.ui.playground_tab import PlaygroundHandlers
build_ui(UISettings())
import os
print(len(os.listdir({str(temp)!r})))
print(compat.ServedFiles().serve({str(tmp_path / "clip.mp4")!r}, "slot"))
print(PlaygroundHandlers(UISettings()).temp_root)
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    made_at_build, served, previews = run.stdout.split("\n")[-4:-1]
    assert made_at_build == "0"
    assert Path(served).is_relative_to(temp)
    assert Path(previews).is_relative_to(temp)
    assert list(temp.iterdir()) == []


def test_an_unexpected_error_in_a_run_shows_a_message_and_logs_the_traceback(capsys):
    """Not gradio's bare "Error": the status says what happened, the console has the traceback."""
    import gradio as gr

    from abysz_lab.ui import common

    runs = common.QueuedRuns("test")

    def broken(values, progress):
        return runs.run("broken", lambda job: values["x"] / 0, writes=[])

    with gr.Blocks() as blocks:
        box = gr.Number(label="x")
        button = gr.Button("Run")
        image = gr.Image(label="result")
        status = gr.HTML()
        common.wire_run(button.click, broken, {"x": box}, [image, status], status=status)
    fns = blocks.fns.values() if isinstance(blocks.fns, dict) else blocks.fns
    [handler] = [f.fn for f in fns]
    shown_image, shown_status = handler(None, 3)
    assert "Unexpected error: ZeroDivisionError: division by zero (details in the console)" in shown_status
    assert "abysz-msg-error" in shown_status
    assert isinstance(shown_image, dict) and str(shown_image.get("__type__")).endswith("update")
    assert "Traceback" in capsys.readouterr().err
    assert not runs.busy
