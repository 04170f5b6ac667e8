"""The shared UI helpers: widgets from ParamSpec, the run guard, progress and messages."""

from __future__ import annotations

import threading

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


def test_guard_refuses_a_second_run_while_the_first_holds_it():
    from abysz_lab.ui import common

    guard = common.RunGuard("DFI")
    with guard.run(), pytest.raises(common.RunInProgressError, match="already going"), guard.run():
        pass
    assert not guard.busy


def test_guard_is_free_again_after_a_run_that_raised():
    from abysz_lab.ui import common

    guard = common.RunGuard("DFI")
    with pytest.raises(RuntimeError), guard.run():
        raise RuntimeError("boom")
    with guard.run() as token:
        assert not token.cancelled


def test_guard_cancel_sets_the_running_token_from_another_thread():
    from abysz_lab.ui import common

    guard = common.RunGuard("DFI")
    with guard.run() as token:
        t = threading.Thread(target=guard.cancel)
        t.start()
        t.join()
        assert token.cancelled


def test_guard_cancel_without_a_run_says_nothing_was_cancelled():
    from abysz_lab.ui import common

    assert common.RunGuard("DFI").cancel() is False


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

    guard = common.RunGuard("test")

    def broken(values, progress):
        with guard.run():
            return values["x"] / 0

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
    assert not guard.busy
